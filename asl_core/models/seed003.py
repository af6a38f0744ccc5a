"""Seed 003: the 28x28 greyscale scratch model (hidden layers 300 and 100)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from asl_core.models.registry import AslModel, register_model
from asl_core.vision.spec import image_spec


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
    "scratch_mlp",
    input_spec=image_spec(28, channels=1, mean=(0.5,), std=(0.5,)),
    source="seed 003",
    description="28x28 greyscale flattened, hidden layers 300 and 100",
)
def scratch_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return ScratchMLP(num_classes, **kwargs)
