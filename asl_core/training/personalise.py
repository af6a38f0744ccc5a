"""Adapt a model to one person's own photos (and new signs), and say honestly whether it helped.

`personalise(capture_folder)` is three steps: assemble the data (`personal_data`: the photos
captured with the Capture page, other people's photos against forgetting, a reference signer),
`fit` from the base checkpoint (`init_checkpoint`: the shipped model or any other), and compare
the base and the new model on the same photos (`compare`). The run folder is an ordinary one
(config.json, metrics.jsonl, confusion/, report.json, summary.json, the checkpoint, the W&B
offline run), so the Runs page lists it and the Classify and Live pages offer its checkpoint;
`personalise.json` in it holds the before/after comparison. The Capture page runs it as a
background job (`asl_core.training.jobs`), which goes on when the page is left.

How (and why):
- New signs get new classifier rows; every layer and every old class's row start from the
  base model's weights (`optim.transfer_weights`), so nothing known is thrown away. Image
  networks adapt their classifier only (`freeze: head`): the whole network takes hours on a CPU.
- Forgetting: a replay sample of the base model's own training data (up to `replay_per_class`
  photos per class from massey36 / grassknoted_letters, whichever are present) is mixed in; the
  user's photos are repeated `user_repeat` times so that they weigh more than one stranger's
  photo each. Features come from the feature cache (MediaPipe once per photo, ever; photos saved
  by the Capture page are cached at capture time).
- Honest evaluation, two numbers, each BEFORE (the base model) and AFTER:
  1. "your signs": each sign's latest bursts (`personal_data.hold_back_bursts`: photos less
     than `burst_gap_s` apart are one burst; at least `holdout_fraction`, 25%, of the sign's
     photos, its first burst always trains), held back whole and never trained on (the run's
     val and test sides). Random photos would put near copies of training frames on both
     sides. A sign captured in one burst trains but is not checked (the result names it). The
     base model cannot answer a new sign, so those photos count as wrong before. The result
     says how many photos and bursts the figure rests on.
  2. "other people's signs": `reference_per_class` photos per class of a reference signer
     (massey36 `hand5`, or the test signer the base checkpoint records), never in the replay.
     It shows whether the model forgot how other people sign. The shipped model may have
     trained on that signer, so the BEFORE number can be optimistic; the drop is what counts.
  Nothing is selected on either number: the schedule is fixed and the last epoch's weights are
  kept (`keep: last`); the run's summary.json says so (`kept_epoch`: the last; `best_epoch`:
  the epoch of lowest held-back loss, observed, never chosen). Photos where no hand is found
  count as wrong, before and after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asl_core.data.features import FeatureCache, extract_features
from asl_core.data.sources import KNOWN_DATASETS, SampleSet
from asl_core.data.splits import Split
from asl_core.io.files import atomic_write_json
from asl_core.labels import sort_labels
from asl_core.models.checkpoint import CheckpointMeta, load_checkpoint
from asl_core.models.registry import AslModel
from asl_core.runs.format import CHECKPOINT_META_FILE
from asl_core.settings import default_model_path
from asl_core.training.compare import PersonaliseResult, Score, predicted_labels
from asl_core.training.config import TrainConfig, config_from_dict
from asl_core.training.fit import FitData, fit
from asl_core.training.personal_data import (
    BURST_GAP_S,
    CAPTURES_DATASET,
    PersonaliseError,
    check_counts,
    check_hands,
    hold_back_bursts,
    load_captures,
    other_people,
)

__all__ = ["PersonaliseConfig", "PersonaliseError", "PersonaliseResult", "personalise"]

Progress = Callable[[float, str], None]


@dataclass
class PersonaliseConfig:
    """Every setting of a personalisation run (recorded in its config.json)."""

    base_model: str | None = None  # a checkpoint (.json or .safetensors); None: shipped default
    holdout_fraction: float = 0.25  # of each sign's photos, at least, in whole later bursts
    burst_gap_s: float = BURST_GAP_S
    replay_datasets: tuple[str, ...] = ("massey36", "grassknoted_letters")
    replay_per_class: int = 20
    reference_dataset: str = "massey36"
    reference_signer: str | None = None  # None: the base's loso test signer, else hand5
    reference_per_class: int = 5
    epochs: int = 30
    lr: float = 5e-4
    batch_size: int = 64
    user_repeat: int = 2
    seed: int = 0
    signer: str | None = None  # names the run; the photos carry their own signers
    run_name: str | None = None
    runs_dir: str | None = None
    wandb: bool = True

    def validate(self) -> None:
        checks = [
            (0 < self.holdout_fraction < 1, "holdout_fraction must be between 0 and 1"),
            (self.burst_gap_s > 0, "burst_gap_s must be positive"),
            (self.replay_per_class >= 0, "replay_per_class must not be negative"),
            (self.reference_per_class >= 0, "reference_per_class must not be negative"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.lr > 0, "lr must be positive"),
            (self.batch_size >= 2, "batch_size must be at least 2"),
            (self.user_repeat >= 1, "user_repeat must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def _train_config(
    config: PersonaliseConfig, base_path: Path, meta: CheckpointMeta, datasets: list[str]
) -> TrainConfig:
    """The fixed schedule: from the base checkpoint, last weights kept, no early stopping."""
    spec = meta.input_spec
    landmarks = spec.kind == "landmarks"
    suffix = config.signer.replace(" ", "-") if config.signer else None
    return config_from_dict(
        {"model": meta.architecture, "arch_kwargs": meta.arch_kwargs,
         "representation": None if landmarks else str(spec.representation),
         "init_checkpoint": str(base_path), "freeze": "none" if landmarks else "head",
         "datasets": [CAPTURES_DATASET, *datasets], "verify_datasets": False,
         "optimizer": "adam", "lr": config.lr, "batch_size": config.batch_size,
         "epochs": config.epochs, "keep": "last", "seed": config.seed,
         # A landmark MLP's batches are tiny: with two threads on a busy 2-core machine every
         # op waits for the other, and 30 epochs took 116 s here against 12 s with one.
         "threads": 1 if landmarks else None, "extract_workers": 1, "progress": False,
         "job_type": "personalise", "run_name": config.run_name, "name_suffix": suffix,
         "runs_dir": config.runs_dir, "wandb": config.wandb}
    )  # fmt: skip


def personalise(
    capture_folder: str | Path,
    config: PersonaliseConfig | None = None,
    *,
    progress: Progress | None = None,
) -> PersonaliseResult:
    """Adapt the base model to the captures in `capture_folder`; see the module doc.

    `progress(fraction, message)` is called as the work advances (a page's progress bar).
    Raises PersonaliseError with a message for the user when it cannot run.
    """
    config = config or PersonaliseConfig()
    config.validate()
    report = progress or (lambda fraction, message: None)
    started = time.monotonic()
    seconds: dict[str, float] = {}
    notes: list[str] = []

    # -- assemble the data -----------------------------------------------------------------
    report(0.0, "Reading your photos and the base model")
    user = load_captures(Path(capture_folder))
    base_path = Path(config.base_model) if config.base_model else default_model_path()
    base = load_checkpoint(base_path)
    base_names = list(base.meta.class_names)
    names = sort_labels([*base_names, *(s.label for s in user)])
    new_classes = [name for name in names if name not in base_names]
    check_counts(user, new_classes)
    split_user = hold_back_bursts(user, config.holdout_fraction, config.burst_gap_s)
    replay, reference, reference_text, datasets = other_people(base.meta, config, notes)
    train_config = _train_config(config, base_path, base.meta, datasets)
    seconds["read"] = time.monotonic() - started

    mark = time.monotonic()
    samples = [*user, *replay, *reference]
    table = extract_features(
        samples,
        FeatureCache(size=train_config.cache_size),
        workers=1,
        progress=False,
        on_progress=lambda done, total: report(
            0.05 + 0.4 * done / total, f"Finding hands: {done}/{total}"
        ),
    )
    seconds["features"] = time.monotonic() - mark
    n_user, n_replay = len(user), len(replay)
    holdout = split_user.held_back
    user_train = [i for i in split_user.train if table.has_hand[i]]
    replay_idx = [n_user + i for i in range(n_replay) if table.has_hand[n_user + i]]
    reference_idx = list(range(n_user + n_replay, len(samples)))
    check_hands([table.samples[i] for i in user_train], new_classes)
    no_hand_user = int(sum(not table.has_hand[i] for i in range(n_user)))
    if no_hand_user:
        notes.append(
            f"No hand was found in {no_hand_user} of your photos: left out of training, "
            "counted wrong when held back."
        )
    if split_user.unchecked:
        notes.append(
            f"Not checked, captured in one burst: {', '.join(split_user.unchecked)}. The new "
            "model learned them from every photo, but nothing held back shows how well it reads "
            "them: capture another burst of them a minute or more later to check them."
        )
    counts = {
        "captures": n_user,
        "captures_train": len(user_train),
        "captures_held_back": len(holdout),
        "bursts": len(split_user.bursts),
        "bursts_held_back": len(split_user.held_back_bursts),
        "replay": len(replay_idx),
        "reference": len(reference_idx),
        "features_computed": table.report.computed,
    }

    # -- before ----------------------------------------------------------------------------
    report(0.5, "Scoring the base model")
    truth_holdout = [table.samples[i].label for i in holdout]
    truth_reference = [table.samples[i].label for i in reference_idx]
    before_holdout = predicted_labels(base.model, base_names, table, holdout, names)
    before_reference = predicted_labels(base.model, base_names, table, reference_idx, names)

    # -- fit, then after -------------------------------------------------------------------
    outcome: dict[str, PersonaliseResult] = {}

    def after(model: AslModel, run_dir: Path) -> dict[str, Any]:
        report(0.97, "Scoring the new model")
        after_holdout = predicted_labels(model, names, table, holdout, names)
        after_reference = predicted_labels(model, names, table, reference_idx, names)
        per_class: dict[str, dict[str, int]] = {}
        for truth, old, new in zip(truth_holdout, before_holdout, after_holdout, strict=True):
            row = per_class.setdefault(truth, {"photos": 0, "before": 0, "after": 0})
            row["photos"] += 1
            row["before"] += old == truth
            row["after"] += new == truth
        outcome["result"] = PersonaliseResult(
            run_dir=run_dir,
            checkpoint=run_dir / CHECKPOINT_META_FILE,
            base_model=base_path,
            class_names=names,
            new_classes=new_classes,
            own_before=Score.of(truth_holdout, before_holdout),
            own_after=Score.of(truth_holdout, after_holdout),
            others_before=Score.of(truth_reference, before_reference),
            others_after=Score.of(truth_reference, after_reference),
            reference=reference_text,
            per_class={label: per_class[label] for label in sort_labels(per_class)},
            counts=counts,
            seconds=seconds,
            notes=notes,
            held_back_bursts=[burst.describe() for burst in split_user.held_back_bursts],
            unchecked=split_user.unchecked,
        )
        return outcome["result"].summary_fields()

    def epoch_done(epoch: int, total: int, row: dict[str, Any]) -> None:
        report(
            0.55 + 0.4 * epoch / total,
            f"Training: epoch {epoch}/{total}, held-back accuracy {row['val_acc']:.0%}",
        )

    split = Split(
        "personalise",
        {
            "holdout": "latest bursts of each sign",
            "holdout_fraction": config.holdout_fraction,
            "burst_gap_s": config.burst_gap_s,
            "seed": config.seed,
            "user_repeat": config.user_repeat,
            "reference": reference_text,
        },
        train=user_train * config.user_repeat + replay_idx,
        val=holdout,
        test=holdout,
        notes={"val_is_test": "the held-back photos, watched only: fixed epochs, last weights"},
    )
    sources = [{"name": CAPTURES_DATASET, "path": str(Path(capture_folder).resolve())}]
    sources += [KNOWN_DATASETS[name].to_dict() for name in datasets]
    record = {
        "personalise": {**asdict(config), "base_model": str(base_path), "counts": counts},
        "personalised": True,
        "new_classes": new_classes,
    }
    mark = time.monotonic()
    fit(
        train_config,
        data=FitData(SampleSet(samples, names, sources, {"datasets": datasets}), split),
        record=record,
        on_epoch=epoch_done,
        final_scores=after,
    )
    seconds["training"] = time.monotonic() - mark
    result = outcome["result"]
    seconds["total"] = time.monotonic() - started
    atomic_write_json(result.run_dir / "personalise.json", result.to_json())
    report(1.0, result.sentence())
    return result
