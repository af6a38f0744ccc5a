"""Files and progress lines: file hashes, atomic writes, and a time estimate that waits until
enough work is done to mean something."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from asl_core.io import progress as progress_module
from asl_core.io.files import atomic_write_bytes, sha256_file
from asl_core.io.progress import ProgressLine


def test_sha256_of_a_real_photo_and_of_a_file_larger_than_a_block(
    tmp_path: Path, massey_root: Path
) -> None:
    photo = next((massey_root / "images").rglob("*.jpeg"))
    assert sha256_file(photo) == hashlib.sha256(photo.read_bytes()).hexdigest()
    big = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read block
    big.write_bytes(data)
    assert sha256_file(big) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(big)) == sha256_file(big)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    atomic_write_bytes(target, b"{}")
    atomic_write_bytes(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line_with_clock(total: int) -> tuple[ProgressLine, Clock, io.StringIO]:
    clock, stream = Clock(), io.StringIO()
    line = ProgressLine(total, "MediaPipe", unit="photos", stream=stream, interval=0, clock=clock)
    return line, clock, stream


def test_no_estimate_after_a_slow_start_until_five_percent_are_done() -> None:
    # The first photo took 60 s (loading), the next ones 0.1 s each: an estimate from the
    # first seconds read hours where the job takes minutes.
    line, clock, _ = line_with_clock(1000)
    clock.now += 60
    line.advance()
    clock.now += 0.1
    line.advance()
    assert line.seconds_left() is None and "left: estimating" in line.text()
    for _ in range(48):  # 49 done since the first photo: 4.9 %
        clock.now += 0.1
        line.advance()
    assert line.seconds_left() is None
    clock.now += 0.1
    line.advance()  # 50 since the first: 5 %
    assert line.seconds_left() == pytest.approx(949 * 0.1)
    assert "left 1:35" in line.text()


def test_an_estimate_after_ten_seconds_even_below_five_percent() -> None:
    line, clock, _ = line_with_clock(100_000)
    line.advance()
    clock.now += progress_module.ESTIMATE_AFTER_S - 1
    line.advance()
    assert line.seconds_left() is None
    clock.now += 1
    line.advance()
    # 2 photos in 10 s since the first: 0.2/s
    assert line.seconds_left() == pytest.approx((100_000 - 3) / 0.2)


def test_a_finished_line_says_nothing_is_left() -> None:
    line, clock, stream = line_with_clock(4)
    for _ in range(4):
        clock.now += 1
        line.advance()
    line.close()
    assert "MediaPipe 4/4 photos" in stream.getvalue() and "left 0:00" in stream.getvalue()
