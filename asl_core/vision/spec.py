"""What a model reads: `InputSpec`, the contract between the hand pipeline and the models.

`Representation` names the view of the hand a model reads. It is a `StrEnum`: each member is
equal to its string ("crop", "skeleton", "landmarks", "handframe-v1"), which is what
checkpoints, run folders and configs store, so files written before the enum existed still load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

InputKind = Literal["image", "landmarks", "sequence"]


class Representation(StrEnum):
    """The view of the hand a model is trained on (seed 000 section 4.5.3 for the images)."""

    CROP = "crop"
    """A square crop of the photo around the hand."""
    SKELETON = "skeleton"
    """The 21 landmarks and their bones drawn on black."""
    LANDMARKS = "landmarks"
    """The normalised 21x3 landmark vector (no image)."""
    HANDFRAME = "handframe-v1"
    """Hand-centred features of the landmark vector (`asl_core.vision.handframe`): the hand's
    own frame, the palm's orientation, distances and joint angles. The value names the feature
    version (`handframe.HANDFRAME_VERSION`); a new version gets a new member, so a checkpoint
    always names the features it was trained on."""

    @classmethod
    def parse(cls, value: object) -> Representation:
        """`value` (a member or its string) as a member; ValueError naming the choices."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise ValueError(f"representation must be one of {choices}, not {value!r}") from None


IMAGE_REPRESENTATIONS = (Representation.CROP, Representation.SKELETON)
"""The representations that are images (what `kind="image"` and `"sequence"` models read)."""


VECTOR_REPRESENTATIONS = (Representation.LANDMARKS, Representation.HANDFRAME)
"""The representations that are vectors computed from the landmarks (`kind="landmarks"`)."""


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
    A representation given as a string is stored as the `Representation` member (ValueError
    for an unknown one).
    """

    kind: InputKind
    size: int = 0
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    representation: Representation = Representation.CROP
    dim: int = 0
    sequence_length: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "representation", Representation.parse(self.representation))

    def example(self, batch: int = 2) -> torch.Tensor:
        """A random batch of the declared shape (for tests and benchmarks)."""
        import torch

        if self.kind == "landmarks":
            return torch.randn(batch, self.dim)
        frame = (self.channels, self.size, self.size)
        if self.kind == "sequence":
            return torch.randn(batch, self.sequence_length, *frame)
        return torch.randn(batch, *frame)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the representation as its plain string."""
        return {**asdict(self), "representation": self.representation.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        """Read `to_dict`'s output (unknown keys ignored); ValueError for a bad representation."""
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def image_spec(size: int, **overrides: Any) -> InputSpec:
    return InputSpec(kind="image", size=size, **overrides)
