"""The practice page's logic, testable without Streamlit or a browser.

- `PracticeRecognizer`: the live page's `StreamRecognizer` that also feeds each frame's
  reading and typed letter to the session's `Drill` (asl_core.inference.practice), with the
  reason measured on the frame when there is no hand or the reading is unsure.
- `photo_reading`: snapshot mode, one photo through the same recogniser (`read_snapshot`).
- `classes_for`: which signs the recogniser may answer for a level.
- `reference_skeleton`: the drawing of a class's typical training photo (landmarks only).
- `target_rows_frame`, `letter_frame`, `results_csv`: the score as tables and a CSV.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from asl_core.app.live import SnapshotReading, read_snapshot
from asl_core.inference.practice import Drill, Level, Reading
from asl_core.inference.predictor import Prediction, Predictor
from asl_core.inference.stream import FrameResult, StreamRecognizer, StreamSettings
from asl_core.labels import DIGITS, ClassFilter
from asl_core.vision.hands import HandDetection, HandDetector
from asl_core.vision.photo_stats import no_hand_hints
from asl_core.vision.views import mirror_detection, skeleton_image

REASON_EVERY_S = 0.5
"""Live video: the photo statistics behind "no hand" (a few ms a frame) are measured at most
this often; frames in between reuse the last reason."""


EDGE_MARGIN = 0.02
"""A landmark closer than this (a share of the width or height) to the frame's edge, or beyond
it, means part of the hand is out of the picture."""


def hand_out_of_frame(det: HandDetection) -> bool:
    """Some landmark of the hand lies at or beyond the picture's edge."""
    xy = det.landmarks[:, :2]
    return bool((xy < EDGE_MARGIN).any() or (xy > 1.0 - EDGE_MARGIN).any())


def frame_reason(rgb: np.ndarray, prediction: Prediction) -> str | None:
    """Why a frame gives no sure answer, in words for a student; None when nothing shows.

    No hand: the first likely cause measured on the frame (asl_core.vision.photo_stats: too
    dark, blown out, cut off, ...). A hand: out of the frame, or the predictor's own doubt.
    """
    if not prediction.hand:
        hints = no_hand_hints(rgb)
        return hints[0].message.rstrip(".") if hints else None
    det = prediction.detection
    if det is not None and hand_out_of_frame(det):
        return "part of the hand is outside the picture: move it to the middle"
    return prediction.note


def reading_of(
    prediction: Prediction, letter: str | None, confidence: float, threshold: float, why: str | None
) -> Reading:
    return Reading(
        letter=letter if prediction.hand else None,
        confidence=float(confidence),
        accepted=prediction.hand and letter is not None and confidence >= threshold,
        hand=prediction.hand,
        why=why,
    )


class PracticeRecognizer(StreamRecognizer):
    """A `StreamRecognizer` that hands every reading to `drill` (when one is set). The frame
    thread and the page share the drill through `drill_lock`."""

    def __init__(
        self,
        predictor: Predictor,
        settings: StreamSettings | None = None,
        detector: HandDetector | None = None,
    ) -> None:
        super().__init__(predictor, settings, detector)
        self.drill_lock = threading.Lock()
        self.drill: Drill | None = None
        self._reason: tuple[float, str | None] | None = None

    def start(self, drill: Drill) -> None:
        """A new round: the drill, and a fresh speller (nothing typed carries over)."""
        self.clear()
        with self.drill_lock:
            self.drill = drill

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> FrameResult:
        now = time.monotonic() if timestamp is None else timestamp
        result = super().process(rgb, now)
        prediction = result.prediction
        threshold = self.settings.threshold
        why = None
        if not prediction.hand or result.reading_confidence < threshold:
            if self._reason is None or now - self._reason[0] >= REASON_EVERY_S:
                self._reason = (now, frame_reason(rgb, prediction))
            why = self._reason[1]
        reading = reading_of(prediction, result.reading, result.reading_confidence, threshold, why)
        with self.drill_lock:
            if self.drill is not None:
                self.drill.feed(reading, now, result.committed)
        return result


def photo_reading(
    recognizer: StreamRecognizer, rgb: np.ndarray, photo_id: str = ""
) -> tuple[SnapshotReading, Reading]:
    """One snapshot photo: the live page's reading of it and the drill's `Reading`."""
    snapshot = read_snapshot(recognizer, rgb, photo_id)
    p = snapshot.prediction
    why = None if p.accepted else frame_reason(rgb, p)
    return snapshot, reading_of(p, p.label, p.confidence, snapshot.threshold, why)


def classes_for(level: Level, chosen: ClassFilter, words: tuple[str, ...] = ()) -> ClassFilter:
    """The signs the recogniser answers with for a level: letters for letters and words,
    digits for digits, both for a teacher's list mixing them; "all" when the user chose all."""
    if chosen == "all":
        return "all"
    if level == "digits":
        return "digits"
    if level == "custom":
        has_digit = any(c in DIGITS for word in words for c in word)
        has_letter = any(c not in DIGITS for word in words for c in word)
        if has_digit:
            return "all" if has_letter else "digits"
    return "letters"


def reference_skeleton(detection: HandDetection, *, mirrored: bool, size: int = 224) -> np.ndarray:
    """The skeleton drawing of a reference hand (size x size RGB), mirrored like the preview
    when the student sees a mirror image."""
    return skeleton_image(mirror_detection(detection) if mirrored else detection, size)


TARGET_COLUMNS = {
    "number": "#",
    "target": "target",
    "letters": "letters",
    "right_first_try": "right first try",
    "wrong_tries": "wrong tries",
    "read_instead": "read instead",
    "skipped": "skipped",
    "seconds": "seconds",
    "seconds_per_letter": "seconds per letter",
    "done": "done",
}


def target_rows_frame(drill: Drill) -> pd.DataFrame:
    """One row per target started (the CSV's rows)."""
    return pd.DataFrame(drill.target_rows(), columns=list(TARGET_COLUMNS))


def letter_frame(drill: Drill) -> pd.DataFrame:
    """Per letter practised, hardest first."""
    columns = [
        "letter",
        "asked",
        "right_first_try",
        "wrong_tries",
        "skipped",
        "mean_seconds",
        "read_instead",
    ]
    return pd.DataFrame(drill.letter_table(), columns=columns)


def results_csv(drill: Drill) -> bytes:
    """The session as CSV, one row per target, UTF-8."""
    return target_rows_frame(drill).to_csv(index=False).encode("utf-8")


def results_download_name() -> str:
    return f"asl-practice-{time.strftime('%Y%m%d-%H%M%S')}.csv"
