"""Models on MediaPipe hand landmarks (ours): the landmark MLP and the hand-frame MLP.

Both read the 63-value landmark vector's representation (`asl_core.vision.tensors.
landmark_input`): `landmark_mlp` the vector itself, `handframe_mlp` its hand-centred features
(`asl_core.vision.handframe`), which stay the same when the hand is turned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from asl_core.models.registry import AslModel, register_model
from asl_core.vision.handframe import HANDFRAME_DIM
from asl_core.vision.spec import InputSpec, Representation
from asl_core.vision.views import LANDMARK_DIM


def hidden_layers(width: int, hidden: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    """Linear -> BatchNorm -> ReLU -> Dropout per entry of `hidden`; returns the layers and the
    width of their output (`width` when `hidden` is empty)."""
    layers: list[nn.Module] = []
    for units in hidden:
        layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU(True)]
        layers.append(nn.Dropout(dropout))
        width = units
    return nn.Sequential(*layers), width


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
        self.hidden, width = hidden_layers(LANDMARK_DIM, hidden, dropout)
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


class HandframeMLP(AslModel):
    """Ours: an MLP on the 301 hand-centred features (`asl_core.vision.handframe`).

    The features mix units (lengths over the palm size, cosines, a rotation matrix), so the
    first layer is a BatchNorm without scale or shift: it standardises each feature with the
    mean and variance of the training photos, which the weights file then keeps. They are a
    cumulative average over every training batch (`momentum=None`), not a moving one, so that
    fine-tuning on a user's few photos (personalisation) hardly moves them: measured on the
    personalisation test's setup, hand5's photos of the new sign were read right 10 times in
    10, against 7 with the moving average. After it, the same hidden layers as `LandmarkMLP`.
    """

    stage_names = ("hidden",)

    def __init__(
        self, num_classes: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_spec = InputSpec(
            kind="landmarks", dim=HANDFRAME_DIM, representation=Representation.HANDFRAME
        )
        self.standardise = nn.BatchNorm1d(HANDFRAME_DIM, affine=False, momentum=None)
        self.hidden, width = hidden_layers(HANDFRAME_DIM, hidden, dropout)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden(self.standardise(x)))


@register_model(
    "handframe_mlp",
    source="ours",
    description="MLP on hand-centred landmark features (frame, palm turn, distances, angles)",
)
def handframe_mlp(num_classes: int, pretrained: bool = False, **kwargs: Any) -> AslModel:
    return HandframeMLP(num_classes, **kwargs)
