"""The reference handshape of a class: the medoid photo's landmarks, from real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_core.data.features import FeatureCache
from asl_core.data.typical import medoid, typical_detection
from asl_core.inference.predictor import Predictor
from asl_core.vision.views import landmark_vector


def test_medoid_is_the_most_central_row() -> None:
    vectors = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]])
    assert medoid(vectors) == 1  # sums 13, 11, 11, 27: the first of the tie
    assert medoid(vectors[:1]) == 0
    with pytest.raises(ValueError, match="N x D"):
        medoid(np.zeros((0, 63)))


@pytest.mark.parametrize("label", ["A", "M", "5"])
def test_typical_photo_of_a_class_reads_as_that_class(data_root: Path, label: str) -> None:
    """The shipped landmark model reads the medoid's landmarks as the class it stands for (a
    reference that the model itself would call another sign would teach the wrong shape)."""
    detection = typical_detection(label, per_class=12, cache=FeatureCache())
    assert detection is not None
    assert detection.handedness == "Left"  # a right hand, unmirrored, as the training photos
    with Predictor() as predictor:
        rgb = np.zeros((detection.image_size[1], detection.image_size[0], 3), np.uint8)
        prediction = predictor.predict_detection(rgb, detection, classes="all")
    assert prediction.label == label, prediction.top
    assert landmark_vector(detection).shape == (63,)


def test_unknown_class_has_no_reference(data_root: Path) -> None:
    assert typical_detection("not-a-sign", per_class=5) is None
