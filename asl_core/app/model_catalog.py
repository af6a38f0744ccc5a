"""Which models the app can offer: discovery, descriptions, model cards, selection."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl_core.app.classify import logger
from asl_core.inference.predictor import DEFAULT_THRESHOLD, threshold_default
from asl_core.labels import DIGITS, LETTERS, ClassFilter, allowed_mask
from asl_core.models.checkpoint import CheckpointError, CheckpointMeta, checkpoint_paths, read_meta
from asl_core.runs.format import CHECKPOINT_META_FILE, CONFUSION_DIR, WANDB_DIR
from asl_core.vision.spec import InputSpec, Representation

DEFAULT_MODEL_NAME = "Shipped default model"


MODEL_CARD_NAME = "MODEL_CARD.md"


# Folders under the runs folder that never hold a run's own checkpoint.
SKIPPED_FOLDERS = frozenset({WANDB_DIR, CONFUSION_DIR, "__pycache__", ".cache", "node_modules"})


@dataclass(frozen=True)
class ModelChoice:
    """One model the user can pick: `path` is the checkpoint's `.json` metadata file.
    `threshold` and `threshold_source`: the confidence threshold it is answered at unless the
    user moves the slider, and where that comes from (`predictor.threshold_default`: its own
    calibration, or the shipped model's default), read from the metadata alone so a page can
    show it before the model is loaded."""

    name: str
    path: Path
    description: str
    is_default: bool = False
    threshold: float = DEFAULT_THRESHOLD
    threshold_source: str = ""

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
    if spec.representation == Representation.HANDFRAME:
        return (
            "the 21 hand landmarks MediaPipe finds, seen from the hand itself (positions in the "
            "palm's own frame, how the palm is turned, distances and joint angles), so a hand "
            "turned sideways reads as the same handshape"
        )
    if spec.kind == "landmarks":
        return (
            "the 21 hand landmarks MediaPipe finds (x, y, z of each joint), "
            "centred on the wrist and scaled to the hand's size"
        )
    view = (
        "a drawing of the hand's skeleton (landmarks and bones on black)"
        if spec.representation == Representation.SKELETON
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
    name = "skeleton image" if spec.representation == Representation.SKELETON else "hand crop"
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
    return _choice(name, meta_path, meta)


def _choice(
    name: str, meta_path: Path, meta: CheckpointMeta, *, is_default: bool = False
) -> ModelChoice:
    """The choice for a checkpoint whose metadata is read, with its default threshold
    (`threshold_default`; a damaged record: CheckpointError)."""
    default = threshold_default([(meta, meta_path.name)])
    return ModelChoice(
        name=name,
        path=meta_path,
        description=describe_checkpoint(meta),
        is_default=is_default,
        threshold=default.value,
        threshold_source=default.source,
    )


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
            choices.append(_choice(DEFAULT_MODEL_NAME, default_meta, meta, is_default=True))
        except CheckpointError as error:
            logger.warning("default model not listed: %s", error)
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
        if CHECKPOINT_META_FILE in files:
            yield Path(folder) / CHECKPOINT_META_FILE


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
