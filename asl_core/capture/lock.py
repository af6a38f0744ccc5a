"""One writer per capture folder: a lock that names its holder and is released when it dies."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asl_core.capture.names import FolderLockedError
from asl_core.io.files import pid_alive

LOCK_NAME = ".capture.lock"


LOCK_STALE_AFTER_S = 300.0
"""A lock not refreshed (no photo saved) for this long is taken over: its session is gone."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a capture folder: read from the lock file."""

    owner: str  # a random token per session: two sessions of one process share a pid
    pid: int | None
    host: str | None
    who: str  # the signer, to name the other session in the message
    created: float | None
    refreshed: float  # the lock file's mtime, touched on every photo saved


class FolderLock:
    """An exclusive lock file (`O_CREAT | O_EXCL`) holding a session token, pid and host.

    One session writes a capture folder at a time. The lock is taken at the first photo and
    refreshed (its mtime touched) at every photo; it is released by `release()`, or when the
    session's store is garbage-collected (Streamlit drops a closed session's state).

    Stale locks are taken over: one whose pid is gone on this host (the app was stopped or
    crashed), one not refreshed for `stale_after_s` (a browser tab closed mid-capture; pids
    cannot tell, since every session of a Streamlit server shares one process), and an empty
    lock file older than a few seconds (a crash between creating and writing it). A holder that
    lost its lock that way finds out at its next photo (`refresh` raises), never writes into a
    folder someone else now holds.
    """

    def __init__(
        self,
        folder: Path,
        *,
        owner: str | None = None,
        who: str = "",
        stale_after_s: float = LOCK_STALE_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.owner = owner or uuid.uuid4().hex
        self.who = who
        self.stale_after_s = stale_after_s
        self.clock = clock

    def holder(self) -> LockInfo | None:
        """The current lock, or None when the folder is free."""
        try:
            stat = self.path.stat()
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        pid = data.get("pid")
        return LockInfo(
            owner=str(data.get("owner") or ""),
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            host=data.get("host"),
            who=str(data.get("who") or ""),
            created=data.get("created"),
            refreshed=stat.st_mtime,
        )

    @property
    def held(self) -> bool:
        info = self.holder()
        return info is not None and info.owner == self.owner

    def stale_reason(self, info: LockInfo) -> str | None:
        """Why the lock can be taken over, or None while its holder may still write."""
        age = self.clock() - info.refreshed
        if not info.owner:
            return "an unfinished lock file" if age > 5 else None
        if info.owner == self.owner:
            return None
        if info.host == socket.gethostname() and info.pid is not None and not pid_alive(info.pid):
            return f"the app that held it (process {info.pid}) has stopped"
        if age > self.stale_after_s:
            return f"nothing was saved for {age / 60:.0f} minutes"
        return None

    def locked_error(self, info: LockInfo) -> FolderLockedError:
        who = f" ({info.who})" if info.who else ""
        ago = max(0.0, self.clock() - info.refreshed)
        free_in = max(0.0, self.stale_after_s - ago)
        return FolderLockedError(
            f"Another session{who} is saving photos to {self.folder} (last photo "
            f"{ago:.0f} s ago). Two sessions writing one folder could corrupt its manifest: "
            "wait until it finishes (it frees the folder when done, or after "
            f"{free_in / 60:.0f} more minutes without a photo), or choose another folder."
        )

    def acquire(self) -> None:
        """Take the lock (or keep it); FolderLockedError when another session holds it."""
        for _attempt in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self.holder()
                if info is None:
                    continue  # released between our two calls: try again
                if info.owner == self.owner:
                    self._touch()
                    return
                if self.stale_reason(info) is None:
                    raise self.locked_error(info) from None
                # Take over a stale lock: remove it and race for a new one like anyone else.
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            payload = {
                "owner": self.owner,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "who": self.who,
                "created": self.clock(),
            }
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if self.held:  # two sessions breaking one stale lock: only one of them holds it
                return
        info = self.holder()
        if info is not None:
            raise self.locked_error(info)
        raise FolderLockedError(f"Could not lock {self.folder}; try again.")

    def refresh(self) -> None:
        """Before each write: keep our lock fresh, retake it if it is gone, refuse if taken."""
        info = self.holder()
        if info is not None and info.owner == self.owner:
            self._touch()
            return
        self.acquire()

    def _touch(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path)

    def release(self) -> None:
        """Remove the lock if it is ours (another session's lock is never removed)."""
        _release_lock(self.path, self.owner)


def _release_lock(path: Path, owner: str) -> None:
    # A module function, so that weakref.finalize holds no reference to the store.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("owner") == owner:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
