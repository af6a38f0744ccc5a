"""Live signing: per-stream state that turns frames into steady letters and spelled text.

`StreamRecognizer` is what the live page's frame callback calls, one per browser session. It
owns its MediaPipe tracker (video mode) and its smoothing window; the `Predictor` (models) is
shared. Time comes from the caller (`timestamp`), so a test can replay a clip exactly.

Spelling rules:
- smoothing (seed 000, 4.5.6): the letter shown is the majority of the last `window` readings,
  and only when it holds more than half of them; unsure and no-hand frames vote for nothing;
- commit: a smoothed letter held for `hold_s` is added to the text once; to type the same
  letter twice, change letter or drop the hand in between;
- space: no hand (or no steady letter) for `gap_s` after something was typed adds one space.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from asl_core.inference.predictor import Prediction, Predictor
from asl_core.inference.speller import Speller
from asl_core.labels import ClassFilter
from asl_core.vision.hands import HandDetector
from asl_core.vision.overlay import draw_overlay
from asl_core.vision.views import mirror_detection, mirror_image


@dataclass
class StreamSettings:
    threshold: float = 0.6
    window: int = 7
    hold_s: float = 0.6
    gap_s: float = 1.0
    classes: ClassFilter = "letters"
    mirror_preview: bool = True
    left_handed: bool = False
    mirror_tta: bool = False  # off live: it doubles the model's cost for a small gain


@dataclass
class FrameResult:
    prediction: Prediction
    smoothed: str | None
    smoothed_confidence: float
    committed: str | None
    text: str


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
        s = self.settings
        self.speller = Speller(s.window, s.hold_s, s.gap_s)
        self.timer = StageTimer()
        self.last: FrameResult | None = None
        self._lock = threading.Lock()

    def update_settings(self, settings: StreamSettings) -> None:
        with self._lock:
            self.settings = settings
            self.speller.hold_s, self.speller.gap_s = settings.hold_s, settings.gap_s
            if settings.window != self.speller.window:
                self.speller.window = settings.window
                self.speller.readings = deque(self.speller.readings, maxlen=settings.window)

    @property
    def text(self) -> str:
        with self._lock:
            return self.speller.text

    def clear(self) -> None:
        with self._lock:
            self.speller.reset()

    def backspace(self) -> None:
        with self._lock:
            self.speller.backspace()

    def append(self, text: str) -> None:
        """Type text by hand (snapshot mode), safely beside the frame callback."""
        with self._lock:
            self.speller.text += text

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """Read one frame as the camera gives it (unmirrored RGB)."""
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
        reading = prediction.label if prediction.accepted else None
        with self._lock:
            committed = self.speller.update(reading, prediction.confidence, now)
            smoothed, smoothed_confidence = self.speller.smoothed()
            text = self.speller.text
        self.timer.tick(now)
        self.last = FrameResult(prediction, smoothed, smoothed_confidence, committed, text)
        return self.last

    def render(self, rgb: np.ndarray, result: FrameResult) -> np.ndarray:
        """The frame to show: mirrored like a selfie view if asked, with box, landmarks and
        the steady letter (or the frame's own reading, marked unsure, while it settles)."""
        start = time.perf_counter()
        det = result.prediction.detection
        shown = mirror_image(rgb) if self.settings.mirror_preview else rgb
        if det is not None:
            if self.settings.mirror_preview:
                det = mirror_detection(det)
            if result.smoothed is not None:
                label, confidence, accepted = result.smoothed, result.smoothed_confidence, True
            else:
                label, confidence = result.prediction.label, result.prediction.confidence
                accepted = False
            shown = draw_overlay(shown, det, label, confidence, accepted=accepted)
        self.timer.add("overlay", 1000 * (time.perf_counter() - start))
        return shown

    def process_and_render(self, rgb: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """The frame callback's whole job."""
        return self.render(rgb, self.process(rgb, timestamp))

    def close(self) -> None:
        self.detector.close()
