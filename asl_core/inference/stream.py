"""Live signing: per-stream state that turns frames into steady letters and spelled text.

`StreamRecognizer` is what the live page's frame callback calls, one per browser session. It
owns its MediaPipe tracker (video mode), its motion tracker and its speller; the `Predictor`
(models) is shared. Time comes from the caller (`timestamp`, seconds), so a test can replay
a clip exactly, at any frame rate.

Per frame: MediaPipe finds the hand; the model reads its handshape (J and Z left out: a still
hand is never J or Z, see `still_reading`); a reading below the threshold, or of a hand the
photo path answers unsure whatever the confidence (`predictor.detection_doubt`: a hand under
64 px; video mode has no tile retry), counts as no letter; `motion.MotionTracker` follows
the fingertips (J and Z from their paths, and whether the hand is moving); `speller.Speller`
smooths the readings over time and types (the rules, all in seconds, are in its module).

Keeping up: the recogniser counts the frames it reads per second of video (`read_fps`).
Below `NEEDED_READ_FPS` typing at two letters a second fails (each letter needs about four
readings), and `speed_note` says so for the page. `StreamSettings.lite_below_fps` can switch
to MediaPipe's lighter hand model when reading stays that slow; it is off by default because
it measured worse: the lighter model reads about twice as many frames on a busy machine, but
its landmarks are read worse by the shipped model (bench/live.py, clips at two letters a
second: 28 of 35 letters against 32-34 with the full model; with three cores kept busy, 14
of 21 against 17 of 21 while reading 27 frames a second against 10-15).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from asl_core.inference.motion import MOTION_LETTERS, MotionState, MotionTracker
from asl_core.inference.predictor import (
    DEFAULT_THRESHOLD,
    Prediction,
    Predictor,
    detection_doubt,
)
from asl_core.inference.speller import Speller, Vote
from asl_core.labels import ClassFilter
from asl_core.vision.hands import HandDetector
from asl_core.vision.overlay import draw_overlay
from asl_core.vision.views import mirror_detection, mirror_image, moved_detection

NEEDED_READ_FPS = 8.0
"""Readings per second that typing at two letters a second needs: a letter is on screen for
0.5 s and must win the vote (about 0.13 s) and then be held (0.2 s); test_speller.py plays
that at 8, 15 and 30. A J or Z drawn that fast (0.4 s) needs about 15: at 8 a second
MediaPipe's tracker loses the fingertip between readings, and a J must be drawn in about
0.8 s (test_stream_recognizer.py plays both)."""


MAX_LEAD_S = 0.1
"""The furthest `render` moves a moving hand's overlay ahead to the frame it is drawn on
(three frames of a 30 fps camera); a reading older than that is drawn where it was."""


RATE_WINDOW_S = 2.0
"""The read rate is counted over this many seconds of video, and judged only once that much
has been read: one slow moment (a model load, a busy second) is not a slow machine."""


@dataclass
class StreamSettings:
    """What the live page's controls set. Times in seconds of video."""

    threshold: float = DEFAULT_THRESHOLD
    window_s: float = 0.25
    hold_s: float = 0.2
    gap_s: float = 1.0
    vote: Vote = "confidence"
    classes: ClassFilter = "letters"
    mirror_preview: bool = True
    left_handed: bool = False
    mirror_tta: bool = False  # off live: it doubles the model's cost for a small gain
    lite_below_fps: float | None = None  # switch to the lighter hand model below this rate


@dataclass
class FrameResult:
    prediction: Prediction
    smoothed: str | None
    smoothed_confidence: float
    committed: str | None
    text: str
    reading: str | None = None  # the frame's own best class, J and Z left out (still_reading)
    reading_confidence: float = 0.0  # below the threshold the speller gets no letter
    motion: MotionState | None = None
    doubt: str | None = None  # why this hand's reading is unsure whatever its confidence
    timestamp: float | None = None  # when the frame read was taken (seconds, the caller's)
    velocity_px_s: np.ndarray | None = None  # 21x2 landmark velocity while the hand moves


@dataclass
class StageTimer:
    """Exponential moving averages of per-stage latency (ms) and of frames per second."""

    alpha: float = 0.1
    ms: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0
    frames: int = 0
    _last: float | None = None

    def add(self, stage: str, value_ms: float) -> None:
        old = self.ms.get(stage)
        self.ms[stage] = value_ms if old is None else old + self.alpha * (value_ms - old)

    def tick(self, now: float) -> None:
        self.frames += 1
        if self._last is not None and now > self._last:
            instant = 1.0 / (now - self._last)
            self.fps = instant if self.fps == 0 else self.fps + self.alpha * (instant - self.fps)
        self._last = now


class RateWindow:
    """Events per second over the last `window_s` seconds. (An average of instantaneous rates
    would overstate it: frames that arrive in a burst after a stall count many times.)"""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while now - self._times[0] > self.window_s:
            self._times.popleft()

    def clear(self) -> None:
        self._times.clear()

    def value(self, now: float | None = None) -> float:
        """The rate; 0 once nothing happened for a whole window (a stopped stream)."""
        times = self._times
        if len(times) < 2 or (now is not None and now - times[-1] > self.window_s):
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0

    def span(self) -> float:
        """Seconds between the oldest and newest event in the window."""
        return self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0


def still_reading(prediction: Prediction) -> tuple[str | None, float]:
    """The frame's best class with J and Z left out, and its confidence (None without a hand).

    J and Z are signed with motion; a still hand that the model reads as one of them shows
    the handshape of another letter (J: I turned; Z: D or 1 pointing), so the answer is the
    best other class, its probability renormalised without J and Z (the softmax with those
    two masked; exact when they are in the top 5 or absent, as the top-5 list is all there is).
    """
    if not prediction.hand or not prediction.top:
        return None, 0.0
    motion_mass = sum(p for name, p in prediction.top if name in MOTION_LETTERS)
    if motion_mass == 0:
        return prediction.label, float(prediction.confidence)
    others = [(name, p) for name, p in prediction.top if name not in MOTION_LETTERS]
    if not others or motion_mass >= 1:
        return None, 0.0
    label, p = others[0]
    return label, float(p / (1.0 - motion_mass))


class StreamRecognizer:
    """Frames of one stream in, overlay and spelled text out. Thread-safe: the frame callback
    runs on a worker thread while the page reads `text` and changes settings."""

    def __init__(
        self,
        predictor: Predictor,
        settings: StreamSettings | None = None,
        detector: HandDetector | None = None,
    ) -> None:
        self.predictor = predictor
        self.settings = settings or StreamSettings()
        self.detector = detector or HandDetector(mode="video", max_num_hands=1)
        self.lite = False  # the lighter hand model was chosen for a slow machine
        s = self.settings
        self.speller = Speller(s.window_s, s.hold_s, s.gap_s, vote=s.vote)
        self.motion = MotionTracker()
        self.timer = StageTimer()
        self.reads = RateWindow(RATE_WINDOW_S)
        self.last: FrameResult | None = None
        self._lock = threading.Lock()

    def update_settings(self, settings: StreamSettings) -> None:
        with self._lock:
            self.settings = settings
            speller = self.speller
            speller.window_s, speller.hold_s, speller.gap_s = (
                settings.window_s,
                settings.hold_s,
                settings.gap_s,
            )
            speller.vote = settings.vote

    @property
    def text(self) -> str:
        with self._lock:
            return self.speller.text

    def clear(self) -> None:
        with self._lock:
            self.speller.reset()
            self.motion.reset()

    def backspace(self) -> None:
        with self._lock:
            self.speller.backspace()

    def append(self, text: str) -> None:
        """Type text by hand (snapshot mode), safely beside the frame callback."""
        with self._lock:
            self.speller.text += text

    def replace_word(self, word: str) -> None:
        """Put `word` (a suggestion) in place of the word being spelled, then a space."""
        with self._lock:
            text = self.speller.text
            head = text[: len(text) - len(text.split(" ")[-1])] if text else ""
            self.speller.text = f"{head}{word} "

    @property
    def read_fps(self) -> float:
        """Frames read per second of video over the last 2 s (timestamps, not wall time)."""
        with self._lock:
            return self.reads.value()

    def _slow_below(self, fps_limit: float) -> float | None:
        """The read rate when a whole window of video was read below `fps_limit`, else None."""
        with self._lock:
            fps, span = self.reads.value(), self.reads.span()
        full = span >= RATE_WINDOW_S - 2.0 / max(fps, 1.0)  # the window, give or take a frame
        return fps if full and fps < fps_limit else None

    def speed_note(self) -> str | None:
        """A sentence for the page when this machine reads too few frames to type well."""
        fps = self._slow_below(NEEDED_READ_FPS)
        if fps is None:
            return None
        lighter = " (already with the lighter hand model)" if self.lite else ""
        return (
            f"This computer reads only {fps:.0f} frames a second{lighter}; typing needs about "
            f"{NEEDED_READ_FPS:.0f}. Letters may be missed: hold each one longer, or close "
            "other programs and browser tabs."
        )

    def _maybe_go_lite(self) -> None:
        limit = self.settings.lite_below_fps
        if self.lite or limit is None:
            return
        if self._slow_below(limit) is not None:
            old = self.detector
            self.detector = HandDetector(mode="video", max_num_hands=1, model_complexity=0)
            self.lite = True
            old.close()

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """Read one frame as the camera gives it (unmirrored RGB); `timestamp` in seconds."""
        now = time.monotonic() if timestamp is None else timestamp
        s = self.settings
        start = time.perf_counter()
        det = self.detector.detect(rgb)
        self.timer.add("detect", 1000 * (time.perf_counter() - start))
        prediction = self.predictor.predict_detection(
            rgb,
            det,
            threshold=s.threshold,
            mirror=s.mirror_tta,
            classes=s.classes,
            force_mirror=s.left_handed,
        )
        for stage, value in prediction.timings_ms.items():
            self.timer.add(stage, value)
        start = time.perf_counter()
        reading, confidence = still_reading(prediction)
        # A hand the photo path answers unsure whatever the confidence (too small, or found
        # only on a retry) types nothing either: the speller gets "no letter".
        doubt = detection_doubt(det) if det is not None else None
        letter = reading if confidence >= s.threshold and doubt is None else None
        with self._lock:
            motion = self.motion.update(now, det if s.classes != "digits" else None)
            committed = self.speller.update(
                letter, confidence, now, moving=motion.moving, suppress=motion.after_motion
            )
            if motion.letter is not None:
                committed = self.speller.type_motion(motion.letter)
            velocity = self.motion.velocity_px_s() if motion.moving else None
            smoothed, smoothed_confidence = self.speller.smoothed()
            text = self.speller.text
            self.reads.tick(now)
        self.timer.add("spell", 1000 * (time.perf_counter() - start))
        self.timer.tick(now)
        self._maybe_go_lite()
        self.last = FrameResult(
            prediction,
            smoothed,
            smoothed_confidence,
            committed,
            text,
            reading,
            confidence,
            motion,
            doubt,
            now,
            velocity,
        )
        return self.last

    def render(self, rgb: np.ndarray, result: FrameResult, lead_s: float = 0.0) -> np.ndarray:
        """The frame to show: mirrored like a selfie view if asked, with box, landmarks and
        the steady letter (or the frame's own reading, marked unsure, while it settles).

        lead_s: how much newer `rgb` is than the frame `result` read (seconds). A moving
        hand's overlay is moved ahead by its velocity times that (at most `MAX_LEAD_S`), so
        that during a fast J it stays on the hand instead of trailing it by a frame or two.
        """
        start = time.perf_counter()
        det = result.prediction.detection
        shown = mirror_image(rgb) if self.settings.mirror_preview else rgb
        if det is not None and result.velocity_px_s is not None and lead_s > 0:
            det = moved_detection(det, result.velocity_px_s * min(lead_s, MAX_LEAD_S))
        if det is not None:
            if self.settings.mirror_preview:
                det = mirror_detection(det)
            if result.smoothed is not None:
                label, confidence, accepted = result.smoothed, result.smoothed_confidence, True
            else:
                label, confidence = result.reading, result.reading_confidence
                accepted = False
            shown = draw_overlay(shown, det, label, confidence, accepted=accepted)
        self.timer.add("overlay", 1000 * (time.perf_counter() - start))
        return shown

    def process_and_render(self, rgb: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """The frame callback's whole job."""
        return self.render(rgb, self.process(rgb, timestamp))

    def close(self) -> None:
        self.detector.close()
