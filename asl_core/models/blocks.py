"""Building blocks shared by the seed architectures, and offline ImageNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from asl_core.models.registry import PretrainedWeightsMissing


class ChannelAttention(nn.Module):
    """Channel attention (seed 000, sections 2.5.1 and 4.3.1).

    Global average pool, two fully connected layers written as 1x1 convolutions with a ReLU
    between, a sigmoid, and the input's channels re-weighted by the result. It starts random
    even inside a pretrained backbone, so it trains with the head (`AslModel.head_modules`).
    """

    trains_with_head = True

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


RANDOM_START_HINT = "; or train from random weights with `--set pretrained=false`."
"""How the missing-weights message ends: the way out when the whole network trains. A
head-only training config replaces it (`asl_core.training.optim.build_model`): a head on a
random backbone is refused."""


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
        f"ImageNet weights {filename} not found (looked in {looked}); this machine cannot "
        f"download them. Give torchvision's file to training with "
        f"`--set weights_path=/path/to/{filename}` (in Python: weights_path=...), or copy it "
        f"into {candidates[-1].parent} (for MobileNetV2, `make setup` installs it)"
        f"{RANDOM_START_HINT}"
    )


def _out_channels(block: nn.Module) -> int:
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels
