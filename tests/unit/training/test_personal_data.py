"""Which captures a personalisation holds back: whole bursts, the latest of each sign.

The rules are checked on manifest rows (label, signer, time: all `find_bursts` reads), then on
a real capture folder of real Massey photos saved through the Capture page's store, where each
Massey signer's photos are one burst (tests.helpers.captures).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from asl_core.data.sources import Sample
from asl_core.training.personal_data import (
    BURST_GAP_S,
    PersonaliseError,
    find_bursts,
    hold_back_bursts,
    load_captures,
)
from tests.helpers.captures import BURSTS_START, burst_time, capture_real_photos


def row(label: str, seconds: float, signer: str = "Ann") -> Sample:
    """A manifest row of the Capture page: taken `seconds` after 10:00 on 5 January 2026."""
    when = BURSTS_START + timedelta(seconds=seconds)
    return Sample(label, "my_signs", signer=signer, time=when.isoformat(timespec="seconds"))


def test_photos_less_than_a_minute_apart_are_one_burst() -> None:
    photos = [
        *(row("B", s) for s in (0, 1, 2, 61, 120)),  # 59 s apart at most: one burst
        row("B", 180),  # 60 s after the last: a new burst
        row("B", 1, signer="Bob"),  # another person at the same time: a burst of his own
        row("A", 1),  # another sign at the same time
    ]
    bursts = find_bursts(photos)
    assert [(b.label, b.signer, b.indices) for b in bursts] == [
        ("A", "Ann", (7,)),
        ("B", "Ann", (0, 1, 2, 3, 4)),
        ("B", "Bob", (6,)),
        ("B", "Ann", (5,)),
    ]
    assert BURST_GAP_S == 60
    assert bursts[1].start == BURSTS_START
    assert bursts[1].end == BURSTS_START + timedelta(seconds=120)
    local = BURSTS_START.astimezone()  # said in the machine's local time
    assert bursts[1].describe() == f"B by Ann at {local:%Y-%m-%d %H:%M:%S} (5 photos)"


def test_times_without_a_zone_or_without_a_time_are_not_mixed_up() -> None:
    local = datetime(2026, 1, 5, 9, 0).astimezone()  # a local time, written without its zone
    photos = [
        Sample("C", "my_signs", signer="Ann", time=local.replace(tzinfo=None).isoformat()),
        Sample("C", "my_signs", signer="Ann", time=(local + timedelta(seconds=5)).isoformat()),
        Sample("C", "my_signs", signer="Ann", time=None),
        Sample("C", "my_signs", signer="Ann", time="yesterday"),
    ]
    bursts = find_bursts(photos)
    # The untimed ones first (nothing says they are later), then the two read as one burst.
    assert [b.indices for b in bursts] == [(2, 3), (0, 1)]
    assert bursts[0].start is None and "at an unknown time" in bursts[0].describe()


def test_the_latest_bursts_are_held_back_whole_and_the_first_always_trains() -> None:
    photos = [
        *(row("A", s) for s in range(6)),  # A: 6 photos at 10:00, 3 at 10:05, 3 at 10:10
        *(row("A", 300 + s) for s in range(3)),
        *(row("A", 600 + s) for s in range(3)),
        *(row("B", s) for s in range(10)),  # B: 10 photos at 10:00, 2 at 10:05
        *(row("B", 300 + s) for s in range(2)),
        *(row("W", s) for s in range(5)),  # W: one burst
    ]
    split = hold_back_bursts(photos, 0.25)
    # A: a quarter of 12 is 3, the last burst; B: only the later burst, 2 photos (whole bursts).
    assert split.held_back == [9, 10, 11, 22, 23]
    assert [(b.label, len(b.indices)) for b in split.held_back_bursts] == [("A", 3), ("B", 2)]
    assert split.train == [i for i in range(len(photos)) if i not in split.held_back]
    assert split.unchecked == ["W"]
    # Half of A's photos: the two later bursts; B's first burst still trains.
    half = hold_back_bursts(photos, 0.5)
    assert half.held_back == [6, 7, 8, 9, 10, 11, 22, 23]


def test_nothing_is_held_back_when_every_sign_is_one_burst() -> None:
    photos = [*(row("A", s) for s in range(20)), *(row("B", 100 + s) for s in range(20))]
    with pytest.raises(PersonaliseError, match=r"every sign was captured in one burst .* "
                       r"Capture another burst of your signs a minute or more later"):  # fmt: skip
        hold_back_bursts(photos, 0.25)


def test_a_real_capture_holds_back_the_later_signer(tmp_path: Path, massey_root: Path) -> None:
    """Two real Massey signers as two sessions of one user, ten minutes apart: the later one's
    photos are held back, none of the earlier one's."""
    plan = {"B": ("b", 10), "HELLO-SIGN": ("5", 10)}
    store = capture_real_photos(tmp_path, massey_root, plan, massey_signers=("hand1", "hand2"))
    user = load_captures(store.root)
    assert len(user) == 20 and {s.signer for s in user} == {"Ann"}
    split = hold_back_bursts(user, 0.25)
    later = burst_time(1, 0)
    local = later.astimezone()
    assert [b.describe() for b in split.held_back_bursts] == [
        f"B by Ann at {local:%Y-%m-%d %H:%M:%S} (5 photos)",
        f"HELLO-SIGN by Ann at {local:%Y-%m-%d %H:%M:%S} (5 photos)",
    ]
    held = {user[i].path for i in split.held_back}
    times = {user[i].path: datetime.fromisoformat(user[i].time or "") for i in range(20)}
    assert len(held) == 10 and all(times[p] >= later for p in held)
    assert all(times[user[i].path] < later for i in split.train)
