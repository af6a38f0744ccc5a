"""The photos a personalisation trains and is checked on: the user's captures (enough of each
sign?), which of them are held back (whole bursts, by time), other people's photos against
forgetting, and a reference signer's photos that show whether the new model forgot how other
people sign (see `personalise` for how they are used).

Held back by burst, not photo by photo: the Capture page takes photos in bursts (up to 10 a
second from the camera, or snapshots seconds apart), and the frames of one burst are near copies
of each other. Holding back random frames put copies of training photos on the checking side:
a capture of real Massey photos (two signers as two bursts per sign, 96 photos) scored
"Your signs: 46% -> 100%" that way; held back by burst, the later signer's photos are new to the
model, as a user's own photos will be next week.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from asl_core.data.sources import (
    KNOWN_DATASETS,
    DatasetError,
    Sample,
    limit_per_class,
    load_datasets,
    load_folder,
)
from asl_core.labels import sort_labels
from asl_core.models.checkpoint import CheckpointMeta

if TYPE_CHECKING:
    from asl_core.training.personalise import PersonaliseConfig

CAPTURES_DATASET = "my_signs"


MIN_PHOTOS_NEW_SIGN = 5
"""A new sign needs at least this many photos: fewer cannot be both learned and checked."""


BURST_GAP_S = 60.0
"""Photos of one sign by one signer less than this many seconds apart belong to one burst.
Live capture saves 1-10 photos a second (`asl_core.capture.session`) and snapshots come seconds
apart, with the same pose and light; a burst started a few seconds after the last one is hardly
different either. A minute apart the hand has moved on. The manifest's times have whole
seconds."""


class PersonaliseError(ValueError):
    """Personalisation cannot run as asked; the message says what to do."""


def load_captures(folder: Path) -> list[Sample]:
    """The captured photos that exist on disk (read through the folder's MANIFEST.csv)."""
    folder = Path(folder)
    try:
        samples = load_folder(folder, CAPTURES_DATASET, allow_missing=True)
    except (DatasetError, FileNotFoundError):
        raise PersonaliseError(
            f"No captured photos in {folder}: capture some signs first."
        ) from None
    present = [s for s in samples if s.path is not None and s.path.is_file()]
    if not present:
        raise PersonaliseError(f"The photos listed in {folder} are missing from the disk.")
    return present


def check_counts(user: list[Sample], new_classes: list[str]) -> None:
    """Enough photos of every new sign to learn it and check it."""
    photos = Counter(s.label for s in user)
    too_few = [f"{n} ({photos[n]})" for n in new_classes if photos[n] < MIN_PHOTOS_NEW_SIGN]
    if too_few:
        raise PersonaliseError(
            f"Capture at least {MIN_PHOTOS_NEW_SIGN} photos of each new sign, in two bursts a "
            f"minute or more apart (the later burst is held back to check the new model); too "
            f"few of: {', '.join(too_few)}."
        )


def _parse_time(text: str | None) -> datetime | None:
    """A manifest time (ISO 8601) in UTC; a time without a zone is read as local time."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Burst:
    """Photos of one sign by one signer, each less than `BURST_GAP_S` after the one before.

    `indices` index the user's samples, in time order. Photos without a readable time form
    one burst per sign and signer (`start` None): nothing tells them apart."""

    label: str
    signer: str | None
    start: datetime | None
    end: datetime | None
    indices: tuple[int, ...]

    def describe(self) -> str:
        """'B by Ann at 2026-01-05 10:00:00 (30 photos)', in this machine's local time."""
        local = self.start.astimezone() if self.start is not None else None
        when = "at an unknown time" if local is None else f"at {local:%Y-%m-%d %H:%M:%S}"
        return f"{self.label} by {self.signer or 'unknown'} {when} ({len(self.indices)} photos)"


def find_bursts(user: Sequence[Sample], gap_s: float = BURST_GAP_S) -> list[Burst]:
    """The bursts of `user` (the captures), by sign, then by start time (unknown first).

    A new burst starts where the time from one photo to the next of the same sign and signer
    is `gap_s` seconds or more."""
    groups: dict[tuple[str, str | None], list[tuple[datetime | None, int]]] = defaultdict(list)
    for index, sample in enumerate(user):
        groups[(sample.label, sample.signer)].append((_parse_time(sample.time), index))
    bursts: list[Burst] = []
    for (label, signer), members in groups.items():
        untimed = [index for when, index in members if when is None]
        if untimed:
            bursts.append(Burst(label, signer, None, None, tuple(untimed)))
        timed = sorted((when, index) for when, index in members if when is not None)
        run: list[tuple[datetime, int]] = []
        for when, index in timed:
            if run and (when - run[-1][0]).total_seconds() >= gap_s:
                bursts.append(Burst(label, signer, run[0][0], run[-1][0], tuple(i for _, i in run)))
                run = []
            run.append((when, index))
        if run:
            bursts.append(Burst(label, signer, run[0][0], run[-1][0], tuple(i for _, i in run)))
    order = {label: rank for rank, label in enumerate(sort_labels({b.label for b in bursts}))}
    earliest = datetime.min.replace(tzinfo=UTC)
    return sorted(bursts, key=lambda b: (order[b.label], b.start or earliest, b.signer or ""))


@dataclass(frozen=True)
class HeldBack:
    """Which captures train and which are held back to check the new model (indices into the
    user's samples), and the signs that could not be checked."""

    train: list[int]
    held_back: list[int]
    bursts: list[Burst]  # every burst
    held_back_bursts: list[Burst]
    unchecked: list[str]  # signs captured in one burst: all of it trains, nothing checks it


def hold_back_bursts(
    user: Sequence[Sample], fraction: float, gap_s: float = BURST_GAP_S
) -> HeldBack:
    """Hold back each sign's latest bursts, whole, until at least `fraction` of its photos are
    held back; its earliest burst always trains. A sign captured in one burst is not checked.

    Latest, not random: the new model is used on photos taken after the ones it learned from
    (another moment, light, angle), and a later burst is the nearest thing to those.
    PersonaliseError when no sign has two bursts (nothing honest to check on)."""
    bursts = find_bursts(user, gap_s)
    by_label: dict[str, list[Burst]] = defaultdict(list)
    for burst in bursts:
        by_label[burst.label].append(burst)
    held: list[Burst] = []
    unchecked: list[str] = []
    for label, group in by_label.items():  # each sign's bursts, in time order
        if len(group) < 2:
            unchecked.append(label)
            continue
        wanted = math.ceil(fraction * sum(len(b.indices) for b in group))
        taken = 0
        for burst in reversed(group[1:]):
            held.append(burst)
            taken += len(burst.indices)
            if taken >= wanted:
                break
    if not held:
        raise PersonaliseError(
            "Nothing to check the new model on: every sign was captured in one burst (photos "
            f"less than {gap_s:.0f} s apart), and photos of one burst are near copies of each "
            "other, so a score on them says nothing. Capture another burst of your signs a "
            "minute or more later (better: in other light, or another day); the later bursts "
            "are held back to check the new model."
        )
    held_back = sorted(i for burst in held for i in burst.indices)
    chosen = set(held_back)
    train = [i for i in range(len(user)) if i not in chosen]
    return HeldBack(train, held_back, bursts, held, sort_labels(unchecked))


def check_hands(trained: list[Sample], new_classes: list[str]) -> None:
    """Enough training photos of each new sign with a hand found in them (`trained`)."""
    found = Counter(s.label for s in trained)
    too_few = [n for n in new_classes if found[n] < max(1, MIN_PHOTOS_NEW_SIGN - 2)]
    if too_few:
        raise PersonaliseError(
            f"A hand was found in too few of the photos of {', '.join(too_few)} that it would "
            "learn from (the later bursts are held back to check it); capture more photos with "
            "the whole hand in view."
        )


def present(name: str) -> bool:
    """A registered dataset that is on this machine."""
    known = KNOWN_DATASETS.get(name)
    return known is not None and (known.root / "MANIFEST.csv").is_file()


def reference_signer_of(meta: CheckpointMeta, configured: str | None) -> str:
    """The configured signer, else the base model's leave-one-signer-out test signer, else
    hand5 (the project's usual held-out Massey signer)."""
    if configured:
        return configured
    split = meta.data.get("split") if isinstance(meta.data, dict) else None
    if isinstance(split, dict) and split.get("name") == "loso":
        signer = (split.get("params") or {}).get("test_signer")
        if isinstance(signer, str) and signer:
            return signer
    return "hand5"


def other_people(
    meta: CheckpointMeta, config: PersonaliseConfig, notes: list[str]
) -> tuple[list[Sample], list[Sample], str, list[str]]:
    """(replay, reference, reference description, replayed dataset names): photos of the
    base's classes from the datasets it records (else the configured ones) that are on this
    machine, and the reference signer's photos from `reference_dataset`, never replayed."""
    recorded = [name for name in meta.dataset_names() if name in KNOWN_DATASETS]
    datasets = [n for n in dict.fromkeys(recorded or config.replay_datasets) if present(n)]
    signer = reference_signer_of(meta, config.reference_signer)
    pool_names = list(datasets)
    if config.reference_dataset not in pool_names and present(config.reference_dataset):
        pool_names.append(config.reference_dataset)
    try:
        pool = load_datasets(pool_names, classes=meta.class_names, verify=False).samples
    except DatasetError:  # none of the base's classes in those sets (or none present)
        pool = []
    is_reference = [s.dataset == config.reference_dataset and s.signer == signer for s in pool]
    others = [s for s, ref in zip(pool, is_reference, strict=True) if not ref]
    candidates = [s for s, ref in zip(pool, is_reference, strict=True) if ref]
    replay = [s for s in others if s.dataset in datasets]
    replay = limit_per_class(replay, config.replay_per_class, seed=config.seed)
    # Seed 0 always: the same reference photos for every run, so runs compare.
    reference = limit_per_class(candidates, config.reference_per_class, seed=0)
    replay = replay if config.replay_per_class else []
    reference = reference if config.reference_per_class else []
    text = f"{config.reference_dataset} signer {signer}"
    if not reference:
        text += " not found"
        notes.append(
            f"Other people's signs were not measured: no photos of {config.reference_dataset} "
            f"signer {signer} in this model's classes here."
        )
    if not replay:
        notes.append(
            "No photos of other people were mixed in (set to 0, or the base model's training "
            "data is not on this machine): the new model may forget signs you did not capture."
        )
    return replay, reference, text, datasets
