"""The Speller: turns a stream of timed readings into typed text, in seconds of video.

Every rule is stated in seconds, never in frames, so typing behaves the same whether the
machine reads 8, 15 or 30 frames a second (tests/unit/inference/test_speller.py replays the
same signing at all three):

- smoothing: each reading stands for the time since the previous one. The letter shown is
  the one that holds more than half of the last `window_s` seconds; with `vote="confidence"`
  each reading's time is weighted by its confidence (a reading of "no letter" by
  `NO_LETTER_WEIGHT`), so a few unsure misreadings do not outvote a sure letter;
- commit: a smoothed letter held for `hold_s` seconds while the hand is still is typed once.
  The vote lags the video by about half the window at both ends of a letter, so a letter
  must be on screen for about `hold_s` (tests/unit/inference/test_speller.py);
- double letters: after a letter is typed, the same letter is typed again only after a
  re-hold: a brief drop (no letter for about half the window, then `hold_s` again), or a
  short movement of the hand (`moving=True` from the stream) followed by `REHOLD_SHARE` x
  `hold_s` of stillness, as signers bounce or slide the hand for the LL of HELLO (the letter
  is known already; only the stillness after the bounce is waited for);
- space: no steady letter for `gap_s` after something was typed adds one space;
- motion letters (J, Z) are typed by the stream through `type_motion`; the hold that ends the
  motion is then not typed again (`suppress=True` while the hand keeps the motion's shape).
"""

from __future__ import annotations

from collections import deque
from typing import Literal

Vote = Literal["time", "confidence"]


VOTES: tuple[Vote, ...] = ("time", "confidence")


NO_LETTER_WEIGHT = 0.6
"""Weight per second of a "no letter" reading in the confidence vote: a little less than the
least sure letter that is accepted at all (the threshold, 0.72 by default; it was 0.6 when
this weight was chosen on the Massey clips, see `Speller`). Checked again at threshold 0.72
(bench/speller.py: 11 clips of real photos, Massey signers 1-5 and grassknoted, read 30, 15
and 8 times a second): 0.4, 0.5, 0.6, 0.72 and 0.8 typed the same letters (365 of 381, none
extra; what 8 a second loses is J, Z and some double letters, whatever the weight)."""


IDLE_LOOKBACK_S = 0.125
"""How far before a reading without a steady letter the pause it shows may have begun: the
interval between readings at 8 a second (`stream.NEEDED_READ_FPS`); a longer one is a stall,
of which nothing is known."""


EPSILON_S = 1e-6
"""Times are sums of frame intervals: 0.2 s of 1/15 s frames may add up to 0.19999..."""


REHOLD_SHARE = 0.5
"""The stillness after a bounce that types a letter again, as a share of `hold_s`: at two
letters a second the second L of HELLO has 0.5 s, of which the bounce and its detection
take about 0.3 s (tests/unit/inference/test_speller.py plays it at 8, 15 and 30 fps)."""


class Speller:
    """The spelling state machine alone (no images): timed readings in, committed text out.

    window_s: seconds of readings the vote looks at; hold_s: seconds a letter must stay the
    vote's winner, hand still, before it is typed; gap_s: seconds without a letter that type
    vote: "time" (each letter's share of the window's time) or "confidence" (that time
    weighted by each reading's confidence). Measured on clips of real photos (massey36, five
    signers, 24 letters each at two letters a second; bench/live.py): the confidence vote
    typed 118, 118 and 114 of 120 letters read 30, 15 and 8 times a second, the time vote
    118, 118 and 108 (window 0.25 s, hold 0.2 s; neither typed a letter not shown).
    """

    def __init__(
        self,
        window_s: float = 0.25,
        hold_s: float = 0.2,
        gap_s: float = 1.0,
        *,
        vote: Vote = "confidence",
    ) -> None:
        if window_s <= 0 or hold_s < 0 or gap_s <= 0:
            raise ValueError(
                "window_s and gap_s must be above 0 seconds and hold_s not below it "
                f"(got window_s={window_s}, gap_s={gap_s}, hold_s={hold_s})"
            )
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {', '.join(VOTES)}, not {vote!r}")
        self.window_s = window_s
        self.hold_s = hold_s
        self.gap_s = gap_s
        self.vote = vote
        # (time, label or None, confidence, seconds this reading stands for)
        self.readings: deque[tuple[float, str | None, float, float]] = deque()
        self.text = ""
        self._version = 0  # counts changes of `readings`, for the cached vote
        self._vote_cache: tuple[tuple[int, float, Vote], tuple[str | None, float]] | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._steady: str | None = None
        self._steady_since = 0.0
        self._committed_steady = False
        self._moved_since_commit = False
        self._rehold = False
        self._idle_since: float | None = None

    def reset(self) -> None:
        self._version += 1
        self.readings.clear()
        self.text = ""
        self._reset_state()

    def _weight(self, label: str | None, confidence: float) -> float:
        if self.vote == "time":
            return 1.0
        return NO_LETTER_WEIGHT if label is None else max(0.0, float(confidence))

    def smoothed(self) -> tuple[str | None, float]:
        """The window's winner (more than half of its weighted time) and its mean confidence
        (time-weighted), or (None, 0.0) when no letter has a majority. Counted once per
        reading: the stream asks again for the overlay after `update` has asked."""
        key = (self._version, self.window_s, self.vote)
        if self._vote_cache is not None and self._vote_cache[0] == key:
            return self._vote_cache[1]
        result = self._vote()
        self._vote_cache = (key, result)
        return result

    def _vote(self) -> tuple[str | None, float]:
        if not self.readings:
            return None, 0.0
        by_time = self.vote == "time"
        start = self.readings[-1][0] - self.window_s
        total = covered = 0.0
        scores: dict[str | None, float] = {}
        seconds: dict[str, float] = {}
        confidence_sum: dict[str, float] = {}
        for time, label, confidence, duration in self.readings:
            span = min(duration, time - start)  # the part of this reading inside the window
            if span <= 0:
                continue
            weight = (  # `_weight`, inlined: this loop runs for every reading, every frame
                1.0 if by_time else NO_LETTER_WEIGHT if label is None else max(0.0, confidence)
            )
            weighted = span * weight
            total += weighted
            covered += span
            scores[label] = scores.get(label, 0.0) + weighted
            if label is not None:
                seconds[label] = seconds.get(label, 0.0) + span
                confidence_sum[label] = confidence_sum.get(label, 0.0) + span * confidence
        # Time in the window before the first reading (a stream that just started) is time
        # without a letter.
        total += max(0.0, self.window_s - covered) * self._weight(None, 0.0)
        letters = [label for label in scores if label is not None]
        if not letters or total <= 0:
            return None, 0.0
        best = max(letters, key=lambda label: scores[label])
        if scores[best] * 2 <= total:
            return None, 0.0
        return best, confidence_sum[best] / seconds[best]

    def _add_reading(self, label: str | None, confidence: float, now: float) -> None:
        if self.readings and now < self.readings[-1][0]:
            raise ValueError(
                f"readings must come in time order: {now:.3f} s after {self.readings[-1][0]:.3f} s"
            )
        previous = self.readings[-1][0] if self.readings else None
        duration = 0.0 if previous is None else now - previous
        self._version += 1
        self.readings.append((now, label, confidence, duration))
        # A reading stands for the time before it: the oldest one still reaching into the
        # window is kept.
        while len(self.readings) > 1 and self.readings[1][0] <= now - self.window_s:
            self.readings.popleft()

    def update(
        self,
        label: str | None,
        confidence: float,
        now: float,
        *,
        moving: bool = False,
        suppress: bool = False,
    ) -> str | None:
        """Feed one reading (None = no hand or unsure) taken at `now` (seconds, any origin,
        never decreasing); returns what was committed, if anything.

        moving: the hand is moving (from the stream's motion tracker): nothing is typed while
            it moves, and a letter held again after a movement is typed again.
        suppress: type no letter now (the hold that follows a motion letter).
        """
        self._add_reading(label, confidence, now)
        steady, _ = self.smoothed()
        if steady != self._steady:
            self._steady, self._steady_since = steady, now
            self._committed_steady = self._moved_since_commit = self._rehold = False
        if steady is None:
            if self._idle_since is None:
                # The pause began during the time this reading stands for (since the previous
                # one, at most `IDLE_LOOKBACK_S`): counted from `now`, a 1.2 s pause between
                # words typed no space at 8 readings a second and did at 30 (bench/speller.py).
                self._idle_since = now - min(self.readings[-1][3], IDLE_LOOKBACK_S)
            idle = now - self._idle_since
            if self.text and not self.text.endswith(" ") and idle >= self.gap_s - EPSILON_S:
                self.text += " "
                return " "
            return None
        self._idle_since = None
        if moving:
            self._steady_since = now  # the hold counts from when the hand is still again
            if self._committed_steady:
                self._moved_since_commit = True
            return None
        if self._moved_since_commit:  # a re-hold after a movement: the letter again
            self._committed_steady = self._moved_since_commit = False
            self._rehold = True
        if suppress:
            self._committed_steady = True  # this hold belongs to the motion letter just typed
            self._rehold = False
            return None
        hold = self.hold_s * (REHOLD_SHARE if self._rehold else 1.0)
        if not self._committed_steady and now - self._steady_since >= hold - EPSILON_S:
            self._committed_steady, self._rehold = True, False
            self.text += steady
            return steady
        return None

    def type_motion(self, letter: str) -> str:
        """Type a letter signed with motion (J, Z); the steady letter under it is not typed."""
        self.text += letter
        self._committed_steady = True
        self._moved_since_commit = self._rehold = False
        self._idle_since = None
        return letter

    def backspace(self) -> None:
        self.text = self.text[:-1]
