"""Capturing a burst from the camera: countdown, rate limiting and progress."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_RATE_PER_S = 3.0


DEFAULT_COUNT = 30


MAX_COUNT = 150  # seed 004 captured 150 frames per class


DEFAULT_COUNTDOWN_S = 3.0


class CapturePhase(StrEnum):
    IDLE = "idle"
    COUNTDOWN = "countdown"
    CAPTURING = "capturing"
    DONE = "done"
    FAILED = "failed"


class CaptureThrottle:
    """Which frames to keep: after a countdown, at most `rate_per_s` a second, up to `count`.

    The caller asks `should_save(now, hand_found)` per frame and calls `record(now)` when the
    frame was saved; frames without a hand are never saved and do not use up the rate.
    """

    def __init__(
        self,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        count: int = DEFAULT_COUNT,
        countdown_s: float = DEFAULT_COUNTDOWN_S,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}")
        if countdown_s < 0:
            raise ValueError("countdown_s must not be negative")
        self.rate_per_s = rate_per_s
        self.count = count
        self.countdown_s = countdown_s
        self.started_at: float | None = None
        self.last_saved_at: float | None = None
        self.saved = 0

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_per_s

    def start(self, now: float) -> None:
        self.started_at = now
        self.last_saved_at = None
        self.saved = 0

    def stop(self) -> None:
        self.started_at = None

    def phase(self, now: float) -> CapturePhase:
        if self.started_at is None:
            return CapturePhase.DONE if self.saved else CapturePhase.IDLE
        if self.saved >= self.count:
            return CapturePhase.DONE
        if now - self.started_at < self.countdown_s:
            return CapturePhase.COUNTDOWN
        return CapturePhase.CAPTURING

    def countdown_left(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, self.countdown_s - (now - self.started_at))

    def should_save(self, now: float, hand_found: bool) -> bool:
        if not hand_found or self.phase(now) is not CapturePhase.CAPTURING:
            return False
        # A small tolerance: frames arrive on a ~33 ms grid; 1/3 s must not become 0.367 s.
        return self.last_saved_at is None or now - self.last_saved_at >= self.interval_s * 0.95

    def record(self, now: float) -> None:
        self.saved += 1
        self.last_saved_at = now
        if self.saved >= self.count:
            self.started_at = None


@dataclass(frozen=True)
class CaptureStatus:
    """A snapshot of the live capture for the page (the callback thread keeps going)."""

    phase: CapturePhase
    label: str | None
    saved: int
    target: int
    countdown_left: float
    frames: int
    hand_frames: int
    last_error: str | None

    @property
    def message(self) -> str:
        if self.phase is CapturePhase.FAILED:
            return f"Capture stopped: {self.last_error}"
        if self.phase is CapturePhase.COUNTDOWN:
            return f"Get ready to sign {self.label}: {self.countdown_left:.0f} s"
        if self.phase is CapturePhase.CAPTURING:
            return f"Saving {self.label}: {self.saved} of {self.target} photos"
        if self.phase is CapturePhase.DONE:
            return f"Done: saved {self.saved} photos of {self.label}."
        return "Press Start capturing when your hand is in view."
