"""Adapt a model to one person's own photos (and new signs), and say honestly whether it helped.

`personalise(capture_folder)` starts from the shipped model (or any checkpoint), fine-tunes it
on the photos captured with the Capture page, and writes a run folder under `runs_dir()` like
any training run (config.json, metrics.jsonl, confusion/, report.json, summary.json, the
checkpoint, the W&B offline run), so the Runs page lists it and the Classify and Live pages
offer its checkpoint (`app_state.available_models`). `personalise.json` in the run folder
holds the before/after comparison.

How (and why):
- New signs get new classifier rows; every layer and every old class's row start from the
  base model's weights (`transfer_weights`), so nothing known is thrown away.
- Forgetting: a replay sample of the base model's own training data (up to
  `replay_per_class` photos per class from massey36 / grassknoted_letters, whichever are
  present) is mixed in; the user's photos are repeated `user_repeat` times so that they weigh
  more than one stranger's photo each. Features come from the feature cache (MediaPipe once
  per photo, ever; photos saved by the Capture page are cached at capture time).
- Training uses the project's own loop pieces (`training.train_one_epoch`, `evaluate`) and
  run writer (`runlog.RunLog`): `training.fit` cannot start from a checkpoint.
- Honest evaluation, two numbers, each BEFORE (the base model) and AFTER:
  1. "your signs": a stratified `holdout_fraction` (25%) of the user's photos per class, held
     back and never trained on. The base model cannot answer a new sign, so those photos
     count as wrong before.
  2. "other people's signs": `reference_per_class` photos per class of a reference signer
     (massey36 `hand5`, or the test signer the base checkpoint records), never in the replay.
     It shows whether the model forgot how other people sign. The shipped model may have
     trained on that signer, so the BEFORE number can be optimistic; the drop is what counts.
  Nothing is selected on either number: the schedule is fixed and the last epoch's weights
  are kept. metrics.jsonl's val_* columns are the held-back photos, for watching only.
  Photos where no hand is found count as wrong in both, before and after.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from asl_core.data.augment import AugmentConfig, eval_preset, train_preset
from asl_core.data.dataset import AslDataset
from asl_core.data.features import FeatureCache, Features, FeatureTable, compute_features
from asl_core.data.sources import (
    KNOWN_DATASETS,
    DatasetError,
    Sample,
    limit_per_class,
    load_datasets,
    load_folder,
    read_sample_rgb,
)
from asl_core.data.splits import stratified_partition
from asl_core.inference.predictor import default_model_path
from asl_core.io.files import atomic_write_json, sha256_file
from asl_core.labels import sort_labels
from asl_core.models.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from asl_core.models.registry import AslModel, create_model
from asl_core.runs.format import epoch_row, now_iso
from asl_core.runs.writer import RunLog, git_commit, make_run_name, unique_run_dir
from asl_core.settings import REPO_ROOT, runs_dir
from asl_core.training.engine import evaluate, train_one_epoch
from asl_core.vision import views
from asl_core.vision.hands import HandDetector

CAPTURES_DATASET = "my_signs"


MIN_PHOTOS_NEW_SIGN = 5
"""A new sign needs at least this many photos with a hand: fewer cannot be both learned and
checked on held-back photos."""


Progress = Callable[[float, str], None]


class PersonaliseError(ValueError):
    """Personalisation cannot run as asked; the message says what to do."""


@dataclass
class PersonaliseConfig:
    """Every setting of a personalisation run (recorded in its config.json)."""

    base_model: str | None = None  # a checkpoint (.json or .safetensors); None: shipped default
    holdout_fraction: float = 0.25
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


@dataclass(frozen=True)
class Score:
    """Correct answers out of a number of photos (no-hand photos count as wrong)."""

    correct: int
    total: int

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

    @property
    def helped(self) -> bool:
        before, after = self.own_before.accuracy, self.own_after.accuracy
        return before is not None and after is not None and after > before

    def sentence(self) -> str:
        """'Your signs: 62% → 95%. Other people's signs: 91% → 90%.'"""
        own = f"Your signs: {self.own_before.text()} → {self.own_after.text()}."
        if self.others_before.total:
            others = (
                f" Other people's signs: {self.others_before.text()} → {self.others_after.text()}."
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
                "Test": f"Your signs ({self.own_before.total} held-back photos)",
                "Before": self.own_before.text(),
                "After": self.own_after.text(),
            },
            {
                "Test": f"Other people's signs ({self.reference}, "
                f"{self.others_before.total} photos)",
                "Before": self.others_before.text(),
                "After": self.others_after.text(),
            },
        ]

    def to_json(self) -> dict[str, Any]:
        def score(value: Score) -> dict[str, Any]:
            return {**asdict(value), "accuracy": value.accuracy}

        return {
            "run_dir": str(self.run_dir),
            "checkpoint": str(self.checkpoint),
            "base_model": str(self.base_model),
            "class_names": self.class_names,
            "new_classes": self.new_classes,
            "own_signs": {"before": score(self.own_before), "after": score(self.own_after)},
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


def _final_linear_name(model: nn.Module, num_classes: int) -> str:
    """The qualified name of the classifier's last Linear layer (one row per class)."""
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.out_features == num_classes
    ]
    if not names:
        raise PersonaliseError(f"{type(model).__name__} has no Linear layer with a row per class")
    return names[-1]


def transfer_weights(
    base: AslModel, base_names: Sequence[str], model: AslModel, names: Sequence[str]
) -> None:
    """Copy every base weight into `model`; classifier rows go to the row of the same class.

    `model` answers `names` (a superset of `base_names`, any order); rows of classes the base
    does not know keep their fresh initialisation.
    """
    base_head = _final_linear_name(base, len(base_names))
    head = _final_linear_name(model, len(names))
    if base_head != head:
        raise PersonaliseError(f"the classifier is {base_head} in the base but {head} here")
    base_state = base.state_dict()
    state = model.state_dict()
    base_row = {name: i for i, name in enumerate(base_names)}
    rows = [(i, base_row[name]) for i, name in enumerate(names) if name in base_row]
    new_index = torch.tensor([i for i, _ in rows], dtype=torch.long)
    old_index = torch.tensor([j for _, j in rows], dtype=torch.long)
    for key, tensor in base_state.items():
        if key in (f"{head}.weight", f"{head}.bias"):
            merged = state[key].clone()
            merged[new_index] = tensor[old_index].to(merged.dtype)
            state[key] = merged
        elif key in state and state[key].shape == tensor.shape:
            state[key] = tensor.clone()
        else:
            raise PersonaliseError(f"the base checkpoint's {key} does not fit the model")
    model.load_state_dict(state)


def load_captures(folder: Path) -> list[Sample]:
    """The captured photos that exist on disk (read through the folder's MANIFEST.csv)."""
    folder = Path(folder)
    try:
        samples = load_folder(folder, CAPTURES_DATASET)
    except (DatasetError, FileNotFoundError):
        raise PersonaliseError(
            f"No captured photos in {folder}: capture some signs first."
        ) from None
    present = [s for s in samples if s.path is not None and s.path.is_file()]
    if not present:
        raise PersonaliseError(f"The photos listed in {folder} are missing from the disk.")
    return present


def _dataset_names(meta: CheckpointMeta, configured: Sequence[str]) -> list[str]:
    """Registered datasets to replay: those the base model records, else the configured ones;
    only those present on this machine."""
    recorded = [name for name in meta.dataset_names() if name in KNOWN_DATASETS]
    names = recorded or list(configured)
    return [name for name in dict.fromkeys(names) if _present(name)]


def _present(name: str) -> bool:
    """A registered dataset that is on this machine."""
    known = KNOWN_DATASETS.get(name)
    return known is not None and (known.root / "MANIFEST.csv").is_file()


def reference_signer_of(meta: CheckpointMeta, configured: str | None) -> str:
    """The configured signer, else the base model's leave-one-signer-out test signer, else
    hand5 (the project's usual held-out Massey signer)."""
    if configured:
        return configured
    split = meta.data.get("split") if isinstance(meta.data, dict) else None
    if isinstance(split, dict) and split.get("name") == "loso":
        signer = (split.get("params") or {}).get("test_signer")
        if isinstance(signer, str) and signer:
            return signer
    return "hand5"


def _fill_cache(
    samples: Sequence[Sample], cache: FeatureCache, progress: Callable[[int, int], None]
) -> int:
    """Run MediaPipe on the photos the cache lacks (one detector, in this process); returns
    how many were computed. Same records as `features.extract_features`, with a callback."""
    from asl_core.io.images import ImageError

    missing, seen = [], set()
    for sample in samples:
        sha = sample.sha256
        if sample.needs_detection and sha and sha not in seen and sha not in cache:
            seen.add(sha)
            missing.append(sample)
    if not missing:
        return 0
    with HandDetector(mode="image") as detector:
        for done, sample in enumerate(missing, start=1):
            try:
                features = compute_features(read_sample_rgb(sample), detector, cache.size)
            except (ImageError, OSError) as error:
                features = Features(None, None, error=f"{type(error).__name__}: {error}")
            cache.put(sample.sha256 or "", features)
            progress(done, len(missing))
    return len(missing)


@torch.no_grad()
def predicted_labels(
    model: AslModel,
    model_names: Sequence[str],
    table: FeatureTable,
    indices: Sequence[int],
    label_space: Sequence[str],
) -> list[str | None]:
    """The model's answer for each photo (None where no hand was found)."""
    if not indices:
        return []
    spec = model.input_spec
    dataset = AslDataset(table, indices, label_space, spec, eval_preset(spec))
    loader = DataLoader(dataset, batch_size=256, shuffle=False)
    model.eval()
    answers: list[str | None] = []
    for inputs, _labels, has_input in loader:
        best = model(inputs).argmax(1).tolist()
        answers += [model_names[b] if ok else None for b, ok in zip(best, has_input, strict=True)]
    return answers


def _score(truth: Sequence[str], answers: Sequence[str | None]) -> Score:
    correct = sum(1 for t, a in zip(truth, answers, strict=True) if a == t)
    return Score(correct, len(truth))


def _loader(dataset: AslDataset, batch_size: int, seed: int, shuffle: bool) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    # A last batch of ONE photo cannot train BatchNorm: drop it (as training.fit does).
    drop_last = shuffle and len(dataset) > 1 and len(dataset) % batch_size == 1
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator if shuffle else None,
        drop_last=drop_last,
    )


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run with `count` torch threads (None: unchanged), then restore the previous setting.

    A landmark MLP's batches are tiny: with two threads on a busy 2-core machine every op
    waits for the other thread, and 30 epochs took 116 s here against 12 s with one thread.
    (Process-wide: other sessions' models run single-threaded meanwhile, which for such small
    models is no slower.)
    """
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)

    # -- what we start from ----------------------------------------------------------------
    report(0.0, "Reading your photos and the base model")
    user = load_captures(Path(capture_folder))
    base_path = Path(config.base_model) if config.base_model else default_model_path()
    base = load_checkpoint(base_path)
    base_names = list(base.meta.class_names)
    user_labels = sort_labels(s.label for s in user)
    names = sort_labels([*base_names, *user_labels])
    new_classes = [name for name in names if name not in base_names]
    photos = Counter(s.label for s in user)
    too_few = [f"{n} ({photos[n]})" for n in new_classes if photos[n] < MIN_PHOTOS_NEW_SIGN]
    if too_few:
        raise PersonaliseError(
            f"Capture at least {MIN_PHOTOS_NEW_SIGN} photos of each new sign; too few of: "
            f"{', '.join(too_few)}."
        )
    holdout_local, train_local = stratified_partition(
        range(len(user)), [s.label for s in user], (config.holdout_fraction,), rng
    )

    # -- replay and reference photos from the base model's own datasets --------------------
    datasets = _dataset_names(base.meta, config.replay_datasets)
    signer = reference_signer_of(base.meta, config.reference_signer)
    replay: list[Sample] = []
    reference: list[Sample] = []
    reference_text = f"{config.reference_dataset} signer {signer}"
    # The reference set comes from its dataset even when the base did not train on it.
    pool_names = list(datasets)
    if config.reference_dataset not in pool_names and _present(config.reference_dataset):
        pool_names.append(config.reference_dataset)
    try:
        pool = load_datasets(pool_names, classes=base_names, verify=False).samples
    except DatasetError:  # none of the base's classes in those sets (or none present)
        pool = []
    if pool:
        is_reference = [s.dataset == config.reference_dataset and s.signer == signer for s in pool]
        others = [
            s
            for s, ref in zip(pool, is_reference, strict=True)
            if not ref and s.dataset in datasets
        ]
        replay = limit_per_class(others, config.replay_per_class, seed=config.seed)
        if config.replay_per_class == 0:
            replay = []
        candidates = [s for s, ref in zip(pool, is_reference, strict=True) if ref]
        # Seed 0 always: the same reference photos for every run, so runs compare.
        reference = limit_per_class(candidates, config.reference_per_class, seed=0)
        if config.reference_per_class == 0:
            reference = []
    if not reference:
        reference_text = f"{config.reference_dataset} signer {signer} not found"
        notes.append(
            "Other people's signs were not measured: no photos of "
            f"{config.reference_dataset} signer {signer} in this model's classes here."
        )
    if not replay:
        notes.append(
            "No photos of other people were mixed in (set to 0, or the base model's training "
            "data is not on this machine): the new model may forget signs you did not capture."
        )
    seconds["read"] = time.monotonic() - started

    # -- features (MediaPipe only for photos the cache lacks) ------------------------------
    mark = time.monotonic()
    samples = [*user, *replay, *reference]
    cache = FeatureCache()
    computed = _fill_cache(
        samples,
        cache,
        lambda done, total: report(0.05 + 0.4 * done / total, f"Finding hands: {done}/{total}"),
    )
    from asl_core.data.features import extract_features

    table = extract_features(samples, cache, workers=1, progress=False)
    seconds["features"] = time.monotonic() - mark
    n_user, n_replay = len(user), len(replay)
    holdout = list(holdout_local)
    user_train = [i for i in train_local if table.has_hand[i]]
    replay_idx = [n_user + i for i in range(n_replay) if table.has_hand[n_user + i]]
    reference_idx = list(range(n_user + n_replay, len(samples)))
    trained = Counter(table.samples[i].label for i in user_train)
    too_few = [n for n in new_classes if trained[n] < max(1, MIN_PHOTOS_NEW_SIGN - 2)]
    if too_few:
        raise PersonaliseError(
            f"A hand was found in too few photos of {', '.join(too_few)}; capture more photos "
            "with the whole hand in view."
        )
    no_hand_user = int(sum(not table.has_hand[i] for i in range(n_user)))
    if no_hand_user:
        notes.append(
            f"No hand was found in {no_hand_user} of your photos: left out of training, "
            "counted wrong when held back."
        )

    # -- before ----------------------------------------------------------------------------
    report(0.5, "Scoring the base model")
    truth_holdout = [table.samples[i].label for i in holdout]
    truth_reference = [table.samples[i].label for i in reference_idx]
    before_holdout = predicted_labels(base.model, base_names, table, holdout, names)
    before_reference = predicted_labels(base.model, base_names, table, reference_idx, names)

    # -- the model and the run folder ------------------------------------------------------
    meta = base.meta
    model = create_model(meta.architecture, num_classes=len(names), **meta.arch_kwargs)
    model.input_spec = meta.input_spec
    transfer_weights(base.model, base_names, model, names)
    spec = model.input_spec
    representation = "landmarks" if spec.kind == "landmarks" else spec.representation
    if spec.kind != "landmarks":
        # An image network fine-tuned whole on a CPU takes hours; its classifier alone is the
        # transfer-learning step (seed 003) and still learns new signs.
        model.freeze_backbone()
        notes.append(
            f"{meta.architecture} reads images: only its classifier was adapted (the whole "
            "network would take hours on a CPU), and it is much slower than a landmark model."
        )
    root = Path(config.runs_dir) if config.runs_dir else runs_dir()
    suffix = config.signer.replace(" ", "-") if config.signer else None
    run_name = config.run_name or make_run_name(meta.architecture, "personalise", suffix)
    run_dir = unique_run_dir(root.resolve(), run_name)
    run_dir.mkdir(parents=True)
    counts = {
        "captures": n_user,
        "captures_train": len(user_train),
        "captures_held_back": len(holdout),
        "replay": len(replay_idx),
        "reference": len(reference_idx),
        "features_computed": computed,
    }
    log = RunLog(run_dir, use_wandb=config.wandb, job_type="personalise")
    base_weights = base_path.with_suffix(".safetensors")
    config_json = {
        **asdict(config),
        "model": meta.architecture,
        "arch_kwargs": meta.arch_kwargs,
        "run_name": run_dir.name,
        "job_type": "personalise",
        "representation": representation,
        "base_model": str(base_path),
        "base_weights_sha256": sha256_file(base_weights) if base_weights.is_file() else None,
        "split": {
            "name": "personalise",
            "params": {
                "holdout_fraction": config.holdout_fraction,
                "seed": config.seed,
                "reference": reference_text,
            },
            "counts": {
                "train": len(user_train) * config.user_repeat + len(replay_idx),
                "val": len(holdout),
                "test": len(holdout),
            },
            "signers": {"captures": sorted({s.signer for s in user if s.signer})},
            "datasets": {"captures": CAPTURES_DATASET, "replay": datasets},
        },
        "counts": counts,
        "class_names": names,
        "num_classes": len(names),
        "new_classes": new_classes,
        "input_spec": spec.to_dict(),
        "sources": [{"name": CAPTURES_DATASET, "path": str(Path(capture_folder).resolve())}]
        + [KNOWN_DATASETS[n].to_dict() for n in datasets],
        "optimizer": "adam",
        "pipeline_version": views.PIPELINE_VERSION,
        "torch_version": torch.__version__,
        "started_at": now_iso(),
        "command": list(sys.argv),
        "git_commit": git_commit(REPO_ROOT),
        "val_note": "val_* = the held-back photos, watched only: fixed epochs, last weights",
    }
    log.start(config_json)
    try:
        with _torch_threads(1 if spec.kind == "landmarks" else None):
            result = _train_and_write(
                config=config,
                log=log,
                model=model,
                names=names,
                table=table,
                user_train=user_train,
                replay_idx=replay_idx,
                holdout=holdout,
                reference_idx=reference_idx,
                report=report,
            )
    except BaseException as error:
        log.finish("crashed", error=f"{type(error).__name__}: {error}")
        raise
    after_holdout, after_reference, train_seconds = result
    seconds["training"] = train_seconds

    # -- after, and the record -------------------------------------------------------------
    per_class: dict[str, dict[str, int]] = {}
    for truth, before, after in zip(truth_holdout, before_holdout, after_holdout, strict=True):
        row = per_class.setdefault(truth, {"photos": 0, "before": 0, "after": 0})
        row["photos"] += 1
        row["before"] += before == truth
        row["after"] += after == truth
    outcome = PersonaliseResult(
        run_dir=run_dir,
        checkpoint=run_dir / "checkpoint.json",
        base_model=base_path,
        class_names=names,
        new_classes=new_classes,
        own_before=_score(truth_holdout, before_holdout),
        own_after=_score(truth_holdout, after_holdout),
        others_before=_score(truth_reference, before_reference),
        others_after=_score(truth_reference, after_reference),
        reference=reference_text,
        per_class={label: per_class[label] for label in sort_labels(per_class)},
        counts=counts,
        seconds=seconds,
        notes=notes,
    )
    save_checkpoint(
        run_dir / "checkpoint",
        model,
        names,
        architecture=meta.architecture,
        arch_kwargs=meta.arch_kwargs,
        data={
            "datasets": [CAPTURES_DATASET, *datasets],
            "personalised_from": str(base_path),
            "counts": counts,
        },
        metrics={
            "test_acc": outcome.own_after.accuracy,
            "own_signs_before": outcome.own_before.accuracy,
            "own_signs_after": outcome.own_after.accuracy,
            "other_signers_before": outcome.others_before.accuracy,
            "other_signers_after": outcome.others_after.accuracy,
        },
        extra={
            "run_name": run_dir.name,
            "representation": representation,
            "pipeline_version": views.PIPELINE_VERSION,
            "personalised": True,
            "new_classes": new_classes,
            "trained_at": now_iso(),
        },
    )
    log.finish(
        "finished",
        epochs_done=config.epochs,
        best_epoch=config.epochs,
        best_val_acc=outcome.own_after.accuracy,
        test_acc=outcome.own_after.accuracy,
        test_count=outcome.own_after.total,
        own_signs_before=outcome.own_before.accuracy,
        own_signs_after=outcome.own_after.accuracy,
        other_signers_before=outcome.others_before.accuracy,
        other_signers_after=outcome.others_after.accuracy,
        personalisation=outcome.sentence(),
        new_classes=new_classes,
    )
    seconds["total"] = time.monotonic() - started
    atomic_write_json(run_dir / "personalise.json", outcome.to_json())
    report(1.0, outcome.sentence())
    return outcome


def _train_and_write(
    *,
    config: PersonaliseConfig,
    log: RunLog,
    model: AslModel,
    names: list[str],
    table: FeatureTable,
    user_train: list[int],
    replay_idx: list[int],
    holdout: list[int],
    reference_idx: list[int],
    report: Progress,
) -> tuple[list[str | None], list[str | None], float]:
    """The fixed-schedule fine-tuning with one metrics row per epoch; the after answers."""
    mark = time.monotonic()
    spec = model.input_spec
    representation = spec.representation if spec.kind != "landmarks" else None
    train_set = AslDataset(
        table,
        user_train * config.user_repeat + replay_idx,
        names,
        spec,
        train_preset(spec, AugmentConfig(), representation),
        include_no_hand=False,
    )
    holdout_set = AslDataset(table, holdout, names, spec, eval_preset(spec))
    train_loader = _loader(train_set, config.batch_size, config.seed, shuffle=True)
    holdout_loader = _loader(holdout_set, 256, config.seed, shuffle=False)
    device = torch.device("cpu")
    criterion = nn.CrossEntropyLoss()
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.monotonic()
        train = train_one_epoch(model, criterion, optimizer, train_loader, device)
        val = evaluate(model, criterion, holdout_loader, device, names)
        elapsed = time.monotonic() - epoch_start
        row = epoch_row(
            epoch, "personalise", train_loss=train["loss"], train_acc=train["acc"],
            val_loss=val.loss, val_acc=val.accuracy, val_precision=val.precision,
            val_recall=val.recall, val_f1=val.f1, lr=config.lr, seconds=elapsed,
        )  # fmt: skip
        log.log_epoch(row, val.confusion_json(epoch, "val"), predictions=(val.y_true, val.y_pred))
        log.update_summary(status="running", epochs_done=epoch)
        report(
            0.55 + 0.4 * epoch / config.epochs,
            f"Training: epoch {epoch}/{config.epochs}, held-back accuracy {val.accuracy:.0%}",
        )
    train_seconds = time.monotonic() - mark
    report(0.97, "Scoring the new model")
    final = evaluate(model, criterion, holdout_loader, device, names)
    log.log_test(
        {**final.metrics()},
        final.confusion_json(None, "test"),
        final.report,
        step=config.epochs + 1,
        predictions=(final.y_true, final.y_pred),
    )
    after_holdout = predicted_labels(model, names, table, holdout, names)
    after_reference = predicted_labels(model, names, table, reference_idx, names)
    return after_holdout, after_reference, train_seconds
