"""Capture your own sign photos into a dataset folder, safely; everything but the page.

Layout (what `asl_core.data.load_folder` reads, so captures train like any other dataset):

    <capture folder>/                      ASL_CAPTURE_DIR, default <repo>/user_data/captures
      MANIFEST.csv                         path,label,signer,time,w,h,sha256 (one row a photo)
      images/<CLASS>/<signer>_<yyyymmdd-HHMMSS>_<n>.jpg
      .asl-capture.json                    the marker: this folder was made by capture
      .capture.lock, .capture.lock.mutex   who is writing (see `asl_core.capture.lock`)

What is refused, each with a sentence for the user (`CaptureError` and its subclasses):
- a folder capture did not make (`NotCaptureFolderError`): one that exists, holds files and
  has no marker, such as a dataset. Capture would otherwise rewrite its manifest (dropping
  the columns it does not know) and its Delete button would remove the dataset's photos. A
  new or empty folder gets the marker at the first photo; a capture folder from before the
  marker (exactly MANIFEST.csv with capture's columns and images/) is adopted;
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
import os
import shutil
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_core.capture.lock import LOCK_STALE_AFTER_S, FolderLock, release_lock
from asl_core.capture.names import (
    CaptureError,
    DiskFullError,
    NotCaptureFolderError,
    ReadOnlyFolderError,
    class_name,
    file_stem_part,
    signer_name,
)
from asl_core.io.files import atomic_write_bytes, atomic_write_json
from asl_core.labels import normalise_label, sort_labels
from asl_core.settings import capture_dir
from asl_core.vision.hands import HandDetection, HandDetector

MANIFEST_NAME = "MANIFEST.csv"


IMAGES_DIR = "images"


MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "signer", "time", "w", "h", "sha256")


MARKER_NAME = ".asl-capture.json"


MIN_FREE_BYTES = 200 * 1024 * 1024
"""Below this much free space nothing is saved: a full disk mid-write corrupts files."""


JPEG_QUALITY = 92


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


def capture_folder_problem(folder: Path) -> str | None:
    """Why capture must not write `folder`, or None when it may: capture's marker is there,
    or the folder is new or empty, or it is a capture folder from before the marker."""
    folder = Path(folder)
    if (folder / MARKER_NAME).is_file() or not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} is a file, not a folder: choose a folder for your photos."
    try:
        names = sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))
    except OSError as error:
        return f"{folder} cannot be read ({error.strerror or error})."
    if not names or _is_unmarked_capture_folder(folder, names):
        return None
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f"{folder} was not made by the Capture page (it has no {MARKER_NAME}) and already holds "
        f"{shown}. Capture writes only into folders it made, so that it never rewrites another "
        "dataset's MANIFEST.csv or deletes its photos: choose a new or empty folder."
    )


def _is_unmarked_capture_folder(folder: Path, names: list[str]) -> bool:
    # A capture folder made before the marker: MANIFEST.csv with exactly capture's columns
    # (a dataset's manifest has others) and images/, nothing else.
    if not set(names) <= {MANIFEST_NAME, IMAGES_DIR} or MANIFEST_NAME not in names:
        return False
    try:
        with (folder / MANIFEST_NAME).open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return False
    return tuple(header) == MANIFEST_COLUMNS


def claim_capture_folder(folder: Path) -> None:
    """Write capture's marker into `folder` (new, empty or an unmarked capture folder), or
    NotCaptureFolderError when capture must not write there."""
    folder = Path(folder)
    if (folder / MARKER_NAME).is_file():
        return
    problem = capture_folder_problem(folder)
    if problem is not None:
        raise NotCaptureFolderError(problem)
    atomic_write_json(
        folder / MARKER_NAME,
        {"made_by": "asl_core.capture", "columns": list(MANIFEST_COLUMNS)},
    )


def _write_error(folder: Path, error: OSError) -> CaptureError:
    """An OSError met while saving, as the CaptureError a person can act on."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"The disk holding {folder} is full; the photo was not saved.")
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyFolderError(_read_only_message(folder, error.strerror or "read-only"))
    return CaptureError(f"The photo could not be saved in {folder}: {error}")


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
    from asl_core.data.features import CACHE_IMAGE_SIZE, FeatureCache, Features, encode_png
    from asl_core.vision import views

    cache = FeatureCache()
    if sha256 in cache:
        return
    size = cache.size or CACHE_IMAGE_SIZE
    cache.put(
        sha256,
        Features(
            detection=detection,
            landmarks=views.landmark_vector(detection),
            crop_png=encode_png(views.hand_crop(rgb, detection, size=size)),
            skeleton_png=encode_png(views.skeleton_image(detection, size=size)),
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
        self.root = Path(root).expanduser() if root is not None else capture_dir()
        self.images_dir = self.root / IMAGES_DIR
        self.manifest_path = self.root / MANIFEST_NAME
        self.min_free_bytes = min_free_bytes
        self.cache_features = cache_features
        self.disk_usage = disk_usage
        self.lock = FolderLock(self.root, owner=owner, who=who, stale_after_s=stale_after_s)
        self._mutex = threading.RLock()
        self._checked = False
        # A session that ends (tab closed, state dropped) frees the folder for the others.
        self._finalizer = weakref.finalize(self, release_lock, self.root, self.lock.owner)

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
        """A folder capture may write, writable, with enough space: raises the CaptureError
        that says what is wrong. Called before every write; the folder and write checks run
        once per store, the space check every time (the claim is taken by `_writing`)."""
        if not self._checked:
            if problem := capture_folder_problem(self.root):
                raise NotCaptureFolderError(problem)
            check_writable(self.root)
            self._checked = True
        check_disk_space(self.root, self.min_free_bytes, disk_usage=self.disk_usage)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Checked, claimed (the folder mutex held, our claim fresh) and marked, for one write;
        OSErrors become the CaptureError a person can act on."""
        self.check()
        try:
            with self.lock.writing():
                claim_capture_folder(self.root)
                yield
        except OSError as error:
            raise _write_error(self.root, error) from error

    def claim(self) -> None:
        """Take the folder for this session now (the first photo does it too); the
        CaptureError that says why not."""
        with self._mutex, self._writing():
            pass

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
        with self._mutex, self._writing():
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
            atomic_write_bytes(path, data)
            atomic_write_bytes(self.manifest_path, manifest_bytes([*self.captures(), capture]))
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
        with self._mutex, self._writing():
            captures = self.captures()
            keep = [c for c in captures if c.path not in wanted]
            removed = [c for c in captures if c.path in wanted]
            if not removed:
                return 0
            atomic_write_bytes(self.manifest_path, manifest_bytes(keep))
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
    from asl_core.io.images import ImageError, load_image
    from asl_core.vision.overlay import draw_overlay

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
