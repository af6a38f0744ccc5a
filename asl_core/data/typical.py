"""A typical training photo of a sign, as landmarks: the reference handshape for practice.

The practice page shows the student a drawing of the sign asked for. It is drawn from the
landmarks of one real training photo, chosen at run time as the class's medoid (the photo whose
wrist-centred, scale-normalised landmark vector has the smallest summed distance to the other
photos of the class): a real, typical hand rather than an average that no hand makes. Only the
landmarks leave this module (`HandDetection`); no photo is stored or shown. The landmarks come
from the feature cache (`features.extract_features`, which runs MediaPipe only on photos not
cached yet).
"""

from __future__ import annotations

import numpy as np

from asl_core.data.features import FeatureCache, extract_features
from asl_core.data.sources import filter_classes, limit_per_class, load_one
from asl_core.labels import normalise_label
from asl_core.vision.hands import HandDetection

REFERENCE_DATASET = "massey36"
"""Five signers, all 36 classes, plain black background (asl_core.data.sources)."""


PHOTOS_PER_CLASS = 40
"""Photos per class the medoid is chosen among (seeded random draw, so across signers): about
1.2 s of MediaPipe when none is cached, nothing when all are."""


def medoid(vectors: np.ndarray) -> int:
    """Row index of the medoid of N x D `vectors` (smallest summed Euclidean distance to the
    others; the first on ties). ValueError for no rows."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"need an N x D array with N >= 1, got shape {vectors.shape}")
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=-1)
    return int(distances.sum(axis=1).argmin())


def typical_detection(
    label: str,
    dataset: str = REFERENCE_DATASET,
    *,
    per_class: int = PHOTOS_PER_CLASS,
    cache: FeatureCache | None = None,
    seed: int = 0,
) -> HandDetection | None:
    """The landmarks of the medoid photo of `label` in `dataset` (a registered name or path),
    or None when the dataset has no photo of it with a hand found.

    Raises `DatasetError` when the dataset is not there (the page says so).
    """
    samples, _ = load_one(dataset, verify=False)
    samples = limit_per_class(filter_classes(samples, [normalise_label(label)]), per_class, seed)
    if not samples:
        return None
    cache = cache or FeatureCache()
    table = extract_features(samples, cache, workers=1, progress=False)
    rows = np.flatnonzero(table.has_hand)
    if len(rows) == 0:
        return None
    chosen = samples[int(rows[medoid(table.landmarks[rows])])]
    assert chosen.sha256 is not None  # photos from a folder always have one
    features = cache.get(chosen.sha256)
    return features.detection if features is not None else None
