"""Seed 002: a small five-convolution CNN and VGG16 transfer learning."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from asl_core.models.blocks import Rescaling, _imagenet_state_dict
from asl_core.models.registry import AslModel, register_model
from asl_core.vision.spec import image_spec


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


@register_model(
    "small_cnn",
    source="seed 002",
    description="rescaling + five conv/max-pool layers, 16 to 256 filters",
)
def small_cnn(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return SmallCNN(num_classes, **kwargs)


@register_model(
    "vgg16",
    source="seed 002",
    description="VGG16 transfer learning with a new top (ImageNet file needed for pretrained)",
    supports_pretrained=True,
)
def vgg16(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return VGG16Transfer(num_classes, pretrained=pretrained, **kwargs)
