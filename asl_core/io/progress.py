"""Progress on a terminal: one line with a rate and a time estimate."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressLine:
    """A one-line progress report on stderr: count, rate, elapsed and time left.

    On a terminal the line is redrawn in place; otherwise (a log file, CI) a line is printed
    at most every `interval` seconds, so logs stay short. tqdm is not a dependency.
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
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.2 if self.tty else 10.0)
        self.count = 0
        self.extra = ""
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn: tuple[int, str] | None = None
        self._first: tuple[float, int] | None = None

    def advance(self, amount: int = 1, extra: str | None = None) -> None:
        self.count += amount
        if extra is not None:
            self.extra = extra
        now = time.monotonic()
        if self._first is None:
            self._first = (now, self.count)
        # A log file gets the last line from close(); a terminal is redrawn up to the end.
        finished = self.tty and self.count >= self.total
        if self.enabled and (now - self._last >= self.interval or finished):
            self._last = now
            self._draw(final=False)

    def text(self) -> str:
        now = time.monotonic()
        elapsed = now - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self._first is not None and now > self._first[0] and self.count > self._first[1]:
            # From the first item on: start-up time (worker processes, imports) is not a rate.
            rate = (self.count - self._first[1]) / (now - self._first[0])
        left = (self.total - self.count) / rate if rate > 0 else 0.0
        parts = [
            f"{self.label} {self.count}/{self.total} {self.unit}",
            f"{rate:.1f}/s",
            f"elapsed {format_seconds(elapsed)}",
            f"left {format_seconds(left)}",
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
