"""The Classify page's advice on real aslhg photos turned greyscale, dark or gloved: why no
hand was found, and that a greyscale photo read unsure would be surer in colour."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

import asl_core.vision.photo_stats as photo_stats
from asl_core.app.classify import NO_HAND_ADVICE, Outcome, classify_file, no_hand_advice
from asl_core.inference.predictor import DEFAULT_THRESHOLD, GREYSCALE_UNSURE_HINT, Predictor
from asl_core.io.images import load_image
from asl_core.vision.photo_stats import no_hand_hints, skin_mask

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


def _advice(rgb: np.ndarray) -> str:
    """The page's no-hand advice for a photo: its measured hints, then the general advice."""
    return no_hand_advice([hint.message for hint in no_hand_hints(rgb)])


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
        advice = _advice((rgb.astype(np.float32) * 0.1).astype(np.uint8))
        assert advice.startswith("The photo is very dark")
        assert GLOVE_WORDS not in advice.lower()


def test_glove_advice_appears_once_for_a_colour_photo_without_skin(data_root: Path) -> None:
    """The hand painted blue where the skin test sees skin: what a blue glove shows."""
    for _, rgb in _aslhg_photos(data_root, "BDKW"):
        gloved = rgb.copy()
        gloved[skin_mask(rgb)] = (40, 60, 200)
        advice = _advice(gloved)
        assert advice.lower().count("gloved hands are rarely found") == 1, advice
        assert "no colour" not in advice


def test_an_unsure_greyscale_photo_with_a_hand_is_told_a_colour_photo_helps(
    data_root: Path, predictor: Predictor
) -> None:
    """aslhg P: 0.99 in colour, 0.52 (unsure) as a greyscale copy (the same photo as the
    predictor's test)."""
    root = data_root / "aslhg"
    rgb = load_image(root / "images/P/P6_P_582.jpg")
    colour = classify_file(predictor, "p.jpg", _jpeg(rgb), threshold=DEFAULT_THRESHOLD)
    assert colour.outcome == Outcome.ACCEPTED and colour.advice == ""
    unsure = classify_file(predictor, "p.jpg", _jpeg(_grey(rgb)), threshold=DEFAULT_THRESHOLD)
    assert unsure.outcome == Outcome.UNSURE and unsure.hand_found
    assert unsure.advice == GREYSCALE_UNSURE_HINT
    assert unsure.prediction is not None and unsure.prediction.hints == [GREYSCALE_UNSURE_HINT]


def test_the_no_hand_hints_are_measured_once_per_photo(
    data_root: Path, predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page shows the predictor's hints instead of measuring the photo again: every
    measurement (`photo_stats.no_hand_hints`) starts by shrinking the photo, counted here."""
    shrinks: list[tuple[int, ...]] = []
    shrink = photo_stats.downscale_for_detection

    def counting(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
        shrinks.append(rgb.shape)
        return shrink(rgb, side)

    monkeypatch.setattr(photo_stats, "downscale_for_detection", counting)
    _, rgb = _aslhg_photos(data_root, "B")[0]
    dark = (rgb[:64, :64].astype(np.float32) * 0.1).astype(np.uint8)  # a dark corner, no hand
    result = classify_file(predictor, "dark.jpg", _jpeg(dark), threshold=DEFAULT_THRESHOLD)
    assert result.outcome == Outcome.NO_HAND
    assert result.advice.startswith("The photo is very dark")
    assert result.advice.endswith(NO_HAND_ADVICE)
    assert len(shrinks) == 1
