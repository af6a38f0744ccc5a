"""The photos a personalisation trains and is checked on: the user's captures (enough of each
sign?), other people's photos against forgetting, and a reference signer's photos that show
whether the new model forgot how other people sign (see `personalise` for how they are used)."""

from __future__ import annotations

from collections import Counter
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
"""A new sign needs at least this many photos with a hand: fewer cannot be both learned and
checked on held-back photos."""


MIN_PHOTOS_SIGN = 2
"""Any captured sign needs at least this many: one or more is held back to check the result
(with one photo there is nothing to check it on)."""


class PersonaliseError(ValueError):
    """Personalisation cannot run as asked; the message says what to do."""


def load_captures(folder: Path) -> list[Sample]:
    """The captured photos that exist on disk (read through the folder's MANIFEST.csv)."""
    folder = Path(folder)
    try:
        samples = load_folder(folder, CAPTURES_DATASET)
    except (DatasetError, FileNotFoundError):
        raise PersonaliseError(
            f"No captured photos in {folder}: capture some signs first."
        ) from None
    present = [s for s in samples if s.path is not None and s.path.is_file()]
    if not present:
        raise PersonaliseError(f"The photos listed in {folder} are missing from the disk.")
    return present


def check_counts(user: list[Sample], new_classes: list[str]) -> None:
    """Enough photos of every captured sign to train on some and hold some back."""
    photos = Counter(s.label for s in user)
    needed = {n: MIN_PHOTOS_NEW_SIGN if n in new_classes else MIN_PHOTOS_SIGN for n in photos}
    too_few = [f"{n} ({photos[n]})" for n in sort_labels(photos) if photos[n] < needed[n]]
    if too_few:
        raise PersonaliseError(
            f"Capture at least {MIN_PHOTOS_NEW_SIGN} photos of each new sign and "
            f"{MIN_PHOTOS_SIGN} of each sign the model knows (a quarter of each sign is held "
            f"back to check the new model); too few of: {', '.join(too_few)}."
        )


def check_hands(trained: list[Sample], new_classes: list[str]) -> None:
    """Enough training photos of each new sign with a hand found in them (`trained`)."""
    found = Counter(s.label for s in trained)
    too_few = [n for n in new_classes if found[n] < max(1, MIN_PHOTOS_NEW_SIGN - 2)]
    if too_few:
        raise PersonaliseError(
            f"A hand was found in too few photos of {', '.join(too_few)}; capture more photos "
            "with the whole hand in view."
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
