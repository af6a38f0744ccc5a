"""The practice drill fed recogniser readings and typed letters, with timestamps (no Streamlit)."""

from __future__ import annotations

import pytest

from asl_core.inference.practice import (
    MAX_GAP_S,
    WORDS,
    Drill,
    Reading,
    WordListError,
    lookalike_hint,
    make_targets,
    parse_word_list,
)

FPS = 15.0


def sure(letter: str, confidence: float = 0.9) -> Reading:
    return Reading(letter, confidence, True, True)


NO_HAND = Reading(None, 0.0, False, False, "the picture is very dark: add light")


def play(
    drill: Drill, reading: Reading, start: float, seconds: float, commit_at: float | None = None
) -> float:
    """Feed `reading` at FPS for `seconds` from `start`; the letter is typed once at
    `commit_at` seconds in (as the speller would after its hold). Returns the end time."""
    frames = round(seconds * FPS)
    committed_once = False
    for i in range(frames):
        now = start + i / FPS
        commit = None
        if commit_at is not None and not committed_once and i / FPS >= commit_at:
            commit, committed_once = reading.letter, True
        drill.feed(reading, now, commit)
    return start + frames / FPS


def test_a_word_advances_letter_by_letter_and_counts_first_tries() -> None:
    drill = Drill(["CAB"])
    t = play(drill, sure("C"), 0.0, 1.0, commit_at=0.5)
    assert drill.letter == "A"
    assert drill.feedback(t).status == "right"
    t = play(drill, sure("S"), t, 0.5, commit_at=0.3)  # a wrong letter typed first
    t = play(drill, sure("A"), t, 1.0, commit_at=0.5)
    assert drill.letter == "B"
    t = play(drill, sure("B"), t, 1.0, commit_at=0.5)
    assert drill.finished and drill.feedback(t).status == "finished"
    (row,) = drill.target_rows()
    assert row["target"] == "CAB" and row["done"] is True
    assert row["right_first_try"] == 2 and row["wrong_tries"] == 1
    assert row["read_instead"] == "S"
    summary = drill.summary()
    assert summary["letters"] == 3 and summary["right_first_try"] == 2
    assert summary["best_streak"] == 1 and summary["streak"] == 1  # C, then A broke it, then B
    # C 0.5 s; A: the rest of C, S and half of A (1.5 s); B: the rest of A and half of B.
    assert summary["seconds_per_letter"] == pytest.approx((0.5 + 1.5 + 1.0) / 3, abs=0.1)


def test_csv_rows_one_per_target_started() -> None:
    drill = Drill(["A", "B", "C"])
    t = play(drill, sure("A"), 0.0, 0.6, commit_at=0.3)
    drill.skip(t)
    t = play(drill, sure("C"), t, 0.3)
    rows = drill.target_rows()
    assert [r["target"] for r in rows] == ["A", "B", "C"]
    assert [r["done"] for r in rows] == [True, True, False]
    assert rows[1]["skipped"] == 1 and rows[1]["right_first_try"] == 0
    assert drill.summary()["skipped"] == 1 and drill.streak == 0


def test_wrong_for_a_while_says_what_was_read_and_the_thumb_hint() -> None:
    drill = Drill(["M"])
    t = play(drill, sure("N"), 0.0, 1.0)  # not long enough to be called wrong
    assert drill.feedback(t).status == "signing"
    t = play(drill, sure("N"), t, 2.0)
    feedback = drill.feedback(t)
    assert feedback.status == "wrong" and feedback.read == "N"
    assert feedback.hint and "three fingers" in feedback.hint and "two fingers" in feedback.hint
    assert not drill.steps[0].wrong  # shown, never typed: still a first try if M comes now
    play(drill, sure("M"), t, 1.0, commit_at=0.5)
    assert drill.steps[0].first_try


def test_no_hand_and_unsure_say_why_and_are_never_wrong() -> None:
    drill = Drill(["A"])
    t = play(drill, NO_HAND, 0.0, 4.0)
    feedback = drill.feedback(t)
    assert feedback.status == "no_hand" and "very dark" in feedback.message
    unsure = Reading("S", 0.3, False, True, "part of the hand is outside the picture")
    t = play(drill, unsure, t, 4.0)
    feedback = drill.feedback(t)
    assert feedback.status == "unsure"
    assert "outside the picture" in feedback.message and "perhaps S" in feedback.message
    assert drill.steps[0].wrong == [] and not drill.steps[0].done


def test_a_stopped_video_waits_and_pauses_do_not_count_as_time() -> None:
    drill = Drill(["A"])
    t = play(drill, sure("B"), 0.0, 1.0)
    assert drill.feedback(t + 5.0).status == "waiting"
    drill.feed(sure("A"), t + 60.0, "A")  # a minute later
    assert drill.steps[0].seconds == pytest.approx(1.0 - 1 / FPS + MAX_GAP_S)


def test_double_letter_needs_a_second_commit() -> None:
    drill = Drill(["ALL"])
    t = play(drill, sure("A"), 0.0, 0.6, commit_at=0.3)
    t = play(drill, sure("L"), t, 0.6, commit_at=0.3)
    assert drill.letter == "L" and drill.target_rows()[0]["right_first_try"] == 2
    play(drill, sure("L"), t, 0.6, commit_at=0.4)  # the speller's re-hold
    assert drill.finished


def test_spaces_typed_by_the_speller_are_ignored() -> None:
    drill = Drill(["A"])
    drill.feed(NO_HAND, 0.0, " ")
    assert drill.steps[0].wrong == [] and not drill.finished


def test_snapshot_photo_is_one_try() -> None:
    drill = Drill(["V", "M"], max_gap_s=None)
    feedback = drill.photo(sure("2"), 0.0)
    assert feedback.status == "wrong" and feedback.read == "2"
    assert feedback.hint and "Letters only" in feedback.hint
    feedback = drill.photo(Reading("V", 0.4, False, True, "the hand is small"), 5.0)
    assert feedback.status == "unsure" and "small" in feedback.message
    assert drill.photo(sure("V"), 9.0).status == "right"
    assert drill.letter == "M"
    row = drill.target_rows()[0]
    assert row["seconds"] == pytest.approx(9.0) and row["wrong_tries"] == 1


def test_letter_table_puts_the_hard_letters_first() -> None:
    drill = Drill(["A", "B", "A"], max_gap_s=None)
    drill.photo(sure("A"), 1.0)
    drill.photo(sure("D"), 2.0)
    drill.photo(sure("D"), 3.0)
    drill.photo(sure("B"), 4.0)
    drill.photo(sure("A"), 5.0)
    table = drill.letter_table()
    assert [row["letter"] for row in table] == ["B", "A"]
    assert table[0]["read_instead"] == "D x2" and table[0]["right_first_try"] == 0
    assert table[1]["asked"] == 2 and table[1]["right_first_try"] == 2


def test_readings_must_come_in_time_order() -> None:
    drill = Drill(["A"])
    drill.feed(sure("A"), 2.0)
    with pytest.raises(ValueError, match="time order"):
        drill.feed(sure("A"), 1.0)


@pytest.mark.parametrize(
    ("target", "read", "expected"),
    [
        ("W", "6", "W and 6 are the same handshape"),
        ("0", "O", "'Digits only'"),
        ("T", "A", "between the index and the middle"),
        ("E", "S", "tucked across the palm"),
    ],
)
def test_lookalike_hints(target: str, read: str, expected: str) -> None:
    hint = lookalike_hint(target, read)
    assert hint is not None and expected in hint


def test_no_hint_for_unrelated_letters() -> None:
    assert lookalike_hint("B", "L") is None
    assert lookalike_hint("A", "A") is None


def test_word_list_is_parsed_and_checked() -> None:
    assert parse_word_list("cat, dog\nbus;  hi ") == ["CAT", "DOG", "BUS", "HI"]
    with pytest.raises(WordListError, match="'café' has 'É'"):
        parse_word_list("cat café it's")
    with pytest.raises(WordListError, match="empty"):
        parse_word_list(" \n ")
    with pytest.raises(WordListError, match="at most 15"):
        parse_word_list("A" * 16)


def test_wordlist_error_names_every_bad_word() -> None:
    with pytest.raises(WordListError) as error:
        parse_word_list("good it's x-ray")
    assert "'it's'" in str(error.value) and "'x-ray'" in str(error.value)


def test_levels_make_rounds() -> None:
    letters = make_targets("letters", count=26, seed=1)
    assert sorted(letters) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    still = make_targets("letters", count=30, still_only=True, seed=1)
    assert len(still) == 24 and "J" not in still and "Z" not in still
    assert sorted(make_targets("digits", seed=0)) == list("0123456789")
    words = make_targets("words", count=5, seed=3)
    assert len(words) == 5 and set(words) <= set(WORDS)
    assert make_targets("custom", words=["JAM", "CAT"], still_only=True) == ["CAT"]
    with pytest.raises(WordListError, match="motion"):
        make_targets("custom", words=["ZOO"], still_only=True)
    with pytest.raises(ValueError, match="level must be"):
        make_targets("colours")  # type: ignore[arg-type]


def test_drill_refuses_bad_targets() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Drill([])
    with pytest.raises(ValueError, match="upper-case"):
        Drill(["cat"])
