"""Before and after: the answers of a model on chosen photos, and how a personalisation scored.

`personalise` measures the base model and the personalised one on the same photos (the user's
held-back photos and a reference signer's); `PersonaliseResult` holds both and words them for
the Capture page and `personalise.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from asl_core.data.augment import eval_preset
from asl_core.data.dataset import AslDataset
from asl_core.data.features import FeatureTable
from asl_core.models.registry import AslModel


@torch.no_grad()
def predicted_labels(
    model: AslModel,
    model_names: Sequence[str],
    table: FeatureTable,
    indices: Sequence[int],
    label_space: Sequence[str],
) -> list[str | None]:
    """The model's answer for each photo `table.samples[i]`, i in `indices` (None where no
    hand was found). `label_space` indexes the true labels (any superset of theirs)."""
    if not indices:
        return []
    spec = model.input_spec
    dataset = AslDataset(table, indices, label_space, spec, eval_preset(spec))
    model.eval()
    answers: list[str | None] = []
    for inputs, _labels, has_input in DataLoader(dataset, batch_size=256, shuffle=False):
        best = model(inputs).argmax(1).tolist()
        answers += [model_names[b] if ok else None for b, ok in zip(best, has_input, strict=True)]
    return answers


@dataclass(frozen=True)
class Score:
    """Correct answers out of a number of photos (no-hand photos count as wrong)."""

    correct: int
    total: int

    @classmethod
    def of(cls, truth: Sequence[str], answers: Sequence[str | None]) -> Score:
        return cls(sum(1 for t, a in zip(truth, answers, strict=True) if a == t), len(truth))

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def text(self) -> str:
        return "n/a" if self.accuracy is None else f"{self.accuracy:.0%}"


@dataclass
class PersonaliseResult:
    """What one personalisation did and how it scored, before and after."""

    run_dir: Path
    checkpoint: Path  # the checkpoint's .json (what available_models lists)
    base_model: Path
    class_names: list[str]
    new_classes: list[str]
    own_before: Score
    own_after: Score
    others_before: Score
    others_after: Score
    reference: str  # "massey36 signer hand5", or why it was not measured
    per_class: dict[str, dict[str, int]]  # label -> {"photos", "before", "after"}
    counts: dict[str, int]
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    held_back_bursts: list[str] = field(default_factory=list)  # Burst.describe() of each
    unchecked: list[str] = field(default_factory=list)  # signs in one burst: not checked

    @property
    def helped(self) -> bool:
        before, after = self.own_before.accuracy, self.own_after.accuracy
        return before is not None and after is not None and after > before

    def own_basis(self) -> str:
        """What the 'your signs' figure rests on: '24 held-back photos in 4 later bursts'."""
        bursts = len(self.held_back_bursts)
        return (
            f"{_count(self.own_before.total, 'held-back photo')} in {_count(bursts, 'later burst')}"
        )

    def others_basis(self) -> str:
        """What the 'other people's signs' figure rests on: '170 photos of massey36 signer
        hand5'."""
        return f"{_count(self.others_before.total, 'photo')} of {self.reference}"

    def sentence(self) -> str:
        """'Your signs: 62% → 95% (24 held-back photos in 4 later bursts). Other people's signs:
        91% → 90% (170 photos of massey36 signer hand5).'"""
        own = (
            f"Your signs: {self.own_before.text()} → {self.own_after.text()} ({self.own_basis()})."
        )
        if self.others_before.total:
            others = (
                f" Other people's signs: {self.others_before.text()} → "
                f"{self.others_after.text()} ({self.others_basis()})."
            )
        else:
            others = " Other people's signs: not measured."
        return own + others

    def verdict(self) -> str:
        """One plain sentence on whether to use the new model."""
        before, after = self.own_before.accuracy, self.own_after.accuracy
        if after is None or before is None:
            return "There were no held-back photos to check the new model on."
        drop = 0.0
        if self.others_before.total:
            drop = (self.others_before.accuracy or 0) - (self.others_after.accuracy or 0)
        if after > before and drop > 0.05:
            return (
                "It reads your signs better but forgot some of other people's: use it for "
                "yourself, keep the shipped model for others."
            )
        if after > before:
            return "It helped: the new model reads your held-back photos better."
        if after == before:
            return "No change on your held-back photos: the shipped model was as good."
        return (
            "It did not help: the new model reads your held-back photos worse. Capture more "
            "varied photos (light, angle, distance) and try again."
        )

    def table(self) -> list[dict[str, str]]:
        """Rows for a small before/after table."""
        return [
            {
                "Test": f"Your signs ({self.own_basis()})",
                "Before": self.own_before.text(),
                "After": self.own_after.text(),
            },
            {
                "Test": f"Other people's signs ({self.others_basis()})",
                "Before": self.others_before.text(),
                "After": self.others_after.text(),
            },
        ]

    def summary_fields(self) -> dict[str, Any]:
        """What summary.json and the checkpoint's metrics record about the comparison."""
        return {
            "own_signs_before": self.own_before.accuracy,
            "own_signs_after": self.own_after.accuracy,
            "other_signers_before": self.others_before.accuracy,
            "other_signers_after": self.others_after.accuracy,
        }

    def to_json(self) -> dict[str, Any]:
        def score(value: Score) -> dict[str, Any]:
            return {**asdict(value), "accuracy": value.accuracy}

        return {
            "run_dir": str(self.run_dir),
            "checkpoint": str(self.checkpoint),
            "base_model": str(self.base_model),
            "class_names": self.class_names,
            "new_classes": self.new_classes,
            "own_signs": {
                "before": score(self.own_before),
                "after": score(self.own_after),
                "held_back_bursts": self.held_back_bursts,
                "unchecked": self.unchecked,
            },
            "other_signers": {
                "reference": self.reference,
                "before": score(self.others_before),
                "after": score(self.others_after),
            },
            "per_class": self.per_class,
            "counts": self.counts,
            "seconds": self.seconds,
            "sentence": self.sentence(),
            "verdict": self.verdict(),
            "notes": self.notes,
        }


def _count(number: int, noun: str) -> str:
    """'1 photo', '24 photos'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
