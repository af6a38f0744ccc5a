"""Model registry: every architecture from the reference write-ups, built by name.

In the style of timm and torchvision: a decorator registers a builder, `create_model(name,
num_classes=..., pretrained=...)` builds any of them and `list_models()` names them. Each model
carries an `InputSpec` saying what it must be fed (an image of a given size and normalisation, a
landmark vector, or a sequence of frames), so the pipeline can feed any of them.

Sources (in ../shared/seeds): 000 = channel attention, CustomCNN, CustomMobileNetV2,
CustomResNet18; 002 = small 5-conv CNN and VGG16 transfer learning; 003 = ResNet18 transfer
learning vs a 28x28 scratch MLP; 004 = baseline/enhanced CNN and a CNN+LSTM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from asl_core.vision.spec import InputSpec


class PretrainedWeightsMissing(FileNotFoundError):
    """ImageNet weights were asked for but no file is available offline."""


class AslModel(nn.Module):
    """Base class: an input spec, a classifier head and named stages for staged fine-tuning.

    `stage_names` lists the backbone stages from input to output, so "unfreeze one stage at a
    time" (seed 003: layer4, then layer3) walks it backwards. `head_name` is the attribute
    holding the new classifier, which always trains.
    """

    input_spec: InputSpec
    head_name: str = "classifier"
    stage_names: tuple[str, ...] = ()
    pretrained_loaded: bool = False

    def head(self) -> nn.Module:
        return getattr(self, self.head_name)

    def freeze_backbone(self) -> None:
        """Train only the classifier head (transfer learning, seeds 000 4.4.7 and 003)."""
        for parameter in self.parameters():
            parameter.requires_grad = False
        for parameter in self.head().parameters():
            parameter.requires_grad = True

    def unfreeze_stage(self, name: str) -> None:
        """Let one more backbone stage train, e.g. `layer4` then `layer3` (seed 003)."""
        if name not in self.stage_names:
            known = ", ".join(self.stage_names) or "none"
            raise ValueError(f"{type(self).__name__} has no stage {name!r} (stages: {known})")
        for parameter in getattr(self, name).parameters():
            parameter.requires_grad = True

    def unfreeze_all(self) -> None:
        for parameter in self.parameters():
            parameter.requires_grad = True

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head().parameters()

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Everything but the head: the layers that get a lower learning rate when pretrained."""
        head_ids = {id(parameter) for parameter in self.head().parameters()}
        return (p for p in self.parameters() if id(p) not in head_ids)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable[..., AslModel]
    input_spec: InputSpec
    source: str
    description: str
    supports_pretrained: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    input_spec: InputSpec,
    source: str,
    description: str,
    supports_pretrained: bool = False,
) -> Callable[[Callable[..., AslModel]], Callable[..., AslModel]]:
    """Register a builder `fn(num_classes, pretrained=False, **kwargs) -> AslModel` by name."""

    def decorator(builder: Callable[..., AslModel]) -> Callable[..., AslModel]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(
            name, builder, input_spec, source, description, supports_pretrained
        )
        return builder

    return decorator


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; known: {', '.join(list_models())}"
        ) from None


def create_model(name: str, num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    """Build a registered model. `kwargs` are the architecture's own arguments (saved in
    checkpoints so the same model can be rebuilt); `representation` picks the image view."""
    info = model_info(name)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if pretrained and not info.supports_pretrained:
        raise ValueError(f"{name} has no pretrained weights; build it with pretrained=False")
    representation = kwargs.pop("representation", None)
    model = info.builder(num_classes, pretrained=pretrained, **kwargs)
    if representation is not None:
        if model.input_spec.kind == "landmarks":
            raise ValueError(f"{name} reads landmark vectors, not a {representation} image")
        model.input_spec = replace(model.input_spec, representation=representation)
    return model
