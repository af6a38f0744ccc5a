"""The torch Dataset over cached features: what a DataLoader iterates in training."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from asl_core.data.sources import DatasetError
from asl_core.vision.spec import IMAGE_REPRESENTATIONS, Representation

if TYPE_CHECKING:
    from asl_core.data.features import FeatureTable
    from asl_core.vision.spec import InputSpec


class AslDataset(Dataset):
    """Yields `(input, label_index, has_input)` in the form a model's InputSpec asks for.

    - "landmarks": the 63-vector (float32), through `transform` (landmark augmentation).
    - "image": the cached hand crop or skeleton (`representation`), through `transform`,
      which resizes to spec.size, turns greyscale when spec.channels == 1 and normalises.
    - "sequence": `spec.sequence_length` views of the same photo, each through `transform`: a
      still photo has no motion, so this is only for scoring a sequence model on single photos.
      Training and a run's evaluation feed it real consecutive video frames instead
      (`asl_core.data.sequences.SequenceDataset`).
    `black_background` names the datasets whose photos are hands on black (massey36): their
    images go to `transform` with `free_background=True` (background replacement in training,
    `augment.ImageTrainPreset`); empty for evaluation.
    `has_input` is False for a photo in which MediaPipe found no hand; its input is zeros and
    the evaluation counts it as a wrong prediction. Training datasets leave those out.

    Images are decoded from the feature cache and resized to the model's size once, then kept
    in memory when they all fit in `memory_budget_mb` (about 2 MB for 60 photos at 112 px,
    290 MB for all 7,715 at 112 px): later epochs skip the PNG decoding (about 5 ms a photo).
    """

    def __init__(
        self,
        table: FeatureTable,
        indices: Sequence[int],
        class_names: Sequence[str],
        spec: InputSpec,
        transform: Callable[[Any], torch.Tensor],
        *,
        representation: Representation | None = None,
        include_no_hand: bool = True,
        memory_budget_mb: float = 1024,
        black_background: Collection[str] = (),
    ) -> None:
        self.table = table
        self.black_background = frozenset(black_background)
        self.class_index = {name: i for i, name in enumerate(class_names)}
        self.spec = spec
        self.transform = transform
        self.representation = representation or spec.representation
        if spec.kind != "landmarks" and self.representation not in IMAGE_REPRESENTATIONS:
            raise ValueError(f"image models read crop or skeleton, not {self.representation!r}")
        indices = list(indices)
        if not include_no_hand:
            indices = [i for i in indices if table.has_hand[i]]
        if spec.kind != "landmarks":
            rows = [i for i in indices if table.samples[i].landmarks is not None]
            if rows:
                raise DatasetError(
                    f"{len(rows)} samples come from a landmark CSV and have no image; "
                    "train a landmark model on them (e.g. landmark_mlp)"
                )
        self.indices = indices
        image_bytes = spec.size * spec.size * 3
        fits = len(indices) * image_bytes <= memory_budget_mb * 2**20
        self._memo: dict[int, np.ndarray] | None = {} if spec.kind != "landmarks" and fits else None

    def _image(self, index: int) -> np.ndarray:
        """The cached view at the model's size (memoised when the dataset fits in memory)."""
        from asl_core.data.augment import resize_square

        if self._memo is not None and index in self._memo:
            return self._memo[index]
        image = resize_square(self.table.image(index, self.representation), self.spec.size)
        if self._memo is not None:
            self._memo[index] = image
        return image

    def __len__(self) -> int:
        return len(self.indices)

    def label(self, position: int) -> int:
        return self.class_index[self.table.samples[self.indices[position]].label]

    def _empty(self) -> torch.Tensor:
        spec = self.spec
        if spec.kind == "landmarks":
            return torch.zeros(spec.dim)
        frame = (spec.channels, spec.size, spec.size)
        if spec.kind == "sequence":
            return torch.zeros(spec.sequence_length, *frame)
        return torch.zeros(frame)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int, bool]:
        index = self.indices[position]
        label = self.class_index[self.table.samples[index].label]
        if not self.table.has_hand[index]:
            return self._empty(), label, False
        if self.spec.kind == "landmarks":
            return self.transform(self.table.landmarks[index]), label, True
        image = self._image(index)
        if self.spec.kind == "sequence":
            views = [self.transform(image) for _ in range(self.spec.sequence_length)]
            return torch.stack(views), label, True
        if self.table.samples[index].dataset in self.black_background:
            return self.transform(image, free_background=True), label, True
        return self.transform(image), label, True
