"""Frame sequences for the CNN+LSTM: consecutive real video frames of one sign and one signer."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from asl_core.data.augment import eval_preset
from asl_core.data.features import FeatureCache, extract_features
from asl_core.data.sequences import (
    SequenceDataset,
    build_sequences,
    frame_number,
    sequence_split,
    side_sequences,
)
from asl_core.data.sources import DatasetError, load_datasets
from asl_core.vision.spec import InputSpec


def _grey(path: Path) -> np.ndarray:
    return cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (50, 50)).astype(np.float32)


def test_a_grassknoted_sequence_is_distinct_real_frames_in_filming_order(letters_root) -> None:
    samples = load_datasets(["grassknoted_letters"], classes=["A", "M", "Y"]).samples
    windows, left_over = build_sequences(samples, 8)
    assert len(windows) == 3 * 25 and left_over == 0  # 200 frames a letter
    rng = np.random.default_rng(0)
    for window in windows:
        frames = [samples[i] for i in window.frames]
        assert len({f.sha256 for f in frames}) == 8  # eight different photos, no copies
        assert {f.label for f in frames} == {window.label}
        assert {f.signer for f in frames} == {window.signer} == {"grassknoted"}
        assert list(window.numbers) == [frame_number(f) for f in frames]
        assert list(window.numbers) == sorted(window.numbers)
        # consecutive: no frame of this letter lies between two frames of the window
        letter = sorted(frame_number(s) for s in samples if s.label == window.label)
        start = letter.index(window.numbers[0])
        assert letter[start : start + 8] == list(window.numbers)
    # The order is the filming order: neighbours look alike, far frames of a letter do not.
    near, far = [], []
    for window in rng.choice(len(windows), size=12, replace=False):
        paths = [samples[i].path for i in windows[window].frames]
        images = [_grey(p) for p in paths]
        near += [np.abs(a - b).mean() for a, b in pairwise(images)]
        others = [w for w in windows if w.label == windows[window].label and w != windows[window]]
        other = others[rng.integers(len(others))]
        far.append(np.abs(images[0] - _grey(samples[other.frames[-1]].path)).mean())
    assert np.median(near) * 2 < np.median(far)


def test_aslhg_sequences_stay_within_one_signer(data_root) -> None:
    samples = load_datasets(["aslhg"], classes=["B", "L"]).samples
    windows, left_over = build_sequences(samples, 5)
    # 6 signers x 2 classes x 10 frames: two windows of five each
    assert len(windows) == 24 and left_over == 0
    for window in windows:
        assert len({samples[i].signer for i in window.frames}) == 1
        assert all(samples[i].path.name.startswith(f"{window.signer}_") for i in window.frames)
        assert list(window.numbers) == sorted(set(window.numbers))


def test_photos_that_are_not_video_frames_are_refused(massey_root) -> None:
    samples = load_datasets(["massey36"], classes=["B"], limit=4).samples
    with pytest.raises(DatasetError, match="massey36 is not a set of video frames"):
        build_sequences(samples, 4)


def test_a_split_of_sequences_puts_whole_windows_on_one_side(letters_root) -> None:
    samples = load_datasets(["grassknoted_letters"], classes=["B", "C", "L"]).samples
    split = sequence_split(samples, 8, "random", val_fraction=0.15, test_fraction=0.15)
    sides = split.sides()
    assert not set(sides["train"]) & set(sides["val"]) and not set(sides["val"]) & set(
        sides["test"]
    )
    assert sum(len(v) for v in sides.values()) == len(samples)
    windows, _ = build_sequences(samples, 8)
    kept = {side: side_sequences(samples, 8, idx) for side, idx in sides.items()}
    assert sum(len(v) for v in kept.values()) == len(windows) == 75
    assert {side: len(v) for side, v in kept.items()} == split.notes["sequences"]
    for side, found in kept.items():
        assert {f for w in found for f in w.frames} == set(sides[side])
        assert {w.label for w in found} == {"B", "C", "L"}  # stratified by class
    held_out = sequence_split(samples, 8, "kfold", folds=5, fold=2, val_fraction=0.0)
    assert held_out.val == held_out.test and held_out.notes["val_is_test_fold"]


def test_the_dataset_feeds_each_window_its_own_frames_with_one_augmentation(
    letters_root, tmp_path
) -> None:
    samples = load_datasets(["grassknoted_letters"], classes=["B"], limit=8).samples
    table = extract_features(samples, FeatureCache(tmp_path / "cache"), workers=1, progress=False)
    spec = InputSpec(kind="sequence", size=32, sequence_length=4)
    windows, _ = build_sequences(samples, 4)
    dataset = SequenceDataset(table, windows, ["B"], spec, eval_preset(spec))
    frames, label, has_input = dataset[0]
    assert frames.shape == (4, 3, 32, 32) and label == 0
    assert has_input == any(table.has_hand[i] for i in windows[0].frames)
    found = [i for i in windows[0].frames if table.has_hand[i]]
    if len(found) >= 2:  # two real frames of the video differ
        first, second = (windows[0].frames.index(i) for i in found[:2])
        assert not torch.equal(frames[first], frames[second])

    def draw(_image: np.ndarray) -> torch.Tensor:  # a "transform" that shows its random draw
        return torch.full((3, 32, 32), float(torch.rand(())))

    drawn = SequenceDataset(table, windows, ["B"], spec, draw)
    one, two = drawn[0][0], drawn[1][0]
    assert all(torch.equal(one[0], f) for f in one)  # one draw for all frames of a window
    assert not torch.equal(one[0], two[0])  # and another for the next window
