"""The capture folder's claim with real (small) timing: a heartbeat keeps it, a closed tab
loses it within seconds, the same person in a new tab takes it over, and the folder mutex
(filelock) keeps two writers from losing each other's manifest rows."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from asl_core.app.capture import CaptureSession
from asl_core.capture import lock as lock_module
from asl_core.capture.lock import FolderLock
from asl_core.capture.names import FolderLockedError
from asl_core.capture.store import CaptureStore
from asl_core.io.images import load_image
from tests.helpers.photos import massey_photo

STALE_S = 2.0  # the real default is 10 s; the same code, made small
BEAT_S = 0.2


def test_heartbeats_keep_a_claim_and_it_lapses_soon_after_they_stop(tmp_path: Path) -> None:
    ann = FolderLock(tmp_path, owner="ann-tab", who="Ann", stale_after_s=STALE_S)
    bob = FolderLock(tmp_path, owner="bob-tab", who="Bob", stale_after_s=STALE_S)
    ann.acquire()
    open_until = time.monotonic() + 2 * STALE_S  # longer than a claim lives unrefreshed
    while time.monotonic() < open_until:  # Ann's tab is open: its page sends heartbeats
        last_beat = time.monotonic()  # the claim is refreshed at or after this moment
        assert ann.heartbeat()
        with pytest.raises(FolderLockedError, match=r"Another session \(Ann\)"):
            bob.acquire()
        time.sleep(BEAT_S)
    # Ann closes the tab: no more heartbeats.
    while True:
        try:
            bob.acquire()
            break
        except FolderLockedError:
            waited = time.monotonic() - last_beat
            assert waited < STALE_S + 2.0, "the claim never lapsed"
            time.sleep(0.05)
    assert time.monotonic() - last_beat >= STALE_S - 0.05  # and not before it lapsed
    assert bob.held and not ann.heartbeat()  # a heartbeat never takes a claim back
    with pytest.raises(FolderLockedError, match=r"\(Bob\)"):
        ann.refresh()  # Ann's old tab, if it ever wakes, must not write


def test_the_default_frees_a_closed_tabs_folder_within_seconds() -> None:
    assert lock_module.LOCK_STALE_AFTER_S <= 10.0
    assert lock_module.LOCK_STALE_AFTER_S >= 3 * lock_module.HEARTBEAT_S


def test_the_same_person_in_a_new_tab_takes_over_at_once(tmp_path: Path) -> None:
    old_tab = FolderLock(tmp_path, owner="tab-1", who="Ann", opened=100.0)
    old_tab.acquire()
    new_tab = FolderLock(tmp_path, owner="tab-2", who="Ann", opened=200.0)
    new_tab.acquire()  # no wait: it is Ann again, in a newer tab
    assert new_tab.held and not old_tab.held
    with pytest.raises(FolderLockedError, match=r"\(Ann\)"):
        old_tab.refresh()
    with pytest.raises(FolderLockedError, match=r"\(Ann\)"):
        FolderLock(tmp_path, owner="tab-3", who="Bob").acquire()


def test_a_session_heartbeat_keeps_only_its_own_claim(tmp_path: Path) -> None:
    session = CaptureSession(tmp_path / "captures", "Ann")
    assert session.heartbeat() is False  # nothing claimed yet
    session.store.claim()
    assert session.heartbeat() is True
    FolderLock(session.folder, owner="other", who="Ann").acquire()  # Ann, in a newer tab
    assert session.heartbeat() is False
    assert "Another session (Ann)" in (session.problem() or "")  # this tab is the older one


def test_an_older_tab_of_the_same_person_never_takes_the_folder_back(tmp_path: Path) -> None:
    new_tab = FolderLock(tmp_path, owner="tab-2", who="Ann", opened=200.0)
    new_tab.acquire()
    old_tab = FolderLock(tmp_path, owner="tab-1", who="Ann", opened=100.0)
    with pytest.raises(FolderLockedError, match=r"\(Ann\)"):
        old_tab.acquire()


def test_the_folder_mutex_lets_one_write_at_a_time(tmp_path: Path) -> None:
    # What filelock does for us: one writer inside `writing()` at a time, across threads
    # (and processes); the second waits for the first to finish rather than interleave.
    first = FolderLock(tmp_path, owner="tab-1", who="Ann", opened=1.0)
    second = FolderLock(tmp_path, owner="tab-2", who="Ann", opened=2.0)
    events: list[str] = []
    inside = threading.Event()

    def write_slowly() -> None:
        with first.writing():
            events.append("first in")
            inside.set()
            time.sleep(0.5)
            events.append("first out")

    thread = threading.Thread(target=write_slowly)
    thread.start()
    inside.wait(5)
    with second.writing():
        events.append("second in")
    thread.join()
    assert events == ["first in", "first out", "second in"]
    assert second.held


@pytest.fixture(scope="module")
def photo(massey_root: Path) -> np.ndarray:
    return load_image(massey_photo(massey_root, "b", "hand1", 1))


def test_a_tab_saving_while_its_video_thread_saves_loses_no_row(
    tmp_path: Path, photo: np.ndarray
) -> None:
    # One session, two threads (the page and the live video callback) saving at once.
    store = CaptureStore(tmp_path / "captures", who="Ann", cache_features=False)
    errors: list[BaseException] = []

    def save_many() -> None:
        for _ in range(8):
            try:
                store.save(photo, "B", "Ann")
            except BaseException as error:  # reported below, in the test thread
                errors.append(error)

    threads = [threading.Thread(target=save_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({capture.path for capture in store.captures()}) == 16
