"""From class probabilities to the answer a still photo gets: one rule for the app and the
evaluation that chose its threshold.

J and Z are the two fingerspelled letters made with motion (J: the I handshape drawing a J;
Z: the index finger drawing a Z). A still photo cannot show them, so a still photo is never
answered J or Z: their probability is taken out and the rest renormalised. When J or Z was the
model's best reading, the answer is the best other class, never accepted, with a note saying
why ("looks like I; J needs the motion"). The live page types J and Z from the fingertip's
path instead (`asl_core.inference.motion`).

Below the threshold an answer is "unsure" (accepted False); `asl_core.inference.calibration`
chooses the threshold on people the model never saw.

An answer restricted to letters (or digits) that is unsure, while the unrestricted reading is
confidently the other group, gets a note saying so and how to widen the classes where the
person reads it (`Interface`): "looks like the digit 5: switch to Letters and digits" in the
app, "... use --classes all" from the command line, "... use classes=all" from the HTTP API
(`other_group_note`). O/0, V/2 and W/6 are one handshape (`SAME_HANDSHAPE`): the restriction
exists to choose between them, so they never give this note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from asl_core.inference.motion import MOTION_LETTERS
from asl_core.labels import CLASS_FILTER_NAMES, DIGITS, LETTERS, ClassFilter

TOP_K = 5
"""Most classes an answer lists (`top`): the command line's `--top` and the HTTP API's `top`
choose 1 to this many (`check_top`)."""


SAME_HANDSHAPE: frozenset[str] = frozenset("O0V2W6")
"""Letters and digits signed with one handshape (O/0, V/2, W/6): only the class filter tells
them apart, so `other_group_note` never names them."""


class Interface(StrEnum):
    """Where a person reads the answer: each has its own way to answer with every class."""

    APP = "app"
    CLI = "cli"
    API = "api"

    @property
    def all_classes_remedy(self) -> str:
        """How to ask for letters and digits here: the app's switch, the command line's
        option or the HTTP API's query parameter."""
        return {
            Interface.APP: f"switch to {CLASS_FILTER_NAMES['all']}",
            Interface.CLI: "use --classes all",
            Interface.API: "use classes=all",
        }[self]


@dataclass(frozen=True)
class StillAnswer:
    """index: the answered class; confidence: its probability with J and Z taken out;
    motion_like: J or Z was the best reading (then never accepted); note: why, for a person."""

    index: int
    confidence: float
    accepted: bool
    motion_like: bool
    note: str | None = None


def check_top(value: int | str) -> int:
    """`value` as the number of classes to list, 1 to `TOP_K`: the one check of the command
    line's `--top` and the HTTP API's `top`. Raises ValueError saying the range otherwise."""
    try:
        top = int(value)
    except ValueError:
        raise ValueError(f"top must be a whole number from 1 to {TOP_K}, got {value!r}") from None
    if not 1 <= top <= TOP_K:
        raise ValueError(
            f"top must be from 1 to {TOP_K} (the model lists at most {TOP_K} classes), got {top}"
        )
    return top


def check_threshold(value: float | str) -> float:
    """`value` as a confidence threshold: a finite number from 0 to 1, the one check of the
    command line's `--threshold` and the HTTP API's `threshold`. Raises ValueError saying
    so otherwise (nan and inf included)."""
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"threshold must be a number from 0 to 1, got {value!r}") from None
    if not 0.0 <= threshold <= 1.0:  # nan compares false: refused too
        raise ValueError(f"threshold must be a finite number from 0 to 1, got {value}")
    return threshold


def motion_mask(class_names: Sequence[str]) -> np.ndarray:
    """(classes,) bool: which classes are motion letters (`motion.MOTION_LETTERS`: J, Z)."""
    return np.array([name in MOTION_LETTERS for name in class_names], dtype=bool)


def still_probabilities(probs: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """`probs` (..., classes) with the motion letters' probability taken out and the rest
    renormalised; rows that hold nothing else are returned unchanged."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape[-1] != len(class_names):
        raise ValueError(f"expected probabilities (..., {len(class_names)}), got {probs.shape}")
    still = np.where(motion_mask(class_names), 0.0, probs)
    total = still.sum(axis=-1, keepdims=True)
    return np.where(total > 0, still / np.where(total > 0, total, 1.0), probs)


def still_answers(
    probs: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(answer index, confidence, motion_like) for each row of `probs` (N, classes).

    Vectorised form of `still_answer` without the threshold (the evaluation applies it). A
    row whose probability is all on motion letters keeps its best motion letter, motion_like.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"expected probabilities (N, {len(class_names)}), got {probs.shape}")
    still = still_probabilities(probs, class_names)
    index = still.argmax(axis=1)
    motion = motion_mask(class_names)
    motion_like = motion[probs.argmax(axis=1)] | motion[index]
    return index, still[np.arange(len(index)), index], motion_like


def still_answer(probs: np.ndarray, class_names: Sequence[str], threshold: float) -> StillAnswer:
    """The answer to one still photo from its probabilities (classes,) (module doc)."""
    index, confidence, motion_like = still_answers(np.asarray(probs)[None, :], class_names)
    i, conf, motion = int(index[0]), float(confidence[0]), bool(motion_like[0])
    note = None
    if motion:
        best = class_names[int(np.argmax(probs))]
        looks = "" if class_names[i] in MOTION_LETTERS else f"looks like {class_names[i]}; "
        note = f"{looks}{best} needs the motion"
    return StillAnswer(i, conf, accepted=not motion and conf >= threshold, motion_like=motion,
                       note=note)  # fmt: skip


def other_group_note(
    all_probs: np.ndarray,
    class_names: Sequence[str],
    classes: ClassFilter,
    threshold: float,
    interface: Interface = Interface.APP,
) -> str | None:
    """The note for an answer restricted to `classes` whose unrestricted reading is the other
    group: "looks like the digit 5: " and `interface.all_classes_remedy` ("switch to Letters
    and digits" in the app); None otherwise.

    all_probs: (classes,) probabilities with no class masked. The unrestricted still answer
    (`still_answer`: never J or Z) must reach `threshold`, be a digit when `classes` is
    "letters" (a letter when "digits"), and not be one of `SAME_HANDSHAPE`.
    """
    if classes == "all":
        return None
    answer = still_answer(all_probs, class_names, threshold)
    name = class_names[answer.index]
    other, kind = (DIGITS, "digit") if classes == "letters" else (LETTERS, "letter")
    if not answer.accepted or name not in other or name in SAME_HANDSHAPE:
        return None
    return f"looks like the {kind} {name}: {interface.all_classes_remedy}"
