"""The spelling state machine on its own: readings in, committed text out."""

from __future__ import annotations

from asl_core.inference.speller import Speller

FPS = 30


def feed(speller: Speller, readings: list[str | None], start: float = 0.0) -> float:
    """Feed one reading per frame at 30 fps; returns the time after the last frame."""
    now = start
    for label in readings:
        speller.update(label, 0.9 if label else 0.0, now)
        now += 1 / FPS
    return now


def hold(label: str | None, seconds: float) -> list[str | None]:
    return [label] * round(seconds * FPS)


def test_a_letter_held_is_committed_once() -> None:
    speller = Speller(window=7, hold_s=0.6, gap_s=1.0)
    feed(speller, hold("A", 3.0))
    assert speller.text == "A"


def test_a_letter_shown_briefly_is_not_committed() -> None:
    speller = Speller(window=7, hold_s=0.6, gap_s=1.0)
    feed(speller, hold("A", 0.4) + hold(None, 0.3))
    assert speller.text == ""


def test_word_with_gaps_spells_the_word_and_a_space() -> None:
    speller = Speller(window=7, hold_s=0.6, gap_s=1.0)
    frames: list[str | None] = []
    for letter in "CAB":
        frames += hold(letter, 1.0)
    frames += hold(None, 1.5)
    for letter in "HI":
        frames += hold(letter, 1.0)
    feed(speller, frames)
    assert speller.text == "CAB HI"


def test_no_hand_commits_nothing_and_adds_no_leading_space() -> None:
    speller = Speller()
    feed(speller, hold(None, 5.0))
    assert speller.text == ""


def test_flicker_below_the_majority_does_not_commit() -> None:
    speller = Speller(window=7, hold_s=0.6)
    feed(speller, ["A", "B", "C", None] * 30)
    assert speller.text == ""


def test_isolated_wrong_frames_do_not_break_a_held_letter() -> None:
    speller = Speller(window=7, hold_s=0.6)
    frames = hold("L", 1.2)
    frames[10] = frames[20] = "I"
    feed(speller, frames)
    assert speller.text == "L"


def test_double_letters_need_a_release_between() -> None:
    speller = Speller(window=7, hold_s=0.6, gap_s=1.0)
    feed(speller, hold("L", 1.0) + hold(None, 0.4) + hold("L", 1.0))
    assert speller.text == "LL"


def test_backspace_and_reset() -> None:
    speller = Speller()
    feed(speller, hold("A", 1.0) + hold(None, 0.4) + hold("B", 1.0))
    assert speller.text == "AB"
    speller.backspace()
    assert speller.text == "A"
    speller.reset()
    assert speller.text == ""
