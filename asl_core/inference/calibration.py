"""Calibrated confidence: one temperature fitted on held-out people, and the threshold.

A network's softmax is usually over-confident on people it never saw. Temperature scaling
(Guo, Pleiss, Sun, Weinberger 2017, "On Calibration of Modern Neural Networks", ICML) divides
the logits by one number T > 0 fitted by minimising the negative log-likelihood on held-out
data; it changes the confidence, never the ranking of the classes. Here "held-out" means the
photos of people each leave-people-out fold never trained on (`asl_core.data.splits`), so the
confidence speaks about new people.

The threshold is then the lowest confidence at which the answers at or above it are at least
`target` right on those same held-out people (`choose_threshold`); `coverage` is the share of
photos whose answer is accepted. Photos with no hand found are outside both: they get no
answer at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

TEMPERATURE_BOUNDS = (0.05, 20.0)
"""Search range of T; a fitted value at either end means the logits carry no usable scale."""


@dataclass(frozen=True)
class Calibration:
    """What the model card and the shipped checkpoint record about calibration.

    temperature: divide logits by it before the softmax. threshold: accept an answer at or
    above this calibrated confidence. accepted_accuracy / coverage: measured at that threshold
    on `count` held-out photos with a hand (`fitted_on` says which).
    """

    temperature: float
    threshold: float
    target: float
    accepted_accuracy: float
    coverage: float
    count: int
    fitted_on: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or labels.shape != (len(logits),) or len(logits) == 0:
        raise ValueError(
            f"expected logits (N, classes) and labels (N,) with N > 0, got {logits.shape} and "
            f"{labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must be class indices in 0..{logits.shape[1] - 1}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or infinity")
    return logits, labels


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` under softmax(logits / temperature)."""
    logits, labels = _check(logits, labels)
    scaled = torch.from_numpy(logits) / temperature
    return float(torch.nn.functional.cross_entropy(scaled, torch.from_numpy(labels)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T minimising the NLL of softmax(logits / T) on held-out data (Guo et al.).

    L-BFGS on log T (so T stays positive), as in the paper's reference code, from T = 1;
    the result is clipped to `TEMPERATURE_BOUNDS`. logits: (N, classes); labels: (N,) class
    indices.
    """
    logits, labels = _check(logits, labels)
    x, y = torch.from_numpy(logits), torch.from_numpy(labels)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(np.clip(float(log_t.detach().exp()), *TEMPERATURE_BOUNDS))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, float64."""
    scaled = torch.from_numpy(np.asarray(logits, dtype=np.float64)) / temperature
    return torch.softmax(scaled, dim=-1).numpy()


def _weights(weight: np.ndarray | None, n: int) -> np.ndarray:
    if weight is None:
        return np.ones(n)
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != (n,) or np.any(weight < 0) or not weight.sum() > 0:
        raise ValueError("weight must be non-negative, one per answer, and not all zero")
    return weight


def choose_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    target: float = 0.95,
    weight: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(threshold, accepted accuracy, coverage) for the widest coverage that is `target` right.

    Answers are sorted by confidence, highest first; the threshold is the confidence of the
    last answer of the longest such prefix whose accuracy is at least `target` (ties at the
    threshold are all accepted, and accuracy is recomputed over them). When not even the most
    confident answer reaches the target, nothing is accepted: the threshold is just above the
    highest confidence, coverage 0 and accuracy NaN. `weight` (one per answer, e.g. 1 / the
    photos of its person, so that every held-out person counts once) weighs both accuracy and
    coverage; a photo with no hand belongs in coverage's denominator with confidence -1.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or len(confidence) == 0:
        raise ValueError("confidence and correct must be equal-length non-empty 1-D arrays")
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target}")
    weight = _weights(weight, len(confidence))
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(weight[order] * correct[order]) / np.maximum(
        np.cumsum(weight[order]), 1e-300
    )
    good = np.flatnonzero(running >= target)
    if len(good) == 0:
        return float(np.nextafter(confidence.max(), np.inf)), float("nan"), 0.0
    threshold = float(confidence[order[good[-1]]])
    return (threshold, *accepted_at(confidence, correct, threshold, weight))


def accepted_at(
    confidence: np.ndarray,
    correct: np.ndarray,
    threshold: float,
    weight: np.ndarray | None = None,
) -> tuple[float, float]:
    """(accepted accuracy, coverage) at a given threshold; accuracy NaN when none accepted."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    weight = _weights(weight, len(confidence))
    accepted = confidence >= threshold
    coverage = float(weight[accepted].sum() / weight.sum())
    if not accepted.any():
        return float("nan"), coverage
    return float(np.average(correct[accepted], weights=weight[accepted])), coverage


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> float:
    """ECE: the confidence-vs-accuracy gap averaged over equal-width confidence bins,
    weighted by how many answers fall in each (Guo et al. 2017, eq. 3)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap = abs(confidence[members].mean() - correct[members].mean())
            total += members.mean() * gap
    return float(total)


CALIBRATION_TARGET = 0.95
"""Accepted answers must be at least this right: the shipped model's target
(`training.model_card --target`, whose calibration gave 0.95 at coverage 0.81)."""


def temperature_at_bound(temperature: float) -> bool:
    """True when a fitted temperature sits at an end of `TEMPERATURE_BOUNDS` (the logits carry
    no usable scale: do not record it)."""
    low, high = TEMPERATURE_BOUNDS
    return not low * 1.001 < temperature < high * 0.999


def still_scores(
    logits: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    has_hand: np.ndarray,
    temperature: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) per photo, (N,) each, as the `Predictor` answers a still photo at
    `temperature`: any class, never J or Z (`answers.still_answers`); a J/Z reading and a photo
    with no hand get confidence -1 (never accepted) and count as wrong."""
    from asl_core.inference.answers import still_answers

    found = np.asarray(has_hand, dtype=bool)
    index, confidence, motion_like = still_answers(
        softmax(np.asarray(logits)[found], temperature), class_names
    )
    scored = np.full(len(found), -1.0)
    scored[found] = np.where(motion_like, -1.0, confidence)
    correct = np.zeros(len(found), dtype=bool)
    correct[found] = index == np.asarray(labels)[found]
    return scored, correct


def calibrate(
    logits: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    has_hand: np.ndarray | None = None,
    person: np.ndarray | None = None,
    target: float = CALIBRATION_TARGET,
    fitted_on: str = "",
) -> Calibration:
    """Temperature and threshold of one model on held-out photos, as the shipped model's were
    chosen (`training.heldout.calibrate`): T fitted (`fit_temperature`) on the photos with a
    hand; each photo answered as the `Predictor` answers it (`still_scores`); the threshold
    chosen (`choose_threshold`) with every person weighted once and photos with no hand
    counted in the coverage, unanswered.

    logits: (N, classes), rows of no-hand photos ignored; labels: (N,) class indices;
    has_hand: (N,) bool (default all); person: (N,) who is in each photo (default: one
    person). Returns a `Calibration` whose coverage is 0 (and accuracy NaN) when no threshold
    reaches `target`; raises ValueError when no photo has a hand or the shapes disagree.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    found = np.ones(n, dtype=bool) if has_hand is None else np.asarray(has_hand, dtype=bool)
    if found.shape != (n,) or (person is not None and np.shape(person) != (n,)):
        raise ValueError(f"has_hand and person must have one entry per photo ({n})")
    if not found.any():
        raise ValueError("no photo has a hand: nothing to calibrate on")
    temperature = fit_temperature(logits[found], labels[found])
    scored, correct = still_scores(logits, labels, class_names, found, temperature)
    weight = None
    if person is not None:
        _, inverse, counts = np.unique(np.asarray(person), return_inverse=True, return_counts=True)
        weight = 1.0 / counts[inverse]
    return calibration_at(
        temperature, scored, correct, target, weight, count=int(found.sum()), fitted_on=fitted_on
    )


def calibration_at(
    temperature: float,
    scored: np.ndarray,
    correct: np.ndarray,
    target: float,
    weight: np.ndarray | None,
    *,
    count: int,
    fitted_on: str,
) -> Calibration:
    """The `Calibration` of answers scored at `temperature` ((N,) confidence, -1 never
    accepted; (N,) correct): the threshold from `choose_threshold` at `target`, photos
    weighted by `weight` (None: equally); `count` photos with a hand. One rule for a
    training run's calibration (`calibrate`) and the shipped model's
    (`training.heldout.calibrate`)."""
    threshold, accuracy, coverage = choose_threshold(scored, correct, target, weight)
    return Calibration(
        temperature=round(temperature, 4),
        threshold=round(threshold, 4),
        target=target,
        accepted_accuracy=accuracy,
        coverage=coverage,
        count=count,
        fitted_on=fitted_on,
    )
