"""Capture your own sign photos into a dataset folder, safely; everything but the page.

Layout (what `asl_core.data.load_folder` reads, so captures train like any other dataset):

    <capture folder>/                      ASL_CAPTURE_DIR, default <repo>/user_data/captures
      MANIFEST.csv                         path,label,signer,time,w,h,sha256 (one row a photo)
      images/<CLASS>/<signer>_<yyyymmdd-HHMMSS>_<n>.jpg
      .capture.lock                        while a session is writing (see FolderLock)

What is refused, each with a sentence for the user (`CaptureError` and its subclasses):
- an empty or unsafe class or signer name (`InvalidNameError`): 1-32 letters, digits, spaces,
  `-` or `_`; no dots, slashes or other path syntax, so a name can never leave `images/`;
- a disk with less than 200 MB free (`DiskFullError`), checked before every photo;
- a folder this process cannot write (`ReadOnlyFolderError`): checked with `os.access` AND a
  real write, because `os.access` says yes to root on a read-only mount's mode bits and a
  read-only remount or a full quota only shows when writing;
- a folder another session is writing to (`FolderLockedError`), through an exclusive lock file.

Every write is atomic (temporary file + rename): a photo is written first, then the whole
manifest is rewritten with its row, so a crash leaves at worst a photo the manifest does not
list (ignored), never a manifest row without its photo or half a CSV line.

At capture time the hand was already found, so its features (landmarks, crop, skeleton) go
straight into the feature cache under the photo's sha256: personalising later needs no second
MediaPipe pass over the captures.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import unicodedata
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_core.checkpoint import atomic_write_bytes
from asl_core.hands import HandDetection, HandDetector
from asl_core.labels import DIGITS, LETTERS, normalise_label, sort_labels
from asl_core.processes import pid_alive
from asl_core.settings import REPO_ROOT

CAPTURE_DIR_ENV = "ASL_CAPTURE_DIR"
MANIFEST_NAME = "MANIFEST.csv"
IMAGES_DIR = "images"
LOCK_NAME = ".capture.lock"
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "signer", "time", "w", "h", "sha256")
BUILTIN_CLASSES: tuple[str, ...] = (*DIGITS, *LETTERS)

MAX_NAME_LENGTH = 32
MIN_FREE_BYTES = 200 * 1024 * 1024
"""Below this much free space nothing is saved: a full disk mid-write corrupts files."""

LOCK_STALE_AFTER_S = 300.0
"""A lock not refreshed (no photo saved) for this long is taken over: its session is gone."""

JPEG_QUALITY = 92
DEFAULT_RATE_PER_S = 3.0
DEFAULT_COUNT = 30
MAX_COUNT = 150  # seed 004 captured 150 frames per class
DEFAULT_COUNTDOWN_S = 3.0

# Device names Windows refuses as file names, whatever the extension (a folder `CON` cannot
# be created there); refused everywhere so that a capture folder can move between machines.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


class CaptureError(Exception):
    """A capture refused; the message is written for the person using the app."""


class InvalidNameError(CaptureError, ValueError):
    """A class or signer name that is empty, too long or not safe as a folder or file name."""


class DiskFullError(CaptureError):
    """Too little free space to save photos safely."""


class ReadOnlyFolderError(CaptureError):
    """The capture folder cannot be written."""


class FolderLockedError(CaptureError):
    """Another session is writing to the capture folder."""


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def validate_name(text: str | None, what: str = "sign name") -> str:
    """The name trimmed, NFKC-normalised and with inner spaces collapsed; or InvalidNameError.

    Allowed: 1-32 characters, letters and digits (any script), spaces, `-` and `_`, with at
    least one letter or digit. Everything else (dots, slashes, colons, control characters) is
    refused rather than replaced, so two different names can never map to one folder.
    """
    if text is None or not text.strip():
        raise InvalidNameError(f"The {what} is empty; type a name.")
    # NFKC: full-width and other compatibility forms become plain letters and digits, so a
    # name looks the same in every file system.
    name = " ".join(unicodedata.normalize("NFKC", text).split())
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"The {what} is {len(name)} characters long; use at most {MAX_NAME_LENGTH}."
        )
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in " -_")})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise InvalidNameError(
            f"The {what} {name!r} contains {shown}; use only letters, digits, spaces, "
            "'-' and '_' (no dots or slashes: the name becomes a folder name)."
        )
    if not any(ch.isalnum() for ch in name):
        raise InvalidNameError(f"The {what} {name!r} needs at least one letter or digit.")
    if name.upper() in _WINDOWS_RESERVED:
        raise InvalidNameError(f"{name!r} is a reserved device name on Windows; pick another.")
    return name


def class_name(text: str | None, existing: Iterable[str] = ()) -> str:
    """A safe class label: `a` -> `A` (one spelling per class, `labels.normalise_label`).

    A name that differs from an existing class only in case is that class (`hello` joins
    `HELLO`): on case-insensitive file systems (macOS, Windows) they would share a folder.
    """
    name = normalise_label(validate_name(text, "sign name"))
    for label in (*BUILTIN_CLASSES, *existing):
        if label.casefold() == name.casefold():
            return label
    return name


def signer_name(text: str | None) -> str:
    """A safe signer name (it goes into every file name and the manifest)."""
    return validate_name(text, "signer name")


def file_stem_part(name: str) -> str:
    """A validated name as part of a file name: spaces become '-'."""
    return name.replace(" ", "-")


def default_capture_dir() -> Path:
    """`ASL_CAPTURE_DIR`, else `<repo>/user_data/captures` (ignored by git)."""
    configured = os.environ.get(CAPTURE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return (REPO_ROOT / "user_data" / "captures").resolve()


# --------------------------------------------------------------------------------------------
# Folder checks: free space, writable
# --------------------------------------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _megabytes(count: float) -> str:
    return f"{count / 1024**2:,.0f} MB"


def check_disk_space(
    folder: Path,
    min_free_bytes: int = MIN_FREE_BYTES,
    *,
    disk_usage: Callable[[Path], Any] | None = None,
) -> int:
    """Free bytes on the disk holding `folder`; DiskFullError below `min_free_bytes`."""
    usage = (disk_usage or shutil.disk_usage)(_existing_ancestor(Path(folder)))
    if usage.free < min_free_bytes:
        raise DiskFullError(
            f"Only {_megabytes(usage.free)} free on the disk holding {folder}; saving photos "
            f"needs at least {_megabytes(min_free_bytes)} free. Free some space or choose "
            "another folder."
        )
    return int(usage.free)


def _read_only_message(folder: Path, reason: str) -> str:
    return (
        f"The folder {folder} cannot be written ({reason}). Choose a folder you can write to, "
        "or fix its permissions."
    )


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove it can be written; ReadOnlyFolderError if not.

    Two checks, because each misses cases: `os.access` catches a folder whose permissions
    forbid writing (but says yes to root everywhere), and a real write of a small temporary
    file catches read-only mounts, full quotas and root-owned folders on network shares.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReadOnlyFolderError(
            _read_only_message(folder, error.strerror or type(error).__name__)
        ) from error
    if not folder.is_dir():
        raise ReadOnlyFolderError(_read_only_message(folder, "it is a file, not a folder"))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReadOnlyFolderError(_read_only_message(folder, "no write permission"))
    try:
        _probe_write(folder)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFullError(f"The disk holding {folder} is full.") from error
        raise ReadOnlyFolderError(
            _read_only_message(folder, error.strerror or type(error).__name__)
        ) from error


def _probe_write(folder: Path) -> None:
    """Write and remove one small file in `folder` (raises OSError when that fails)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".write-test-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        Path(name).unlink(missing_ok=True)


def _write_error(folder: Path, error: OSError) -> CaptureError:
    """An OSError met while saving, as the CaptureError a person can act on."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"The disk holding {folder} is full; the photo was not saved.")
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyFolderError(_read_only_message(folder, error.strerror or "read-only"))
    return CaptureError(f"The photo could not be saved in {folder}: {error}")


# --------------------------------------------------------------------------------------------
# The folder lock
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The manifest and the store
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """One saved photo: a manifest row. `path` is relative to the capture folder (posix)."""

    path: str
    label: str
    signer: str
    time: str
    width: int
    height: int
    sha256: str

    def to_row(self) -> dict[str, str]:
        return {
            "path": self.path,
            "label": self.label,
            "signer": self.signer,
            "time": self.time,
            "w": str(self.width),
            "h": str(self.height),
            "sha256": self.sha256,
        }

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Capture:
        def number(key: str) -> int:
            try:
                return int(row.get(key) or 0)
            except ValueError:
                return 0

        return cls(
            path=row.get("path") or "",
            label=normalise_label(row.get("label") or ""),
            signer=row.get("signer") or "",
            time=row.get("time") or "",
            width=number("w"),
            height=number("h"),
            sha256=row.get("sha256") or "",
        )


def read_manifest(folder: Path) -> list[Capture]:
    """The rows of `<folder>/MANIFEST.csv` ([] when there is none); rows without a path or
    label are skipped. CaptureError when it exists but cannot be read."""
    path = Path(folder) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []
    except (OSError, UnicodeDecodeError) as error:
        # Never treat an unreadable manifest as empty: the next save would rewrite it with
        # one row and lose every other.
        raise CaptureError(f"The list of photos {path} cannot be read ({error}).") from error
    rows = csv.DictReader(io.StringIO(text))
    return [Capture.from_row(row) for row in rows if row.get("path") and row.get("label")]


def manifest_bytes(captures: Sequence[Capture]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for capture in captures:
        writer.writerow(capture.to_row())
    return buffer.getvalue().encode("utf-8")


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buffer = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise CaptureError("The photo could not be encoded as JPEG.")
    return buffer.tobytes()


def cache_capture_features(rgb: np.ndarray, detection: HandDetection, sha256: str) -> None:
    """Put the features of a photo whose hand was just found into the feature cache, so that
    training on it later skips MediaPipe (the cache is keyed by the saved file's sha256)."""
    from asl_core import representations
    from asl_core.features import CACHE_IMAGE_SIZE, FeatureCache, Features, encode_png

    cache = FeatureCache()
    if sha256 in cache:
        return
    size = cache.size or CACHE_IMAGE_SIZE
    cache.put(
        sha256,
        Features(
            detection=detection,
            landmarks=representations.landmark_vector(detection),
            crop_png=encode_png(representations.hand_crop(rgb, detection, size=size)),
            skeleton_png=encode_png(representations.skeleton_image(detection, size=size)),
        ),
    )


class CaptureStore:
    """One capture folder as seen by one session: save, list, count and delete photos.

    Thread-safe (the live video callback saves while the page lists and deletes). Writes need
    the folder lock, taken at the first write and kept (refreshed) until `release()`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        who: str = "",
        owner: str | None = None,
        min_free_bytes: int = MIN_FREE_BYTES,
        stale_after_s: float = LOCK_STALE_AFTER_S,
        cache_features: bool = True,
        disk_usage: Callable[[Path], Any] | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_capture_dir()
        self.images_dir = self.root / IMAGES_DIR
        self.manifest_path = self.root / MANIFEST_NAME
        self.min_free_bytes = min_free_bytes
        self.cache_features = cache_features
        self.disk_usage = disk_usage
        self.lock = FolderLock(self.root, owner=owner, who=who, stale_after_s=stale_after_s)
        self._mutex = threading.RLock()
        self._checked = False
        # A session that ends (tab closed, state dropped) frees the folder for the others.
        self._finalizer = weakref.finalize(self, _release_lock, self.lock.path, self.lock.owner)

    # -- reading (no lock: the manifest is only ever replaced whole) --

    def captures(self) -> list[Capture]:
        return read_manifest(self.root)

    def counts(self) -> dict[str, int]:
        """Photos per class, in the app's class order (digits, letters, then own signs)."""
        counter = Counter(capture.label for capture in self.captures())
        return {label: counter[label] for label in sort_labels(counter)}

    def labels(self) -> list[str]:
        return list(self.counts())

    def path_of(self, capture: Capture) -> Path:
        return self.root / capture.path

    # -- writing --

    def check(self) -> None:
        """Writable, enough space, and ours: raises the CaptureError that says what is wrong.

        Called before every write; the write probe runs once per store (the lock refresh and
        the space check every time).
        """
        if not self._checked:
            check_writable(self.root)
            self._checked = True
        check_disk_space(self.root, self.min_free_bytes, disk_usage=self.disk_usage)
        try:
            self.lock.refresh()
        except OSError as error:
            raise _write_error(self.root, error) from error

    def release(self) -> None:
        """Let other sessions write this folder."""
        with self._mutex:
            self.lock.release()

    def _new_photo_path(self, label: str, signer: str, when: datetime) -> Path:
        folder = self.images_dir / label
        stem = f"{file_stem_part(signer)}_{when.strftime('%Y%m%d-%H%M%S')}"
        index = 1
        while (folder / f"{stem}_{index}.jpg").exists():
            index += 1
        return folder / f"{stem}_{index}.jpg"

    def save(
        self,
        rgb: np.ndarray,
        label: str,
        signer: str,
        *,
        detection: HandDetection | None = None,
        when: datetime | None = None,
    ) -> Capture:
        """Save one RGB photo of `label` by `signer` and add it to the manifest.

        `detection` (the hand found in `rgb`) is cached as the photo's features. Raises a
        CaptureError (bad name, full disk, read-only folder, folder locked).
        """
        label = class_name(label, self.labels())
        signer = signer_name(signer)
        if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.dtype != np.uint8:
            raise CaptureError(f"Expected an RGB photo, got an array of shape {rgb.shape}.")
        rgb = np.ascontiguousarray(rgb[:, :, :3])
        data = encode_jpeg(rgb)
        sha256 = hashlib.sha256(data).hexdigest()
        when = when or datetime.now().astimezone()
        with self._mutex:
            self.check()
            path = self._new_photo_path(label, signer, when)
            capture = Capture(
                path=path.relative_to(self.root).as_posix(),
                label=label,
                signer=signer,
                time=when.isoformat(timespec="seconds"),
                width=int(rgb.shape[1]),
                height=int(rgb.shape[0]),
                sha256=sha256,
            )
            try:
                atomic_write_bytes(path, data)
                atomic_write_bytes(self.manifest_path, manifest_bytes([*self.captures(), capture]))
            except OSError as error:
                raise _write_error(self.root, error) from error
        if detection is not None and self.cache_features:
            with contextlib.suppress(OSError, ValueError):  # the cache is an optimisation only
                cache_capture_features(rgb, detection, sha256)
        return capture

    def delete(self, paths: Iterable[str]) -> int:
        """Remove photos (manifest paths) from the manifest, then from the disk; the count.

        The manifest goes first: a crash in between leaves an unlisted photo, never a row
        without its photo. Paths outside `images/` are ignored, whatever the caller sends.
        """
        wanted = set(paths)
        if not wanted:
            return 0
        with self._mutex:
            self.check()
            captures = self.captures()
            keep = [c for c in captures if c.path not in wanted]
            removed = [c for c in captures if c.path in wanted]
            if not removed:
                return 0
            try:
                atomic_write_bytes(self.manifest_path, manifest_bytes(keep))
            except OSError as error:
                raise _write_error(self.root, error) from error
            images = self.images_dir.resolve()
            for capture in removed:
                file = (self.root / capture.path).resolve()
                if file.is_relative_to(images):
                    file.unlink(missing_ok=True)
                    with contextlib.suppress(OSError):  # only succeeds when it is empty
                        file.parent.rmdir()
        return len(removed)


def thumbnail(path: Path, side: int = 120) -> np.ndarray | None:
    """A small RGB copy of a saved photo for the page (None if it cannot be read)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    height, width = bgr.shape[:2]
    scale = side / max(height, width)
    if scale < 1:
        bgr = cv2.resize(
            bgr, (max(1, round(width * scale)), max(1, round(height * scale))), cv2.INTER_AREA
        )
    return np.ascontiguousarray(bgr[:, :, ::-1])


# --------------------------------------------------------------------------------------------
# Snapshots (st.camera_input and uploads)
# --------------------------------------------------------------------------------------------

NO_HAND_MESSAGE = "No hand in this photo, not saved."


@dataclass(frozen=True)
class SnapshotResult:
    """What became of one snapshot: saved (with the hand drawn) or why not."""

    capture: Capture | None
    message: str
    overlay: np.ndarray | None = None

    @property
    def saved(self) -> bool:
        return self.capture is not None


def save_snapshot(
    store: CaptureStore,
    photo: bytes | Path | Any,
    label: str,
    signer: str,
    detector: HandDetector,
) -> SnapshotResult:
    """Decode a snapshot, find the hand, save it when there is one. Never raises for a bad
    photo or a missing hand (the result says so); CaptureError for the folder and names."""
    from asl_core.images import ImageError, load_image
    from asl_core.representations import draw_overlay

    label = class_name(label, store.labels())
    signer = signer_name(signer)
    try:
        rgb = load_image(photo)
    except ImageError as error:
        return SnapshotResult(None, f"{error} Not saved.")
    detection = detector.detect(rgb)
    if detection is None:
        return SnapshotResult(None, NO_HAND_MESSAGE)
    capture = store.save(rgb, label, signer, detection=detection)
    overlay = draw_overlay(rgb, detection, label)
    return SnapshotResult(capture, f"Saved as {label} ({capture.path}).", overlay)


# --------------------------------------------------------------------------------------------
# Live capture: the throttle and the frame callback
# --------------------------------------------------------------------------------------------


class CapturePhase(StrEnum):
    IDLE = "idle"
    COUNTDOWN = "countdown"
    CAPTURING = "capturing"
    DONE = "done"
    FAILED = "failed"


class CaptureThrottle:
    """Which frames to keep: after a countdown, at most `rate_per_s` a second, up to `count`.

    The caller asks `should_save(now, hand_found)` per frame and calls `record(now)` when the
    frame was saved; frames without a hand are never saved and do not use up the rate.
    """

    def __init__(
        self,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        count: int = DEFAULT_COUNT,
        countdown_s: float = DEFAULT_COUNTDOWN_S,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}")
        if countdown_s < 0:
            raise ValueError("countdown_s must not be negative")
        self.rate_per_s = rate_per_s
        self.count = count
        self.countdown_s = countdown_s
        self.started_at: float | None = None
        self.last_saved_at: float | None = None
        self.saved = 0

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_per_s

    def start(self, now: float) -> None:
        self.started_at = now
        self.last_saved_at = None
        self.saved = 0

    def stop(self) -> None:
        self.started_at = None

    def phase(self, now: float) -> CapturePhase:
        if self.started_at is None:
            return CapturePhase.DONE if self.saved else CapturePhase.IDLE
        if self.saved >= self.count:
            return CapturePhase.DONE
        if now - self.started_at < self.countdown_s:
            return CapturePhase.COUNTDOWN
        return CapturePhase.CAPTURING

    def countdown_left(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, self.countdown_s - (now - self.started_at))

    def should_save(self, now: float, hand_found: bool) -> bool:
        if not hand_found or self.phase(now) is not CapturePhase.CAPTURING:
            return False
        # A small tolerance: frames arrive on a ~33 ms grid; 1/3 s must not become 0.367 s.
        return self.last_saved_at is None or now - self.last_saved_at >= self.interval_s * 0.95

    def record(self, now: float) -> None:
        self.saved += 1
        self.last_saved_at = now
        if self.saved >= self.count:
            self.started_at = None


@dataclass(frozen=True)
class CaptureStatus:
    """A snapshot of the live capture for the page (the callback thread keeps going)."""

    phase: CapturePhase
    label: str | None
    saved: int
    target: int
    countdown_left: float
    frames: int
    hand_frames: int
    last_error: str | None

    @property
    def message(self) -> str:
        if self.phase is CapturePhase.FAILED:
            return f"Capture stopped: {self.last_error}"
        if self.phase is CapturePhase.COUNTDOWN:
            return f"Get ready to sign {self.label}: {self.countdown_left:.0f} s"
        if self.phase is CapturePhase.CAPTURING:
            return f"Saving {self.label}: {self.saved} of {self.target} photos"
        if self.phase is CapturePhase.DONE:
            return f"Done: saved {self.saved} photos of {self.label}."
        return "Press Start capturing when your hand is in view."


class CaptureFrameAdapter:
    """`video_frame_callback` of one session's capture stream.

    Each session owns its video-mode HandDetector (MediaPipe tracks one hand from frame to
    frame; sharing it between streams would mix two people's hands). Every frame is searched
    for a hand so the preview shows whether it is found; while armed, frames with a hand are
    saved through the throttle. The callback thread never touches Streamlit: the page polls
    `status()`.
    """

    def __init__(
        self,
        store: CaptureStore,
        *,
        detector: HandDetector | None = None,
        clock: Callable[[], float] = time.monotonic,
        mirror_preview: bool = True,
    ) -> None:
        self.store = store
        self.detector = detector or HandDetector(mode="video", max_num_hands=1)
        self.clock = clock
        self.mirror_preview = mirror_preview
        self.throttle = CaptureThrottle()
        self.label: str | None = None
        self.signer: str | None = None
        self._lock = threading.Lock()
        self._frames = 0
        self._hand_frames = 0
        self._last_error: str | None = None
        self._failed = False
        self.saved: list[Capture] = []
        if detector is None:
            weakref.finalize(self, self.detector.close)

    def start(
        self,
        label: str,
        signer: str,
        *,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        count: int = DEFAULT_COUNT,
        countdown_s: float = DEFAULT_COUNTDOWN_S,
    ) -> None:
        """Arm the capture (names are checked now, so a bad one never reaches the thread)."""
        label = class_name(label, self.store.labels())
        signer = signer_name(signer)
        throttle = CaptureThrottle(rate_per_s, count, countdown_s)
        throttle.start(self.clock())
        with self._lock:
            self.label, self.signer = label, signer
            self.throttle = throttle
            self._last_error = None
            self._failed = False
            self.saved = []

    def stop(self) -> None:
        with self._lock:
            self.throttle.stop()

    def status(self) -> CaptureStatus:
        now = self.clock()
        with self._lock:
            phase = CapturePhase.FAILED if self._failed else self.throttle.phase(now)
            return CaptureStatus(
                phase=phase,
                label=self.label,
                saved=self.throttle.saved,
                target=self.throttle.count,
                countdown_left=self.throttle.countdown_left(now),
                frames=self._frames,
                hand_frames=self._hand_frames,
                last_error=self._last_error,
            )

    def __call__(self, frame: Any) -> Any:
        from asl_core.live import to_video_frame

        shown = self.process_rgb(frame.to_ndarray(format="rgb24"))
        out = to_video_frame(shown)
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def process_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Find the hand, save the frame if the throttle says so; the frame to show."""
        detection = self.detector.detect(rgb)
        now = self.clock()
        with self._lock:
            self._frames += 1
            self._hand_frames += detection is not None
            save = not self._failed and self.throttle.should_save(now, detection is not None)
            label, signer = self.label, self.signer
        if save and label and signer:
            try:
                capture = self.store.save(rgb, label, signer, detection=detection)
            except CaptureError as error:
                with self._lock:
                    self._failed = True
                    self._last_error = str(error)
                    self.throttle.stop()
            else:
                with self._lock:
                    self.throttle.record(now)
                    self.saved.append(capture)
        return self.render(rgb, detection, self.status())

    def render(
        self, rgb: np.ndarray, detection: HandDetection | None, status: CaptureStatus
    ) -> np.ndarray:
        """The preview: the hand's skeleton, and the countdown or the count."""
        from asl_core.representations import draw_overlay, mirror_detection, mirror_image

        shown, det = rgb, detection
        if self.mirror_preview:
            shown = mirror_image(rgb)
            det = mirror_detection(detection) if detection is not None else None
        shown = draw_overlay(shown, det) if det is not None else shown.copy()
        if status.phase is CapturePhase.COUNTDOWN:
            text = f"{max(1, int(np.ceil(status.countdown_left)))}"
            _put_text(shown, text, scale=4.0, centre=True)
        elif status.phase is CapturePhase.CAPTURING:
            _put_text(shown, f"{status.label}  {status.saved}/{status.target}")
        elif status.phase is CapturePhase.DONE:
            _put_text(shown, f"done: {status.saved} saved")
        if det is None:
            _put_text(shown, "no hand", bottom=True)
        return shown


class CaptureSession:
    """What one browser session of the Capture page keeps: its store (and folder lock), its
    live adapter (its own video-mode MediaPipe, made on first use) and which snapshots and
    uploads it has saved already: Streamlit hands the same photo back on every rerun."""

    def __init__(self, folder: str | os.PathLike[str], signer: str) -> None:
        self.signer = signer_name(signer)
        self.store = CaptureStore(folder, who=self.signer)
        self._adapter: CaptureFrameAdapter | None = None
        self.handled: dict[str, SnapshotResult] = {}
        self.done_announced = False

    @property
    def folder(self) -> Path:
        return self.store.root

    def matches(self, folder: str | os.PathLike[str], signer: str) -> bool:
        return Path(folder).expanduser() == self.store.root and signer == self.signer

    def adapter(self) -> CaptureFrameAdapter:
        if self._adapter is None:
            self._adapter = CaptureFrameAdapter(self.store)
        return self._adapter

    def handle_photo(
        self, photo_id: str, data: bytes, label: str, detector: HandDetector
    ) -> tuple[SnapshotResult, bool]:
        """(result, new): a photo id seen before returns its earlier result, saved once."""
        if photo_id in self.handled:
            return self.handled[photo_id], False
        result = save_snapshot(self.store, data, label, self.signer, detector)
        # Only the newest result keeps its picture: a batch of uploads would otherwise hold
        # a full-size overlay per photo in the session for as long as it lives.
        for key, earlier in self.handled.items():
            if earlier.overlay is not None:
                self.handled[key] = replace(earlier, overlay=None)
        self.handled[photo_id] = result
        return result, True

    def problem(self) -> str | None:
        """Why this folder cannot take photos now (read-only, disk full, locked), or None."""
        try:
            check_writable(self.store.root)
            check_disk_space(
                self.store.root, self.store.min_free_bytes, disk_usage=self.store.disk_usage
            )
        except CaptureError as error:
            return str(error)
        lock = self.store.lock
        info = lock.holder()
        if info is not None and info.owner != lock.owner and lock.stale_reason(info) is None:
            return str(lock.locked_error(info))
        return None

    def close(self) -> None:
        """Stop capturing and free the folder (changing folder or signer)."""
        if self._adapter is not None:
            self._adapter.stop()
            self._adapter.detector.close()
            self._adapter = None
        self.store.release()


def _put_text(
    canvas: np.ndarray,
    text: str,
    *,
    scale: float = 1.0,
    centre: bool = False,
    bottom: bool = False,
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(2, round(scale * 2))
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    rows, cols = canvas.shape[:2]
    if centre:
        origin = ((cols - width) // 2, (rows + height) // 2)
    elif bottom:
        origin = (10, rows - 12)
    else:
        origin = (10, 10 + height)
    cv2.putText(canvas, text, origin, font, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)


__all__ = [
    "BUILTIN_CLASSES",
    "CAPTURE_DIR_ENV",
    "LOCK_NAME",
    "MANIFEST_COLUMNS",
    "MAX_COUNT",
    "MAX_NAME_LENGTH",
    "MIN_FREE_BYTES",
    "NO_HAND_MESSAGE",
    "Capture",
    "CaptureError",
    "CaptureFrameAdapter",
    "CapturePhase",
    "CaptureSession",
    "CaptureStatus",
    "CaptureStore",
    "CaptureThrottle",
    "DiskFullError",
    "FolderLock",
    "FolderLockedError",
    "InvalidNameError",
    "LockInfo",
    "ReadOnlyFolderError",
    "SnapshotResult",
    "cache_capture_features",
    "check_disk_space",
    "check_writable",
    "class_name",
    "default_capture_dir",
    "file_stem_part",
    "read_manifest",
    "save_snapshot",
    "signer_name",
    "thumbnail",
    "validate_name",
]
