"""The model and its starting weights, what trains in each phase (head-only, staged
fine-tuning), optimiser, schedule."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asl_core.io.files import sha256_file
from asl_core.models.blocks import RANDOM_START_HINT
from asl_core.models.registry import (
    AslModel,
    PretrainedWeightsMissing,
    create_model,
    model_info,
)
from asl_core.training.config import ConfigError, TrainConfig
from asl_core.vision.spec import Representation


def build_model(config: TrainConfig, num_classes: int) -> AslModel:
    """The configured architecture; raises PretrainedWeightsMissing (one clear line) when
    ImageNet weights are asked for and no local file exists. Under `freeze: head` the line
    does not offer `pretrained: false` (refused there: the head would learn on random
    features) but a checkpoint of this project to start from."""
    kwargs = dict(config.arch_kwargs)
    info = model_info(config.model)
    if config.representation and config.representation != Representation.LANDMARKS:
        if info.input_spec.kind == "landmarks":
            raise ValueError(f"{config.model} reads landmark vectors, not {config.representation}")
        kwargs["representation"] = config.representation
    if config.pretrained and config.weights_path:
        kwargs["weights_path"] = config.weights_path
    try:
        return create_model(config.model, num_classes, pretrained=config.pretrained, **kwargs)
    except PretrainedWeightsMissing as error:
        if config.freeze != "head":
            raise
        message = str(error).removesuffix(RANDOM_START_HINT)
        raise PretrainedWeightsMissing(
            f"{message}, or, since this config trains only the head on a frozen backbone, "
            f"start from a {config.model} trained by this project: --set pretrained=false "
            "--set init_checkpoint=runs/RUN/checkpoint.json"
        ) from None


def check_starting_weights(configs: Sequence[TrainConfig]) -> None:
    """Build each distinct pretrained model of a group of runs (kfold, sweep) once, before the
    first run, so that missing ImageNet weights stop the group with one line
    (PretrainedWeightsMissing) before anything trains or a trial is recorded as crashed."""
    seen: set[str] = set()
    for config in configs:
        if not config.pretrained:
            continue
        key = json.dumps([config.model, config.weights_path, config.freeze, config.arch_kwargs],
                         sort_keys=True, default=str)  # fmt: skip
        if key not in seen:
            seen.add(key)
            build_model(config, num_classes=2)


def _final_linear_name(model: nn.Module, num_classes: int) -> str:
    """The qualified name of the classifier's last Linear layer (one row per class)."""
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.out_features == num_classes
    ]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no Linear layer with a row per class")
    return names[-1]


def transfer_weights(
    base: AslModel, base_names: Sequence[str], model: AslModel, names: Sequence[str]
) -> None:
    """Copy every base weight into `model`; classifier rows go to the row of the same class.

    `model` answers `names` (any order; more, fewer or other classes than `base_names`): the
    final layer's row of every shared class is copied, rows of classes the base does not know
    keep their fresh initialisation. Every other tensor must have the same shape in both
    (ConfigError otherwise).
    """
    base_head = _final_linear_name(base, len(base_names))
    head = _final_linear_name(model, len(names))
    if base_head != head:
        raise ConfigError(f"the classifier is {base_head} in the checkpoint but {head} here")
    state = model.state_dict()
    base_row = {name: i for i, name in enumerate(base_names)}
    rows = [(i, base_row[name]) for i, name in enumerate(names) if name in base_row]
    new_index = torch.tensor([i for i, _ in rows], dtype=torch.long)
    old_index = torch.tensor([j for _, j in rows], dtype=torch.long)
    for key, tensor in base.state_dict().items():
        if key in (f"{head}.weight", f"{head}.bias"):
            merged = state[key].clone()
            merged[new_index] = tensor[old_index].to(merged.dtype)
            state[key] = merged
        elif key in state and state[key].shape == tensor.shape:
            state[key] = tensor.clone()
        else:
            raise ConfigError(f"the checkpoint's {key} does not fit the model")
    model.load_state_dict(state)


def load_initial_weights(
    model: AslModel, config: TrainConfig, class_names: Sequence[str]
) -> dict[str, Any]:
    """Start `model` from `config.init_checkpoint` (timm's `checkpoint_path`, torchvision's
    `--weights`): same architecture and input, classifier rows mapped by class name.

    Returns what config.json records about it. Raises CheckpointError for an unusable file and
    ConfigError when the checkpoint is another model than the config's.
    """
    from asl_core.models.checkpoint import load_checkpoint

    path = Path(str(config.init_checkpoint))
    loaded = load_checkpoint(path)
    meta = loaded.meta
    if meta.architecture != config.model:
        raise ConfigError(
            f"init_checkpoint {path} is a {meta.architecture}, the config trains {config.model}"
        )
    if loaded.model.input_spec != model.input_spec:
        raise ConfigError(
            f"init_checkpoint {path} reads {loaded.model.input_spec.to_dict()}, the config's "
            f"model reads {model.input_spec.to_dict()} (arch_kwargs or representation differ)"
        )
    transfer_weights(loaded.model, meta.class_names, model, class_names)
    weights = loaded.path.with_suffix(".safetensors")
    return {
        "path": str(loaded.path),
        "weights_sha256": sha256_file(weights) if weights.is_file() else None,
        "classes_kept": [name for name in class_names if name in meta.class_names],
        "classes_new": [name for name in class_names if name not in meta.class_names],
    }


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


@dataclass
class Phase:
    name: str  # "full", "head" or a stage name
    epochs: int


def plan_phases(config: TrainConfig) -> list[Phase]:
    if config.freeze == "none":
        return [Phase("full", config.epochs)]
    phases = [Phase("head", config.epochs)] if config.epochs > 0 else []
    return phases + [Phase(stage, config.stage_epochs) for stage in config.stages]
