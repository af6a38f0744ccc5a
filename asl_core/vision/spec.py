"""What a model reads: `InputSpec`, the contract between the hand pipeline and the models."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

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
