"""Whether a process that left its pid in a file (a run's summary, a capture-folder lock) is
still there."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this machine (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, belongs to another user
        return True
    return True
