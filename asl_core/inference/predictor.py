"""From an image to a thresholded answer: the seed 000 section 4.5 pipeline for photos.

`Predictor` loads one checkpoint, or several as an ensemble (softmax averaged, seed 000
4.4.6), finds the hand, builds what the model reads, and answers with the top classes. Below
the confidence threshold the answer is "unsure" (`accepted=False`), never a confident random
letter; with no hand there is no label at all. A still photo is never answered J or Z
(`answers.still_answer`: "looks like I; J needs the motion"). A checkpoint that records a
calibration (`extra["calibration"]`, fitted on held-out people by `training.model_card`, or by
a training run on validation people it never trained on: `asl_core.training.calibrate`) has
its logits divided by that temperature before the softmax, and its threshold is the default
(`threshold_default`); a model that records none gets `DEFAULT_THRESHOLD`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asl_core.inference.answers import (
    TOP_K,
    Interface,
    other_group_note,
    still_answer,
    still_probabilities,
)
from asl_core.labels import ClassFilter, allowed_mask
from asl_core.models.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint
from asl_core.models.onnx_model import ONNX_SUFFIX, OnnxModel
from asl_core.models.registry import AslModel
from asl_core.settings import DEFAULT_MODEL as DEFAULT_MODEL  # defined in settings, for training
from asl_core.settings import default_model_path
from asl_core.vision.hands import HandDetection, HandDetector
from asl_core.vision.photo_stats import no_hand_hints
from asl_core.vision.tensors import HandReading, detection_input

DEFAULT_THRESHOLD = 0.72
"""The shipped model's calibrated threshold (asl_core/default_model/model.json,
`extra.calibration`: 0.718): on people it never saw (leave people out, 12 people), answers at
or above it were 95.0% right and covered 80.8% of photos (each person weighted once; no-hand
photos unanswered). Chosen by `training.model_card`; a test keeps the two equal. Also the
default of a model that records no threshold of its own (`threshold_default`)."""


UNSURE_FOUND_BY: frozenset[str] = frozenset({"tiles"})
"""Retries of the detector (`HandDetection.found_by`) whose hands are answered unsure whatever
the confidence. Measured by bench/hard_photos.py on 120 real photos (answers above the
threshold): hands found on tiles 0.74 right (95% interval 0.59-0.85) against 0.92 for hands
found at once; on the same grassknoted photos, 0.71 far away against 0.86 as taken. Hands
found by the exposure retry, 0.88 (0.77-0.94), are kept."""


SMALL_HAND_PX = 64
"""Below this longer side of the hand, in pixels of the image MediaPipe read
(`HandDetection.detected_side`), answers are unsure (bench/hard_photos.py: 0.64 right, 95%
interval 0.45-0.80, against 0.92). Hands of 64-127 px scored 0.83-0.85 pooled, but that is the
harder dataset: within each dataset they score as its larger hands do, so they are kept."""


def detection_doubt(det: HandDetection) -> str | None:
    """Why an answer on this hand is unsure whatever its confidence, or None (issue 14)."""
    if det.found_by in UNSURE_FOUND_BY:
        return f"the hand was found only on a retry ({det.found_by})"
    if det.detected_side < SMALL_HAND_PX:
        return f"the hand is small ({det.detected_side} px, reliable from {SMALL_HAND_PX} px)"
    return None


GREYSCALE_UNSURE_HINT = (
    "The photo has no colour (it looks greyscale): hands in greyscale photos are read less "
    "surely; a colour photo helps."
)
"""The hint for an unsure answer on a greyscale photo (`photo_stats`' "no colour" test).
Measured on 124 real photos (2 a class of aslhg and grassknoted_letters, drawn with seed 0)
and their greyscale copies, with the shipped model on every class: a hand found in 114 against
63; of the 62 found in both, 56 answered sure in colour against 42 in greyscale; mean
confidence 0.92 against 0.82."""


def _colourless(rgb: np.ndarray) -> bool:
    """A greyscale photo, by `photo_stats`' own "no colour" test (not judged when dark)."""
    return any(hint.code == "no colour" for hint in no_hand_hints(rgb))


class ModelNotAvailable(FileNotFoundError):
    """The model file asked for (or the shipped default) is not there."""


@dataclass
class Prediction:
    """One answer. `label` is the top-1 class even when not accepted; None only with no hand."""

    label: str | None
    confidence: float
    accepted: bool
    hand: bool
    top: list[tuple[str, float]] = field(default_factory=list)
    detection: HandDetection | None = None
    mirrored: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    note: str | None = None  # why the answer is what it is ("looks like I; J needs the motion")
    hints: list[str] = field(default_factory=list)
    """Likely causes and what to do, most likely first: with no hand, those measured on the
    photo (`photo_stats.no_hand_hints`); for an unsure answer on a greyscale photo,
    `GREYSCALE_UNSURE_HINT`. Computed once, by `Predictor.predict_image`."""

    @property
    def advice(self) -> str | None:
        """The first hint (the JSON's `advice`), None when there is none."""
        return self.hints[0] if self.hints else None

    @property
    def num_hands(self) -> int:
        return self.detection.num_hands if self.detection else 0

    @property
    def display_label(self) -> str:
        """What a person is shown: the letter, 'unsure (A?)', or 'no hand'."""
        if not self.hand:
            return "no hand"
        if self.note:
            return f"unsure ({self.note})"
        return self.label if self.accepted else f"unsure ({self.label}?)"

    def to_json(self, path: str | None = None, top: int = TOP_K) -> dict[str, Any]:
        """The command line's JSON line (and the HTTP API's body), listing the `top` most
        likely classes (`answers.check_top`)."""
        record: dict[str, Any] = {"path": path} if path is not None else {}
        record.update(
            label=self.label,
            confidence=round(self.confidence, 4),
            accepted=self.accepted,
            hand=self.hand,
            top=[[name, round(p, 4)] for name, p in self.top[:top]],
        )
        if self.note:
            record["note"] = self.note
        if not self.hand or self.hints:
            record["advice"] = self.advice  # with no hand: None when no cause shows
        return record


@dataclass
class LoadedModel:
    model: AslModel | OnnxModel
    meta: CheckpointMeta
    path: Path

    @property
    def temperature(self) -> float:
        """The calibration temperature the checkpoint records (1.0 when it records none)."""
        calibration = self.meta.extra.get("calibration")
        value = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else 1.0
        if not isinstance(value, int | float) or not 0.01 <= float(value) <= 100:
            raise CheckpointError(
                f"{self.path.name}: calibration temperature {value!r} is not a number in "
                "[0.01, 100]; restore the file or save the checkpoint again"
            )
        return float(value)


def recorded_threshold(meta: CheckpointMeta, name: str) -> float | None:
    """The calibrated threshold `meta.extra["calibration"]` records, None when it records none.

    Raises CheckpointError (naming the file `name`) when the record is there but is not a
    finite number from 0 to 1 (a hand-edited or damaged file: nan, 1.5, "high", true).
    """
    calibration = meta.extra.get("calibration")
    if not isinstance(calibration, dict) or calibration.get("threshold") is None:
        return None
    value = calibration["threshold"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise CheckpointError(
            f"{name}: calibration threshold {value!r} is not a number from 0 to 1; restore the "
            "file or save the checkpoint again"
        )
    return float(value)


@dataclass(frozen=True)
class ThresholdDefault:
    """The threshold a model is answered at when nobody chooses one, and where it comes from.

    value: the recorded threshold rounded UP to the next 0.01 (the shipped model records
    0.7181: 0.72, `DEFAULT_THRESHOLD`; rounding up never accepts an answer the calibration
    left unsure, and sliders and `--threshold` speak in hundredths), else `DEFAULT_THRESHOLD`.
    recorded: the exact recorded value, None when there is none. source: for a person, e.g.
    "this model's calibration (1 person it never trained on ...): answers at or above it
    were 96% right, 71% of photos answered" or "the shipped model's default: this model
    records no calibration (why, when the run said)".
    """

    value: float
    recorded: float | None
    source: str


def _calibration_words(record: dict[str, Any]) -> str:
    """What a calibration record says it was fitted on and measured, in words."""
    fitted_on, accuracy, coverage = (
        record.get(key) for key in ("fitted_on", "accepted_accuracy", "coverage")
    )
    words = f"this model's calibration ({fitted_on})" if fitted_on else "this model's calibration"
    if isinstance(accuracy, int | float) and isinstance(coverage, int | float):
        words += (
            f": answers at or above it were {accuracy:.0%} right, {coverage:.0%} of photos answered"
        )
    return words


def rounded_threshold(recorded: float) -> float:
    """A recorded threshold rounded up to the next 0.01 (`ThresholdDefault.value`)."""
    return math.ceil(recorded * 100 - 1e-9) / 100


def threshold_default(models: Sequence[tuple[CheckpointMeta, str]]) -> ThresholdDefault:
    """The default threshold of a model, or an ensemble, from its checkpoints' metadata
    `(meta, file name)` (cheap: no weights are read, so a page can show it before loading).

    An ensemble takes its first model's record, and says so: each model was calibrated alone,
    not on the averaged answers. Raises CheckpointError for a damaged record
    (`recorded_threshold`) in any of them.
    """
    if not models:
        raise ValueError("at least one checkpoint is needed")
    recorded = [recorded_threshold(meta, name) for meta, name in models]
    first_meta, _ = models[0]
    if recorded[0] is None:
        note = first_meta.extra.get("calibration_note")
        why = f" ({note})" if isinstance(note, str) and note else ""
        return ThresholdDefault(
            DEFAULT_THRESHOLD,
            None,
            f"the shipped model's default ({DEFAULT_THRESHOLD:.2f}): this model records no "
            f"calibration{why}",
        )
    value = rounded_threshold(recorded[0])
    source = _calibration_words(first_meta.extra["calibration"])
    if len(models) > 1:
        source = f"the first model's threshold, calibrated on it alone: {source}"
    return ThresholdDefault(value, recorded[0], source)


def load_models(paths: Sequence[str | os.PathLike[str]]) -> list[LoadedModel]:
    """Load checkpoints for an ensemble; they must answer the same classes.

    A path ending in `.onnx` is an exported model run by onnxruntime (`OnnxModel`); any other
    path is a safetensors checkpoint. TorchScript files are never loaded (they can run code).
    """
    if not paths:
        raise ValueError("at least one checkpoint is needed")
    loaded = []
    for path in paths:
        path = Path(path)
        if path.suffix == ONNX_SUFFIX:
            if not path.is_file():
                raise ModelNotAvailable(f"no model at {path}")
            exported = OnnxModel(path)
            loaded.append(LoadedModel(exported, exported.meta, path))
            continue
        if not path.with_suffix(".json").exists() and not path.exists():
            raise ModelNotAvailable(f"no model at {path}")
        checkpoint = load_checkpoint(path)
        loaded.append(LoadedModel(checkpoint.model.eval(), checkpoint.meta, checkpoint.path))
    names = loaded[0].meta.class_names
    for other in loaded[1:]:
        if sorted(other.meta.class_names) != sorted(names):
            raise CheckpointError(
                f"{other.path.name} answers different classes from {loaded[0].path.name}; "
                "an ensemble needs the same classes"
            )
    return loaded


class Predictor:
    """Image in, `Prediction` out. Heavy: build once per process and reuse.

    threshold: below it the answer is unsure (seed 000, 4.5.5 and 4.5.9). None (the default):
        the threshold the model records (`default_threshold`, `threshold_source`: the value
        `threshold_default` gives), else `DEFAULT_THRESHOLD`.
    mirror: image models also read the mirrored photo and keep the more confident reading
        (seed 000, 4.5.5), which rescues left hands. Landmark models read the hand once:
        `landmark_vector` already puts a left hand onto the right one by MediaPipe's label,
        and the shipped model was trained on both hands, so a wrong label does not matter
        either. Reading the mirrored landmarks too only misleads a model trained on one hand
        (held-out people: 0.817 against 0.871 for `landmark_mlp` on the three sets).
    classes: "letters", "digits" or "all": O/0, V/2 and W/6 are one handshape, so someone
        spelling words asks for letters only and the digits are masked out.
    interface: where the answers are read (the app, the command line, the HTTP API): a note
        that tells the person to answer with every class says how in that interface.
    """

    def __init__(
        self,
        models: Sequence[str | os.PathLike[str]] | None = None,
        *,
        threshold: float | None = None,
        mirror: bool = True,
        classes: ClassFilter = "all",
        detector: HandDetector | None = None,
        interface: Interface = Interface.APP,
    ) -> None:
        paths = list(models) if models else [default_model_path()]
        if not models and not paths[0].exists():
            raise ModelNotAvailable(
                f"the default model {paths[0]} is missing; train one with "
                "`python -m training.train` and pass --model, or restore the file from git"
            )
        self.models = load_models(paths)
        for loaded in self.models:
            _ = loaded.temperature  # a damaged calibration record is refused here, at load
        chosen = threshold_default([(m.meta, m.path.name) for m in self.models])
        self.default_threshold = chosen.value
        self.threshold_source = chosen.source
        self.reads_images = any(m.model.input_spec.kind != "landmarks" for m in self.models)
        self.class_names = list(self.models[0].meta.class_names)
        self.threshold = self.default_threshold if threshold is None else threshold
        self.mirror = mirror
        self.classes = classes
        self.interface = interface
        # per (model, class filter): its allowed-class mask, where each of `class_names` sits
        # among its own classes, its temperature (`_class_view`; the live page reads 30 a second)
        self._class_views: dict[tuple[int, ClassFilter], tuple[torch.Tensor, np.ndarray, float]]
        self._class_views = {}
        self._owns_detector = detector is None
        self.detector = detector or HandDetector(mode="image")

    @property
    def name(self) -> str:
        return " + ".join(m.path.stem for m in self.models)

    @property
    def description(self) -> str:
        """What is being served, for a person: "default model (handframe_mlp)" for the
        shipped model, else each file as given with its architecture, " + " between."""
        default = default_model_path().resolve()
        return " + ".join(
            f"default model ({m.meta.architecture})"
            if m.path.resolve() == default
            else f"{m.path} ({m.meta.architecture})"
            for m in self.models
        )

    @property
    def meta(self) -> CheckpointMeta:
        return self.models[0].meta

    def close(self) -> None:
        if self._owns_detector:
            self.detector.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def predict_image(self, rgb: np.ndarray, **options: Any) -> Prediction:
        """Detect the hand in a photo and classify it; `hints` say why there is no hand, or
        that a greyscale photo is read less surely when the answer is unsure for no other
        reason (no note)."""
        start = time.perf_counter()
        det = self.detector.detect(rgb)
        detect_ms = 1000 * (time.perf_counter() - start)
        prediction = self.predict_detection(rgb, det, **options)
        prediction.timings_ms = {"detect": detect_ms, **prediction.timings_ms}
        if not prediction.hand:
            prediction.hints = [hint.message for hint in no_hand_hints(rgb)]
        elif not prediction.accepted and prediction.note is None and _colourless(rgb):
            prediction.hints = [GREYSCALE_UNSURE_HINT]
        return prediction

    def predict_detection(
        self,
        rgb: np.ndarray,
        det: HandDetection | None,
        *,
        threshold: float | None = None,
        mirror: bool | None = None,
        classes: ClassFilter | None = None,
        force_mirror: bool = False,
    ) -> Prediction:
        """Classify a hand already found (the stream recogniser detects on its own).

        force_mirror: read the hand as a left hand only (a signer who said so), whatever
        MediaPipe's label says.
        The answer is never J or Z (`answers.still_answer`); `top` lists the probabilities
        with those two taken out. An unsure answer restricted to letters or digits is read
        once more unrestricted, and its note says when that is confidently the other group
        (`answers.other_group_note`).
        """
        threshold = self.threshold if threshold is None else threshold
        mirror = (self.mirror if mirror is None else mirror) and self.reads_images
        classes = self.classes if classes is None else classes
        if det is None:
            return Prediction(label=None, confidence=0.0, accepted=False, hand=False)
        start = time.perf_counter()
        sides: list[HandReading] = (
            ["left"] if force_mirror else ["detected", "other"] if mirror else ["detected"]
        )
        inputs = [self.inputs(rgb, det, reading=side) for side in sides]
        preprocess_ms = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        readings = [self.probabilities(batch, classes) for batch in inputs]
        model_ms = 1000 * (time.perf_counter() - start)
        best = max(range(len(readings)), key=lambda i: float(readings[i].max()))
        probs = readings[best]
        answer = still_answer(probs, self.class_names, threshold)
        still = still_probabilities(probs, self.class_names)
        order = np.argsort(-still)[:TOP_K]
        top = [(self.class_names[i], float(still[i])) for i in order if still[i] > 0]
        note = answer.note
        if not answer.accepted and classes != "all":
            # unsure among the allowed classes: is it confidently a class of the other group?
            # (said before "J needs the motion": a digit 1 read as letters looks like a Z)
            unrestricted = self.probabilities(inputs[best], "all")
            note = (
                other_group_note(unrestricted, self.class_names, classes, threshold, self.interface)
                or note
            )
        return Prediction(
            label=self.class_names[answer.index],
            confidence=answer.confidence,
            accepted=answer.accepted and detection_doubt(det) is None,
            hand=True,
            top=top,
            detection=det,
            mirrored=sides[best] != "detected",
            timings_ms={"preprocess": preprocess_ms, "model": model_ms},
            note=note,
        )

    @staticmethod
    def _input_key(spec: Any) -> tuple[Any, ...]:
        return (spec.kind, spec.representation, spec.size, spec.channels, spec.mean, spec.std)

    def inputs(
        self, rgb: np.ndarray, det: HandDetection, *, reading: HandReading = "detected"
    ) -> dict[tuple[Any, ...], torch.Tensor]:
        """What each model of the ensemble reads (a batch of one), built once per input kind.
        reading: which hand to take the detection for (`vision.tensors.detection_input`)."""
        built: dict[tuple[Any, ...], torch.Tensor] = {}
        for loaded in self.models:
            spec = loaded.model.input_spec
            key = self._input_key(spec)
            if key not in built:
                built[key] = detection_input(rgb, det, spec, reading=reading).unsqueeze(0)
        return built

    @torch.inference_mode()
    def probabilities(
        self, inputs: dict[tuple[Any, ...], torch.Tensor], classes: ClassFilter = "all"
    ) -> np.ndarray:
        """Softmax over `class_names` of logits / each model's calibration temperature,
        averaged over the ensemble, other classes masked. `inputs` from `inputs()`."""
        total = np.zeros(len(self.class_names), dtype=np.float64)
        for number, loaded in enumerate(self.models):
            mask, order, temperature = self._class_view(number, classes)
            logits = loaded.model(inputs[self._input_key(loaded.model.input_spec)])[0]
            logits = logits.double() / temperature
            probs = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=0).numpy()
            total += probs[order]
        return (total / len(self.models)).astype(np.float32)

    def _class_view(
        self, number: int, classes: ClassFilter
    ) -> tuple[torch.Tensor, np.ndarray, float]:
        """Model `number`'s mask of the classes `classes` allows, the position of each of
        `class_names` among its own classes, and its temperature; made once per filter.
        Raises ValueError when the filter leaves this predictor nothing to answer."""
        key = (number, classes)
        view = self._class_views.get(key)
        if view is None:
            if not any(allowed_mask(self.class_names, classes)):
                raise ValueError(f"this model has no {classes} to answer")
            loaded = self.models[number]
            own = list(loaded.meta.class_names)
            mask = torch.tensor(allowed_mask(own, classes))
            order = np.array([own.index(name) for name in self.class_names])
            view = self._class_views[key] = (mask, order, loaded.temperature)
        return view
