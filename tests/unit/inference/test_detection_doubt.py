"""Hands found only on tiles or very small are answered unsure (issue 14; bench/hard_photos.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from asl_core.inference.predictor import (
    SMALL_HAND_PX,
    Predictor,
    detection_doubt,
)
from asl_core.io.images import load_image
from tests.helpers.photos import massey_photo, shrunk_hand


@pytest.fixture(scope="module")
def predictor(data_root: Path) -> Iterator[Predictor]:
    with Predictor(threshold=0.0) as loaded:  # every answer confident: only the rule decides
        yield loaded


def test_an_ordinary_hand_is_not_doubted(massey_root: Path, predictor: Predictor) -> None:
    rgb = load_image(massey_photo(massey_root, "w", "hand5"))
    prediction = predictor.predict_image(rgb)
    assert prediction.detection is not None
    assert prediction.detection.detected_side >= SMALL_HAND_PX
    assert detection_doubt(prediction.detection) is None
    assert prediction.accepted


def test_a_hand_found_on_tiles_or_tiny_is_unsure(massey_root: Path, predictor: Predictor) -> None:
    rgb = load_image(massey_photo(massey_root, "w", "hand5"))
    det = predictor.detector.detect(rgb)
    assert det is not None
    on_tiles = replace(det, found_by="tiles")
    assert "retry (tiles)" in (detection_doubt(on_tiles) or "")
    assert not predictor.predict_detection(rgb, on_tiles).accepted
    # The same photo shrunk until the hand is well under SMALL_HAND_PX, on its own black
    # background (the palm detector wants context around a small hand).
    small = shrunk_hand(rgb, 0.7 * SMALL_HAND_PX / det.detected_side)
    tiny = predictor.detector.detect(small)
    assert tiny is not None
    assert tiny.detected_side < SMALL_HAND_PX
    assert "small" in (detection_doubt(tiny) or "")
    assert not predictor.predict_detection(small, tiny).accepted
