"""The hand-centred representation on real landmarks, turned, moved, scaled and mirrored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from asl_core.io.images import load_image
from asl_core.vision.handframe import (
    HANDFRAME_DIM,
    PART_DIMS,
    as_points,
    hand_frame,
    handframe_features,
    mirror_points,
)
from asl_core.vision.hands import HandDetector
from asl_core.vision.views import landmark_vector, mirror_landmark_vector
from tests.helpers.photos import massey_photo

SIGNS = [("a", "hand1"), ("b", "hand2"), ("g", "hand3"), ("k", "hand5"), ("x", "hand4"),
         ("5", "hand1"), ("y", "hand2"), ("o", "hand5")]  # fmt: skip


def _slices() -> dict[str, slice]:
    out, start = {}, 0
    for name, size in PART_DIMS.items():
        out[name] = slice(start, start + size)
        start += size
    return out


PARTS = _slices()


@pytest.fixture(scope="module")
def vectors(massey_root: Path) -> np.ndarray:
    """Landmark vectors of real photos of eight signs by five signers: (8, 63)."""
    rows = []
    with HandDetector(mode="image") as detector:
        for label, signer in SIGNS:
            det = detector.detect(load_image(massey_photo(massey_root, label, signer)))
            assert det is not None, f"no hand in the {label} photo of {signer}"
            rows.append(landmark_vector(det))
    return np.stack(rows)


@pytest.fixture(scope="module")
def rotations() -> np.ndarray:
    """Twenty rotations drawn uniformly over all of 3-D (any turn of the hand), seeded."""
    return Rotation.random(20, random_state=3).as_matrix()


def test_shape_and_parts(vectors: np.ndarray) -> None:
    features = handframe_features(vectors)
    assert features.shape == (len(SIGNS), HANDFRAME_DIM) == (8, 301)
    assert features.dtype == np.float32
    assert np.array_equal(handframe_features(vectors[0]), features[0])
    assert np.array_equal(handframe_features(vectors[0].reshape(21, 3)), features[0])
    # The orientation rows are an orthonormal basis with n = u x v (a proper rotation).
    rows = features[:, PARTS["orientation"]].reshape(-1, 3, 3)
    assert np.allclose(rows @ rows.transpose(0, 2, 1), np.eye(3), atol=1e-5)
    assert np.allclose(np.linalg.det(rows), 1.0, atol=1e-5)
    # Local frame: the wrist at the origin, the middle knuckle on the +u axis, the little
    # finger's knuckle on the +v side.
    local = features[:, PARTS["local"]].reshape(-1, 21, 3)
    assert np.allclose(local[:, 0], 0.0)
    assert np.allclose(local[:, 9, 1:], 0.0, atol=1e-5) and np.all(local[:, 9, 0] > 0.5)
    assert np.all(local[:, 17, 1] > local[:, 5, 1])


def test_a_hand_turned_in_3d_keeps_its_handshape_features(
    vectors: np.ndarray, rotations: np.ndarray
) -> None:
    features = handframe_features(vectors)
    shape_parts = ("local", "distances", "angles")
    for rotation in rotations:
        turned = handframe_features(vectors.reshape(-1, 21, 3) @ rotation.T)
        for part in shape_parts:
            assert np.allclose(turned[:, PARTS[part]], features[:, PARTS[part]], atol=1e-4), part
        # Only the palm's orientation tells the turn, and it is the rotation itself.
        before = features[:, PARTS["orientation"]].reshape(-1, 3, 3)
        after = turned[:, PARTS["orientation"]].reshape(-1, 3, 3)
        assert np.allclose(after, before @ rotation.T, atol=1e-4)
    # The plain landmark vector, by contrast, changes a lot under the same turns.
    plain = vectors.reshape(-1, 21, 3) @ rotations[0].T
    assert np.abs(plain.reshape(len(SIGNS), -1) - vectors).max() > 0.3


def test_position_and_size_do_not_matter(vectors: np.ndarray) -> None:
    points = vectors.reshape(-1, 21, 3)
    moved = points * 3.7 + np.array([10.0, -4.0, 2.5])
    assert np.allclose(handframe_features(moved), handframe_features(points), atol=1e-5)


def test_different_handshapes_stay_apart(vectors: np.ndarray, rotations: np.ndarray) -> None:
    """Every sign differs from every other more than from any turned copy of itself."""
    features = handframe_features(vectors)
    shape = np.r_[PARTS["local"], PARTS["distances"], PARTS["angles"]]
    base = features[:, shape]
    gaps = np.linalg.norm(base[:, None] - base[None], axis=-1)
    off_diagonal = gaps[~np.eye(len(SIGNS), dtype=bool)]
    turned = handframe_features(vectors.reshape(-1, 21, 3) @ rotations[5].T)[:, shape]
    assert np.linalg.norm(turned - base, axis=-1).max() < 1e-3 < off_diagonal.min()


def test_mirroring_flips_the_palm_side_only(vectors: np.ndarray) -> None:
    features = handframe_features(vectors)
    mirrored = handframe_features(mirror_landmark_vector(vectors))
    assert np.allclose(mirror_points(mirror_points(vectors)), vectors)
    assert np.allclose(mirror_points(vectors), mirror_landmark_vector(vectors))
    for part in ("distances", "angles"):
        assert np.allclose(mirrored[:, PARTS[part]], features[:, PARTS[part]], atol=1e-5)
    local, local_m = (f[:, PARTS["local"]].reshape(-1, 21, 3) for f in (features, mirrored))
    assert np.allclose(local_m[..., :2], local[..., :2], atol=1e-5)
    assert np.allclose(local_m[..., 2], -local[..., 2], atol=1e-5)
    # A real handshape is not its own mirror image: the palm-side coordinates differ.
    assert np.abs(local[..., 2]).max() > 0.1


def test_bad_input_is_refused_and_a_degenerate_hand_gives_zeros() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 63\) or \(\.\.\., 21, 3\)"):
        handframe_features(np.zeros(62))
    with pytest.raises(ValueError, match="NaN or infinity"):
        handframe_features(np.full(63, np.nan))
    assert not handframe_features(np.zeros(63)).any()
    centred, rotation, size = hand_frame(as_points(np.ones((2, 63))))
    assert centred.shape == (2, 21, 3) and rotation.shape == (2, 3, 3)
    assert np.all(size == 0)
