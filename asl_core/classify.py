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
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from asl_core.checkpoint import CheckpointError, CheckpointMeta, checkpoint_paths, read_meta
from asl_core.hands import HandDetection, HandDetector, landmark_box
from asl_core.images import (
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    load_image,
)
from asl_core.labels import DIGITS, LETTERS, ClassFilter, allowed_mask
from asl_core.models import InputSpec
from asl_core.predict import Prediction, Predictor
from asl_core.representations import draw_overlay, hand_crop, mirror_detection, skeleton_image

logger = logging.getLogger(__name__)

UPLOAD_TYPES: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "bmp")
"""File types the uploader accepts (what `asl_core.images.load_image` reads)."""

PREVIEW_MAX_SIDE = 1024
"""Longest side of the photo shown with its overlay: a 12 MP original would be slow to send."""

VIEW_SIDE = 224
"""Side of the hand crop and skeleton pictures (the size the models' views are made at)."""

THUMBNAIL_SIDE = 96
"""Longest side of the results-table thumbnails (inline JPEG data URIs: keep them small)."""

DEFAULT_MODEL_NAME = "Shipped default model"
MODEL_CARD_NAME = "MODEL_CARD.md"
CHECKPOINT_FILE = "checkpoint.json"
# Folders under the runs folder that never hold a run's own checkpoint.
SKIPPED_FOLDERS = frozenset({"wandb", "__pycache__", ".cache", "confusion", "node_modules"})

NO_HAND_ADVICE = (
    "Use a plain background, keep the whole hand in the frame, add more light, "
    "or move closer to the camera."
)


# --------------------------------------------------------------------------------------------
# Models: discovery and description
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelChoice:
    """One model the user can pick: `path` is the checkpoint's `.json` metadata file."""

    name: str
    path: Path
    description: str
    is_default: bool = False

    @property
    def key(self) -> str:
        return checkpoint_key(self.path)


def checkpoint_key(path: str | os.PathLike[str]) -> str:
    """One spelling per checkpoint, whichever of its files or its stem was given.

    The Runs page hands over the weights path (`.safetensors`), discovery finds the `.json`.
    """
    _, meta_path = checkpoint_paths(path)
    return str(meta_path.resolve())


def describe_input(spec: InputSpec) -> str:
    """What the model reads, in words."""
    if spec.kind == "landmarks":
        return (
            "the 21 hand landmarks MediaPipe finds (x, y, z of each joint), "
            "centred on the wrist and scaled to the hand's size"
        )
    view = (
        "a drawing of the hand's skeleton (landmarks and bones on black)"
        if spec.representation == "skeleton"
        else "a square crop of the photo around the hand"
    )
    size = f"{spec.size}x{spec.size} px, " if spec.size else ""
    colour = "greyscale" if spec.channels == 1 else "colour"
    if spec.kind == "sequence":
        return f"{view} ({size}{colour}), as a sequence of {spec.sequence_length} frames"
    return f"{view} ({size}{colour})"


def short_input(spec: InputSpec) -> str:
    """Two or three words for a model list."""
    if spec.kind == "landmarks":
        return "landmarks"
    name = "skeleton image" if spec.representation == "skeleton" else "hand crop"
    return f"{name} sequence" if spec.kind == "sequence" else name


def describe_classes(class_names: Sequence[str]) -> str:
    """'36 classes: digits 0-9 and letters A-Z', naming any other signs."""
    digits = [name for name in class_names if name in DIGITS]
    letters = [name for name in class_names if name in LETTERS]
    others = [name for name in class_names if name not in DIGITS and name not in LETTERS]
    parts = []
    if digits:
        parts.append(_span("digits", digits, DIGITS))
    if letters:
        parts.append(_span("letters", letters, LETTERS))
    if others:
        parts.append("other signs " + ", ".join(others))
    return f"{len(class_names)} classes: " + " and ".join(parts)


def _span(kind: str, present: Sequence[str], alphabet: Sequence[str]) -> str:
    if len(present) == len(alphabet):
        return f"{kind} {alphabet[0]}-{alphabet[-1]}"
    if len(present) > 6:
        missing = [name for name in alphabet if name not in present]
        return f"{kind} {alphabet[0]}-{alphabet[-1]} except {', '.join(missing)}"
    return f"{kind} {', '.join(present)}"


@dataclass(frozen=True)
class Metric:
    """One honest number for people: a label, the value as text, and what it means."""

    label: str
    value: str
    help: str
    key: str


# Which metric keys mean what; the first matching pattern wins. The order is the order shown:
# the number users feel (people the model never saw) before the optimistic random split.
_METRIC_KINDS: tuple[tuple[str, str, str], ...] = (
    (
        r"outside|other_people|in_the_wild",
        "on photos of other people and rooms",
        "Photos of people and rooms outside both training sets.",
    ),
    (
        r"loso|unseen_signer|leave_one_signer",
        "on unseen signers",
        "Leave-one-signer-out: trained without one person, tested on that person. "
        "The number to expect on your own hand.",
    ),
    (
        r"lodo|unseen_dataset|leave_one_dataset",
        "on an unseen dataset",
        "Trained without one dataset, tested on it: another camera, room and light.",
    ),
    (
        r"random",
        "on a random split",
        "Test photos drawn at random from the same people and lighting as training: optimistic.",
    ),
    (
        r"(^|_)(test|val)(_|$)",
        "on held-out photos",
        "Photos held out from training; the model card says how they were chosen.",
    ),
)


def _measure(key: str) -> str | None:
    """'Accuracy', 'Macro F1' ...; None for keys that are not a score (a loss, a count)."""
    if "loss" in key or "epoch" in key or "count" in key or "time" in key:
        return None
    if "f1" in key:
        return "F1"
    return "Accuracy"


def headline_metrics(metrics: Mapping[str, Any]) -> list[Metric]:
    """The checkpoint's metrics as labelled numbers, unseen-signer accuracy first.

    Fractions in [0, 1] are shown as percentages; keys that match no known kind keep their
    own name. Non-numeric values (nested dicts, lists) are left out.
    """
    ranked: list[tuple[int, Metric]] = []
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            continue
        text = f"{value:.1%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"
        lowered = key.lower()
        measure = _measure(lowered)
        for rank, (pattern, phrase, meaning) in enumerate(_METRIC_KINDS):
            if measure is not None and re.search(pattern, lowered):
                label = f"{measure} {phrase}"
                if re.search(r"(^|_)std($|_)", lowered):
                    label += " (std)"
                ranked.append((rank, Metric(label, text, f"{meaning} (`{key}`)", key)))
                break
        else:
            label = key.replace("_", " ")
            ranked.append((len(_METRIC_KINDS), Metric(label, text, f"`{key}`", key)))
    ranked.sort(key=lambda item: item[0])
    return [metric for _, metric in ranked]


def describe_checkpoint(meta: CheckpointMeta) -> str:
    """One line for a model list: architecture, what it reads, classes, best honest number."""
    parts = [meta.architecture, short_input(meta.input_spec), f"{meta.num_classes} classes"]
    numbers = headline_metrics(meta.metrics)
    if numbers:
        parts.append(f"{numbers[0].label.lower()} {numbers[0].value}")
    return " · ".join(parts)


def model_card_path(model_path: str | os.PathLike[str]) -> Path:
    """Where a model's card lives: `MODEL_CARD.md` in the checkpoint's folder."""
    return Path(model_path).parent / MODEL_CARD_NAME


def read_model_card(model_path: str | os.PathLike[str]) -> str | None:
    """The card's Markdown, or None when there is none (or it cannot be read)."""
    path = model_card_path(model_path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def first_markdown_table(text: str) -> str | None:
    """The first pipe table in a Markdown text (the card's key numbers), or None."""
    lines = text.splitlines()
    for start in range(len(lines) - 1):
        header, rule = lines[start].strip(), lines[start + 1].strip()
        if header.startswith("|") and re.fullmatch(r"\|?[\s:|-]*-[\s:|-]*\|?", rule):
            end = start + 2
            while end < len(lines) and lines[end].strip().startswith("|"):
                end += 1
            return "\n".join(line.strip() for line in lines[start:end])
    return None


def _run_name(folder: Path, runs_root: Path) -> str:
    try:
        return folder.relative_to(runs_root).as_posix() or folder.name
    except ValueError:
        return folder.name


def choice_for_checkpoint(
    path: str | os.PathLike[str], runs_root: Path | None = None
) -> ModelChoice:
    """A model choice for one checkpoint (named by its run folder); CheckpointError if broken."""
    weights_path, meta_path = checkpoint_paths(path)
    meta = read_meta(meta_path)
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path.name} is missing beside {meta_path.name}")
    folder = meta_path.parent
    name = _run_name(folder, runs_root) if runs_root is not None else folder.name
    return ModelChoice(name=name, path=meta_path, description=describe_checkpoint(meta))


def discover_models(
    runs_root: str | os.PathLike[str] | None, default_model: str | os.PathLike[str] | None
) -> list[ModelChoice]:
    """The shipped default model first, then every usable run checkpoint, newest first.

    A run folder whose checkpoint is corrupted or lacks its weights is left out (the Runs page
    says what is wrong with it); one broken run never breaks the list.
    """
    choices: list[ModelChoice] = []
    if default_model is not None:
        _, default_meta = checkpoint_paths(default_model)
        try:
            meta = read_meta(default_meta)
        except CheckpointError as error:
            logger.warning("default model not listed: %s", error)
        else:
            choices.append(
                ModelChoice(
                    name=DEFAULT_MODEL_NAME,
                    path=default_meta,
                    description=describe_checkpoint(meta),
                    is_default=True,
                )
            )
    if runs_root is None:
        return choices
    root = Path(runs_root)
    found: list[tuple[float, ModelChoice]] = []
    for meta_path in _checkpoint_files(root):
        try:
            choice = choice_for_checkpoint(meta_path, root)
            mtime = meta_path.stat().st_mtime
        except (CheckpointError, OSError) as error:
            logger.info("skipping %s: %s", meta_path, error)
            continue
        found.append((mtime, choice))
    found.sort(key=lambda item: (-item[0], item[1].name))
    seen = {choice.key for choice in choices}
    for _, choice in found:
        if choice.key not in seen:
            seen.add(choice.key)
            choices.append(choice)
    return choices


def _checkpoint_files(root: Path) -> Iterable[Path]:
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        # Prune in place so os.walk does not descend into W&B's copies and the like.
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS)
        if CHECKPOINT_FILE in files:
            yield Path(folder) / CHECKPOINT_FILE


@dataclass(frozen=True)
class ModelSelection:
    """The list to show, which entry to preselect, and why a requested model was not used."""

    choices: list[ModelChoice]
    index: int
    problem: str | None = None


def select_model(
    choices: Sequence[ModelChoice], requested: str | os.PathLike[str] | None
) -> ModelSelection:
    """Preselect the requested checkpoint (the Runs page's `selected_checkpoint`).

    A checkpoint outside the runs folder (the Runs page can browse any folder) is added to the
    list; one that cannot be read is not, and `problem` says why.
    """
    listed = list(choices)
    if not requested:
        return ModelSelection(listed, 0)
    key = checkpoint_key(requested)
    for index, choice in enumerate(listed):
        if choice.key == key:
            return ModelSelection(listed, index)
    try:
        extra = choice_for_checkpoint(requested)
    except (CheckpointError, OSError) as error:
        return ModelSelection(
            listed, 0, f"The model chosen on the Runs page cannot be used: {error}"
        )
    listed.append(extra)
    return ModelSelection(listed, len(listed) - 1)


def class_filter_problem(class_names: Sequence[str], classes: ClassFilter) -> str | None:
    """Why a class filter cannot be used with this model (e.g. digits on a letters-only model)."""
    if any(allowed_mask(class_names, classes)):
        return None
    return f"This model knows no {classes}; answering from all its classes instead."


# --------------------------------------------------------------------------------------------
# One file -> one result
# --------------------------------------------------------------------------------------------


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
    Outcome.NOT_AN_IMAGE: "Upload a photo as JPEG, PNG, WebP or BMP.",
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
            advice=NO_HAND_ADVICE,
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
        note=hands_note(prediction.num_hands),
        preview=preview,
        crop=crop,
        skeleton=skeleton,
        **common,
    )


# --------------------------------------------------------------------------------------------
# A batch -> table and CSV
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Home page example
# --------------------------------------------------------------------------------------------

EXAMPLE_SIGNS: tuple[str, ...] = ("a", "s", "l")
"""The Home page draws the skeletons of these signs, read at runtime from the dataset."""


def example_photos(
    data_root: str | os.PathLike[str], labels: Sequence[str] = EXAMPLE_SIGNS
) -> list[tuple[str, Path]]:
    """(label, photo) for each example sign found in the Massey set; [] when it is absent.

    The photos are read where they are (never copied into the repository) and only their
    skeletons are shown.
    """
    root = Path(data_root) / "massey36" / "images"
    found = []
    for label in labels:
        photo = root / label / f"hand1_{label}_bot_seg_1_cropped.jpeg"
        if not photo.is_file():
            candidates = sorted((root / label).glob("*.jpeg")) if (root / label).is_dir() else []
            if not candidates:
                continue
            photo = candidates[0]
        found.append((label.upper(), photo))
    return found


def example_skeletons(
    detector: HandDetector, photos: Sequence[tuple[str, Path]], size: int = VIEW_SIDE
) -> list[tuple[str, np.ndarray]]:
    """(label, skeleton image) for each example photo whose hand is found; unreadable skipped."""
    skeletons = []
    for label, photo in photos:
        try:
            det = detector.detect(load_image(photo))
        except (ImageError, OSError) as error:
            logger.info("example %s skipped: %s", photo, error)
            continue
        if det is not None:
            skeletons.append((label, skeleton_image(det, size)))
    return skeletons


__all__ = [
    "CSV_COLUMNS",
    "NO_HAND_ADVICE",
    "TABLE_COLUMNS",
    "UPLOAD_TYPES",
    "FileResult",
    "Metric",
    "ModelChoice",
    "ModelSelection",
    "Outcome",
    "batch_summary",
    "class_filter_problem",
    "classify_file",
    "describe_checkpoint",
    "describe_classes",
    "describe_input",
    "discover_models",
    "example_photos",
    "example_skeletons",
    "first_markdown_table",
    "headline_metrics",
    "read_model_card",
    "results_csv",
    "results_table",
    "select_model",
]
