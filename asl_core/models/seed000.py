"""Seed 000/001: CustomCNN, CustomMobileNetV2 and CustomResNet18 with channel attention."""

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
