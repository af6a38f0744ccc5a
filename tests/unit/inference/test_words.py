"""Word suggestions: ranking rules on a small list, then the shipped English list, offline."""

from __future__ import annotations

import socket

import pytest

from asl_core.inference.words import WordList, current_word, english_words

SMALL = WordList({"hello": 50, "help": 900, "hell": 400, "held": 300, "cab": 80, "cat": 100})


def test_current_word_is_the_last_one() -> None:
    assert current_word("HI HELO") == "HELO"
    assert current_word("HI HELO ") == "HELO"  # just finished: still worth correcting
    assert current_word("  ") == ""


def test_a_double_letter_typed_once_ranks_above_more_frequent_words() -> None:
    """HELO: HELLO (one L missing, 50 x 20) beats HELP (a substitution, 900 x 1)."""
    assert SMALL.suggest("HELO", limit=2) == ["HELLO", "HELP"]


def test_a_letter_of_the_same_handshape_family_counts_more() -> None:
    assert SMALL.suggest("CAS", limit=2) == ["CAT", "CAB"]  # S->T (fist letters) x 5
    assert WordList({"cab": 80, "cat": 100}).suggest("CAP", limit=1) == ["CAT"]  # plain


def test_completions_and_nothing_for_non_words() -> None:
    assert SMALL.suggest("HE", limit=3) == ["HELP", "HELL", "HELD"]  # too short to correct
    assert SMALL.suggest("") == [] and SMALL.suggest("H3") == [] and SMALL.suggest("É") == []
    assert "HELLO" not in SMALL.suggest("HELLO")


def test_a_list_without_words_is_refused() -> None:
    with pytest.raises(ValueError, match="no words"):
        WordList({"l'été": 3, "42": 1})


def test_the_english_list_works_without_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    english_words.cache_clear()
    words = english_words()
    assert len(words.frequency) > 100_000
    assert "HELLO" in words.suggest("HELO")
    assert "THANK" in words.suggest("TAANK")
    assert words.suggest("CA")[:1] == ["CAN"]
