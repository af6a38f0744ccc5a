"""The Classify page's no-hand advice on real aslhg photos turned greyscale, dark or gloved."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_core.app.classify import Outcome, classify_file, no_hand_advice
from asl_core.inference.predictor import Predictor
from asl_core.io.images import load_image
from asl_core.vision.photo_stats import skin_mask

GLOVE_WORDS = "glove"


def _aslhg_photos(data_root: Path, labels: str) -> list[tuple[str, np.ndarray]]:
    """The first aslhg photo of each label."""
    root = data_root / "aslhg"
    with (root / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    first = {}
    for row in rows:
        first.setdefault(row["label"].upper(), row["path"])
    return [(label, load_image(root / first[label])) for label in labels]


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


@pytest.mark.slow
def test_greyscale_photos_without_a_hand_are_told_to_use_colour_not_to_take_gloves_off(
    data_root: Path, predictor: Predictor
) -> None:
    no_hand = []
    for label, rgb in _aslhg_photos(data_root, "ABDKLW"):
        result = classify_file(predictor, f"{label}.jpg", _jpeg(_grey(rgb)), threshold=0.72)
        if result.outcome == Outcome.NO_HAND:
            no_hand.append(label)
            assert "no colour" in result.advice
            assert "a colour photo helps" in result.advice
            assert GLOVE_WORDS not in result.advice.lower()
    assert no_hand, "no greyscale photo lost its hand: the advice was not exercised"


def test_glove_advice_is_never_appended_to_dark_advice(data_root: Path) -> None:
    for _, rgb in _aslhg_photos(data_root, "BDKW"):
        advice = no_hand_advice((rgb.astype(np.float32) * 0.1).astype(np.uint8))
        assert advice.startswith("The photo is very dark")
        assert GLOVE_WORDS not in advice.lower()


def test_glove_advice_appears_once_for_a_colour_photo_without_skin(data_root: Path) -> None:
    """The hand painted blue where the skin test sees skin: what a blue glove shows."""
    for _, rgb in _aslhg_photos(data_root, "BDKW"):
        gloved = rgb.copy()
        gloved[skin_mask(rgb)] = (40, 60, 200)
        advice = no_hand_advice(gloved)
        assert advice.lower().count("gloved hands are rarely found") == 1, advice
        assert "no colour" not in advice
