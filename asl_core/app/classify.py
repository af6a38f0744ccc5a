"""What the Home and Classify pages show, computed without Streamlit (so tests can check it).

- Model discovery: the shipped default model, then every checkpoint that training wrote under
  the runs folder (`runs/**/checkpoint.json`), named by its run folder.
- One uploaded file -> a `FileResult`: the answer, or the exact reason there is none (not an
  image, truncated, too large, no hand ...), plus the pictures the page draws. Every failure is
  caught here, so one bad file never stops the page or the rest of a batch.
- A batch -> a results table (with data-URI thumbnails for `st.column_config.ImageColumn`) and
  a CSV.
- Describing a model for people: what it reads, which classes, its honest numbers.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from asl_core.inference.predictor import Prediction, Predictor
from asl_core.io.images import (
    MAX_FILE_BYTES,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    formats_sentence,
    load_image,
)
from asl_core.labels import ClassFilter
from asl_core.vision.hands import HandDetection, landmark_box
from asl_core.vision.overlay import draw_overlay
from asl_core.vision.views import hand_crop, mirror_detection, skeleton_image

logger = logging.getLogger(__name__)


UPLOAD_MAX_MB: int = math.ceil(MAX_FILE_BYTES / 1e6)
"""Size limit of every photo uploader (Streamlit's `max_upload_size`, in MB): the photo limit of
`asl_core.io.images` (100 MB). The uploaders filter no file type: every file comes through
and `load_image` judges it by its content, with its own message for each refusal."""


PREVIEW_MAX_SIDE = 1024
"""Longest side of the photo shown with its overlay: a 12 MP original would be slow to send."""


VIEW_SIDE = 224
"""Side of the hand crop and skeleton pictures (the size the models' views are made at)."""


THUMBNAIL_SIDE = 96
"""Longest side of the results-table thumbnails (inline JPEG data URIs: keep them small)."""


NO_HAND_ADVICE = (
    "Use a plain background, keep the whole hand in the frame, add more light, "
    "or move closer to the camera."
)


class Outcome(StrEnum):
    """How one file went; every value has its own message on the page."""

    ACCEPTED = "accepted"
    UNSURE = "unsure"
    NO_HAND = "no hand"
    NOT_AN_IMAGE = "not an image"
    TRUNCATED = "truncated"
    TOO_LARGE = "too large"
    TOO_SMALL = "too small"
    UNREADABLE = "unreadable image"
    FAILED = "failed"


_IMAGE_ERROR_OUTCOMES: tuple[tuple[type[ImageError], Outcome], ...] = (
    (NotAnImageError, Outcome.NOT_AN_IMAGE),
    (TruncatedImageError, Outcome.TRUNCATED),
    (ImageTooLargeError, Outcome.TOO_LARGE),
    (ImageTooSmallError, Outcome.TOO_SMALL),
)


# The ImageError messages already say what to do for truncated and oversized files.
_IMAGE_ERROR_ADVICE: dict[Outcome, str] = {
    Outcome.NOT_AN_IMAGE: f"Upload a photo as {formats_sentence()}; export other files as JPEG.",
    Outcome.TOO_SMALL: "Use a larger photo, with the hand filling a good part of it.",
}


@dataclass
class FileResult:
    """Everything the page shows for one file.

    `message` is the headline (the answer or what went wrong), `advice` what to do about it,
    `note` a remark that does not stop the answer (two hands seen). Pictures are None when
    there is nothing to draw: `preview` is the photo (at most PREVIEW_MAX_SIDE) with the hand
    drawn on it, `crop` and `skeleton` the hand as the model read it (mirrored when the model
    read the mirrored hand).
    """

    name: str
    outcome: Outcome
    message: str
    advice: str = ""
    note: str = ""
    threshold: float = 0.0
    prediction: Prediction | None = None
    image_size: tuple[int, int] | None = None
    preview: np.ndarray | None = None
    crop: np.ndarray | None = None
    skeleton: np.ndarray | None = None
    thumbnail: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """A hand was read (accepted or unsure)."""
        return self.outcome in (Outcome.ACCEPTED, Outcome.UNSURE)

    @property
    def hand_found(self) -> bool:
        return self.prediction is not None and self.prediction.hand

    @property
    def answer(self) -> str:
        """What the table shows: the letter, 'unsure (A?)', 'no hand', or '' after an error."""
        if self.prediction is None:
            return ""
        return self.prediction.display_label

    @property
    def error(self) -> str:
        """The problem for the table's error column; '' when the file was read."""
        if self.ok:
            return ""
        if self.outcome == Outcome.NO_HAND:
            return "No hand found"
        return self.message


def _unsure_message(prediction: Prediction, threshold: float) -> str:
    return (
        f"Unsure: best guess {prediction.label} ({prediction.confidence:.0%}), "
        f"below the {threshold:.0%} threshold."
    )


def no_hand_advice(hints: Sequence[str]) -> str:
    """The likely causes measured on the photo (`Prediction.hints`: too dark, hand cut off
    ...), then the general advice."""
    return " ".join([*hints, NO_HAND_ADVICE])


def hands_note(num_hands: int) -> str:
    """The remark for a photo with more than one hand."""
    return f"{num_hands} hands seen: reading the larger one." if num_hands > 1 else ""


def image_error_result(name: str, error: ImageError) -> FileResult:
    """The result for a file that `load_image` refused, with its own message."""
    outcome = Outcome.UNREADABLE
    for kind, mapped in _IMAGE_ERROR_OUTCOMES:
        if isinstance(error, kind):
            outcome = mapped
            break
    return FileResult(
        name=name,
        outcome=outcome,
        message=str(error),
        advice=_IMAGE_ERROR_ADVICE.get(outcome, ""),
        error_type=type(error).__name__,
    )


def unexpected_error_result(name: str, error: BaseException) -> FileResult:
    """The result for a failure nobody planned for: a generic message, the details logged."""
    return FileResult(
        name=name,
        outcome=Outcome.FAILED,
        message=f"Could not read this file ({type(error).__name__}).",
        advice="Try another photo; the details are in the app's log.",
        error_type=type(error).__name__,
    )


def resize_longest(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the longer side is at most max_side."""
    height, width = rgb.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return rgb
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def detection_for_size(det: HandDetection, size: tuple[int, int]) -> HandDetection:
    """The same detection on a resized copy of its image (landmarks are normalised)."""
    if tuple(size) == det.image_size:
        return det
    return replace(det, box=landmark_box(det.landmarks, size), image_size=size)


def thumbnail_data_uri(rgb: np.ndarray, max_side: int = THUMBNAIL_SIDE) -> str:
    """A small JPEG as a `data:` URI, which `st.column_config.ImageColumn` shows inline."""
    small = resize_longest(rgb, max_side)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(small)).save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def hand_views(
    rgb: np.ndarray, det: HandDetection, mirrored: bool, size: int = VIEW_SIDE
) -> tuple[np.ndarray, np.ndarray]:
    """(crop, skeleton) of the hand as the model read it: mirrored if it read the mirror."""
    crop = hand_crop(rgb, det, size=size)
    if mirrored:
        # Flipping the crop equals cropping the flipped photo, without flipping a 12 MP image.
        return np.ascontiguousarray(crop[:, ::-1]), skeleton_image(mirror_detection(det), size)
    return crop, skeleton_image(det, size)


def classify_file(
    predictor: Predictor,
    name: str,
    data: bytes,
    *,
    threshold: float,
    mirror: bool = True,
    classes: ClassFilter = "all",
) -> FileResult:
    """Read one uploaded file and answer it; never raises (see module doc)."""
    start = time.perf_counter()
    try:
        result = _classify_file(
            predictor, name, data, threshold=threshold, mirror=mirror, classes=classes
        )
    except ImageError as error:
        result = image_error_result(name, error)
    except Exception as error:  # one bad file must not take the page or the batch down
        logger.exception("could not classify %s", name)
        result = unexpected_error_result(name, error)
    result.threshold = threshold
    result.seconds = time.perf_counter() - start
    return result


def _classify_file(
    predictor: Predictor,
    name: str,
    data: bytes,
    *,
    threshold: float,
    mirror: bool,
    classes: ClassFilter,
) -> FileResult:
    load_start = time.perf_counter()
    rgb = load_image(data)
    load_ms = 1000 * (time.perf_counter() - load_start)
    prediction = predictor.predict_image(rgb, threshold=threshold, mirror=mirror, classes=classes)
    height, width = rgb.shape[:2]
    small = resize_longest(rgb, PREVIEW_MAX_SIDE)
    common: dict[str, Any] = {
        "name": name,
        "prediction": prediction,
        "image_size": (width, height),
        "thumbnail": thumbnail_data_uri(small),
        "timings_ms": {"decode": load_ms, **prediction.timings_ms},
    }
    det = prediction.detection
    if not prediction.hand or det is None:
        return FileResult(
            outcome=Outcome.NO_HAND,
            message="No hand found.",
            advice=no_hand_advice(prediction.hints),
            preview=small,
            **common,
        )
    small_det = detection_for_size(det, (small.shape[1], small.shape[0]))
    preview = draw_overlay(
        small, small_det, prediction.label, prediction.confidence, accepted=prediction.accepted
    )
    crop, skeleton = hand_views(rgb, det, prediction.mirrored)
    if prediction.accepted:
        outcome, message = Outcome.ACCEPTED, f"{prediction.label} ({prediction.confidence:.0%})"
    else:
        outcome, message = Outcome.UNSURE, _unsure_message(prediction, threshold)
    return FileResult(
        outcome=outcome,
        message=message,
        advice=" ".join(prediction.hints),  # an unsure greyscale photo: a colour photo helps
        note=" ".join(filter(None, [prediction.note, hands_note(prediction.num_hands)])),
        preview=preview,
        crop=crop,
        skeleton=skeleton,
        **common,
    )


TABLE_COLUMNS: tuple[str, ...] = (
    "thumbnail",
    "file",
    "answer",
    "confidence",
    "accepted",
    "hand found",
    "hands",
    "error",
)


CSV_COLUMNS: tuple[str, ...] = (
    "file",
    "answer",
    "best_guess",
    "confidence",
    "accepted",
    "hand_found",
    "hands",
    "mirrored",
    "top5",
    "error",
)


def _confidence(result: FileResult) -> float | None:
    if result.prediction is None or not result.prediction.hand:
        return None
    return round(result.prediction.confidence, 4)


def results_table(results: Sequence[FileResult]) -> pd.DataFrame:
    """One row per file for `st.dataframe`; the thumbnail column holds data URIs."""
    rows = [
        {
            "thumbnail": result.thumbnail,
            "file": result.name,
            "answer": result.answer,
            "confidence": _confidence(result),
            "accepted": bool(result.prediction.accepted) if result.prediction else False,
            "hand found": result.hand_found,
            "hands": result.prediction.num_hands if result.prediction else 0,
            "error": result.error,
        }
        for result in results
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def batch_summary(results: Sequence[FileResult]) -> str:
    """'4 files: 1 answered, 1 unsure, 1 without a hand, 1 unreadable' (zero counts left out)."""
    counts = {
        "answered": sum(r.outcome == Outcome.ACCEPTED for r in results),
        "unsure": sum(r.outcome == Outcome.UNSURE for r in results),
        "without a hand": sum(r.outcome == Outcome.NO_HAND for r in results),
        "unreadable": sum(not r.ok and r.outcome != Outcome.NO_HAND for r in results),
    }
    parts = [f"{count} {what}" for what, count in counts.items() if count]
    noun = "file" if len(results) == 1 else "files"
    return f"{len(results)} {noun}: " + ", ".join(parts)


def results_csv(results: Sequence[FileResult]) -> bytes:
    """The batch as CSV (UTF-8), without thumbnails; top5 as 'A:0.9612 S:0.0201 ...'."""
    rows = []
    for result in results:
        prediction = result.prediction
        rows.append(
            {
                "file": result.name,
                "answer": result.answer,
                "best_guess": prediction.label if prediction and prediction.label else "",
                "confidence": _confidence(result),
                "accepted": bool(prediction.accepted) if prediction else False,
                "hand_found": result.hand_found,
                "hands": prediction.num_hands if prediction else 0,
                "mirrored": bool(prediction.mirrored) if prediction else False,
                "top5": " ".join(f"{label}:{p:.4f}" for label, p in prediction.top)
                if prediction
                else "",
                "error": result.error,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    return frame.to_csv(index=False).encode("utf-8")
