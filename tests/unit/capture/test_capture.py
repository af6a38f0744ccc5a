"""Capturing photos: safe names, the folder layout and manifest, delete, the folder lock, the
read-only and disk-full refusals, and the live throttle, with real photos from ../shared/data.

Read-only folders: the tests run as root here, and root writes through `chmod 0o555`. So the
permission case is tested for real only when not root (skipped otherwise, saying so); as root
the two branches of `check_writable` are exercised by simulating them (`os.access` answering
no, and the write probe failing with EROFS as on a read-only mount), and a folder below a
regular file gives a real, root-proof failure.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import socket
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from asl_core.app.capture import CaptureFrameAdapter, CaptureSession
from asl_core.capture import store as capture_store
from asl_core.capture.lock import LOCK_NAME, FolderLock
from asl_core.capture.names import (
    DiskFullError,
    FolderLockedError,
    InvalidNameError,
    ReadOnlyFolderError,
    class_name,
    signer_name,
)
from asl_core.capture.session import CapturePhase, CaptureThrottle
from asl_core.capture.store import (
    MANIFEST_COLUMNS,
    NO_HAND_MESSAGE,
    CaptureStore,
    check_writable,
    save_snapshot,
)
from asl_core.data.features import FeatureCache
from asl_core.data.sources import load_folder
from asl_core.io.images import load_image
from asl_core.vision.hands import HandDetection, HandDetector
from tests.helpers.photos import massey_photo

Usage = namedtuple("Usage", "total used free")


@pytest.fixture(autouse=True)
def _cold_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "capture-cache"))


@pytest.fixture(scope="module")
def detector():
    with HandDetector(mode="image") as found:
        yield found


@pytest.fixture(scope="module")
def hand_photos(
    massey_root: Path, detector: HandDetector
) -> list[tuple[np.ndarray, HandDetection]]:
    """Three real photos (B, B, L) with the hand MediaPipe found in each."""
    found = []
    for label, index in (("b", 1), ("b", 2), ("l", 1)):
        rgb = load_image(massey_photo(massey_root, label, "hand1", index))
        det = detector.detect(rgb)
        assert det is not None
        found.append((rgb, det))
    return found


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("a", "A"),
        (" 5 ", "5"),
        ("HELLO", "HELLO"),
        ("  thank   you ", "thank you"),
        ("my-sign_2", "my-sign_2"),
        ("Ñandú", "Ñandú"),
        ("ＨＩ", "HI"),  # full-width letters: NFKC makes them plain
        ("x" * 32, "x" * 32),
    ],
)
def test_good_class_names_are_normalised(typed: str, expected: str) -> None:
    assert class_name(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("../etc", "no dots or slashes"),
        ("a/b", "no dots or slashes"),
        ("a\\b", "no dots or slashes"),
        (".", "no dots or slashes"),
        ("..", "no dots or slashes"),
        ("hello.jpg", "no dots or slashes"),
        ("C:", "no dots or slashes"),
        ("bell\x07", "no dots or slashes"),
        ("--", "at least one letter or digit"),
        ("x" * 33, "at most 32"),
        ("con", "reserved"),
    ],
)
def test_bad_class_names_are_refused_with_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidNameError, match=reason):
        class_name(typed)


def test_a_name_differing_only_in_case_joins_the_existing_class() -> None:
    assert class_name("hello", ["HELLO"]) == "HELLO"
    assert class_name("b", []) == "B"
    with pytest.raises(InvalidNameError, match="signer name"):
        signer_name("me/you")


def read_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "MANIFEST.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
        return list(reader)


def test_manifest_round_trip_with_real_photos(tmp_path: Path, hand_photos) -> None:
    store = CaptureStore(tmp_path / "captures", who="Ann")
    saved = [
        store.save(rgb, label, "Ann Lee", detection=det)
        for (rgb, det), label in zip(hand_photos, ("b", "B", "my sign"), strict=True)
    ]
    rows = read_rows(store.root)
    assert [row["label"] for row in rows] == ["B", "B", "my sign"]
    assert {row["signer"] for row in rows} == {"Ann Lee"}
    for row, capture_row, (rgb, _) in zip(rows, saved, hand_photos, strict=True):
        path = store.root / row["path"]
        assert path.parent == store.root / "images" / row["label"]
        assert path.name.startswith("Ann-Lee_") and path.suffix == ".jpg"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        assert (int(row["w"]), int(row["h"])) == (rgb.shape[1], rgb.shape[0])
        assert row["time"] == capture_row.time
    assert len({row["path"] for row in rows}) == 3  # two photos in one second get _1, _2
    assert store.counts() == {"B": 2, "my sign": 1}
    # The project's dataset reader takes the folder as it is.
    samples = load_folder(store.root, "mine")
    assert [(s.label, s.signer) for s in samples] == [
        ("B", "Ann Lee"),
        ("B", "Ann Lee"),
        ("my sign", "Ann Lee"),
    ]
    # The hand found at capture time is in the feature cache: no MediaPipe when training.
    assert all(s.sha256 in FeatureCache() for s in samples)
    assert not list(store.root.rglob("*.tmp"))


def test_delete_updates_the_manifest_and_removes_the_file(tmp_path: Path, hand_photos) -> None:
    store = CaptureStore(tmp_path / "captures", who="Ann")
    first, second = (store.save(rgb, "B", "Ann") for rgb, _ in hand_photos[:2])
    assert store.delete([first.path, "images/B/not-there.jpg", "../MANIFEST.csv"]) == 1
    assert [row["path"] for row in read_rows(store.root)] == [second.path]
    assert not (store.root / first.path).exists()
    assert (store.root / second.path).exists()
    assert store.delete([second.path]) == 1
    assert read_rows(store.root) == []
    assert not (store.root / "images" / "B").exists()  # the emptied class folder goes too
    assert store.delete([]) == 0


def test_lock_refuses_a_second_writer_until_the_first_releases(tmp_path: Path, hand_photos) -> None:
    rgb = hand_photos[0][0]
    folder = tmp_path / "captures"
    first = CaptureStore(folder, who="Ann")
    second = CaptureStore(folder, who="Bob")
    first.save(rgb, "B", "Ann")
    with pytest.raises(FolderLockedError, match=r"Another session \(Ann\) is saving photos"):
        second.save(rgb, "B", "Bob")
    with pytest.raises(FolderLockedError):
        second.delete([first.captures()[0].path])
    assert len(read_rows(folder)) == 1
    first.release()
    second.save(rgb, "B", "Bob")
    assert [row["signer"] for row in read_rows(folder)] == ["Ann", "Bob"]
    with pytest.raises(FolderLockedError, match=r"\(Bob\)"):
        first.save(rgb, "B", "Ann")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder: Path, **fields) -> Path:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    path.write_text(json.dumps({"owner": "someone-else", "who": "Zed", **fields}))
    return path


def test_a_lock_left_by_a_stopped_process_is_taken_over(tmp_path: Path) -> None:
    write_lock(tmp_path, pid=dead_pid(), host=socket.gethostname())
    lock = FolderLock(tmp_path, owner="me")
    lock.acquire()
    assert lock.held


def test_a_lock_not_refreshed_for_long_is_taken_over_and_a_fresh_one_is_not(
    tmp_path: Path,
) -> None:
    # Same process (two Streamlit sessions share a pid): only the age can tell.
    path = write_lock(tmp_path, pid=os.getpid(), host=socket.gethostname())
    lock = FolderLock(tmp_path, owner="me", stale_after_s=60)
    with pytest.raises(FolderLockedError, match=r"Another session \(Zed\)"):
        lock.acquire()
    old = path.stat().st_mtime - 120
    os.utime(path, (old, old))
    lock.acquire()
    assert lock.held


def test_a_session_whose_lock_was_taken_over_stops_writing(tmp_path: Path, hand_photos) -> None:
    rgb = hand_photos[0][0]
    first = CaptureStore(tmp_path, who="Ann", stale_after_s=60)
    first.save(rgb, "B", "Ann")
    old = first.lock.path.stat().st_mtime - 120  # Ann's tab went quiet for two minutes
    os.utime(first.lock.path, (old, old))
    second = CaptureStore(tmp_path, who="Bob", stale_after_s=60)
    second.save(rgb, "B", "Bob")
    with pytest.raises(FolderLockedError):
        first.save(rgb, "B", "Ann")
    assert [row["signer"] for row in read_rows(tmp_path)] == ["Ann", "Bob"]


@pytest.mark.parametrize("content", ["", "{not json", '["a list"]'])
def test_an_unreadable_lock_file_is_taken_over_at_once(tmp_path: Path, content: str) -> None:
    # Claims are written whole (temporary file + rename): an empty or garbled one is no
    # live session's (an old version's crash between creating and writing it).
    (tmp_path / LOCK_NAME).write_text(content)
    lock = FolderLock(tmp_path, owner="me")
    lock.acquire()
    assert lock.held


def test_release_never_removes_another_sessions_lock(tmp_path: Path) -> None:
    path = write_lock(tmp_path, pid=os.getpid(), host=socket.gethostname())
    FolderLock(tmp_path, owner="me").release()
    assert path.exists()


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root, which writes through chmod 0o555; the simulated tests below "
    "cover the same checks",
)
def test_a_read_only_folder_is_refused_for_real(tmp_path: Path, hand_photos) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ReadOnlyFolderError, match="cannot be written"):
            CaptureStore(folder).save(hand_photos[0][0], "B", "Ann")
    finally:
        folder.chmod(0o755)


def test_no_write_permission_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture_store.os, "access", lambda path, mode: False)
    with pytest.raises(ReadOnlyFolderError, match="no write permission"):
        check_writable(tmp_path)


def test_a_read_only_mount_is_refused_by_the_write_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hand_photos
) -> None:
    def read_only(folder: Path) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(capture_store, "_probe_write", read_only)
    store = CaptureStore(tmp_path / "captures")
    with pytest.raises(ReadOnlyFolderError, match="Read-only file system"):
        store.save(hand_photos[0][0], "B", "Ann")
    assert store.captures() == []


def test_a_folder_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(ReadOnlyFolderError, match="cannot be written"):
        check_writable(tmp_path / "file.txt" / "captures")


def test_a_nearly_full_disk_is_refused_and_nothing_is_written(tmp_path: Path, hand_photos) -> None:
    def almost_full(path: Path) -> Usage:
        return Usage(total=100 * 2**30, used=100 * 2**30 - 50 * 2**20, free=50 * 2**20)

    store = CaptureStore(tmp_path / "captures", disk_usage=almost_full)
    with pytest.raises(DiskFullError, match=r"Only 50 MB free .* at least 200 MB"):
        store.save(hand_photos[0][0], "B", "Ann")
    assert not list((tmp_path / "captures").rglob("*.jpg"))
    assert not (tmp_path / "captures" / "MANIFEST.csv").exists()


def test_snapshots_are_saved_only_when_a_hand_is_found(
    tmp_path: Path, massey_root: Path, detector: HandDetector
) -> None:
    session = CaptureSession(tmp_path / "captures", "Ann")
    photo = massey_photo(massey_root, "l", "hand2").read_bytes()
    result, new = session.handle_photo("cam-1", photo, "l", detector)
    assert new and result.saved and result.capture is not None
    assert result.capture.label == "L" and result.overlay is not None
    again, new = session.handle_photo("cam-1", photo, "L", detector)  # the same rerun photo
    assert not new and again is result
    grey = np.full((240, 320, 3), 128, np.uint8)
    import cv2

    blank = cv2.imencode(".png", grey)[1].tobytes()
    no_hand = save_snapshot(session.store, blank, "L", "Ann", detector)
    assert not no_hand.saved and no_hand.message == NO_HAND_MESSAGE
    not_image = save_snapshot(session.store, b"%PDF-1.4 not a photo", "L", "Ann", detector)
    assert not not_image.saved and "not an image" in not_image.message
    assert session.store.counts() == {"L": 1}
    assert session.problem() is None
    session.close()
    assert not (session.folder / LOCK_NAME).exists()


def test_throttle_counts_down_then_saves_at_the_rate_up_to_the_count() -> None:
    throttle = CaptureThrottle(rate_per_s=2, count=3, countdown_s=1.0)
    assert throttle.phase(0.0) is CapturePhase.IDLE
    throttle.start(0.0)
    saved_at = []
    for step in range(90):  # 30 fps for 3 s, the hand gone between 1.5 s and 2.0 s
        now = step / 30
        hand = not 1.5 <= now < 2.0
        if throttle.should_save(now, hand):
            throttle.record(now)
            saved_at.append(round(now, 3))
    # Nothing during the 1 s countdown, nothing without a hand, then every 0.5 s, 3 in all.
    assert saved_at == [1.0, 2.0, 2.5]
    assert throttle.phase(3.0) is CapturePhase.DONE and throttle.saved == 3
    assert not throttle.should_save(5.0, True)


class ScriptedDetector:
    """Stands in for the per-session video-mode MediaPipe: answers from a script (each answer
    a real detection made on the real photo, or None for a frame without a hand)."""

    def __init__(self, answers: list[HandDetection | None]) -> None:
        self.answers = list(answers)
        self.closed = False

    def detect(self, rgb: np.ndarray) -> HandDetection | None:
        return self.answers.pop(0)

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_adapter_saves_hand_frames_at_the_rate_up_to_the_count(
    tmp_path: Path, hand_photos
) -> None:
    rgb, det = hand_photos[2]
    pattern = [det, None, det, det, None, det] * 10  # 60 frames, a hand in 4 of every 6
    clock = FakeClock()
    store = CaptureStore(tmp_path / "captures", who="Ann")
    adapter = CaptureFrameAdapter(store, detector=ScriptedDetector(pattern), clock=clock)
    adapter.start("L", "Ann", rate_per_s=5, count=4, countdown_s=0.5)
    shown_shapes, saved_at_step = set(), []
    for step in range(60):  # 20 fps for 3 s
        clock.now = step / 20
        before = len(adapter.saved)
        shown_shapes.add(adapter.process_rgb(rgb).shape)
        if len(adapter.saved) > before:
            saved_at_step.append(step)
    # Countdown until step 10; then the first frame with a hand; then >= 0.2 s apart, each
    # time the next frame with a hand; 4 in all.
    assert saved_at_step == [11, 15, 20, 24]
    status = adapter.status()
    assert status.phase is CapturePhase.DONE and status.saved == 4
    assert status.frames == 60 and status.hand_frames == 40
    assert store.counts() == {"L": 4}
    assert shown_shapes == {rgb.shape}
    assert [c.label for c in adapter.saved] == ["L"] * 4


def test_live_adapter_stops_with_the_reason_when_the_disk_fills(
    tmp_path: Path, hand_photos
) -> None:
    rgb, det = hand_photos[2]
    free = {"bytes": 10 * 2**30}

    def usage(path: Path) -> Usage:
        return Usage(total=100 * 2**30, used=0, free=free["bytes"])

    clock = FakeClock()
    store = CaptureStore(tmp_path / "captures", disk_usage=usage)
    adapter = CaptureFrameAdapter(store, detector=ScriptedDetector([det] * 10), clock=clock)
    adapter.start("L", "Ann", rate_per_s=10, count=10, countdown_s=0)
    adapter.process_rgb(rgb)
    free["bytes"] = 10 * 2**20
    clock.now = 1.0
    adapter.process_rgb(rgb)
    status = adapter.status()
    assert status.phase is CapturePhase.FAILED and status.saved == 1
    assert "Only 10 MB free" in status.message
    clock.now = 2.0
    adapter.process_rgb(rgb)  # stays stopped
    assert store.counts() == {"L": 1}
