"""The model, what trains in each phase (head-only, staged fine-tuning), optimiser, schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from asl_core.models.registry import AslModel, create_model, model_info
from asl_core.training.config import TrainConfig


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


@dataclass
class Phase:
    name: str  # "full", "head" or a stage name
    epochs: int


def plan_phases(config: TrainConfig) -> list[Phase]:
    if config.freeze == "none":
        return [Phase("full", config.epochs)]
    phases = [Phase("head", config.epochs)] if config.epochs > 0 else []
    return phases + [Phase(stage, config.stage_epochs) for stage in config.stages]
