"""The Classify result for a digit photo under "Letters only" names the digit and the switch."""

from __future__ import annotations

from pathlib import Path

from asl_core.app.classify import Outcome, classify_file
from asl_core.inference.predictor import DEFAULT_THRESHOLD, Predictor
from tests.helpers.photos import massey_photo


def test_a_digit_photo_with_letters_only_says_to_switch(
    predictor: Predictor, massey_root: Path
) -> None:
    photo = massey_photo(massey_root, "5", "hand1")
    result = classify_file(
        predictor, photo.name, photo.read_bytes(), threshold=DEFAULT_THRESHOLD, classes="letters"
    )
    assert result.outcome == Outcome.UNSURE
    assert result.message.startswith("Unsure: best guess ")
    assert result.note == "looks like the digit 5: switch to Letters and digits"
