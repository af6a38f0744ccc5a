"""Landmark-space augmentation for the hand-frame model, on real landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asl_core.data.augment import (
    AugmentConfig,
    HandframeTrainPreset,
    describe,
    eval_preset,
    train_preset,
)
from asl_core.io.images import load_image
from asl_core.models.registry import create_model
from asl_core.vision.handframe import PART_DIMS, handframe_features
from asl_core.vision.hands import HandDetector
from asl_core.vision.views import landmark_vector
from tests.helpers.photos import massey_photo

SPEC = create_model("handframe_mlp", 5).input_spec
OFF = {"rotation": 0.0, "scale": (1.0, 1.0), "landmark_jitter": 0.0}
LOCAL = slice(0, PART_DIMS["local"])
ORIENTATION = slice(LOCAL.stop, LOCAL.stop + PART_DIMS["orientation"])
DISTANCES = slice(ORIENTATION.stop, ORIENTATION.stop + PART_DIMS["distances"])


@pytest.fixture(scope="module")
def vectors(massey_root: Path) -> np.ndarray:
    rows = []
    with HandDetector(mode="image") as detector:
        for label, signer in (("b", "hand1"), ("k", "hand2"), ("y", "hand5")):
            det = detector.detect(load_image(massey_photo(massey_root, label, signer)))
            assert det is not None
            rows.append(landmark_vector(det))
    return np.stack(rows)


def test_eval_and_untouched_training_give_the_features(vectors: np.ndarray) -> None:
    for vector in vectors:
        expected = torch.from_numpy(handframe_features(vector))
        assert torch.equal(eval_preset(SPEC)(vector), expected)
        untouched = train_preset(SPEC, AugmentConfig(**OFF))
        assert isinstance(untouched, HandframeTrainPreset)
        assert torch.allclose(untouched(vector), expected, atol=1e-5)
        assert torch.equal(train_preset(SPEC, AugmentConfig(enabled=False))(vector), expected)


def test_a_3d_turn_changes_only_the_palm_orientation(vectors: np.ndarray) -> None:
    preset = HandframeTrainPreset(AugmentConfig(**{**OFF, "rotation": 40.0}, landmark_tilt=40.0))
    torch.manual_seed(0)
    for vector in vectors:
        base, turned = handframe_features(vector), preset(vector).numpy()
        assert np.allclose(turned[LOCAL], base[LOCAL], atol=1e-4)
        assert np.allclose(turned[DISTANCES], base[DISTANCES], atol=1e-4)
        assert np.abs(turned[ORIENTATION] - base[ORIENTATION]).max() > 0.05


def test_hand_shape_jitter_changes_the_hand_and_repeats_with_the_seed(
    vectors: np.ndarray,
) -> None:
    config = AugmentConfig(**OFF, bone_jitter=0.08, spread_jitter=8.0)
    preset = HandframeTrainPreset(config)
    torch.manual_seed(3)
    first = preset(vectors[0])
    torch.manual_seed(3)
    assert torch.equal(preset(vectors[0]), first)
    base = handframe_features(vectors[0])
    gap = np.abs(first.numpy()[DISTANCES] - base[DISTANCES])
    assert 0.005 < gap.mean() < 0.2  # a different but plausible hand
    # The palm's own bones keep their directions under spread jitter alone (fingers turn
    # about their knuckles), so the orientation of the palm does not change.
    spread = HandframeTrainPreset(AugmentConfig(**OFF, spread_jitter=8.0))
    palm = handframe_features(vectors[1])[ORIENTATION]
    assert np.allclose(spread(vectors[1]).numpy()[ORIENTATION], palm, atol=1e-6)


def test_a_dropped_point_moves_one_landmark_onto_its_parent(vectors: np.ndarray) -> None:
    preset = HandframeTrainPreset(AugmentConfig(**OFF, drop_point=1.0))
    torch.manual_seed(1)
    points = preset.augment(vectors[2])
    original = vectors[2].reshape(21, 3) / np.linalg.norm(vectors[2].reshape(21, 3), axis=1).max()
    moved = np.flatnonzero(np.abs(points - original).max(axis=1) > 1e-5)
    assert len(moved) == 1 and moved[0] != 0


def test_the_flip_reads_the_other_hand(vectors: np.ndarray) -> None:
    preset = HandframeTrainPreset(AugmentConfig(**OFF, hflip_prob=1.0))
    for vector in vectors:
        flipped = preset.augment(vector)
        assert np.allclose(flipped[:, 0], -vector.reshape(21, 3)[:, 0], atol=1e-6)
        assert np.allclose(flipped[:, 1:], vector.reshape(21, 3)[:, 1:], atol=1e-6)


def test_settings_are_checked_and_recorded() -> None:
    with pytest.raises(ValueError, match="drop_point must be in"):
        AugmentConfig(drop_point=1.5)
    with pytest.raises(ValueError, match="bone_jitter must be in"):
        AugmentConfig(bone_jitter=0.5)
    record = describe(AugmentConfig(bone_jitter=0.05, drop_point=0.1, hflip_prob=0.5), SPEC, None)
    assert record["space"] == "landmarks" and record["bone_jitter"] == 0.05
    assert record["flip"] is True and record["hflip_prob"] == 0.5
    assert record["drop_point"] == 0.1 and "spread_jitter" in record
    plain = describe(AugmentConfig(), create_model("landmark_mlp", 5).input_spec, None)
    assert "bone_jitter" not in plain
