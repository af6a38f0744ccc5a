"""Practice mode: a drill that asks for a sign, watches the readings and says what to fix.

No Streamlit, no images: a `Drill` is fed what the recogniser read (`Reading`, one per frame or
per snapshot photo) and the letters the speller typed, each with a timestamp in seconds, and
answers with a `Feedback` for the page. The rules:

- targets come from a level (`make_targets`): single letters, digits, short words from
  `WORDS`, or a teacher's pasted list (`parse_word_list` checks it and says what is wrong);
- a target is done letter by letter (a single sign is a one-letter word); a letter is right
  when the speller types it (held steadily, the live page's own rule), or when a snapshot
  photo reads it; a wrong letter typed first costs "right first try";
- wrong for a while (`WRONG_AFTER_S` on one letter, the sure readings of the last
  `RECENT_S` mostly another letter) or a wrong snapshot: what was read instead and a hint
  for the known look-alikes (`lookalike_hint`); `skip` moves on and is counted;
- no hand or unsure readings are never marked wrong: the feedback says why (the reason the
  caller measured on the frame: too dark, hand out of frame, ...);
- the score: letters right first try, seconds per letter (time with readings coming; pauses
  longer than `max_gap_s` count as `max_gap_s`, so a stopped camera does not inflate it),
  the streak, a per-letter table (`letter_table`) and one row per target (`target_rows`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from asl_core.inference.motion import MOTION_LETTERS
from asl_core.labels import DIGITS, LETTERS

Level = Literal["letters", "digits", "words", "custom"]
LEVELS: tuple[Level, ...] = ("letters", "digits", "words", "custom")
LEVEL_NAMES: dict[Level, str] = {
    "letters": "Single letters",
    "digits": "Digits",
    "words": "Short words",
    "custom": "Teacher's word list",
}

WORDS: tuple[str, ...] = (
    "CAT", "DOG", "SUN", "HAT", "BED", "CUP", "MAP", "PEN", "BOX", "FOX", "RED", "BIG",
    "YES", "NO", "HI", "MOM", "DAD", "BUS", "EGG", "ICE", "OWL", "PIG", "COW", "TEA",
    "BOOK", "FISH", "MILK", "LOVE", "HELP", "PLAY", "NAME", "BLUE", "CAKE", "DUCK",
)  # fmt: skip
"""Short everyday words for the "Short words" level (2-4 letters; no J or Z, which need
motion)."""

MAX_WORD_LETTERS = 15
MAX_LIST_WORDS = 200
ROUND_SIZE = 10
"""Targets per round for the letters, digits and words levels (a teacher's list is used whole)."""

WRONG_AFTER_S = 2.5
"""Seconds on one letter before a steady wrong reading is reported as wrong: forming a
handshape passes through others, which is not an error."""

RECENT_S = 1.0
"""Seconds of recent readings that say what the student shows now."""

STALE_S = 1.0
"""A reading older than this says nothing about now (the video stopped)."""

CORRECT_SHOWN_S = 1.0
"""How long "right" stays on screen after a letter is done."""

MAX_GAP_S = 2.0
"""Live video: a pause between readings longer than this counts as this long."""


class WordListError(ValueError):
    """A pasted word list that cannot be practised; the message says which word and why."""


def parse_word_list(text: str) -> list[str]:
    """Words separated by spaces, commas, semicolons or new lines, upper-cased.

    Raises WordListError naming every word that is not fingerspellable (only the letters A-Z
    and digits 0-9, at most `MAX_WORD_LETTERS` each), or when there are no words or more than
    `MAX_LIST_WORDS`.
    """
    words = [word for word in re.split(r"[\s,;]+", text.strip()) if word]
    if not words:
        raise WordListError("The word list is empty: type or paste words, one per line.")
    if len(words) > MAX_LIST_WORDS:
        raise WordListError(f"The list has {len(words)} words; at most {MAX_LIST_WORDS}.")
    problems = []
    allowed = set(LETTERS) | set(DIGITS)
    for word in words:
        bad = sorted({c for c in word.upper() if c not in allowed})
        if bad:
            problems.append(
                f"'{word}' has {', '.join(repr(c) for c in bad)}: only A-Z and 0-9 "
                "can be fingerspelled"
            )
        elif len(word) > MAX_WORD_LETTERS:
            problems.append(f"'{word}' has {len(word)} letters; at most {MAX_WORD_LETTERS}")
    if problems:
        raise WordListError("; ".join(problems) + ".")
    return [word.upper() for word in words]


def make_targets(
    level: Level,
    *,
    words: Sequence[str] = (),
    still_only: bool = False,
    count: int = ROUND_SIZE,
    seed: int | None = None,
) -> list[str]:
    """The targets of one round: `count` random signs or words, or the teacher's `words` in
    their order. still_only (snapshot mode: a photo cannot show motion) leaves out J and Z
    and words with them; a teacher's list raises WordListError when nothing is left."""
    rng = random.Random(seed)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == "custom":
        chosen = [w.upper() for w in words]
        kept = [w for w in chosen if not (still_only and set(w) & set(MOTION_LETTERS))]
        if not kept:
            raise WordListError(
                "Every word needs J or Z, which are signed with motion: a photo cannot show "
                "them. Use the live camera, or other words."
            )
        return kept
    if level == "words":
        pool = [w for w in WORDS if not (still_only and set(w) & set(MOTION_LETTERS))]
    elif level == "digits":
        pool = list(DIGITS)
    else:
        pool = [c for c in LETTERS if not (still_only and c in MOTION_LETTERS)]
    if count >= len(pool):
        return rng.sample(pool, len(pool))
    return rng.sample(pool, count)


THUMB_HINTS: dict[str, str] = {
    "A": "A: a fist with the thumb straight up along the side of the index finger.",
    "E": "E: fingertips bent down to touch the thumb, which lies tucked across the palm.",
    "M": "M: the thumb tucked under three fingers (index, middle, ring), its tip by the pinky.",
    "N": "N: the thumb tucked under two fingers (index and middle), its tip by the ring finger.",
    "S": "S: a fist with the thumb across the front of the fingers.",
    "T": "T: the thumb pushed up between the index and the middle finger.",
}
"""Where the thumb goes for the fist letters, which differ mostly by it."""

SAME_SHAPE: dict[frozenset[str], str] = {
    frozenset("V2"): "V and 2",
    frozenset("W6"): "W and 6",
    frozenset("O0"): "O and 0",
}
"""Pairs that are one handshape (asl_core.labels): only the class filter tells them apart."""


def lookalike_hint(target: str, read: str | None) -> str | None:
    """A sentence on telling `target` from what was `read`, for the known look-alikes."""
    if read is None or read == target:
        return None
    pair = frozenset((target, read))
    if pair in SAME_SHAPE:
        kind = "Letters only" if target in LETTERS else "Digits only"
        return (
            f"{SAME_SHAPE[pair]} are the same handshape: choose '{kind}' in the sidebar so "
            f"it is read as {target}."
        )
    if target in THUMB_HINTS and read in THUMB_HINTS:
        return f"Watch the thumb. {THUMB_HINTS[target]} ({THUMB_HINTS[read]})"
    return None


@dataclass(frozen=True)
class Reading:
    """What the recogniser read on one frame or photo.

    letter: its best sign (even below the threshold; None without a hand); confidence in 0-1;
    accepted: sure enough to count; hand: a hand was found; why: the reason measured on the
    frame when there is no hand or the reading is unsure ("too dark", ...), else None.
    """

    letter: str | None
    confidence: float
    accepted: bool
    hand: bool
    why: str | None = None


Status = Literal["waiting", "signing", "right", "wrong", "no_hand", "unsure", "finished"]


@dataclass(frozen=True)
class Feedback:
    """What the page shows now. `target` is the word (or sign), `position` the index of the
    letter asked for in it; `read` what was read instead (wrong) and `hint` how to fix it;
    `message` a sentence for every status."""

    status: Status
    target: str | None
    position: int
    message: str
    read: str | None = None
    hint: str | None = None

    @property
    def letter(self) -> str | None:
        """The letter asked for now."""
        return self.target[self.position] if self.target else None


@dataclass
class _Step:
    """One letter of one target, as practised."""

    target_index: int
    letter: str
    seconds: float = 0.0
    wrong: list[str] = field(default_factory=list)  # wrong letters typed, in order
    done: bool = False
    skipped: bool = False

    @property
    def first_try(self) -> bool:
        return self.done and not self.skipped and not self.wrong


def _hardest_first(row: dict[str, object]) -> tuple[float, ...]:
    """Fewest right first try (as a share), then most skipped, most wrong, slowest."""
    asked = float(row["asked"])  # type: ignore[arg-type]
    return (
        float(row["right_first_try"]) / asked,  # type: ignore[arg-type]
        -float(row["skipped"]) / asked,  # type: ignore[arg-type]
        -float(row["wrong_tries"]) / asked,  # type: ignore[arg-type]
        -float(row["mean_seconds"]),  # type: ignore[arg-type]
    )


class Drill:
    """One practice round: `targets` (words or single signs, upper case) in order.

    max_gap_s: live video counts at most this many seconds between two readings (None for
    snapshots, where the time between photos is the time taken). Not thread-safe: a caller
    with a frame thread holds a lock around it.
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        wrong_after_s: float = WRONG_AFTER_S,
        max_gap_s: float | None = MAX_GAP_S,
    ) -> None:
        if not targets:
            raise ValueError("a drill needs at least one target")
        for target in targets:
            if not target or target != target.upper() or not target.isalnum():
                raise ValueError(f"targets are upper-case letters and digits, not {target!r}")
        self.targets = list(targets)
        self.wrong_after_s = wrong_after_s
        self.max_gap_s = max_gap_s
        self.steps: list[_Step] = [_Step(0, self.targets[0][0])]
        self._position = 0  # letter index in the current target
        self._last_time: float | None = None
        self._recent: list[tuple[float, Reading]] = []
        self._last_right: tuple[float, str] | None = None
        self._last_photo_wrong: str | None = None
        self.streak = 0
        self.best_streak = 0

    # What is asked now.
    @property
    def finished(self) -> bool:
        return (
            self.steps[-1].done
            and self.steps[-1].target_index == len(self.targets) - 1
            and (self._position >= len(self.targets[-1]))
        )

    @property
    def step(self) -> _Step:
        return self.steps[-1]

    @property
    def target(self) -> str | None:
        return None if self.finished else self.targets[self.step.target_index]

    @property
    def letter(self) -> str | None:
        return None if self.finished else self.step.letter

    # Feeding.
    def _tick(self, now: float) -> None:
        if self._last_time is not None:
            if now < self._last_time:
                raise ValueError(
                    f"readings must come in time order: {now:.3f} s after {self._last_time:.3f} s"
                )
            gap = now - self._last_time
            if self.max_gap_s is not None:
                gap = min(gap, self.max_gap_s)
            if not self.finished:
                self.step.seconds += gap
        self._last_time = now

    def feed(self, reading: Reading, now: float, committed: str | None = None) -> Feedback:
        """One frame's reading and the letter the speller typed on it (None, or a space,
        which is ignored). Returns the feedback after it."""
        self._tick(now)
        if self.finished:
            return self.feedback(now)
        self._recent.append((now, reading))
        self._recent = [(t, r) for t, r in self._recent if t > now - max(RECENT_S, STALE_S)]
        if committed and committed.strip():
            self._typed(committed.strip()[-1], now)
        return self.feedback(now)

    def photo(self, reading: Reading, now: float) -> Feedback:
        """A snapshot photo: one try. A sure reading is typed at once (right or wrong); an
        unsure one or no hand is not a try, and the feedback says why."""
        self._tick(now)
        if self.finished:
            return self.feedback(now)
        self._recent = [(now, reading)]
        self._last_photo_wrong = None
        if reading.hand and reading.accepted and reading.letter:
            if reading.letter != self.step.letter:
                self._last_photo_wrong = reading.letter
            self._typed(reading.letter, now)
        return self.feedback(now)

    def _typed(self, letter: str, now: float) -> None:
        step = self.step
        if letter != step.letter:
            step.wrong.append(letter)
            return
        self._last_right = (now, letter)
        self._complete(now)

    def skip(self, now: float) -> None:
        """Give up the current letter (counted as skipped, never as right)."""
        if self.finished:
            return
        self._tick(now)
        self.step.skipped = True
        self._last_right = None
        self._complete(now)

    def _complete(self, now: float) -> None:
        step = self.step
        step.done = True
        if step.first_try:
            self.streak += 1
            self.best_streak = max(self.best_streak, self.streak)
        else:
            self.streak = 0
        self._recent.clear()
        self._last_photo_wrong = None
        target = self.targets[step.target_index]
        self._position += 1
        if self._position < len(target):
            self.steps.append(_Step(step.target_index, target[self._position]))
        elif step.target_index + 1 < len(self.targets):
            self._position = 0
            index = step.target_index + 1
            self.steps.append(_Step(index, self.targets[index][0]))

    # Feedback.
    def feedback(self, now: float) -> Feedback:
        """What to tell the student at `now` (seconds, the readings' clock)."""
        if self.finished:
            return Feedback("finished", None, 0, self.summary_sentence())
        step, target, position = self.step, self.targets[self.step.target_index], self._position
        what = f"**{step.letter}**"
        if len(target) > 1:
            what += f" (letter {position + 1} of {target})"
        ask = f"Sign {what}"
        if self._last_right is not None and now - self._last_right[0] < CORRECT_SHOWN_S:
            done = self._last_right[1]
            return Feedback("right", target, position, f"Right: {done}. Next: {what}.")
        if self._last_photo_wrong is not None:  # a snapshot: one photo, one try
            read = self._last_photo_wrong
            return Feedback(
                "wrong",
                target,
                position,
                f"That photo reads **{read}**, not {step.letter}. Try again.",
                read,
                lookalike_hint(step.letter, read),
            )
        recent = [(t, r) for t, r in self._recent if t > now - RECENT_S]
        if not recent or recent[-1][0] < now - STALE_S:
            if self.max_gap_s is None and self._recent:
                recent = self._recent[-1:]  # a snapshot stays the latest reading
            else:
                return Feedback("waiting", target, position, f"{ask}.")
        latest = recent[-1][1]
        if not latest.hand:
            why = latest.why or "hold your whole hand in view of the camera"
            return Feedback("no_hand", target, position, f"{ask}. No hand seen: {why}.")
        sure = Counter(r.letter for _, r in recent if r.hand and r.accepted and r.letter)
        if not sure:
            why = latest.why or "hold the hand still, well lit, facing the camera"
            guess = f" (perhaps {latest.letter})" if latest.letter else ""
            return Feedback(
                "unsure", target, position, f"{ask}. Not sure what this is{guess}: {why}."
            )
        read, count = sure.most_common(1)[0]
        if (
            read != step.letter
            and step.seconds >= self.wrong_after_s
            and count * 2 > sum(sure.values())
        ):
            return Feedback(
                "wrong",
                target,
                position,
                f"{ask}. This reads as **{read}**.",
                read,
                lookalike_hint(step.letter, read),
            )
        return Feedback("signing", target, position, f"{ask}.")

    # Score.
    def done_steps(self) -> list[_Step]:
        return [step for step in self.steps if step.done]

    def summary(self) -> dict[str, float | int]:
        """Letters done, right first try, skipped, mean seconds per letter, streaks."""
        done = self.done_steps()
        right = [step for step in done if not step.skipped]
        return {
            "letters": len(done),
            "right_first_try": sum(step.first_try for step in done),
            "skipped": sum(step.skipped for step in done),
            "seconds_per_letter": (
                sum(step.seconds for step in right) / len(right) if right else 0.0
            ),
            "streak": self.streak,
            "best_streak": self.best_streak,
        }

    def summary_sentence(self) -> str:
        s = self.summary()
        return (
            f"Done: {s['right_first_try']} of {s['letters']} letters right first try, "
            f"{s['skipped']} skipped, {s['seconds_per_letter']:.1f} s per letter, "
            f"best streak {s['best_streak']}."
        )

    def target_rows(self) -> list[dict[str, object]]:
        """One row per target started: target, letters, right first try, wrong tries, what was
        read instead, letters skipped, seconds, seconds per letter, done (all its letters)."""
        rows = []
        for index, target in enumerate(self.targets):
            steps = [step for step in self.steps if step.target_index == index]
            if not steps:
                break
            seconds = sum(step.seconds for step in steps)
            done = [step for step in steps if step.done]
            rows.append(
                {
                    "number": index + 1,
                    "target": target,
                    "letters": len(target),
                    "right_first_try": sum(step.first_try for step in steps),
                    "wrong_tries": sum(len(step.wrong) for step in steps),
                    "read_instead": " ".join(letter for step in steps for letter in step.wrong),
                    "skipped": sum(step.skipped for step in steps),
                    "seconds": round(seconds, 2),
                    "seconds_per_letter": round(seconds / max(len(done), 1), 2),
                    "done": len(done) == len(target),
                }
            )
        return rows

    def letter_table(self) -> list[dict[str, object]]:
        """Per letter practised, hardest first: times asked, right first try, wrong tries,
        skipped, mean seconds, and what it was most often read as instead."""
        by_letter: dict[str, list[_Step]] = {}
        for step in self.done_steps():
            by_letter.setdefault(step.letter, []).append(step)
        rows = []
        for letter, steps in by_letter.items():
            wrong = Counter(w for step in steps for w in step.wrong)
            rows.append(
                {
                    "letter": letter,
                    "asked": len(steps),
                    "right_first_try": sum(step.first_try for step in steps),
                    "wrong_tries": sum(wrong.values()),
                    "skipped": sum(step.skipped for step in steps),
                    "mean_seconds": round(sum(s.seconds for s in steps) / len(steps), 2),
                    "read_instead": ", ".join(f"{w} x{n}" for w, n in wrong.most_common(3)),
                }
            )
        rows.sort(key=_hardest_first)
        return rows
