"""Progress on a terminal: one line with a rate and, once it means something, a time estimate.

tqdm would draw the line, but it is not in the lock (requirements.txt) and would not hold back
its estimate: it prints one from the first item, which after a slow start (worker processes,
MediaPipe loading) read "69:48:47" for a job of minutes. So this small class stays.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ESTIMATE_AFTER_FRACTION = 0.05
"""No time estimate before this fraction of the work is done since the first item..."""


ESTIMATE_AFTER_S = 10.0
"""...or this many seconds have passed since it (with at least two items measured)."""


def format_seconds(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressLine:
    """A one-line progress report on stderr: count, rate, elapsed and time left.

    On a terminal the line is redrawn in place; otherwise (a log file, CI) a line is printed
    at most every `interval` seconds, so logs stay short. Rate and estimate are measured from
    the first item on (start-up time is not a rate), and the estimate ("left") appears only
    once ESTIMATE_AFTER_FRACTION of the work or ESTIMATE_AFTER_S seconds lie behind that
    first item; before, the line says "left: estimating".
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool = True,
        unit: str = "items",
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.2 if self.tty else 10.0)
        self.clock = clock
        self.count = 0
        self.extra = ""
        self.started = clock()
        self._last = 0.0
        self._drawn: tuple[int, str] | None = None
        self._first: tuple[float, int] | None = None

    def advance(self, amount: int = 1, extra: str | None = None) -> None:
        self.count += amount
        if extra is not None:
            self.extra = extra
        now = self.clock()
        if self._first is None:
            self._first = (now, self.count)
        # A log file gets the last line from close(); a terminal is redrawn up to the end.
        finished = self.tty and self.count >= self.total
        if self.enabled and (now - self._last >= self.interval or finished):
            self._last = now
            self._draw(final=False)

    def rate(self, now: float | None = None) -> float:
        """Items per second since the first item (since the start before a second one)."""
        now = self.clock() if now is None else now
        if self._first is not None and now > self._first[0] and self.count > self._first[1]:
            return (self.count - self._first[1]) / (now - self._first[0])
        elapsed = now - self.started
        return self.count / elapsed if elapsed > 0 else 0.0

    def seconds_left(self, now: float | None = None) -> float | None:
        """The estimate, or None while too little has been measured for it to mean anything."""
        now = self.clock() if now is None else now
        if self.count >= self.total:
            return 0.0
        if self._first is None:
            return None
        done = self.count - self._first[1]
        spent = now - self._first[0]
        enough = done >= ESTIMATE_AFTER_FRACTION * self.total or (
            spent >= ESTIMATE_AFTER_S and done >= 1
        )
        rate = self.rate(now)
        if not enough or rate <= 0:
            return None
        return (self.total - self.count) / rate

    def text(self) -> str:
        now = self.clock()
        left = self.seconds_left(now)
        parts = [
            f"{self.label} {self.count}/{self.total} {self.unit}",
            f"{self.rate(now):.1f}/s",
            f"elapsed {format_seconds(now - self.started)}",
            f"left {format_seconds(left)}" if left is not None else "left: estimating",
        ]
        if self.extra:
            parts.append(self.extra)
        return "  ".join(parts)

    def _draw(self, final: bool) -> None:
        self._drawn = (self.count, self.extra)
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.text() + ("\n" if final else ""))
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def close(self, extra: str | None = None) -> None:
        """Print the final state (on a terminal: end the redrawn line)."""
        if extra is not None:
            self.extra = extra
        if self.enabled and (self.tty or self._drawn != (self.count, self.extra)):
            self._draw(final=True)
