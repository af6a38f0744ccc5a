"""Frame sequences for sequence models (seed 004's CNN+LSTM): T consecutive real video frames
of one sign by one signer, in the order they were filmed.

Two registered datasets are frames of video, and their file names carry the frame's place in
it (`FRAME_ORDER`):
- `grassknoted_letters`: `<letter><n>.jpg`, n from the source video (1-3000 per letter
  upstream; 200 per letter kept here, about 15 frames apart). Checked on the photos (mean
  absolute difference of 50x50 grey images, 0-255, letters A, B, M, Y): frames 1-9 numbers
  apart differ by 6.7-8.3, 10-29 apart by 13-23, 30-99 apart by 18-37, two random frames of
  the same letter by 56-62. The number is the order of filming.
- `aslhg`: `P<signer>_<class>_<n>.jpg`, 10 frames per signer and class from a short phone
  sequence. Same check over all 216 groups: 3.9 for neighbours (1 apart), 4.6 (2-4 apart),
  6.4 (5-19), 7.9 (20-99), 8.6 for two random frames of the group.
`massey36` photos are separate segmented stills (`seg_<k>` is not a time): no sequences.

`build_sequences` groups the photos by (dataset, signer, class), sorts each group by frame
number and cuts it into non-overlapping windows of T consecutive frames (the frames of the
loaded selection: with `limit_per_class` they are a random subset of the video, still in
order); a last window shorter than T is left out and counted. `sequence_split` splits those
windows (whole windows go to one side, so no frame is on two sides) with any registered split,
and returns the frames of each side as an ordinary `Split`; `SequenceDataset` yields the
windows of one side. A frame in which MediaPipe found no hand is fed as a black frame (what
the crops pad with); a window with no hand in any frame is left out of training and counted
wrong in evaluation, like a photo without a hand.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from asl_core.data.sources import DatasetError, Sample
from asl_core.data.splits import Split, make_split

if TYPE_CHECKING:
    from asl_core.data.features import FeatureTable
    from asl_core.vision.spec import InputSpec


FRAME_ORDER: dict[str, re.Pattern[str]] = {
    "grassknoted_letters": re.compile(r"^[A-Za-z](?P<frame>\d+)\.jpe?g$"),
    "aslhg": re.compile(r"^P\d+_[0-9A-Za-z]+_(?P<frame>\d+)\.jpe?g$"),
}
"""Datasets whose photos are video frames: the file-name pattern whose `frame` group is the
frame's number in the video (see the module doc for the check)."""


@dataclass(frozen=True)
class FrameSequence:
    """T consecutive frames of one sign by one signer: indices into the sample list, and the
    frames' numbers in the source video, both in filming order."""

    frames: tuple[int, ...]
    numbers: tuple[int, ...]
    label: str
    signer: str | None
    dataset: str


def frame_number(sample: Sample) -> int:
    """The sample's frame number in its video; DatasetError when its dataset has no frames."""
    pattern = FRAME_ORDER.get(sample.dataset)
    if pattern is None:
        raise DatasetError(
            f"{sample.dataset} is not a set of video frames: sequence models (cnn_lstm) train "
            f"on datasets whose photos are consecutive frames ({', '.join(FRAME_ORDER)})"
        )
    name = sample.path.name if sample.path is not None else ""
    match = pattern.match(name)
    if match is None:
        raise DatasetError(
            f"{sample.source}: the file name does not give a frame number "
            f"(expected {pattern.pattern} in {sample.dataset})"
        )
    return int(match.group("frame"))


def build_sequences(samples: Sequence[Sample], length: int) -> tuple[list[FrameSequence], int]:
    """(windows, frames left over): every group (dataset, signer, class) in frame order, cut
    into non-overlapping windows of `length` consecutive frames. Deterministic: the same
    samples always give the same windows, in the same order."""
    if length < 1:
        raise ValueError(f"a sequence needs at least one frame, got length {length}")
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for index, sample in enumerate(samples):
        key = (sample.dataset, sample.signer or "", sample.label)
        groups[key].append((frame_number(sample), index))
    windows: list[FrameSequence] = []
    left_over = 0
    for (dataset, signer, label), members in sorted(groups.items()):
        members.sort()
        numbers = [number for number, _ in members]
        if len(set(numbers)) != len(numbers):
            raise DatasetError(f"{dataset}: two photos of {label} by {signer or 'one signer'} "
                               "have the same frame number")  # fmt: skip
        whole = len(members) - len(members) % length
        left_over += len(members) - whole
        for start in range(0, whole, length):
            chunk = members[start : start + length]
            windows.append(
                FrameSequence(
                    frames=tuple(index for _, index in chunk),
                    numbers=tuple(number for number, _ in chunk),
                    label=label,
                    signer=signer or None,
                    dataset=dataset,
                )
            )
    return windows, left_over


def sequence_split(samples: Sequence[Sample], length: int, name: str, **params: Any) -> Split:
    """Split whole windows of `length` frames with the split `name` (stratified by class,
    signers apart for loso/lopo, as for photos); returns the frames of each side.

    The windows are those of `build_sequences(samples, length)`; the split's notes record
    how many windows each side got and how many frames fitted no window.
    """
    windows, left_over = build_sequences(samples, length)
    if not windows:
        raise DatasetError(
            f"no class has {length} frames of one signer: nothing to make sequences of"
        )
    first_frames = [samples[window.frames[0]] for window in windows]
    inner = make_split(first_frames, name, **params)

    def frames(positions: Sequence[int]) -> list[int]:
        return sorted(f for p in positions for f in windows[p].frames)

    notes = {
        **inner.notes,
        "unit": "sequence",
        "sequence_length": length,
        "sequences": {side: len(idx) for side, idx in inner.sides().items()},
        "frames_left_over": left_over,
    }
    return Split(
        inner.name, inner.params, frames(inner.train), frames(inner.val), frames(inner.test),
        notes,
    )  # fmt: skip


def side_sequences(
    samples: Sequence[Sample], length: int, side: Sequence[int]
) -> list[FrameSequence]:
    """The windows whose frames all lie in `side` (the frame indices of a sequence_split)."""
    members = set(side)
    windows, _ = build_sequences(samples, length)
    return [w for w in windows if all(f in members for f in w.frames)]


class SequenceDataset(Dataset):
    """Yields `(frames T x C x H x W, label_index, has_input)` for each window.

    Every frame goes through `transform` (the model's train or eval preset); in training the
    random augmentation is drawn once per window and applied to each of its frames alike (the
    RNG is rewound per frame), so the motion between frames is the video's, not the
    augmentation's. A frame without a hand is the transform of a black frame; `has_input` is
    False when no frame has one (training leaves those windows out: `include_no_hand`).
    Resized frames are kept in memory (`memory_budget_mb`), as `AslDataset` does.
    """

    def __init__(
        self,
        table: FeatureTable,
        windows: Sequence[FrameSequence],
        class_names: Sequence[str],
        spec: InputSpec,
        transform: Callable[[Any], torch.Tensor],
        *,
        include_no_hand: bool = True,
        memory_budget_mb: float = 1024,
    ) -> None:
        if spec.kind != "sequence":
            raise ValueError(f"SequenceDataset feeds sequence models, not {spec.kind} ones")
        self.table = table
        self.spec = spec
        self.transform = transform
        self.class_index = {name: i for i, name in enumerate(class_names)}
        windows = list(windows)
        if not include_no_hand:
            windows = [w for w in windows if any(table.has_hand[f] for f in w.frames)]
        self.windows = windows
        frames = sum(len(w.frames) for w in windows)
        fits = frames * spec.size * spec.size * 3 <= memory_budget_mb * 2**20
        self._memo: dict[int, np.ndarray] | None = {} if fits else None
        self._black = np.zeros((spec.size, spec.size, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.windows)

    def label(self, position: int) -> int:
        return self.class_index[self.windows[position].label]

    def _frame(self, index: int) -> np.ndarray:
        from asl_core.data.augment import resize_square

        if not self.table.has_hand[index]:
            return self._black
        if self._memo is not None and index in self._memo:
            return self._memo[index]
        image = self.table.image(index, self.spec.representation)
        image = resize_square(image, self.spec.size)
        if self._memo is not None:
            self._memo[index] = image
        return image

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int, bool]:
        window = self.windows[position]
        state = torch.get_rng_state()
        frames = []
        for index in window.frames:
            torch.set_rng_state(state)  # the same augmentation for every frame of the window
            frames.append(self.transform(self._frame(index)))
        has_input = any(bool(self.table.has_hand[f]) for f in window.frames)
        return torch.stack(frames), self.class_index[window.label], has_input
