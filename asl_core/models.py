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

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from asl_core.representations import LANDMARK_DIM  # 21 hand landmarks x (x, y, z)

InputKind = Literal["image", "landmarks", "sequence"]
Representation = Literal["crop", "skeleton", "landmarks"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class InputSpec:
    """What a model must be fed.

    kind: "image" (C x size x size), "landmarks" (a flat vector of `dim` values) or "sequence"
    (T x C x size x size frames). `representation` is which view of the hand the image shows
    (the hand crop or the landmark skeleton drawn on black, seed 000 section 4.5.3); models are
    trained on one and the checkpoint records which. mean/std are applied to pixels in [0, 1].
    """

    kind: InputKind
    size: int = 0
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    representation: Representation = "crop"
    dim: int = 0
    sequence_length: int = 0

    def example(self, batch: int = 2) -> torch.Tensor:
        """A random batch of the declared shape (for tests and benchmarks)."""
        if self.kind == "landmarks":
            return torch.randn(batch, self.dim)
        frame = (self.channels, self.size, self.size)
        if self.kind == "sequence":
            return torch.randn(batch, self.sequence_length, *frame)
        return torch.randn(batch, *frame)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def image_spec(size: int, **overrides: Any) -> InputSpec:
    return InputSpec(kind="image", size=size, **overrides)


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


# --- building blocks -----------------------------------------------------------------------


class ChannelAttention(nn.Module):
    """Channel attention (seed 000, sections 2.5.1 and 4.3.1).

    Global average pool, two fully connected layers written as 1x1 convolutions with a ReLU
    between, a sigmoid, and the input's channels re-weighted by the result.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError("reduction must be at least 1")
        # At least 8 hidden units (as SE-Net does): with 1 or 2 a single dead ReLU switches the
        # whole module off.
        hidden = min(channels, max(8, channels // reduction))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel weights z in (0, 1), shape (N, C, 1, 1)."""
        return self.sigmoid(self.fc2(self.relu(self.fc1(self.pool(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)


class Rescaling(nn.Module):
    """Keras-style rescaling layer (seed 002): multiplies raw pixel values by `scale`."""

    def __init__(self, scale: float = 1 / 255) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


# --- seed 000 -----------------------------------------------------------------------------


class CustomCNN(AslModel):
    """Seed 000 section 4.3.2: four conv-BN-ReLU-attention-maxpool blocks, then FC + dropout."""

    stage_names = ("block1", "block2", "block3", "block4")

    def __init__(
        self,
        num_classes: int,
        channels: Sequence[int] = (32, 64, 128, 256),
        hidden: int = 512,
        dropout: float = 0.5,
        reduction: int = 16,
        image_size: int = 128,
    ) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError("CustomCNN has exactly four convolutional blocks")
        self.input_spec = image_spec(image_size)
        cin = 3
        for index, cout in enumerate(channels, start=1):
            block = nn.Sequential(
                *conv_bn_relu(cin, cout), ChannelAttention(cout, reduction), nn.MaxPool2d(2)
            )
            setattr(self, f"block{index}", block)
            cin = cout
        side = image_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, hidden),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.classifier(x)


def _imagenet_state_dict(filename: str, weights_path: str | os.PathLike[str] | None) -> dict:
    """Load torchvision ImageNet weights from a local file, never from the network.

    The file is read with `weights_only=True` (tensors only, no arbitrary pickled objects).
    """
    candidates = []
    if weights_path:
        candidates.append(Path(weights_path))
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / filename)
    for candidate in candidates:
        if candidate.is_file():
            return torch.load(candidate, map_location="cpu", weights_only=True)
    looked = ", ".join(str(c) for c in candidates)
    raise PretrainedWeightsMissing(
        f"ImageNet weights {filename} not found (looked in {looked}). This machine cannot "
        f"download them: copy torchvision's {filename} into {candidates[-1].parent} or pass "
        "weights_path=... (for MobileNetV2, `make setup` installs it), or use pretrained=False."
    )


class CustomMobileNetV2(AslModel):
    """Seed 000 section 4.3.3: MobileNetV2 with channel attention after chosen blocks, global
    average pooling and a dropout classifier; ImageNet weights when pretrained."""

    # features[0] is the stem, features[18] the last 1x1 conv; stages group inverted residuals
    # at the points where resolution drops, so staged unfreezing walks back from the top.
    STAGES: ClassVar[dict[str, tuple[int, int]]] = {
        "stem": (0, 2), "stage1": (2, 4), "stage2": (4, 7), "stage3": (7, 14),
        "stage4": (14, 17), "stage5": (17, 19),
    }  # fmt: skip
    stage_names = tuple(STAGES)

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        attention_after: Sequence[int] = (3, 6, 13, 16),
        reduction: int = 16,
        dropout: float = 0.2,
        image_size: int = 224,
        weights_path: str | None = None,
    ) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.input_spec = image_spec(image_size)
        backbone = mobilenet_v2(weights=None)
        if pretrained:
            backbone.load_state_dict(
                _imagenet_state_dict("mobilenet_v2-b0353104.pth", weights_path)
            )
            self.pretrained_loaded = True
        features = list(backbone.features)
        for name, (start, stop) in self.STAGES.items():
            layers: list[nn.Module] = []
            for index in range(start, stop):
                layers.append(features[index])
                if index in attention_after:
                    channels = _out_channels(features[index])
                    layers.append(ChannelAttention(channels, reduction))
            setattr(self, name, nn.Sequential(*layers))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(backbone.last_channel, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.classifier(self.pool(x))


def _out_channels(block: nn.Module) -> int:
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


class CustomResNet18(AslModel):
    """Seeds 000 (4.3.4) and 003: ResNet18 with channel attention after chosen stages and a new
    classifier. `freeze_backbone()` then `unfreeze_stage("layer4")`, `("layer3")` is 003's
    staged fine-tuning."""

    head_name = "fc"
    stage_names = ("stem", "layer1", "layer2", "layer3", "layer4")

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        attention_after: Sequence[str] = ("layer3", "layer4"),
        reduction: int = 16,
        dropout: float = 0.0,
        image_size: int = 224,
        weights_path: str | None = None,
    ) -> None:
        super().__init__()
        from torchvision.models import resnet18

        self.input_spec = image_spec(image_size)
        backbone = resnet18(weights=None)
        if pretrained:
            backbone.load_state_dict(_imagenet_state_dict("resnet18-f37072fd.pth", weights_path))
            self.pretrained_loaded = True
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        widths = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
        for name, width in widths.items():
            layer = getattr(backbone, name)
            if name in attention_after:
                layer = nn.Sequential(layer, ChannelAttention(width, reduction))
            setattr(self, name, layer)
        unknown = set(attention_after) - set(widths)
        if unknown:
            raise ValueError(f"attention_after names unknown stages: {sorted(unknown)}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.fc(self.pool(x))


# --- seed 002 -----------------------------------------------------------------------------


class SmallCNN(AslModel):
    """Seed 002: a rescaling layer, then five conv + max-pool layers from 16 to 256 filters."""

    stage_names = ("features",)

    def __init__(self, num_classes: int, image_size: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        # Fed raw 0-255 pixel values (std 1/255), so the model's own Rescaling does the scaling.
        self.input_spec = image_spec(image_size, mean=(0.0,) * 3, std=(1 / 255,) * 3)
        layers: list[nn.Module] = [Rescaling(1 / 255)]
        cin = 3
        for cout in (16, 32, 64, 128, 256):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        side = image_size // 32
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(256 * side * side, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class VGG16Transfer(AslModel):
    """Seed 002 transfer learning: VGG16 with a new top; `freeze_backbone()` freezes the
    convolutional base as 002 does. ImageNet weights only from a local file."""

    stage_names = ("features",)

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        hidden: int = 256,
        dropout: float = 0.5,
        image_size: int = 224,
        weights_path: str | None = None,
    ) -> None:
        super().__init__()
        from torchvision.models import vgg16

        self.input_spec = image_spec(image_size)
        backbone = vgg16(weights=None)
        if pretrained:
            backbone.load_state_dict(_imagenet_state_dict("vgg16-397923af.pth", weights_path))
            self.pretrained_loaded = True
        self.features = backbone.features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(512, hidden),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


# --- seed 003 -----------------------------------------------------------------------------


class ScratchMLP(AslModel):
    """Seed 003's scratch model: a 28x28 greyscale image flattened to 784 values, hidden layers
    of 300 and 100 ReLU units, and the class layer (softmax lives in the loss)."""

    stage_names = ("hidden",)

    def __init__(
        self,
        num_classes: int,
        image_size: int = 28,
        hidden: Sequence[int] = (300, 100),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.input_spec = image_spec(image_size, channels=1, mean=(0.5,), std=(0.5,))
        layers: list[nn.Module] = [nn.Flatten()]
        width = image_size * image_size
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(True), nn.Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden(x))


# --- seed 004 -----------------------------------------------------------------------------


class ConvEncoder004(nn.Module):
    """Seed 004's three conv layers (64, 128, 256 filters, 3x3) each with ReLU and 2x2 pooling."""

    def __init__(self, batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in (64, 128, 256):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers += [nn.ReLU(True), nn.MaxPool2d(2)]
            cin = cout
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Cnn004(AslModel):
    """Seed 004's baseline CNN (three conv layers, then a 512-unit layer) and, with
    `enhanced=True`, its tuned version: batch norm and dropout 0.2.

    004 flattens the 28x28x256 map of a 224 px input into the 512-unit layer (103M weights).
    The default input here is 112 px (14x14x256 into the same layer): the same layers at a
    quarter of the size, which a laptop can train; `image_size=224` gives 004's exact model.
    """

    stage_names = ("encoder",)

    def __init__(
        self,
        num_classes: int,
        enhanced: bool = False,
        dropout: float = 0.2,
        image_size: int = 112,
    ) -> None:
        super().__init__()
        self.input_spec = image_spec(image_size)
        self.encoder = ConvEncoder004(batch_norm=enhanced)
        side = image_size // 8
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(256 * side * side, 512), nn.ReLU(True)]
        if enhanced:
            layers += [nn.BatchNorm1d(512), nn.Dropout(dropout)]
        layers.append(nn.Linear(512, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encoder(x))


class CnnLstm(AslModel):
    """Seed 004's CNN+RNN, with the LSTM really used: each frame goes through the conv encoder
    and global pooling (256 features), an LSTM (hidden 128, batch first) runs over the frames
    and its last hidden state is classified. Input: (N, T, 3, H, W)."""

    stage_names = ("encoder", "lstm")

    def __init__(
        self,
        num_classes: int,
        hidden: int = 128,
        dropout: float = 0.2,
        image_size: int = 112,
        sequence_length: int = 8,
    ) -> None:
        super().__init__()
        self.input_spec = InputSpec(
            kind="sequence", size=image_size, sequence_length=sequence_length
        )
        self.encoder = nn.Sequential(
            ConvEncoder004(batch_norm=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.lstm = nn.LSTM(input_size=256, hidden_size=hidden, num_layers=1, batch_first=True)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps = x.shape[:2]
        features = self.encoder(x.flatten(0, 1)).view(batch, steps, -1)
        _, (last_hidden, _) = self.lstm(features)
        return self.classifier(last_hidden[-1])


# --- ours ---------------------------------------------------------------------------------


class LandmarkMLP(AslModel):
    """Ours: an MLP on the normalised 21x3 MediaPipe landmark vector (wrist-centred,
    scale-normalised, one handedness). Fast and independent of background and lighting."""

    stage_names = ("hidden",)

    def __init__(
        self, num_classes: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_spec = InputSpec(kind="landmarks", dim=LANDMARK_DIM, representation="landmarks")
        layers: list[nn.Module] = []
        width = LANDMARK_DIM
        for units in hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU(True)]
            layers.append(nn.Dropout(dropout))
            width = units
        self.hidden = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden(x))


# --- registrations ------------------------------------------------------------------------


@register_model(
    "custom_cnn",
    input_spec=image_spec(128),
    source="seed 000, 4.3.2",
    description="4 conv-BN-ReLU-attention-pool blocks, FC with dropout",
)
def custom_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return CustomCNN(num_classes, **kwargs)


@register_model(
    "mobilenet_v2",
    input_spec=image_spec(224),
    source="seed 000, 4.3.3",
    description="MobileNetV2 + channel attention, ImageNet weights available offline",
    supports_pretrained=True,
)
def mobilenet_v2(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return CustomMobileNetV2(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "resnet18",
    input_spec=image_spec(224),
    source="seed 000, 4.3.4; seed 003",
    description="ResNet18 + channel attention, staged fine-tuning (layer4, then layer3)",
    supports_pretrained=True,
)
def resnet18(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return CustomResNet18(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "small_cnn",
    input_spec=image_spec(128, mean=(0.0,) * 3, std=(1 / 255,) * 3),
    source="seed 002",
    description="rescaling + five conv/max-pool layers, 16 to 256 filters",
)
def small_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return SmallCNN(num_classes, **kwargs)


@register_model(
    "vgg16",
    input_spec=image_spec(224),
    source="seed 002",
    description="VGG16 transfer learning with a new top (ImageNet file needed for pretrained)",
    supports_pretrained=True,
)
def vgg16(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return VGG16Transfer(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "scratch_mlp",
    input_spec=image_spec(28, channels=1, mean=(0.5,), std=(0.5,)),
    source="seed 003",
    description="28x28 greyscale flattened, hidden layers 300 and 100",
)
def scratch_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return ScratchMLP(num_classes, **kwargs)


@register_model(
    "baseline_cnn",
    input_spec=image_spec(112),
    source="seed 004",
    description="three conv layers 64/128/256 with pooling, a 512-unit layer",
)
def baseline_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return Cnn004(num_classes, enhanced=False, **kwargs)


@register_model(
    "enhanced_cnn",
    input_spec=image_spec(112),
    source="seed 004",
    description="baseline CNN with batch norm and dropout 0.2",
)
def enhanced_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return Cnn004(num_classes, enhanced=True, **kwargs)


@register_model(
    "cnn_lstm",
    input_spec=InputSpec(kind="sequence", size=112, sequence_length=8),
    source="seed 004",
    description="per-frame CNN encoder and an LSTM (hidden 128) over the frames",
)
def cnn_lstm(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return CnnLstm(num_classes, **kwargs)


@register_model(
    "landmark_mlp",
    input_spec=InputSpec(kind="landmarks", dim=LANDMARK_DIM, representation="landmarks"),
    source="ours",
    description="MLP on the normalised 21x3 MediaPipe hand landmarks",
)
def landmark_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return LandmarkMLP(num_classes, **kwargs)
