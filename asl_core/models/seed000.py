"""Seed 000/001: CustomCNN, CustomMobileNetV2 and CustomResNet18 with channel attention.

`MobileNetV2Classifier` is also the plain ImageNet MobileNetV2 (`mobilenet_v2`, no attention);
seed 000's CustomResNet18 is seed 003's `ResNet18Classifier` with attention after layer3 and
layer4. The attention modules start random and train with the head (`AslModel.head_modules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from asl_core.models.blocks import (
    ChannelAttention,
    _imagenet_state_dict,
    _out_channels,
    conv_bn_relu,
)
from asl_core.models.registry import AslModel, register_model
from asl_core.models.seed003 import ResNet18Classifier
from asl_core.vision.spec import image_spec


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


class MobileNetV2Classifier(AslModel):
    """MobileNetV2 with global average pooling and a dropout classifier; ImageNet weights when
    pretrained. `attention_after` adds channel attention after those `features` blocks: seed
    000 section 4.3.3's CustomMobileNetV2 uses (3, 6, 13, 16), the ends of the 24-, 32-, 96-
    and 160-channel groups; empty gives torchvision's plain MobileNetV2."""

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
        attention_after: Sequence[int] = (),
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
        unknown = sorted(set(attention_after) - set(range(len(features))))
        if unknown:
            raise ValueError(f"attention_after names blocks that do not exist: {unknown} "
                             f"(features 0-{len(features) - 1})")  # fmt: skip
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


MOBILENET_ATTENTION = (3, 6, 13, 16)
"""Seed 000's CustomMobileNetV2: attention after the last block of each channel group."""


RESNET_ATTENTION = ("layer3", "layer4")
"""Seed 000's CustomResNet18: attention after the two deepest residual stages."""


@register_model(
    "custom_cnn",
    source="seed 000, 4.3.2",
    description="4 conv-BN-ReLU-attention-pool blocks, FC with dropout",
)
def custom_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return CustomCNN(num_classes, **kwargs)


@register_model(
    "custom_mobilenet_v2",
    source="seed 000, 4.3.3",
    description="MobileNetV2 + channel attention (trains with the head), ImageNet weights offline",
    supports_pretrained=True,
)
def custom_mobilenet_v2(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    kwargs.setdefault("attention_after", MOBILENET_ATTENTION)
    return MobileNetV2Classifier(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "mobilenet_v2",
    source="seed 000, 4.4.7 (transfer learning); ours on hand crops",
    description="ImageNet MobileNetV2 with a new dropout classifier, weights available offline",
    supports_pretrained=True,
    # Until the fix it had seed 000's attention: checkpoints saved then still load.
    legacy_kwargs={"attention_after": MOBILENET_ATTENTION},
)
def mobilenet_v2(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return MobileNetV2Classifier(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "custom_resnet18",
    source="seed 000, 4.3.4",
    description="ResNet18 + channel attention after layer3 and layer4 (trains with the head)",
    supports_pretrained=True,
)
def custom_resnet18(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    kwargs.setdefault("attention_after", RESNET_ATTENTION)
    return ResNet18Classifier(num_classes, pretrained=pretrained, **kwargs)
