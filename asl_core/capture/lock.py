"""One writer per capture folder: a claim that names its holder and lapses when its tab closes.

Two layers:
- `filelock.FileLock` on `.capture.lock.mutex` (flock, released by the OS if the process
  dies) is held for milliseconds around every check-and-take of the claim and around every
  write to the folder, so no two sessions, threads or processes ever interleave a manifest
  rewrite.
- The claim `.capture.lock` (JSON: session token, signer, pid, host; its mtime is the
  heartbeat) says which browser session may write. Why ours and not filelock's: filelock's
  locks belong to a process or a thread and its `SoftFileLease` heartbeats from a thread of
  the process, but every session of a Streamlit server shares one process, a closed tab leaves
  that process running, and the message must name the person holding the folder.

The holder's browser refreshes the claim every HEARTBEAT_S (the Capture page reruns a fragment
on a timer the browser drives, so it stops when the tab is closed or reloaded), and every saved
photo refreshes it too. A claim not refreshed for LOCK_STALE_AFTER_S is stale and taken over;
so is one whose process is gone on this host. The same person (the same signer name) in a
newer tab may take the folder over at once; an older tab never takes it back. A session that
lost its claim finds out at its next photo (`refresh` raises), and never writes into a folder
someone else now holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from asl_core.capture.names import FolderLockedError
from asl_core.io.files import atomic_write_json, pid_alive

LOCK_NAME = ".capture.lock"


MUTEX_NAME = ".capture.lock.mutex"


HEARTBEAT_S = 3.0
"""How often the page refreshes a claim while its tab is open."""


LOCK_STALE_AFTER_S = 10.0
"""A claim not refreshed for this long is taken over: its tab is gone (three heartbeats missed,
so a slow rerun is not mistaken for a closed tab)."""


MUTEX_TIMEOUT_S = 10.0
"""The mutex is held for milliseconds; waiting this long means something is stuck."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a capture folder: read from the claim file."""

    owner: str  # a random token per session: two sessions of one process share a pid
    pid: int | None
    host: str | None
    who: str  # the signer, to name the other session in the message
    created: float | None
    opened: float | None  # when the holder's session began: the newer tab of one person wins
    refreshed: float  # the claim file's mtime: the last heartbeat or photo


def _mutex(folder: Path) -> FileLock:
    return FileLock(folder / MUTEX_NAME, timeout=MUTEX_TIMEOUT_S)


@contextlib.contextmanager
def _holding(mutex: FileLock, folder: Path) -> Iterator[None]:
    try:
        with mutex:
            yield
    except Timeout:
        raise FolderLockedError(
            f"{folder} stayed busy for {MUTEX_TIMEOUT_S:.0f} s (another save did not finish); "
            "try again."
        ) from None


class FolderLock:
    """The claim of one session on one capture folder (see the module docstring).

    `acquire` takes it (or keeps it), `refresh` keeps it before a write, `heartbeat` keeps it
    alive while the tab is open, `release` gives it back; `writing()` holds the mutex and the
    claim around one write. `clock` is the wall clock that file mtimes use; `opened` is
    when this session began (default: now).
    """

    def __init__(
        self,
        folder: Path,
        *,
        owner: str | None = None,
        who: str = "",
        stale_after_s: float = LOCK_STALE_AFTER_S,
        clock: Callable[[], float] = time.time,
        opened: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.owner = owner or uuid.uuid4().hex
        self.who = who
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.opened = clock() if opened is None else opened
        self._mutex = _mutex(self.folder)

    def holder(self) -> LockInfo | None:
        """The current claim, or None when the folder is free."""
        try:
            stat = self.path.stat()
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        pid = data.get("pid")
        opened = data.get("opened")
        return LockInfo(
            owner=str(data.get("owner") or ""),
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            host=data.get("host"),
            who=str(data.get("who") or ""),
            created=data.get("created"),
            opened=opened if isinstance(opened, int | float) else None,
            refreshed=stat.st_mtime,
        )

    @property
    def held(self) -> bool:
        info = self.holder()
        return info is not None and info.owner == self.owner

    def stale_reason(self, info: LockInfo) -> str | None:
        """Why the claim can be taken over, or None while its holder may still write."""
        if info.owner == self.owner:
            return None
        age = self.clock() - info.refreshed
        if not info.owner:
            return "an unreadable lock file"  # claims are written atomically: not a live one
        if info.host == socket.gethostname() and info.pid is not None and not pid_alive(info.pid):
            return f"the app that held it (process {info.pid}) has stopped"
        if age > self.stale_after_s:
            return f"its tab sent no sign of life for {age:.0f} s"
        if self.who and info.who == self.who and self.opened > (info.opened or 0.0):
            return f"the same person ({info.who}) in a newer tab"
        return None

    def locked_error(self, info: LockInfo) -> FolderLockedError:
        who = f" ({info.who})" if info.who else ""
        ago = max(0.0, self.clock() - info.refreshed)
        return FolderLockedError(
            f"Another session{who} is saving photos to {self.folder} (its tab was last seen "
            f"{ago:.0f} s ago). Two sessions writing one folder could corrupt its manifest: "
            "wait until it finishes (the folder is freed when that session is done, or "
            f"{self.stale_after_s:.0f} s after its tab is closed), or choose another folder."
        )

    def acquire(self) -> None:
        """Take the claim (or keep it); FolderLockedError when another session holds it."""
        with _holding(self._mutex, self.folder):
            self._take()

    def _take(self) -> None:
        # Under the mutex: nobody can change the claim between this read and the write.
        info = self.holder()
        if info is not None and info.owner != self.owner and self.stale_reason(info) is None:
            raise self.locked_error(info)
        created = info.created if info is not None and info.owner == self.owner else None
        atomic_write_json(
            self.path,
            {
                "owner": self.owner,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "who": self.who,
                "created": created or self.clock(),
                "opened": self.opened,
            },
        )

    def refresh(self) -> None:
        """Before each write: keep our claim fresh, retake it if it lapsed and is free, refuse
        if another session took it."""
        with _holding(self._mutex, self.folder):
            if self.held:
                self._touch()
            else:
                self._take()

    def heartbeat(self) -> bool:
        """Our tab is still open: refresh the claim if we hold it (never takes one); whether
        we still hold it."""
        with _holding(self._mutex, self.folder):
            if not self.held:
                return False
            self._touch()
            return True

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the mutex and a fresh claim for one write to the folder."""
        with _holding(self._mutex, self.folder):
            if self.held:
                self._touch()
            else:
                self._take()
            yield

    def _touch(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path)

    def release(self) -> None:
        """Remove the claim if it is ours (another session's claim is never removed)."""
        release_lock(self.folder, self.owner)


def release_lock(folder: Path, owner: str) -> None:
    """Remove `folder`'s claim if `owner` holds it. A module function, so that a
    `weakref.finalize` of a store holds no reference to the store."""
    path = Path(folder) / LOCK_NAME
    if not path.exists():
        return
    try:
        with _mutex(Path(folder)).acquire(timeout=MUTEX_TIMEOUT_S):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("owner") == owner:
                path.unlink(missing_ok=True)
    except (OSError, ValueError, Timeout):
        return  # unreadable or busy: it goes stale on its own
