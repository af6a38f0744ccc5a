"""Model registry: every architecture from the reference write-ups, built by name.

In the style of timm and torchvision: a decorator registers a builder, `create_model(name,
num_classes=..., pretrained=...)` builds any of them and `list_models()` names them. Each model
carries an `InputSpec` saying what it must be fed (an image of a given size and normalisation, a
landmark vector, or a sequence of frames), so the pipeline can feed any of them. The spec is
declared once, by the model's constructor (it depends on arguments such as `image_size`);
`model_info(name).input_spec` is the spec of the model built with its defaults.

Sources (in ../shared/seeds): 000 = channel attention, CustomCNN, CustomMobileNetV2,
CustomResNet18; 002 = small 5-conv CNN and VGG16 transfer learning; 003 = ResNet18 transfer
learning vs a 28x28 scratch MLP; 004 = baseline/enhanced CNN and a CNN+LSTM.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from asl_core.vision.spec import InputSpec, Representation


class PretrainedWeightsMissing(FileNotFoundError):
    """ImageNet weights were asked for but no file is available offline."""


class AslModel(nn.Module):
    """Base class: an input spec, a classifier head and named stages for staged fine-tuning.

    `stage_names` lists the backbone stages from input to output, so "unfreeze one stage at a
    time" (seed 003: layer4, then layer3) walks it backwards. `head_name` is the attribute
    holding the new classifier. `head_modules()` is what trains in every phase and gets the
    head's learning rate: the classifier and every module marked `trains_with_head = True`
    (the channel attention added to a pretrained backbone, which starts random: seed 000
    section 4.4.7 gives newly added layers the higher rate).
    """

    input_spec: InputSpec
    head_name: str = "classifier"
    stage_names: tuple[str, ...] = ()
    pretrained_loaded: bool = False

    def head(self) -> nn.Module:
        return getattr(self, self.head_name)

    def head_modules(self) -> list[nn.Module]:
        """The classifier, then the new modules inside the backbone (channel attention)."""
        added = [m for m in self.modules() if getattr(m, "trains_with_head", False)]
        return [self.head(), *added]

    def freeze_backbone(self) -> None:
        """Train only the head modules (transfer learning, seeds 000 4.4.7 and 003)."""
        for parameter in self.parameters():
            parameter.requires_grad = False
        for parameter in self.head_parameters():
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
        """Parameters of `head_modules()`, each once."""
        seen: set[int] = set()
        for module in self.head_modules():
            for parameter in module.parameters():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield parameter

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Everything but the head modules: the pretrained layers (lower learning rate)."""
        head_ids = {id(parameter) for parameter in self.head_parameters()}
        return (p for p in self.parameters() if id(p) not in head_ids)


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture. `legacy_kwargs` rebuild the layout the name had before a
    fix to follow its write-up, so checkpoints saved then still load (see
    `create_model_for_weights`)."""

    name: str
    builder: Callable[..., AslModel]
    source: str
    description: str
    supports_pretrained: bool = False
    legacy_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def input_spec(self) -> InputSpec:
        """What the model built with its default arguments reads (declared by the model)."""
        return _default_input_spec(self.name)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    source: str,
    description: str,
    supports_pretrained: bool = False,
    legacy_kwargs: dict[str, Any] | None = None,
) -> Callable[[Callable[..., AslModel]], Callable[..., AslModel]]:
    """Register a builder `fn(num_classes, pretrained=False, **kwargs) -> AslModel` by name."""

    def decorator(builder: Callable[..., AslModel]) -> Callable[..., AslModel]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(
            name, builder, source, description, supports_pretrained, dict(legacy_kwargs or {})
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


@functools.cache
def _default_input_spec(name: str) -> InputSpec:
    # Built on the meta device: no memory and no initialisation, a few ms even for VGG16.
    with torch.device("meta"):
        return _REGISTRY[name].builder(2).input_spec


@functools.cache
def _default_type(name: str) -> type[AslModel]:
    with torch.device("meta"):
        return type(_REGISTRY[name].builder(2))


_DECIDED_BY_CALLER = ("self", "num_classes", "pretrained", "weights_path", "representation")
"""Constructor arguments that are not the architecture's own: `create_model` and the training
config decide them, so `arch_kwargs` may not name them."""


def arch_parameters(name: str) -> list[str] | None:
    """The names `arch_kwargs` may set for `name`: the keyword parameters of the class its
    builder returns (`inspect.signature`), less those the caller decides. None when the
    constructor takes `**kwargs` (any name may be meant)."""
    parameters = inspect.signature(_default_type(name).__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.name not in _DECIDED_BY_CALLER]


def check_arch_kwargs(name: str, kwargs: dict[str, Any]) -> list[str]:
    """What is wrong with `arch_kwargs` for architecture `name`, one line each naming the key
    (`arch_kwargs.KEY`); empty when fine. Unknown names get a "did you mean"; then the model is
    built once on the meta device (no memory, no initialisation, a few ms) so a value the
    constructor refuses (a text for a width, a dropout of 5) is reported here, not after
    MediaPipe ran. A failing build is retried key by key to name the culprit."""
    known = arch_parameters(name)
    if known is not None:
        problems = []
        for key in kwargs:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean arch_kwargs.{close[0]}?)" if close else ""
                takes = ", ".join(known) or "no arguments"
                problems.append(f"unknown config key arch_kwargs.{key}{hint}; {name} takes {takes}")
        if problems:
            return problems

    def failure(given: dict[str, Any]) -> str | None:
        try:
            with torch.device("meta"):
                create_model(name, 2, **given)
        except Exception as error:  # any refusal of the constructor: reported as the key's
            lines = str(error).strip().splitlines() or [type(error).__name__]
            return lines[0]
        return None

    if (whole := failure(kwargs)) is None:
        return []
    for key, value in kwargs.items():
        if (alone := failure({key: value})) is not None:
            return [f"arch_kwargs.{key}: {name} cannot be built with {value!r}: {alone}"]
    return [f"arch_kwargs {kwargs!r}: {name} cannot be built with these together: {whole}"]


def create_model(name: str, num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    """Build a registered model. `kwargs` are the architecture's own arguments (saved in
    checkpoints so the same model can be rebuilt); `representation` picks the image view
    (a `Representation` or its string)."""
    info = model_info(name)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if pretrained and not info.supports_pretrained:
        raise ValueError(f"{name} has no pretrained weights; build it with pretrained=False")
    representation = kwargs.pop("representation", None)
    model = info.builder(num_classes, pretrained=pretrained, **kwargs)
    if representation is not None:
        representation = Representation.parse(representation)
        if model.input_spec.kind == "landmarks":
            raise ValueError(f"{name} reads landmark vectors, not a {representation} image")
        model.input_spec = replace(model.input_spec, representation=representation)
    return model


def create_model_for_weights(
    name: str, num_classes: int, weight_names: Collection[str], **kwargs: Any
) -> tuple[AslModel, dict[str, Any]]:
    """Build `name` (not pretrained) to receive a checkpoint holding the tensors `weight_names`.

    The current layout when its tensor names match; otherwise, for a checkpoint saved before
    the name's fix (e.g. `resnet18` with channel attention, `enhanced_cnn` with BatchNorm after
    every conv), the layout of `legacy_kwargs` if that one matches. Returns the model and the
    arguments that built it (record them so the model can be rebuilt). When neither matches,
    the current layout is returned and the caller reports the mismatch.
    """
    model = create_model(name, num_classes, **kwargs)
    legacy = model_info(name).legacy_kwargs
    wanted = set(weight_names)
    if set(model.state_dict()) != wanted and legacy:
        legacy_kwargs = {**legacy, **kwargs}
        candidate = create_model(name, num_classes, **legacy_kwargs)
        if set(candidate.state_dict()) == wanted:
            return candidate, legacy_kwargs
    return model, dict(kwargs)
