"""`Prediction.hints`, computed once by `Predictor.predict_image`: why there is no hand, and on
real aslhg photos made greyscale, that an unsure answer would be surer in colour."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_core.inference.predictor import DEFAULT_THRESHOLD, GREYSCALE_UNSURE_HINT, Predictor
from asl_core.io.images import load_image

UNSURE_IN_GREY = ("images/P/P6_P_582.jpg", "images/L/P4_L_322.jpg")
"""aslhg photos read sure in colour (0.99) and unsure as greyscale copies (0.52, 0.49)."""


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


@pytest.mark.parametrize("path", UNSURE_IN_GREY)
def test_an_unsure_greyscale_photo_with_a_hand_is_told_colour_helps(
    predictor: Predictor, data_root: Path, path: str
) -> None:
    rgb = load_image(data_root / "aslhg" / path)
    colour = predictor.predict_image(rgb, threshold=DEFAULT_THRESHOLD, classes="letters")
    assert colour.accepted and colour.hints == [] and "advice" not in colour.to_json()
    greyscale = predictor.predict_image(grey(rgb), threshold=DEFAULT_THRESHOLD, classes="letters")
    assert greyscale.hand and not greyscale.accepted and greyscale.note is None
    assert greyscale.hints == [GREYSCALE_UNSURE_HINT]
    assert greyscale.to_json()["advice"] == greyscale.advice == GREYSCALE_UNSURE_HINT
    assert "a colour photo helps" in GREYSCALE_UNSURE_HINT


def test_a_sure_answer_on_a_greyscale_photo_gets_no_hint(
    predictor: Predictor, data_root: Path
) -> None:
    rgb = grey(load_image(data_root / "aslhg" / UNSURE_IN_GREY[0]))
    sure = predictor.predict_image(rgb, threshold=0.3, classes="letters")  # read 0.52
    assert sure.accepted and sure.hints == [] and "advice" not in sure.to_json()
