"""Models on MediaPipe hand landmarks (ours): the landmark MLP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from asl_core.models.registry import AslModel, register_model
from asl_core.vision.spec import InputSpec, Representation
from asl_core.vision.views import LANDMARK_DIM


class LandmarkMLP(AslModel):
    """Ours: an MLP on the normalised 21x3 MediaPipe landmark vector (wrist-centred,
    scale-normalised, one handedness). Fast and independent of background and lighting."""

    stage_names = ("hidden",)

    def __init__(
        self, num_classes: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_spec = InputSpec(
            kind="landmarks", dim=LANDMARK_DIM, representation=Representation.LANDMARKS
        )
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


@register_model(
    "landmark_mlp",
    source="ours",
    description="MLP on the normalised 21x3 MediaPipe hand landmarks",
)
def landmark_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return LandmarkMLP(num_classes, **kwargs)
