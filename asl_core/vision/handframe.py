"""The hand-centred representation ("handframe"): the 21 landmarks as the hand itself sees them.

The plain landmark vector (`views.landmark_vector`) keeps the camera's axes, so a hand turned
sideways or tilted is a different vector from the same handshape held square to the camera;
models trained on frontal photos then misread it (../shared/NOTES.md, "What was measured on the
shipped model": G and H read as C, X/P/D as Z). Here the landmarks are re-expressed in a frame
attached to the palm, and how the palm is turned is given separately:

- frame: origin at the wrist (landmark 0); `u` = wrist -> middle knuckle (9), `v` = index
  knuckle (5) -> little-finger knuckle (17) made orthogonal to `u`, `n` = u x v (the palm's
  normal); (u, v, n) is a right-handed orthonormal basis. For a right hand `n` points out
  of the palm.
- scale: the palm size, the mean of the wrist-to-knuckle distances (5, 9, 13, 17) and the
  index-to-little-finger knuckle distance: five palm bones that fingers never hide, so the
  scale does not change with the handshape (the largest wrist distance of `landmark_vector`
  does: a fist is smaller than a flat hand).
- features, in this order (`HANDFRAME_DIM` = 301 values):
  1. `local` (63): the 21 points in the (u, v, n) frame, divided by the palm size;
  2. `orientation` (9): the rows u, v, n in camera axes (a rotation matrix): how the palm is
     turned;
  3. `distances` (210): every pairwise landmark distance over the palm size;
  4. `angles` (19): cosines of the 15 finger-joint bends (3 per finger) and of the 4 angles
     between neighbouring fingers' first bones.
  Everything but `orientation` is unchanged by any rotation of the hand in 3-D (tested on
  real landmarks turned in 3-D), so a turned hand reads as the same handshape.

Chirality: mirroring a hand (x -> -x) flips the sign of the `local` n-coordinates and changes
`orientation`; distances and angles do not change. The input is the project's landmark
vector (wrist-centred, isotropic, a hand MediaPipe labels "Right" mirrored onto the training
handedness), so `handframe_features(mirror_landmark_vector(v))` is the other chirality's
reading (see `asl_core.inference.predictor` for how both are read).

Measured to choose it (leave-people-out over 12 signers, bench/accuracy.py and the model
card): see `asl_core/default_model/MODEL_CARD.md`.
"""

from __future__ import annotations

import numpy as np

from asl_core.vision.hands import NUM_LANDMARKS

HANDFRAME_VERSION = 1
"""Bump when any feature below changes its values: checkpoints record it and refuse others."""


WRIST, INDEX_KNUCKLE, MIDDLE_KNUCKLE, RING_KNUCKLE, PINKY_KNUCKLE = 0, 5, 9, 13, 17


FINGER_CHAINS: tuple[tuple[int, int, int, int, int], ...] = (
    (0, 1, 2, 3, 4),
    (0, 5, 6, 7, 8),
    (0, 9, 10, 11, 12),
    (0, 13, 14, 15, 16),
    (0, 17, 18, 19, 20),
)
"""The wrist and each finger's four landmarks, from the base to the tip (thumb first)."""


PARENT: tuple[int, ...] = (0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
"""The landmark each landmark hangs from (the wrist is its own parent)."""


_PAIRS = np.triu_indices(NUM_LANDMARKS, 1)


PART_DIMS: dict[str, int] = {
    "local": NUM_LANDMARKS * 3,
    "orientation": 9,
    "distances": len(_PAIRS[0]),
    "angles": 3 * len(FINGER_CHAINS) + len(FINGER_CHAINS) - 1,
}


HANDFRAME_DIM = sum(PART_DIMS.values())
"""Length of `handframe_features`: 63 + 9 + 210 + 19 = 301."""


_EPS = 1e-9


def as_points(values: np.ndarray) -> np.ndarray:
    """(..., 63) or (..., 21, 3) -> float64 (..., 21, 3); ValueError for any other shape."""
    points = np.asarray(values, dtype=np.float64)
    if points.shape[-1:] == (NUM_LANDMARKS * 3,):
        points = points.reshape(*points.shape[:-1], NUM_LANDMARKS, 3)
    if points.shape[-2:] != (NUM_LANDMARKS, 3):
        raise ValueError(f"expected (..., 63) or (..., 21, 3) landmarks, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("landmarks contain NaN or infinity")
    return points


_CHAINS = np.array(FINGER_CHAINS)
_BONE_FROM, _BONE_TO = _CHAINS[:, :-1], _CHAINS[:, 1:]  # (5, 4) each: the 20 finger bones


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b over the last axis (np.cross costs ten times more on one hand)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.sqrt(np.sum(vectors * vectors, axis=-1, keepdims=True))
    return vectors / np.maximum(norm, _EPS)


def hand_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wrist-centred points, rotation, palm size) of (..., 21, 3) isotropic points.

    rotation (..., 3, 3) has rows u (wrist to middle knuckle), v (across the palm, index to
    little finger) and n = u x v: a proper rotation; `centred @ rotation.T` (per hand) gives
    the local coordinates. palm size (...) is the mean of five palm bones (module doc); 0 for
    a degenerate hand.
    """
    centred = points - points[..., WRIST : WRIST + 1, :]
    u = _unit(centred[..., MIDDLE_KNUCKLE, :])
    across = centred[..., PINKY_KNUCKLE, :] - centred[..., INDEX_KNUCKLE, :]
    v = _unit(across - np.sum(across * u, axis=-1, keepdims=True) * u)
    n = _cross(u, v)
    rotation = np.stack([u, v, n], axis=-2)
    bones = np.concatenate(
        [centred[..., [INDEX_KNUCKLE, MIDDLE_KNUCKLE, RING_KNUCKLE, PINKY_KNUCKLE], :],
         across[..., None, :]], axis=-2)  # fmt: skip
    size = np.sqrt(np.sum(bones * bones, axis=-1)).mean(axis=-1)
    return centred, rotation, size


def joint_angles(points: np.ndarray) -> np.ndarray:
    """(..., 19) cosines: 3 bends per finger (thumb to little finger), then 4 spreads."""
    bones = _unit(points[..., _BONE_TO, :] - points[..., _BONE_FROM, :])  # (..., 5, 4, 3)
    bends = np.sum(bones[..., :-1, :] * bones[..., 1:, :], axis=-1)  # (..., 5, 3)
    first = bones[..., 1, :]  # each finger's first bone past its knuckle (..., 5, 3)
    spreads = np.sum(first[..., :-1, :] * first[..., 1:, :], axis=-1)  # (..., 4)
    return np.concatenate([bends.reshape(*bends.shape[:-2], 15), spreads], axis=-1)


def handframe_features(landmarks: np.ndarray) -> np.ndarray:
    """(..., 301) float32 hand-frame features of (..., 63) or (..., 21, 3) landmarks.

    The landmarks must be isotropic (x, y and z in one unit, as `views.landmark_vector` gives
    them); position and size do not matter. A degenerate hand (palm of size 0) gives zeros.
    """
    points = as_points(landmarks)
    centred, rotation, size = hand_frame(points)
    ok = size > _EPS
    scale = np.where(ok, size, 1.0)[..., None]
    local = (centred @ np.swapaxes(rotation, -1, -2)) / scale[..., None]
    diff = centred[..., _PAIRS[0], :] - centred[..., _PAIRS[1], :]
    distances = np.sqrt(np.sum(diff * diff, axis=-1)) / scale
    parts = [
        local.reshape(*local.shape[:-2], PART_DIMS["local"]),
        rotation.reshape(*rotation.shape[:-2], 9),
        distances,
        joint_angles(centred),
    ]
    features = np.concatenate(parts, axis=-1)
    return np.where(ok[..., None], features, 0.0).astype(np.float32)


def mirror_points(landmarks: np.ndarray) -> np.ndarray:
    """x -> -x of (..., 63) or (..., 21, 3) landmarks (the other hand), same shape back."""
    values = np.array(landmarks, dtype=np.float64)
    points = as_points(values)
    points[..., 0] = -points[..., 0]
    return points.reshape(values.shape)
