"""An unsure answer restricted to letters (or digits) says when the photo is confidently the
other group, on real Massey photos; O/0, V/2 and W/6 (one handshape) never get that note."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_core.inference.predictor import DEFAULT_THRESHOLD, Predictor
from asl_core.io.images import load_image
from tests.helpers.photos import massey_photo


@pytest.mark.parametrize("digit", ["1", "5", "9"])
def test_a_digit_read_as_letters_says_it_looks_like_the_digit(
    predictor: Predictor, massey_root: Path, digit: str
) -> None:
    rgb = load_image(massey_photo(massey_root, digit, "hand1"))
    unrestricted = predictor.predict_image(rgb, classes="all", threshold=DEFAULT_THRESHOLD)
    assert unrestricted.label == digit and unrestricted.accepted
    letters = predictor.predict_image(rgb, classes="letters", threshold=DEFAULT_THRESHOLD)
    assert letters.label not in "0123456789" and not letters.accepted
    assert letters.note == f"looks like the digit {digit}: switch to Letters and digits"
    assert letters.display_label == f"unsure ({letters.note})"


def test_a_letter_read_as_digits_says_it_looks_like_the_letter(
    predictor: Predictor, massey_root: Path
) -> None:
    rgb = load_image(massey_photo(massey_root, "b", "hand1"))
    digits = predictor.predict_image(rgb, classes="digits", threshold=DEFAULT_THRESHOLD)
    assert digits.label in "0123456789" and not digits.accepted
    assert digits.note == "looks like the letter B: switch to Letters and digits"


@pytest.mark.parametrize("digit", ["0", "2", "6"])
def test_one_handshape_pairs_get_no_switch_note(
    predictor: Predictor, massey_root: Path, digit: str
) -> None:
    for signer in ("hand1", "hand2"):
        rgb = load_image(massey_photo(massey_root, digit, signer))
        for threshold in (DEFAULT_THRESHOLD, 0.999):  # unsure too: still no note
            letters = predictor.predict_image(rgb, classes="letters", threshold=threshold)
            assert letters.label == {"0": "O", "2": "V", "6": "W"}[digit]
            assert letters.note is None or "switch to" not in letters.note


def test_an_unrestricted_answer_gets_no_switch_note(predictor: Predictor, massey_root) -> None:
    rgb = load_image(massey_photo(massey_root, "5", "hand1"))
    prediction = predictor.predict_image(rgb, classes="all", threshold=0.999)
    assert not prediction.accepted and prediction.note is None
