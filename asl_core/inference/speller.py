"""The Speller: turns a stream of readings into typed text."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np


class Speller:
    """The spelling state machine alone (no images): readings in, committed text out."""

    def __init__(self, window: int = 7, hold_s: float = 0.6, gap_s: float = 1.0) -> None:
        self.window = window
        self.hold_s = hold_s
        self.gap_s = gap_s
        self.readings: deque[tuple[str | None, float]] = deque(maxlen=window)
        self.text = ""
        self._steady: str | None = None
        self._steady_since = 0.0
        self._committed_steady = False
        self._idle_since: float | None = None

    def reset(self) -> None:
        self.readings.clear()
        self.text = ""
        self._steady = None
        self._committed_steady = False
        self._idle_since = None

    def smoothed(self) -> tuple[str | None, float]:
        """Majority letter of the window (more than half of it) and its mean confidence."""
        votes = Counter(label for label, _ in self.readings if label is not None)
        if not votes:
            return None, 0.0
        label, count = votes.most_common(1)[0]
        if count * 2 <= self.window:
            return None, 0.0
        confidences = [c for name, c in self.readings if name == label]
        return label, float(np.mean(confidences))

    def update(self, label: str | None, confidence: float, now: float) -> str | None:
        """Feed one reading (None = no hand or unsure); returns what was committed, if any."""
        self.readings.append((label, confidence))
        steady, _ = self.smoothed()
        if steady != self._steady:
            self._steady, self._steady_since, self._committed_steady = steady, now, False
        if steady is None:
            if self._idle_since is None:
                self._idle_since = now
            if self.text and not self.text.endswith(" ") and now - self._idle_since >= self.gap_s:
                self.text += " "
                return " "
            return None
        self._idle_since = None
        if not self._committed_steady and now - self._steady_since >= self.hold_s:
            self._committed_steady = True
            self.text += steady
            return steady
        return None

    def backspace(self) -> None:
        self.text = self.text[:-1]
