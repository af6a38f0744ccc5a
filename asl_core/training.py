"""The training loop, in the style of torchvision's references/classification `train.py`.

`fit(config)` does a whole run: load the datasets, split them, fill the feature cache (MediaPipe
once per photo), train, validate every epoch, test the best weights and write the run folder
(`asl_core.runlog` documents its format) and the W&B run. Pieces usable on their own:
`train_one_epoch`, `evaluate`, `collect_logits`, `summarise_predictions`, `build_model`.

Decisions worth knowing:
- Photos in which MediaPipe finds no hand are left out of training, and counted WRONG in every
  evaluation (validation and test accuracy, recall, F1); they are not in the confusion matrix,
  which has a separate `no_hand` count per true label. Loss is over photos with a hand.
- The checkpoint holds the BEST weights by the monitored metric (`early_stopping.monitor`,
  val_loss by default), whether or not early stopping is enabled.
- Transfer learning (seed 003): `freeze: head` trains only the classifier for `epochs` epochs,
  then each name in `stages` (e.g. [layer4, layer3]) is unfrozen in turn, cumulatively, for up
  to `stage_epochs` epochs; unfrozen backbone layers learn at `finetune_lr`, the head at
  `stage_head_lr` (default: `lr`). Each stage stops early when the monitored metric stops
  improving (always, as in seed 003) and ends by restoring the best weights so far, so a stage
  that only overfits is undone. Frozen layers are kept in eval mode (BatchNorm statistics of
  pretrained layers do not drift while their weights are frozen).
- Resume: after every epoch `state.safetensors` (weights, best weights, optimiser tensors,
  torch RNG) and `state.json` (epoch, phase, early-stopping counters, scheduler, the rest of the
  optimiser, python/numpy RNG, W&B id) are written atomically. `fit(config, resume_dir=...)`
  continues after the last finished epoch; metrics.jsonl keeps exactly one row per epoch. A
  finished run can be extended the same way with more epochs.
- Several processes: launched by `torchrun --nproc_per_node=N`, WORLD_SIZE/RANK are read, a
  process group (gloo on CPU, nccl on CUDA) is opened, the model is wrapped in
  DistributedDataParallel and the training side is sharded with DistributedSampler;
  evaluation shards the data and gathers the predictions. Only rank 0 extracts features,
  writes files and talks to W&B: one run folder.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import random
import socket
import sys
import time
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist
import yaml
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from asl_core import representations
from asl_core.augment import AugmentConfig, describe, eval_preset, train_preset
from asl_core.checkpoint import atomic_write_json, save_checkpoint
from asl_core.data import AslDataset, DatasetError, SampleSet, Split, load_datasets, make_split
from asl_core.features import FeatureCache, FeatureTable, extract_features
from asl_core.models import AslModel, create_model, model_info
from asl_core.runlog import (
    ProgressLine,
    RunLog,
    format_seconds,
    git_commit,
    make_run_name,
    now_iso,
    read_metrics,
    unique_run_dir,
)
from asl_core.settings import REPO_ROOT, runs_dir

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "step", "cosine")
MONITORS = ("val_loss", "val_acc")
FREEZE_MODES = ("none", "head")
CONFIG_DIR = REPO_ROOT / "training" / "configs"


# --- configuration ------------------------------------------------------------------------


@dataclass
class SplitConfig:
    """Which split (asl_core.data documents each) and its parameters."""

    name: str = "random"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    folds: int = 5
    fold: int = 0
    test_signer: str | None = None
    val_signer: str | None = None
    test_dataset: str = "grassknoted_letters"
    random_state: int = 42


@dataclass
class EarlyStoppingConfig:
    """Stop a phase after `patience` epochs without improving `monitor` by `min_delta`."""

    enabled: bool = False
    monitor: str = "val_loss"
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class TrainConfig:
    """Everything a run needs; `training/configs/defaults.yaml` lists the same keys."""

    # model
    model: str = "landmark_mlp"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    representation: str | None = None  # crop | skeleton for image models; None: the model's
    pretrained: bool = False
    weights_path: str | None = None  # a local ImageNet weights file (not stored in checkpoints)
    freeze: str = "none"  # none | head
    stages: list[str] = field(default_factory=list)
    stage_epochs: int = 5
    finetune_lr: float = 1e-4
    stage_head_lr: float | None = None
    backbone_lr: float | None = None
    # data
    datasets: list[str] = field(default_factory=lambda: ["massey36"])
    classes: str | list[str] = "all"
    limit_per_class: int | None = None
    verify_datasets: bool = True
    split: SplitConfig = field(default_factory=SplitConfig)
    cache_size: int = 224
    extract_workers: int = 2
    num_workers: int = 0
    # optimisation
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 100
    epochs: int = 10
    scheduler: str = "none"
    step_size: int = 3
    gamma: float = 0.1
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    # run
    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    project: str = "asl-signs"
    group: str | None = None
    job_type: str = "train"
    run_name: str | None = None
    name_suffix: str | None = None
    runs_dir: str | None = None
    wandb: bool = True
    progress: bool = True

    def validate(self) -> None:
        model_info(self.model)  # raises with the known names
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}"),
            (self.freeze in FREEZE_MODES, f"freeze must be one of {FREEZE_MODES}"),
            (self.early_stopping.monitor in MONITORS, f"monitor must be one of {MONITORS}"),
            (not self.stages or self.freeze == "head", "stages need freeze: head"),
            (self.epochs >= 1 or bool(self.stages), "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr > 0, "lr must be positive"),
            (self.representation in (None, "crop", "skeleton", "landmarks"),
             "representation must be crop, skeleton or landmarks"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """YAML and --set values to the declared type (PyYAML reads `1e-3` as a string)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise ValueError(f"{where}: {value!r} fits none of {hint} ({'; '.join(errors)})")
    if is_dataclass(hint):
        return _dataclass_from_dict(hint, value or {}, where)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int | str):
            return int(value)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, list | dict):
            raise ValueError(f"{where}: expected text, got {value!r}")
        return str(value)
    if origin is list:
        items = value if isinstance(value, list | tuple) else [value]
        return [_coerce(item, args[0] if args else Any, where) for item in items]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(item, args[0] if args else Any, where) for item in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def _dataclass_from_dict(cls: Any, data: dict[str, Any], where: str = "", strict: bool = True):
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = [key for key in data if key not in names]
    if unknown and strict:
        hints_text = []
        for key in unknown:
            close = difflib.get_close_matches(key, names, n=1)
            hints_text.append(f"{key}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"unknown config keys in {where or 'config'}: {', '.join(hints_text)}")
    values = {}
    for name in names:
        if name in data:
            values[name] = _coerce(data[name], hints[name], f"{where}{name}")
    return cls(**values)


def config_from_dict(data: dict[str, Any], *, strict: bool = True) -> TrainConfig:
    """A TrainConfig from a (merged) YAML mapping; unknown keys are errors when strict.

    Also reads a run's config.json back (strict=False): its `split` is the described split
    (`name`, `params`, counts ...), of which `name` and `params` rebuild the SplitConfig.
    """
    data = dict(data)
    split = data.get("split")
    if isinstance(split, str):
        data["split"] = {"name": split}
    elif isinstance(split, dict) and "params" in split:
        data["split"] = {"name": split.get("name", "random"), **split["params"]}
    augmentation = data.get("augmentation")
    if isinstance(augmentation, dict) and not strict:
        names = {f.name for f in fields(AugmentConfig)}
        data["augmentation"] = {k: v for k, v in augmentation.items() if k in names}
    config = _dataclass_from_dict(TrainConfig, data, "", strict=strict)
    config.validate()
    return config


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; nested mappings merge, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML config with its `defaults:` merged in.

    `defaults: [defaults]` (or a single name) lists files in the same folder, `.yaml`
    optional, merged in order, then the file's own keys on top. Nested mappings merge key by
    key. Returns the merged mapping (not yet checked: see `config_from_dict`).
    """
    path = Path(path)
    if not path.is_file() and not path.suffix:
        path = path.with_suffix(".yaml")
    if not path.is_file() and (CONFIG_DIR / path.name).is_file():
        path = CONFIG_DIR / path.name
    path = path.resolve()
    if path in _seen:
        raise ValueError(f"config defaults loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of config keys")
    bases = raw.pop("defaults", []) or []
    if isinstance(bases, str):
        bases = [bases]
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = path.parent / str(base)
        if not base_path.suffix:
            base_path = base_path.with_suffix(".yaml")
        merged = deep_merge(merged, load_config_file(base_path, (*_seen, path)))
    return deep_merge(merged, raw)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`["lr=0.01", "split.name=loso", "stages=[layer4]"]` to a nested mapping (YAML values)."""
    result: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        value = yaml.safe_load(text) if text.strip() else None
        target = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), **updates: Any
) -> TrainConfig:
    """Config file + `--set` overrides + keyword updates, checked."""
    data = load_config_file(path) if path else {}
    data.pop("grid", None)  # a sweep's grid: read by training.sweep
    data = deep_merge(data, parse_overrides(overrides))
    data = deep_merge(data, {k: v for k, v in updates.items() if v is not None})
    return config_from_dict(data)


# --- distributed --------------------------------------------------------------------------


@dataclass
class DistContext:
    """Where this process stands in a torchrun launch (world_size 1 when alone)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> DistContext:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        initialised_here = False
        if not torch_dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
            initialised_here = True
        return cls(world_size, rank, local_rank, initialised_here)

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def broadcast(self, value: Any) -> Any:
        if not self.enabled:
            return value
        box = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        if not self.enabled:
            return [value]
        out: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, value)
        return out

    def sum(self, values: Sequence[float]) -> list[float]:
        if not self.enabled:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        torch_dist.all_reduce(tensor)
        return tensor.tolist()

    def shutdown(self) -> None:
        if self.initialised_here and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


# --- model and optimisation ---------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_model(config: TrainConfig, num_classes: int) -> AslModel:
    """The configured architecture; raises PretrainedWeightsMissing (a clear message) when
    ImageNet weights are asked for and no local file exists."""
    kwargs = dict(config.arch_kwargs)
    info = model_info(config.model)
    if config.representation and config.representation != "landmarks":
        if info.input_spec.kind == "landmarks":
            raise ValueError(f"{config.model} reads landmark vectors, not {config.representation}")
        kwargs["representation"] = config.representation
    if config.pretrained and config.weights_path:
        kwargs["weights_path"] = config.weights_path
    return create_model(config.model, num_classes, pretrained=config.pretrained, **kwargs)


def unwrap(model: nn.Module) -> AslModel:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def set_phase_trainable(model: AslModel, phase: str, stages: Sequence[str]) -> None:
    """requires_grad for a phase: "full" everything; "head" the head; a stage name: the head
    and every stage up to and including this one in `stages` (cumulative unfreezing)."""
    if phase == "full":
        model.unfreeze_all()
        return
    model.freeze_backbone()
    if phase == "head":
        return
    for stage in stages[: list(stages).index(phase) + 1]:
        model.unfreeze_stage(stage)


def freeze_frozen_modules(model: nn.Module) -> None:
    """Put modules whose own parameters are all frozen in eval mode (BatchNorm stats fixed)."""
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()


def param_groups(model: AslModel, config: TrainConfig, phase: str) -> list[dict[str, Any]]:
    """Head first (its lr is the logged `lr`), then the trainable backbone layers."""
    head = [p for p in model.head_parameters() if p.requires_grad]
    backbone = [p for p in model.backbone_parameters() if p.requires_grad]
    if phase == "full":
        if config.backbone_lr is None:
            return [{"params": head + backbone, "lr": config.lr, "name": "all"}]
        head_lr, backbone_lr = config.lr, config.backbone_lr
    elif phase == "head":
        return [{"params": head, "lr": config.lr, "name": "head"}]
    else:
        head_lr = config.stage_head_lr if config.stage_head_lr is not None else config.lr
        backbone_lr = config.finetune_lr
    groups = [{"params": head, "lr": head_lr, "name": "head"}]
    if backbone:
        groups.append({"params": backbone, "lr": backbone_lr, "name": "backbone"})
    return groups


def build_optimizer(groups: list[dict[str, Any]], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        groups, momentum=config.momentum, weight_decay=config.weight_decay, nesterov=False
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, phase_epochs: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per epoch; a new one per phase (cosine spans the phase)."""
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, phase_epochs), eta_min=config.min_lr
        )
    return None


# --- one epoch, one evaluation ------------------------------------------------------------


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
    *,
    dist: DistContext | None = None,
    progress: ProgressLine | None = None,
) -> dict[str, float]:
    """One pass over the training side; loss and accuracy summed over every process."""
    model.train()
    freeze_frozen_modules(model)
    loss_sum, correct, count = 0.0, 0.0, 0.0
    for inputs, labels, _has_input in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        logits = model(inputs)
        loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        batch = labels.shape[0]
        loss_sum += float(loss.detach()) * batch
        correct += float((logits.detach().argmax(1) == labels).sum())
        count += batch
        if progress is not None:
            progress.advance(extra=f"loss {loss_sum / count:.4f} acc {correct / count:.3f}")
    loss_sum, correct, count = (dist or DistContext()).sum([loss_sum, correct, count])
    return {
        "loss": loss_sum / count if count else float("nan"),
        "acc": correct / count if count else 0.0,
        "count": int(count),
    }


@torch.no_grad()
def collect_logits(
    model: nn.Module, loader: DataLoader, device: torch.device, dist: DistContext | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logits N x C, labels N, has_input N) over the loader, gathered from every process."""
    model.eval()
    logits, labels, valid = [], [], []
    for inputs, targets, has_input in loader:
        logits.append(model(inputs.to(device)).float().cpu())
        labels.append(targets)
        valid.append(has_input)
    parts = (
        torch.cat(logits).numpy() if logits else np.zeros((0, 0), np.float32),
        torch.cat(labels).numpy() if labels else np.zeros(0, np.int64),
        torch.cat(valid).numpy().astype(bool) if valid else np.zeros(0, bool),
    )
    if dist is None or not dist.enabled:
        return parts
    gathered = dist.gather(parts)
    non_empty = [g for g in gathered if len(g[1])]
    if not non_empty:
        return parts
    return (
        np.concatenate([g[0] for g in non_empty]),
        np.concatenate([g[1] for g in non_empty]),
        np.concatenate([g[2] for g in non_empty]),
    )


@dataclass
class EvalResult:
    """Metrics of one evaluation; photos without a hand count as wrong (y_pred -1)."""

    class_names: list[str]
    loss: float | None
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion: np.ndarray
    no_hand_per_class: np.ndarray
    report: dict[str, dict[str, float]]
    y_true: np.ndarray
    y_pred: np.ndarray

    @property
    def count(self) -> int:
        return len(self.y_true)

    @property
    def no_hand(self) -> int:
        return int(self.no_hand_per_class.sum())

    def metrics(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "acc": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "count": self.count,
            "no_hand": self.no_hand,
        }

    def confusion_json(self, epoch: int | None, split: str) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "split": split,
            "labels": list(self.class_names),
            "matrix": self.confusion.astype(int).tolist(),
            "no_hand": self.no_hand_per_class.astype(int).tolist(),
        }


def summarise_predictions(
    probabilities_or_logits: np.ndarray,
    labels: np.ndarray,
    has_input: np.ndarray,
    class_names: Sequence[str],
    *,
    loss: float | None = None,
) -> EvalResult:
    """Accuracy, macro precision/recall/F1 (sklearn, zero_division=0), confusion matrix and a
    per-class report. Macro averages run over the classes present in the truth or the
    predictions (a lodo test side shows only some classes)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    num_classes = len(class_names)
    labels = np.asarray(labels, dtype=np.int64)
    has_input = np.asarray(has_input, dtype=bool)
    y_pred = np.full(len(labels), -1, dtype=np.int64)
    if len(labels) and has_input.any():
        y_pred[has_input] = np.asarray(probabilities_or_logits)[has_input].argmax(1)
    accuracy = float((y_pred == labels).mean()) if len(labels) else 0.0
    present = sorted(set(labels.tolist()) | set(y_pred[y_pred >= 0].tolist()))
    if present:
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, y_pred, labels=present, average="macro", zero_division=0
        )
    else:
        precision = recall = f1 = 0.0
    all_classes = list(range(num_classes))
    p_each, r_each, f_each, support = precision_recall_fscore_support(
        labels, y_pred, labels=all_classes, average=None, zero_division=0
    )
    report = {
        name: {
            "precision": float(p_each[i]),
            "recall": float(r_each[i]),
            "f1": float(f_each[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    matrix = confusion_matrix(labels[has_input], y_pred[has_input], labels=all_classes)
    no_hand = np.bincount(labels[~has_input], minlength=num_classes)
    return EvalResult(
        class_names=list(class_names),
        loss=loss,
        accuracy=accuracy,
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        confusion=matrix,
        no_hand_per_class=no_hand,
        report=report,
        y_true=labels,
        y_pred=y_pred,
    )


def evaluate(
    model: nn.Module,
    criterion: nn.Module,
    loader: DataLoader,
    device: torch.device,
    class_names: Sequence[str],
    *,
    dist: DistContext | None = None,
) -> EvalResult:
    """Loss (over photos with a hand), accuracy, macro P/R/F1, confusion, per-class report."""
    logits, labels, has_input = collect_logits(model, loader, device, dist)
    loss = None
    if has_input.any():
        with torch.no_grad():
            loss = float(
                criterion(torch.from_numpy(logits[has_input]), torch.from_numpy(labels[has_input]))
            )
    return summarise_predictions(logits, labels, has_input, class_names, loss=loss)


# --- best weights and early stopping ------------------------------------------------------


def epoch_row(
    epoch: int, stage: str, train: dict[str, float], val: EvalResult, lr: float, seconds: float
) -> dict[str, Any]:
    """One line of metrics.jsonl (the run browser reads these keys)."""
    return {
        "epoch": epoch,
        "stage": stage,
        "train_loss": train["loss"],
        "train_acc": train["acc"],
        "val_loss": val.loss,
        "val_acc": val.accuracy,
        "val_precision": val.precision,
        "val_recall": val.recall,
        "val_f1": val.f1,
        "lr": lr,
        "epoch_time_s": round(seconds, 3),
        "time": now_iso(),
    }


class BestTracker:
    """The best epoch by `monitor` and a copy of its weights (restored at phase ends)."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.min_delta = min_delta
        self.value: float | None = None
        self.epoch = 0
        self.val_acc: float | None = None
        self.val_loss: float | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def improves(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.value is None:
            return True
        if self.monitor == "val_loss":
            return value < self.value - self.min_delta
        return value > self.value + self.min_delta

    def update(self, epoch: int, row: dict[str, Any], model: AslModel) -> bool:
        value = row[self.monitor]
        if not self.improves(value):
            return False
        self.value, self.epoch = value, epoch
        self.val_acc, self.val_loss = row["val_acc"], row["val_loss"]
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def restore(self, model: AslModel) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "value": self.value,
            "epoch": self.epoch,
            "val_acc": self.val_acc,
            "val_loss": self.val_loss,
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.value = data.get("value")
        self.epoch = int(data.get("epoch") or 0)
        self.val_acc = data.get("val_acc")
        self.val_loss = data.get("val_loss")


# --- resume state -------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def save_state(
    run_dir: Path,
    model: AslModel,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    best: BestTracker,
    info: dict[str, Any],
) -> None:
    """state.safetensors (every tensor) + state.json (the rest); both atomic, no pickle."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        tensors[f"model.{key}"] = value.detach().cpu().clone().contiguous()
    if best.state is not None:
        for key, value in best.state.items():
            tensors[f"best.{key}"] = value.detach().cpu().clone().contiguous()
    optim_state = optimizer.state_dict()
    optim_values: dict[str, dict[str, Any]] = {}
    for param_id, param_state in optim_state["state"].items():
        values: dict[str, Any] = {}
        for name, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{param_id}.{name}"] = value.detach().cpu().clone().contiguous()
                values[name] = "tensor"
            else:
                values[name] = value
        optim_values[str(param_id)] = values
    tensors["rng.torch"] = torch.get_rng_state()
    payload = {
        **info,
        "best": best.to_json(),
        "optimizer": {"param_groups": optim_state["param_groups"], "state": optim_values},
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"python": random.getstate(), "numpy": np.random.get_state()},
        "saved_at": now_iso(),
    }
    weights = run_dir / "state.safetensors"
    tmp = weights.with_name(f".{weights.name}.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, weights)
    atomic_write_json(run_dir / "state.json", _json_safe(payload))


@dataclass
class ResumeState:
    info: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @classmethod
    def read(cls, run_dir: Path) -> ResumeState:
        meta, weights = run_dir / "state.json", run_dir / "state.safetensors"
        if not meta.is_file() or not weights.is_file():
            raise FileNotFoundError(
                f"{run_dir} has no resume state (state.json + state.safetensors): it stopped "
                "before its first epoch finished; start it again instead"
            )
        return cls(json.loads(meta.read_text(encoding="utf-8")), load_file(str(weights)))

    def prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def restore_model(self, model: AslModel, best: BestTracker) -> None:
        model.load_state_dict(self.prefixed("model."))
        best.load_json(self.info.get("best", {}))
        best_state = self.prefixed("best.")
        best.state = best_state or None

    def restore_optimizer(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        saved = self.info["optimizer"]
        state: dict[int, dict[str, Any]] = {}
        for param_id, values in saved["state"].items():
            state[int(param_id)] = {
                name: self.tensors[f"optim.{param_id}.{name}"] if value == "tensor" else value
                for name, value in values.items()
            }
        groups = [
            {k: _to_tuple(v) if k == "betas" else v for k, v in group.items()}
            for group in saved["param_groups"]
        ]
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        if scheduler is not None and self.info.get("scheduler"):
            saved_scheduler = dict(self.info["scheduler"])
            if "T_max" in saved_scheduler:  # a longer phase on resume keeps its new length
                saved_scheduler["T_max"] = scheduler.T_max
            scheduler.load_state_dict(saved_scheduler)

    def restore_rng(self) -> None:
        rng = self.info.get("rng") or {}
        if "python" in rng:
            random.setstate(_to_tuple(rng["python"]))
        if "numpy" in rng:
            kind, keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        if "rng.torch" in self.tensors:
            torch.set_rng_state(self.tensors["rng.torch"])


# --- the run ------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What `fit` returns (on every process)."""

    run_dir: Path
    run_name: str
    status: str
    epochs_done: int
    best_epoch: int
    best_val_acc: float | None
    best_val_loss: float | None
    test: dict[str, Any]
    history: list[dict[str, Any]]
    checkpoint: Path | None
    no_hand: dict[str, Any]
    class_names: list[str]


@dataclass
class Phase:
    name: str  # "full", "head" or a stage name
    epochs: int


def plan_phases(config: TrainConfig) -> list[Phase]:
    if config.freeze == "none":
        return [Phase("full", config.epochs)]
    phases = [Phase("head", config.epochs)] if config.epochs > 0 else []
    return phases + [Phase(stage, config.stage_epochs) for stage in config.stages]


def split_params(config: TrainConfig) -> dict[str, Any]:
    params = asdict(config.split)
    params.pop("name")
    return params


def default_suffix(config: TrainConfig) -> str | None:
    if config.name_suffix:
        return config.name_suffix
    split = config.split
    if split.name == "loso":
        return split.test_signer
    if split.name == "kfold":
        return f"fold{split.fold}"
    if split.name == "lodo":
        return f"test-{split.test_dataset}"
    return None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _loader_batches(count: int, batch_size: int) -> tuple[bool, int]:
    """(drop_last, batches): drop a last batch of ONE sample, which BatchNorm cannot train on."""
    drop_last = count > 1 and count % batch_size == 1
    batches = count // batch_size if drop_last else math.ceil(count / batch_size)
    return drop_last, batches


class _Run:
    """One call of `fit`: holds the pieces so each step stays a short method."""

    def __init__(
        self,
        config: TrainConfig,
        resume_dir: Path | None,
        command: Sequence[str] | None,
    ) -> None:
        self.config = config
        self.resume_dir = Path(resume_dir) if resume_dir else None
        self.command = list(command) if command is not None else list(sys.argv)
        self.device = resolve_device(config.device)
        self.dist = DistContext.from_env(self.device)
        self.started_at = now_iso()

    # -- setup --

    def _threads(self) -> None:
        threads = self.config.threads
        if threads is None and self.dist.enabled:
            threads = max(1, (os.cpu_count() or 1) // self.dist.world_size)
        if threads:
            torch.set_num_threads(threads)

    def _run_dir(self) -> Path:
        if self.resume_dir is not None:
            return self.resume_dir.resolve()
        run_dir = None
        if self.dist.is_main:
            root = Path(self.config.runs_dir) if self.config.runs_dir else runs_dir()
            name = self.config.run_name or make_run_name(
                self.config.model, self.config.split.name, default_suffix(self.config)
            )
            run_dir = unique_run_dir(root.resolve(), name)
            run_dir.mkdir(parents=True)
        return Path(self.dist.broadcast(str(run_dir) if run_dir else None))

    def _datasets(self, table: FeatureTable, split: Split, spec: Any) -> dict[str, AslDataset]:
        config = self.config
        representation = spec.representation if spec.kind != "landmarks" else None
        train_tf = train_preset(spec, config.augmentation, representation)
        eval_tf = eval_preset(spec)
        names = self.samples.class_names
        return {
            "train": AslDataset(table, split.train, names, spec, train_tf, include_no_hand=False),
            "val": AslDataset(table, split.val, names, spec, eval_tf),
            "test": AslDataset(table, split.test, names, spec, eval_tf),
        }

    def _eval_loader(self, dataset: AslDataset) -> DataLoader:
        """Each process evaluates every world_size-th sample; collect_logits gathers them."""
        shard: Any = dataset
        if self.dist.enabled:
            shard = Subset(dataset, range(self.dist.rank, len(dataset), self.dist.world_size))
        return DataLoader(
            shard,
            batch_size=max(self.config.batch_size, 64),
            shuffle=False,
            num_workers=self.config.num_workers,
        )

    def _train_loader(self, dataset: AslDataset) -> tuple[DataLoader, Any]:
        config = self.config
        if self.dist.enabled:
            sampler: Any = DistributedSampler(
                dataset,
                num_replicas=self.dist.world_size,
                rank=self.dist.rank,
                shuffle=True,
                seed=config.seed,
            )
            per_rank = math.ceil(len(dataset) / self.dist.world_size)
        else:
            self.generator = torch.Generator()
            sampler = RandomSampler(dataset, generator=self.generator)
            per_rank = len(dataset)
        drop_last, _ = _loader_batches(per_rank, config.batch_size)
        loader = DataLoader(
            dataset,
            batch_size=config.batch_size,
            sampler=sampler,
            num_workers=config.num_workers,
            drop_last=drop_last,
        )
        return loader, sampler

    def _no_hand(self, table: FeatureTable, split: Split) -> dict[str, Any]:
        by_side = {
            side: int(sum(1 for i in idx if not table.has_hand[i]))
            for side, idx in split.sides().items()
        }
        used = sorted(set(split.train) | set(split.val) | set(split.test))
        used_sources = {table.samples[i].source for i in used}
        return {
            "count": int(sum(1 for i in used if not table.has_hand[i])),
            "by_side": by_side,
            "files": table.no_hand_sources(used),
            "unreadable": [u for u in table.report.unreadable if u["source"] in used_sources],
            "rule": "left out of training; counted as wrong predictions in val and test",
        }

    def _config_json(self, extra: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        data = config.to_dict()
        data.update(
            {
                "run_name": self.run_dir.name,
                "representation": self.representation,
                "split": self.split.describe(self.samples.samples),
                "class_names": self.samples.class_names,
                "num_classes": len(self.samples.class_names),
                "input_spec": self.model.input_spec.to_dict(),
                "sources": self.samples.sources,
                "selection": self.samples.selection,
                "augmentation_applied": describe(
                    config.augmentation, self.model.input_spec, self.representation
                ),
                "phases": [asdict(p) for p in self.phases],
                "pretrained_loaded": bool(self.model.pretrained_loaded),
                "pipeline_version": representations.PIPELINE_VERSION,
                "world_size": self.dist.world_size,
                "device": str(self.device),
                "torch_version": torch.__version__,
                "started_at": self.started_at,
                "command": self.command,
                "git_commit": git_commit(REPO_ROOT),
                **extra,
            }
        )
        return _json_safe(data)

    # -- the run --

    def run(self) -> RunResult:
        config = self.config
        config.validate()
        self._threads()
        seed_everything(config.seed)
        self.samples: SampleSet = load_datasets(
            config.datasets,
            classes=config.classes,
            limit=config.limit_per_class,
            seed=config.seed,
            verify=config.verify_datasets,
        )
        # Built before MediaPipe runs, so a missing weights file fails in a second, not after
        # minutes of extraction.
        self.model = build_model(config, len(self.samples.class_names)).to(self.device)
        spec = self.model.input_spec
        self.representation = "landmarks" if spec.kind == "landmarks" else spec.representation
        self.split = make_split(self.samples.samples, config.split.name, **split_params(config))
        for side in ("train", "val", "test"):
            if not self.split.sides()[side]:
                raise DatasetError(f"the {config.split.name} split left the {side} side empty")
        self.phases = plan_phases(config)
        self.resume = ResumeState.read(self.resume_dir) if self.resume_dir else None
        self.run_dir = self._run_dir()
        self.log = RunLog(
            self.run_dir,
            active=self.dist.is_main,
            use_wandb=config.wandb,
            project=config.project,
            group=config.group,
            job_type=config.job_type,
        )
        try:
            return self._run_logged()
        except BaseException as error:
            self.log.finish("crashed", error=f"{type(error).__name__}: {error}")
            raise

    def _run_logged(self) -> RunResult:
        config = self.config
        kept_rows: list[dict[str, Any]] = []
        previous_summary: dict[str, Any] = {}
        if self.resume is not None:
            done = int(self.resume.info["epoch"])
            kept_rows = [r for r in read_metrics(self.run_dir) if int(r["epoch"]) <= done]
            summary_path = self.run_dir / "summary.json"
            if summary_path.is_file():
                previous_summary = json.loads(summary_path.read_text(encoding="utf-8"))
                previous_summary.pop("error", None)  # the crash this resume recovers from
        if self.dist.is_main:
            # A first config.json and a "running" summary before MediaPipe: the run browser
            # shows the run while features are extracted; rewritten with no-hand counts below.
            atomic_write_json(self.run_dir / "config.json", self._config_json({}))
            atomic_write_json(
                self.run_dir / "summary.json",
                {
                    **previous_summary,
                    "status": "running",
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                    "updated_at": now_iso(),
                },
            )
        cache = FeatureCache(size=config.cache_size)
        if self.dist.is_main:
            table = extract_features(
                self.samples.samples,
                cache,
                workers=config.extract_workers,
                progress=config.progress,
            )
        self.dist.barrier()  # the other processes read what rank 0 cached
        if not self.dist.is_main:
            table = extract_features(self.samples.samples, cache, workers=1, progress=False)
        no_hand = self._no_hand(table, self.split)
        extraction = table.report.to_dict()
        extraction.pop("no_hand"), extraction.pop("unreadable")
        config_json = self._config_json({"no_hand": no_hand, "extraction": extraction})
        self.log.start(
            config_json,
            resumed_rows=kept_rows,
            wandb_id=(self.resume.info.get("wandb_id") if self.resume else None),
            summary={**previous_summary, "no_hand": no_hand},
        )
        datasets = self._datasets(table, self.split, self.model.input_spec)
        if len(datasets["train"]) == 0:
            raise DatasetError("no training photo has a detectable hand")
        train_loader, sampler = self._train_loader(datasets["train"])
        val_loader = self._eval_loader(datasets["val"])
        test_loader = self._eval_loader(datasets["test"])
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        import sklearn.metrics  # noqa: F401  (imported now, not inside epoch 1's timing)

        history = self._train_phases(criterion, train_loader, sampler, val_loader, kept_rows)
        return self._finish(criterion, test_loader, history, no_hand)

    def _train_phases(
        self,
        criterion: nn.Module,
        train_loader: DataLoader,
        sampler: Any,
        val_loader: DataLoader,
        history: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        config = self.config
        model = self.model
        self.best = BestTracker(config.early_stopping.monitor, config.early_stopping.min_delta)
        start_phase, start_phase_epoch, bad_epochs, epoch = 0, 0, 0, 0
        self.stopped_early: list[str] = []
        if self.resume is not None:
            info = self.resume.info
            self.resume.restore_model(model, self.best)
            start_phase = int(info["phase_index"])
            start_phase_epoch = int(info["phase_epoch"])
            bad_epochs = int(info["bad_epochs"])
            epoch = int(info["epoch"])
            self.stopped_early = list(info.get("stopped_early", []))
        total_epochs = epoch + sum(p.epochs for p in self.phases[start_phase:]) - start_phase_epoch
        epoch_times: list[float] = []
        for phase_index in range(start_phase, len(self.phases)):
            phase = self.phases[phase_index]
            resuming = self.resume is not None and phase_index == start_phase
            phase_epoch = start_phase_epoch if resuming else 0
            if not resuming:
                bad_epochs = 0
            early = config.early_stopping
            # Seed 003: every fine-tuning stage stops early, whatever `enabled` says.
            stops_early = early.enabled or phase.name not in ("full", "head")
            if resuming and stops_early and bad_epochs >= early.patience:
                phase_epoch = phase.epochs  # it had stopped early: go on with the next phase
            if phase_epoch < phase.epochs:
                set_phase_trainable(model, phase.name, config.stages)
                optimizer = build_optimizer(param_groups(model, config, phase.name), config)
                scheduler = build_scheduler(optimizer, config, phase.epochs)
                if resuming and phase_epoch > 0:
                    self.resume.restore_optimizer(optimizer, scheduler)
                    self.resume.restore_rng()
                trained = model
                if self.dist.enabled:
                    trained = nn.parallel.DistributedDataParallel(model)
            while phase_epoch < phase.epochs:
                epoch += 1
                phase_epoch += 1
                started = time.monotonic()
                if isinstance(sampler, DistributedSampler):
                    sampler.set_epoch(epoch)
                else:
                    self.generator.manual_seed(config.seed * 1000 + epoch)
                # Augmentation draws from the global RNG: seeded per epoch (and rank), so a
                # resumed run sees the same augmentations as an uninterrupted one.
                torch.manual_seed(config.seed * 1000 + epoch * 10 + self.dist.rank)
                progress = ProgressLine(
                    len(train_loader),
                    f"epoch {epoch}/{total_epochs} [{phase.name}]",
                    enabled=config.progress and self.dist.is_main,
                    unit="batches",
                )
                train = train_one_epoch(
                    trained,
                    criterion,
                    optimizer,
                    train_loader,
                    self.device,
                    dist=self.dist,
                    progress=progress,
                )
                lr = optimizer.param_groups[0]["lr"]
                if scheduler is not None:
                    scheduler.step()
                val = evaluate(
                    model, criterion, val_loader, self.device, self.samples.class_names,
                    dist=self.dist,
                )  # fmt: skip
                elapsed = time.monotonic() - started
                epoch_times.append(elapsed)
                row = _json_safe(epoch_row(epoch, phase.name, train, val, lr, elapsed))
                history = [r for r in history if int(r["epoch"]) != epoch] + [row]
                if self.best.update(epoch, row, model):
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                left = (total_epochs - epoch) * (sum(epoch_times) / len(epoch_times))
                progress.close(
                    extra=f"val_loss {_fmt(val.loss)} val_acc {val.accuracy:.3f} "
                    f"({elapsed:.1f}s, about {format_seconds(left)} left at most)"
                )
                wandb_extra = {"stage_index": phase_index, "train/images": train["count"]}
                for group in optimizer.param_groups[1:]:
                    wandb_extra[f"lr_{group.get('name', 'group')}"] = group["lr"]
                self.log.log_epoch(
                    row,
                    val.confusion_json(epoch, "val"),
                    wandb_extra=wandb_extra,
                    predictions=(val.y_true, val.y_pred),
                )
                should_stop = stops_early and bad_epochs >= early.patience
                if should_stop and phase_epoch < phase.epochs:
                    self.stopped_early.append(phase.name)
                if self.dist.is_main:
                    save_state(
                        self.run_dir,
                        model,
                        optimizer,
                        scheduler,
                        self.best,
                        {
                            "epoch": epoch,
                            "phase_index": phase_index,
                            "phase_name": phase.name,
                            "phase_epoch": phase_epoch,
                            "bad_epochs": bad_epochs,
                            "stopped_early": self.stopped_early,
                            "seed": config.seed,
                            "wandb_id": self.log.wandb_id,
                            "world_size": self.dist.world_size,
                        },
                    )
                self.log.update_summary(
                    status="running",
                    epochs_done=epoch,
                    best_epoch=self.best.epoch,
                    best_val_acc=self.best.val_acc,
                    best_val_loss=self.best.val_loss,
                )
                if should_stop:
                    break
            # End of a phase: go back to the best weights so far (seed 003: "reverting the
            # model to its last best-performing configuration") before the next stage.
            self.best.restore(model)
        self.epochs_done = epoch
        return history

    def _finish(
        self,
        criterion: nn.Module,
        test_loader: DataLoader,
        history: list[dict[str, Any]],
        no_hand: dict[str, Any],
    ) -> RunResult:
        config = self.config
        model = self.model
        self.best.restore(model)
        names = self.samples.class_names
        test = evaluate(model, criterion, test_loader, self.device, names, dist=self.dist)
        test_metrics = _json_safe(test.metrics())
        self.log.log_test(
            test_metrics,
            test.confusion_json(None, "test"),
            test.report,
            step=self.epochs_done + 1,
            predictions=(test.y_true, test.y_pred),
        )
        checkpoint = None
        split_record = self.split.describe(self.samples.samples)
        if self.dist.is_main:
            save_checkpoint(
                self.run_dir / "checkpoint",
                model,
                names,
                architecture=config.model,
                arch_kwargs=config.arch_kwargs,
                data={
                    "datasets": self.samples.sources,
                    "selection": self.samples.selection,
                    "split": split_record,
                    "counts": split_record["counts"],
                    "no_hand": {k: v for k, v in no_hand.items() if k != "files"},
                },
                metrics={f"test_{k}": v for k, v in test_metrics.items()}
                | {"best_val_acc": self.best.val_acc, "best_val_loss": self.best.val_loss},
                extra={
                    "run_name": self.run_dir.name,
                    "representation": self.representation,
                    "pipeline_version": representations.PIPELINE_VERSION,
                    "cache_size": config.cache_size,
                    "best_epoch": self.best.epoch,
                    "epochs_done": self.epochs_done,
                    "pretrained": config.pretrained,
                    "stages": [p.name for p in self.phases],
                    "optimizer": config.optimizer,
                    "lr": config.lr,
                    "batch_size": config.batch_size,
                    "seed": config.seed,
                    "trained_at": now_iso(),
                },
            )
            checkpoint = self.run_dir / "checkpoint.safetensors"
        status = "stopped_early" if self.stopped_early else "finished"
        self.log.finish(
            status,
            epochs_done=self.epochs_done,
            best_epoch=self.best.epoch,
            best_val_acc=self.best.val_acc,
            best_val_loss=self.best.val_loss,
            test_acc=test_metrics["acc"],
            test_precision=test_metrics["precision"],
            test_recall=test_metrics["recall"],
            test_f1=test_metrics["f1"],
            test_loss=test_metrics["loss"],
            test_count=test_metrics["count"],
            stopped_early_stages=self.stopped_early,
            no_hand=no_hand,
        )
        if self.dist.is_main and config.progress:
            print(
                f"{self.run_dir.name}: {status}, best epoch {self.best.epoch} "
                f"(val_acc {_fmt(self.best.val_acc)}), test_acc {test.accuracy:.4f} "
                f"on {test.count} photos ({test.no_hand} without a hand, counted wrong)",
                file=sys.stderr,
            )
        return RunResult(
            run_dir=self.run_dir,
            run_name=self.run_dir.name,
            status=status,
            epochs_done=self.epochs_done,
            best_epoch=self.best.epoch,
            best_val_acc=self.best.val_acc,
            best_val_loss=self.best.val_loss,
            test=test_metrics,
            history=history,
            checkpoint=checkpoint,
            no_hand=no_hand,
            class_names=names,
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def fit(
    config: TrainConfig,
    *,
    resume_dir: str | Path | None = None,
    command: Sequence[str] | None = None,
) -> RunResult:
    """Train one run end to end (see the module doc); resume_dir continues a run folder."""
    run = _Run(config, Path(resume_dir) if resume_dir else None, command)
    try:
        return run.run()
    finally:
        run.dist.shutdown()


def resume_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The config of an existing run (its config.json), with `--set` overrides on top."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a run folder")
    data = json.loads(path.read_text(encoding="utf-8"))
    config = config_from_dict(deep_merge(data, parse_overrides(overrides)), strict=False)
    config.run_name = run_dir.name
    return config


def iter_grid(grid: dict[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of a grid, in the order its keys are written (seed 004)."""
    import itertools

    keys = list(grid)
    values = [v if isinstance(v, list | tuple) else [v] for v in grid.values()]
    for combination in itertools.product(*values):
        yield dict(zip(keys, combination, strict=True))


def apply_updates(config: TrainConfig, updates: dict[str, Any]) -> TrainConfig:
    """A copy of the config with (dotted) keys replaced, checked like a config file."""
    data = config.to_dict()
    nested: dict[str, Any] = {}
    for key, value in updates.items():
        target = nested
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return config_from_dict(deep_merge(data, nested))


__all__ = [
    "BestTracker",
    "DistContext",
    "EarlyStoppingConfig",
    "EvalResult",
    "Phase",
    "RunResult",
    "SplitConfig",
    "TrainConfig",
    "apply_updates",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "collect_logits",
    "config_from_dict",
    "evaluate",
    "fit",
    "iter_grid",
    "load_config",
    "load_config_file",
    "param_groups",
    "parse_overrides",
    "plan_phases",
    "resume_config",
    "save_state",
    "set_phase_trainable",
    "summarise_predictions",
    "train_one_epoch",
]
