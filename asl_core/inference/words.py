"""Word help for live spelling: suggestions for the word being spelled, offline.

The English word list and its frequencies are pyspellchecker's (`spellchecker/resources/
en.json.gz`, shipped inside the wheel, about 160,000 words with counts from OpenSubtitles and
other corpora; no network at run time). Loading it takes about 0.8 s: `english_words()` does
it once per process.

A suggestion is either a completion (a word that starts with what was spelled) or a
correction one edit away (a letter misread, missed, doubled or extra). Corrections are
weighted by how fingerspelling goes wrong (../shared/NOTES.md, "What users of ASL recognisers
complain about", and the shipped model's card): a double letter typed once (HELO for
HELLO) and a letter swapped for one of the same handshape family (the fist letters A, E, M,
N, S, T; G and H; K, P and V; R, U and V; D and F) count more than other edits.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
from collections.abc import Iterator, Mapping

CONFUSABLE_GROUPS = ("AEMNST", "GH", "KPV", "RUV", "DF")


WEIGHTS = {"double": 20.0, "confusable": 5.0, "other": 1.0, "completion": 1.0}
"""Multipliers of a candidate's frequency by how it differs from what was spelled."""


WORD = re.compile(r"[a-z]+")


MIN_CORRECTED = 3
"""Shorter words get completions only: one edit from a one- or two-letter word is any word."""


def current_word(text: str) -> str:
    """The last word of the spelled text (the one being spelled, or the one just finished)."""
    words = text.split()
    return words[-1] if words else ""


def _confusable(a: str, b: str) -> bool:
    return any(a in group and b in group for group in CONFUSABLE_GROUPS)


class WordList:
    """Words and their frequencies; `suggest` ranks candidates for a spelled word."""

    def __init__(self, frequencies: Mapping[str, int]) -> None:
        self.frequency = {
            word.upper(): int(count) for word, count in frequencies.items() if WORD.fullmatch(word)
        }
        if not self.frequency:
            raise ValueError("the word list has no words of letters a-z")
        self._sorted = sorted(self.frequency)

    def __contains__(self, word: str) -> bool:
        return word.upper() in self.frequency

    def completions(self, prefix: str, limit: int) -> list[str]:
        """The `limit` most frequent words that start with `prefix` (longer than it)."""
        prefix = prefix.upper()
        start = bisect.bisect_left(self._sorted, prefix)
        end = bisect.bisect_left(self._sorted, prefix + "\x7f")
        longer = (w for w in self._sorted[start:end] if w != prefix)
        return heapq.nlargest(limit, longer, key=self.frequency.__getitem__)

    def _edits(self, word: str) -> Iterator[tuple[str, str]]:
        """(candidate, kind) one edit from `word`: kinds "double", "confusable", "other"."""
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for i in range(len(word) + 1):
            head, tail = word[:i], word[i:]
            if tail:
                yield head + tail[1:], "other"  # an extra letter
                for letter in letters:
                    if letter != tail[0]:
                        kind = "confusable" if _confusable(letter, tail[0]) else "other"
                        yield head + letter + tail[1:], kind
            for letter in letters:
                doubled = (head and head[-1] == letter) or (tail and tail[0] == letter)
                yield head + letter + tail, "double" if doubled else "other"

    def suggest(self, word: str, limit: int = 4) -> list[str]:
        """Up to `limit` words for a spelled `word` (any case; letters only), best first, in
        capitals: completions, and corrections one edit away for words of `MIN_CORRECTED`
        letters or more. The word itself is never suggested; an empty or non-letter word
        gets none."""
        word = word.upper()
        if not word or not word.isalpha() or not word.isascii():
            return []
        scores: dict[str, float] = {}
        edits = self._edits(word) if len(word) >= MIN_CORRECTED else iter(())
        for candidate, kind in edits:
            count = self.frequency.get(candidate)
            if count and candidate != word:
                scores[candidate] = max(scores.get(candidate, 0.0), count * WEIGHTS[kind])
        for candidate in self.completions(word, limit * 3):
            score = self.frequency[candidate] * WEIGHTS["completion"]
            scores[candidate] = max(scores.get(candidate, 0.0), score)
        return heapq.nlargest(limit, scores, key=lambda w: (scores[w], w))


@functools.lru_cache(maxsize=1)
def english_words() -> WordList:
    """pyspellchecker's English frequency list, loaded once per process (about 0.8 s)."""
    from spellchecker import SpellChecker

    return WordList(SpellChecker(language="en", distance=1).word_frequency.dictionary)
