"""A finished run's own calibration: temperature and threshold fitted on its validation side,
but only when that side is people the model never trained on.

The shipped model's threshold (`asl_core.inference.predictor.DEFAULT_THRESHOLD`, 0.72) was
chosen on people it never saw (`training.model_card`); another model's confidence has another
scale, so a run that can do the same records its own, in the checkpoint's
`extra["calibration"]` (the shipped model's record, `asl_core.inference.calibration.
Calibration`) and in summary.json's `calibration`. The `Predictor`, and through it the app,
the command line and the HTTP API, then answer at that threshold by default.

When it can (`unseen_validation_people`): every validation photo names its person, none of
those people is on the training side, and no training photo of their datasets is of an
unnamed person. Of the project's splits only `loso` with `split.val_signer` does that; the
validation side of `random`, `kfold`, `lopo`, `lodo` and default `loso` is a slice of the
training people's photos, and a personalisation's held-back photos are bursts of the person
it trained on. A threshold fitted on the people a model trained on speaks for them, not for
new people (the shipped model reads letters 88% right on a random split, 85% on people it
never saw: README), so such runs record no calibration, say why (`calibration_note`), and
are answered at `DEFAULT_THRESHOLD`.

The fit itself is `asl_core.inference.calibration.calibrate` (the rule that chose the shipped
threshold: answers 95% right, each person weighted once, photos with no hand unanswered). The
validation photos are read as the evaluation reads them (the cached landmarks or crop, once):
an image model in the app also reads the mirrored photo and keeps the surer reading, so its
confidence there can be a little higher than calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from asl_core.data.dataset import AslDataset
from asl_core.data.sources import Sample, SampleSet
from asl_core.data.splits import SPLIT_NAMES, Split
from asl_core.inference.calibration import (
    CALIBRATION_TARGET,
    TEMPERATURE_BOUNDS,
    Calibration,
    calibrate,
    still_scores,
    temperature_at_bound,
)
from asl_core.training.engine import collect_logits

MIN_CALIBRATION_PHOTOS = 100
"""Fewest validation photos with a hand to fit a threshold on. The threshold is set by the few
wrong answers among the accepted ones: at the 95% target, 100 photos (about 80 accepted at the
shipped model's coverage of 0.81) allow 4 wrong answers, so one photo moves the accepted
accuracy by about 1.25 points, a quarter of the 5-point margin; with 20 photos one wrong answer
is the whole margin and the threshold is chance. (The shipped one rests on 5,724 photos.)"""


MIN_ACCEPTED = 20
"""Fewest validation answers the chosen threshold must accept. Below 20, not one wrong answer
fits in the 5% margin of the 95% target, so the threshold is only the confidence of the surest
wrong answer: chance (a 1-epoch run here accepted 3 of 150 photos at a threshold of 0.22)."""


SHOWN_NAMES = 6
"""People named in a note; more are counted."""


def _names(people: Sequence[str]) -> str:
    shown = ", ".join(people[:SHOWN_NAMES])
    return shown + (f" and {len(people) - SHOWN_NAMES} more" if len(people) > SHOWN_NAMES else "")


def _people(count: int) -> str:
    return f"{count} person" if count == 1 else f"{count} people"


HOW_TO = "to calibrate, validate on a person it never trains on: a loso split with split.val_signer"
"""Said after the reason in the run's result line (not in the checkpoint: the app's readers
did not train it)."""


def unseen_validation_people(
    split: Split, samples: Sequence[Sample]
) -> tuple[list[str], str | None]:
    """(the validation side's people, None) when they are people the model never trained on,
    else ([], why not, in words for the run's result line and the app)."""
    val = split.val
    if not val:
        return [], "the validation side is empty"
    unnamed = sum(1 for i in val if samples[i].signer is None)
    if unnamed:
        return [], (
            f"{unnamed} of its {len(val)} validation photos name no person, so nothing shows "
            f"they are of people it never trained on ({split.name} split)"
        )
    people = sorted({str(samples[i].signer) for i in val})
    trained = {samples[i].signer for i in split.train}
    shared = [person for person in people if person in trained]
    if shared:
        return [], (
            f"its validation photos are of {_people(len(shared))} it also trained on "
            f"({_names(shared)}; {split.name} split), which would flatter it on new people"
        )
    datasets = {samples[i].dataset for i in val}
    unknown = sum(
        1 for i in split.train if samples[i].signer is None and samples[i].dataset in datasets
    )
    if unknown:
        return [], (
            f"{unknown} of its training photos from {', '.join(sorted(datasets))} name no "
            "person and may show the validation people"
        )
    return people, None


@dataclass(frozen=True)
class RunCalibration:
    """What a run records about its calibration: the record, or None and why not (`note`)."""

    calibration: Calibration | None
    note: str
    hint: str = ""  # what would let a run calibrate (result line only)

    def checkpoint_extra(self) -> dict[str, Any]:
        """Keys for the checkpoint's `extra`: `calibration` (the shipped model's record
        format), or `calibration_note` saying why there is none (the app shows it)."""
        if self.calibration is None:
            return {"calibration_note": self.note}
        return {"calibration": self.calibration.to_dict()}

    def summary_fields(self) -> dict[str, Any]:
        """summary.json's `calibration` (the record or null) and `calibration_note`."""
        record = self.calibration.to_dict() if self.calibration else None
        return {"calibration": record, "calibration_note": self.note}

    def sentence(self) -> str:
        """The run's result line's last part."""
        from asl_core.inference.predictor import DEFAULT_THRESHOLD, rounded_threshold

        c = self.calibration
        if c is None:
            return (
                f"no calibration recorded ({self.note}): the app, CLI and API will use the "
                f"shipped model's default threshold {DEFAULT_THRESHOLD:.2f}"
                + (f"; {self.hint}" if self.hint else "")
            )
        return (
            f"calibrated on {c.fitted_on}: temperature {c.temperature:.3f}, threshold "
            f"{c.threshold:.4f} (answers at or above it {c.accepted_accuracy:.1%} right, "
            f"{c.coverage:.1%} of photos answered); the app, CLI and API will use "
            f"{rounded_threshold(c.threshold):.2f}"
        )


def calibrate_run(
    model: torch.nn.Module,
    dataset: Any,
    split: Split,
    data: SampleSet,
    device: torch.device,
    *,
    target: float = CALIBRATION_TARGET,
) -> RunCalibration:
    """The calibration of `model` (its kept weights) on the validation side `dataset` of
    `split` of `data` (`split_datasets()["val"]`, every photo, no-hand ones included), or
    why none. Reads the whole side in this process (call it where the checkpoint is saved)."""
    samples = data.samples
    people, why_not = unseen_validation_people(split, samples)
    if why_not is not None:  # the hint is for the project's own splits, not personalisation's
        return RunCalibration(None, why_not, HOW_TO if split.name in SPLIT_NAMES else "")
    if not isinstance(dataset, AslDataset):
        return RunCalibration(None, "its validation side is video windows, not photos")
    found = int(sum(bool(dataset.table.has_hand[i]) for i in dataset.indices))
    if found < MIN_CALIBRATION_PHOTOS:
        return RunCalibration(None, (
            f"its {len(dataset.indices)} validation photos ({_names(people)}) have {found} "
            f"with a hand, fewer than the {MIN_CALIBRATION_PHOTOS} a threshold needs"
        ))  # fmt: skip
    loader = DataLoader(dataset, batch_size=256, shuffle=False)
    logits, labels, has_hand = collect_logits(model, loader, device)
    person = np.array([samples[i].signer for i in dataset.indices])
    fitted_on = (
        f"{_people(len(people))} it never trained on, {_names(people)}: {found} validation "
        f"photos with a hand, {len(has_hand) - found} without"
    )
    calibration = calibrate(
        logits, labels, data.class_names, has_hand=has_hand, person=person,
        target=target, fitted_on=fitted_on,
    )  # fmt: skip
    if temperature_at_bound(calibration.temperature):
        return RunCalibration(None, (
            f"the temperature fitted on {fitted_on} is {calibration.temperature:g}, an end of "
            f"its range {TEMPERATURE_BOUNDS}: the model's scores carry no usable confidence"
        ))  # fmt: skip
    scored, _ = still_scores(logits, labels, data.class_names, has_hand, calibration.temperature)
    accepted = int((scored >= calibration.threshold).sum()) if calibration.coverage else 0
    if accepted < MIN_ACCEPTED:
        return RunCalibration(None, (
            f"on {fitted_on}, only {accepted} answers were sure enough to be {target:.0%} "
            f"right, fewer than the {MIN_ACCEPTED} a threshold needs"
        ))  # fmt: skip
    return RunCalibration(calibration, f"fitted on {fitted_on}")
