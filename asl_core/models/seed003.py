"""Seed 003: ResNet18 transfer learning and the 28x28 greyscale scratch model (300 and 100)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from asl_core.models.blocks import ChannelAttention, _imagenet_state_dict
from asl_core.models.registry import AslModel, register_model
from asl_core.vision.spec import image_spec


class ResNet18Classifier(AslModel):
    """Seed 003: ImageNet ResNet18 with its FC layer replaced by one for the classes;
    `freeze_backbone()` trains the FC alone, then `unfreeze_stage("layer4")`, `("layer3")` is
    003's staged fine-tuning. `attention_after` adds channel attention after those stages
    (seed 000's CustomResNet18: layer3 and layer4); empty, as in seed 003, by default."""

    head_name = "fc"
    stage_names = ("stem", "layer1", "layer2", "layer3", "layer4")

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        attention_after: Sequence[str] = (),
        reduction: int = 16,
        dropout: float = 0.0,
        image_size: int = 224,
        weights_path: str | None = None,
    ) -> None:
        super().__init__()
        from torchvision.models import resnet18

        widths = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
        unknown = set(attention_after) - set(widths)
        if unknown:
            raise ValueError(f"attention_after names unknown stages: {sorted(unknown)}")
        self.input_spec = image_spec(image_size)
        backbone = resnet18(weights=None)
        if pretrained:
            backbone.load_state_dict(_imagenet_state_dict("resnet18-f37072fd.pth", weights_path))
            self.pretrained_loaded = True
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        for name, width in widths.items():
            layer = getattr(backbone, name)
            if name in attention_after:
                layer = nn.Sequential(layer, ChannelAttention(width, reduction))
            setattr(self, name, layer)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.fc(self.pool(x))


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


@register_model(
    "resnet18",
    source="seed 003",
    description="ImageNet ResNet18 with a new FC layer; staged fine-tuning (layer4, then layer3)",
    supports_pretrained=True,
    # Until the fix it had seed 000's attention after layer3 and layer4: old checkpoints load.
    legacy_kwargs={"attention_after": ("layer3", "layer4")},
)
def resnet18(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return ResNet18Classifier(num_classes, pretrained=pretrained, **kwargs)


@register_model(
    "scratch_mlp",
    source="seed 003",
    description="28x28 greyscale flattened, hidden layers 300 and 100",
)
def scratch_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return ScratchMLP(num_classes, **kwargs)
