"""MediaPipe's start-up log lines, kept off stderr; every other line still reaches it.

mediapipe 0.10.21 writes these to the process's stderr (file descriptor 2, from C++) while a
new `Hands` graph opens (in its worker threads, after the constructor has returned: on the
first image read, or whenever the threads get to it), and the first time it reads a hand:

    INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    W0000 00:00:... inference_feedback_manager.cc:114] Feedback manager requires a model ...
    W0000 00:00:... landmark_projection_calculator.cc:186] Using NORM_RECT without ...

They say nothing to a user and showed on every command-line run. `GLOG_minloglevel` and
`TF_CPP_MIN_LOG_LEVEL` do not reach them (measured: set to 3, all four still print): the
warnings come from absl's log, whose level is not read from the environment, and the INFO line
from TensorFlow Lite's own logger. So `filtered()` points descriptor 2 at a temporary file
while MediaPipe runs, then writes back every line that is not one of `NOISE`, in order: an
error (`E...`, `F...`, a Python traceback from another thread) is delayed by one MediaPipe
call, never dropped. `HandDetector` uses it while it creates the graph and reads one blank
image (which waits for the graph to open), then on each read until one finds a hand (after
which MediaPipe has said all of the above): a process that dies inside MediaPipe later still
shows its last words; one that dies inside those first calls loses what they wrote.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO

NOISE = re.compile(
    rb"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:. ]+\d+ "
    rb"(inference_feedback_manager|landmark_projection_calculator)\.cc:\d+\] .*"
)
"""The lines dropped (whole lines only): the four above, whatever their time stamps."""


class _Filter:
    """Descriptor 2 redirected while at least one `filtered()` block runs (threads nest)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: int | None = None
        self._capture: IO[bytes] | None = None

    def enter(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            try:
                with suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()  # Python's own buffered text goes out first
                saved = os.dup(2)
            except OSError:
                return  # no stderr: nothing to filter
            try:
                capture = tempfile.TemporaryFile()  # noqa: SIM115  (closed by exit())
            except OSError:
                os.close(saved)
                return  # no temporary folder: nothing is filtered
            os.dup2(capture.fileno(), 2)
            self._saved, self._capture = saved, capture

    def exit(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth or self._saved is None or self._capture is None:
                return
            saved, capture = self._saved, self._capture
            self._saved = self._capture = None
            with suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            with capture:
                capture.seek(0)
                kept = keep_lines(capture.read())
            with suppress(OSError):  # stderr closed meanwhile: nowhere to write
                _write_all(2, kept)


def keep_lines(data: bytes) -> bytes:
    """`data` without the lines that are `NOISE`; everything else as it was."""
    lines = data.splitlines(keepends=True)
    return b"".join(line for line in lines if not NOISE.fullmatch(line.rstrip(b"\r\n")))


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


_FILTER = _Filter()


@contextmanager
def filtered() -> Iterator[None]:
    """Run a MediaPipe call with its `NOISE` lines dropped from stderr (module doc)."""
    _FILTER.enter()
    try:
        yield
    finally:
        _FILTER.exit()
