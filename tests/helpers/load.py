"""A busy machine on demand: helper processes that each keep one CPU core busy.

Used by the live page's browser test and by bench/live.py to measure typing "with one core
busy" (a laptop running a video call or a build next to the browser). Each helper is a
Python process spinning in a loop, started in its own process group and always stopped on
exit, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_cores(count: int = 1) -> Iterator[list[int]]:
    """Keep `count` cores busy while the block runs; yields the helpers' process ids."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    helpers = [
        subprocess.Popen([sys.executable, "-c", SPIN], start_new_session=True) for _ in range(count)
    ]
    try:
        time.sleep(0.2)  # let them start spinning
        for helper in helpers:
            if helper.poll() is not None:
                raise RuntimeError(f"the busy helper exited at once ({helper.returncode})")
        yield [helper.pid for helper in helpers]
    finally:
        for helper in helpers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(helper.pid, signal.SIGTERM)
        for helper in helpers:
            try:
                helper.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(helper.pid, signal.SIGKILL)
                helper.wait(timeout=5)
