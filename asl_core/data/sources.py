"""Datasets: where the photos come from, which samples a run uses, and how they are split.

A `Sample` is one photo (or one row of landmarks) with its label, its signer when known, the
dataset it came from and the sha256 of its content (the key of the feature cache).

Three on-disk layouts are read:
- a class-per-folder tree (`images/<class>/<file>` or `<class>/<file>`), with or without a
  `MANIFEST.csv` (columns `path`, `label`, optional `signer`, `lighting`, `sha256`);
- an `.npz` of images and labels (seed 000, section 4.4.1): `images` (N, H, W, 3) uint8,
  `labels` (N) names or integers, optional `class_names` for integer labels;
- a landmark CSV: `label`, optional `signer` and `handedness`, and 63 numeric columns (21
  landmarks x (x, y, z)). Those samples skip MediaPipe entirely.

`KNOWN_DATASETS` is the registry of public sets this project trains on (massey36,
grassknoted_letters, aslhg), with their upstream, licence, citation and a checksum of their
manifest; `load_datasets(["massey36", "/some/folder"])`
combines several.

Splits (always named and recorded with the run, see `Split.describe`):
- `random`: stratified train/val/test, 70/15/15 by default (seed 004).
- `kfold`: stratified k folds (5 by default, seed 003); the test side is fold `fold`, the
  validation side a stratified slice of the other folds (`val_fraction`), so that early
  stopping never sees the test fold. `val_fraction: 0` validates on the test fold itself,
  which is seed 003's exact protocol (and optimistic).
- `loso`: leave one signer out. Test = every photo of `test_signer`. Validation = a
  stratified slice of the training signers (default; it shares signers with training, so
  validation accuracy is optimistic and only steers early stopping) or, with `val_signer`,
  every photo of another signer (signer-disjoint validation, one signer less to train on).
  Samples whose signer is unknown go to the training side and are counted.
- `lodo`: leave one dataset out (NOTES: "What generalises"). Test = every sample of
  `test_dataset`; train/val = stratified split of the others. Test samples of classes the
  training side never shows (e.g. digits when testing on Massey after training on letters)
  cannot be answered; they are dropped from the test side and counted.
A random split of `massey36` leaks signer, light and session across sides; a random split of
`grassknoted_letters` leaks near-duplicate video frames: prefer `loso` and `lodo` numbers.
"""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asl_core.io.files import sha256_file
from asl_core.labels import DIGITS, LETTERS, normalise_label, sort_labels
from asl_core.settings import data_dir

if TYPE_CHECKING:
    pass


MANIFEST = "MANIFEST.csv"


LANDMARK_VALUES = 63


# hand{1-5}_{class}_{bot|dif|left|right|top}_seg_{k}_cropped.jpeg (Massey file names).
MASSEY_NAME = re.compile(
    r"^(?P<signer>hand\d+)_(?P<label>[0-9a-z]+)_(?P<lighting>bot|dif|left|right|top)"
    r"_seg_(?P<index>\d+)_cropped\.jpe?g$",
    re.IGNORECASE,
)


class DatasetError(ValueError):
    """A dataset that cannot be read or used as asked, with the reason."""


class DatasetChecksumError(DatasetError):
    """A registered dataset whose MANIFEST.csv differs from the registered checksum."""


@dataclass(frozen=True, eq=False)
class Sample:
    """One training example.

    Exactly one of `path` (an image file), `image` (an image held in memory, from an .npz) or
    `landmarks` (a 63-vector from a landmark CSV) is set. `sha256` is the content hash of the
    image (file bytes, or the array for .npz images): the key of the feature cache.
    """

    label: str
    dataset: str
    path: Path | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    landmarks: np.ndarray | None = field(default=None, repr=False)
    signer: str | None = None
    sha256: str | None = None
    lighting: str | None = None
    source: str = ""  # a printable reference: the file path, or `file.npz#12`, `file.csv:7`
    time: str | None = None  # when it was taken, ISO 8601, from a manifest's `time` column

    @property
    def needs_detection(self) -> bool:
        """False for landmark-CSV rows, which carry their landmarks already."""
        return self.landmarks is None


@dataclass
class SampleSet:
    """The samples of one or more datasets with one class list (digits, letters, others)."""

    samples: list[Sample]
    class_names: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)
    selection: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> list[str]:
        return [sample.label for sample in self.samples]

    def label_indices(self) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.class_names)}
        return np.array([index[s.label] for s in self.samples], dtype=np.int64)

    @property
    def signers(self) -> list[str]:
        return sorted({s.signer for s in self.samples if s.signer is not None})

    @property
    def datasets(self) -> list[str]:
        return sorted({s.dataset for s in self.samples})


@dataclass(frozen=True)
class KnownDataset:
    """A public dataset this project knows: where it came from, its licence, its checksum.

    `manifest_sha256` is the sha256 of the MANIFEST.csv shipped in ../shared/data (one row
    per image with its own sha256, so it pins every photo). `default_signer` is used for
    rows that name no signer in a set known to show one person only.
    """

    name: str
    title: str
    upstream: str
    licence: str
    citation: str
    manifest_sha256: str
    num_images: int
    num_classes: int
    description: str
    default_signer: str | None = None

    @property
    def root(self) -> Path:
        return data_dir() / self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "upstream": self.upstream,
            "licence": self.licence,
            "citation": self.citation,
            "manifest_sha256": self.manifest_sha256,
            "num_images": self.num_images,
            "num_classes": self.num_classes,
            "description": self.description,
        }


KNOWN_DATASETS: dict[str, KnownDataset] = {
    "massey36": KnownDataset(
        name="massey36",
        title="Massey University 2D static ASL hand gestures (digits and letters)",
        upstream="https://www.kaggle.com/datasets/ayuraj/asl-dataset",
        licence="none stated; research data, do not redistribute",
        citation=(
            "Barczak, Reyes, Abastillas, Piccio, Susnjak (2011). A new 2D static hand gesture "
            "colour image dataset for ASL gestures. Research Letters in the Information and "
            "Mathematical Sciences 15, 12-20."
        ),
        manifest_sha256="e11e4d7cb29321842095f53b40088f55655397aa8525d4a3421d6ee00bd89718",
        num_images=2515,
        num_classes=36,
        description="400x400 JPEG, 5 signers (hand1-hand5), hand cropped on black, 5 lights",
    ),
    "grassknoted_letters": KnownDataset(
        name="grassknoted_letters",
        title="ASL Alphabet (grassknoted), letters A-Z subset",
        upstream="https://www.kaggle.com/datasets/grassknoted/asl-alphabet",
        licence="reported GPL-2.0, unverified",
        citation="Akash Nagaraj (2018). ASL Alphabet. Kaggle. doi:10.34740/KAGGLE/DSV/29550",
        manifest_sha256="db3f9ab9ffb526e500736769ebbecdd2e96c6c56f34443ed55c16f899815c2b0",
        num_images=5200,
        num_classes=26,
        description="200x200 JPEG, 1 signer in one room, consecutive video frames",
        default_signer="grassknoted",
    ),
    "aslhg": KnownDataset(
        name="aslhg",
        title="ASL-HG: American Sign Language Hand Gesture Image Dataset (6-signer subset)",
        upstream="https://data.mendeley.com/datasets/j4y5w2c8w9/1",
        licence="CC BY 4.0 (attribution required: cite the paper)",
        citation=(
            "Pranto, Islam, Akbor, Ghosh, Alam, Chaki, Islam (2026). A comprehensive image "
            "dataset of American Sign Language hand gestures. Data in Brief, 112492. "
            "doi:10.1016/j.dib.2026.112492; data: Mendeley Data doi:10.17632/j4y5w2c8w9.1, "
            "as subsetted in the public derekrodgers/aslbench repository"
        ),
        manifest_sha256="b243bfa8f4502107afb78a70b2a90d69f6585d14e9ca1734c94d4c3b5c4fdee9",
        num_images=2160,
        num_classes=36,
        description=(
            "300x300 JPEG, 6 signers (P1-P6), phone photos in ordinary indoor rooms; its 0 is "
            "the TWO-handed zero (both hands make one ring), trained as 0: leaving it out cost "
            "aslhg's held-out people 7 points on digits (MODEL_CARD.md)"
        ),
    ),
}


def list_datasets() -> list[str]:
    return sorted(KNOWN_DATASETS)


def verify_manifest(known: KnownDataset, root: Path | None = None) -> str:
    """The manifest's sha256; raises DatasetChecksumError when it is not the registered one."""
    manifest = (root or known.root) / MANIFEST
    if not manifest.is_file():
        raise DatasetError(
            f"dataset {known.name!r} not found: {manifest} does not exist (set ASL_DATA_DIR to "
            f"the folder holding {known.name}/; upstream: {known.upstream})"
        )
    digest = sha256_file(manifest)
    if digest != known.manifest_sha256:
        raise DatasetChecksumError(
            f"{manifest} has sha256 {digest}, the registry expects {known.manifest_sha256}: "
            f"the copy of {known.name} differs from the registered one. Pass verify=False "
            "(config: verify_datasets: false) to use it anyway."
        )
    return digest


def _parse_massey_name(name: str) -> dict[str, str] | None:
    match = MASSEY_NAME.match(name)
    return match.groupdict() if match else None


def load_folder(
    root: str | Path,
    name: str | None = None,
    *,
    default_signer: str | None = None,
    allow_missing: bool = False,
) -> list[Sample]:
    """A class-per-folder tree, read through its MANIFEST.csv when it has one (without one,
    the photos are the files whose suffix `asl_core.io.images.photo_suffixes()` names).

    Signers come from the manifest's `signer` column, else from Massey-style file names,
    else `default_signer` (None when unknown). Without a manifest the sha256 of each file is
    computed here (about 1 ms per photo).

    Raises DatasetError when the manifest lists files that do not exist (one `os.path.exists`
    per row), naming how many and the first few: otherwise they would be answered from the
    feature cache by their sha256, or counted as photos with no hand. `allow_missing=True`
    (the capture folder, whose photos a user may delete) returns them all and lets the caller
    drop the missing ones.
    """
    root = Path(root)
    name = name or root.name
    manifest = root / MANIFEST
    samples: list[Sample] = []
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
                raise DatasetError(f"{manifest} needs at least the columns path and label")
            rows = list(reader)
        if not allow_missing:
            missing = [row["path"] for row in rows if not os.path.exists(root / row["path"])]
            if missing:
                raise DatasetError(
                    f"{manifest} lists {len(missing)} of {len(rows)} files that do not exist "
                    f"under {root} (first: {', '.join(missing[:3])}): restore them, or remove "
                    "their rows from MANIFEST.csv"
                )
        for row in rows:
            path = root / row["path"]
            parsed = _parse_massey_name(path.name) or {}
            signer = row.get("signer") or parsed.get("signer") or default_signer
            samples.append(
                Sample(
                    label=normalise_label(row["label"]),
                    dataset=name,
                    path=path,
                    signer=signer,
                    sha256=row.get("sha256") or sha256_file(path),
                    lighting=row.get("lighting") or parsed.get("lighting"),
                    source=str(path),
                    time=row.get("time") or None,
                )
            )
    else:
        from asl_core.io.images import photo_suffixes  # what read_sample_rgb can decode

        suffixes = photo_suffixes()
        base = root / "images" if (root / "images").is_dir() else root
        class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        for class_dir in class_dirs:
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() not in suffixes or path.name.startswith("."):
                    continue
                parsed = _parse_massey_name(path.name) or {}
                samples.append(
                    Sample(
                        label=normalise_label(class_dir.name),
                        dataset=name,
                        path=path,
                        signer=parsed.get("signer") or default_signer,
                        sha256=sha256_file(path),
                        lighting=parsed.get("lighting"),
                        source=str(path),
                    )
                )
    if not samples:
        raise DatasetError(_nothing_found(root))
    return samples


def _nothing_found(root: Path) -> str:
    """Why a folder without MANIFEST.csv gave no samples, naming what it holds: photos must
    sit in one folder per class (root/A/*.jpg, root/B/*.jpg)."""
    from asl_core.io.images import photo_suffixes

    base = root / "images" if (root / "images").is_dir() else root
    entries = sorted(p for p in base.iterdir() if not p.name.startswith("."))
    folders = sorted(p.name for p in entries if p.is_dir())
    photos = [p for p in entries if p.is_file() and p.suffix.lower() in photo_suffixes()]
    layout = f"put the photos in one folder per class ({root}/A/, {root}/B/, ...)"
    if folders:
        shown = ", ".join(folders[:5]) + (", ..." if len(folders) > 5 else "")
        return f"no photos in the class folders of {base} ({shown}): {layout}"
    if photos:
        return (
            f"{base} holds {len(photos)} photo{'s' * (len(photos) != 1)} but no class folders "
            f"(first: {photos[0].name}): {layout}"
        )
    return f"no photos and no class folders under {base}: {layout}"


def resolve_dataset(spec: str | Path) -> tuple[str, Path, KnownDataset | None]:
    """(name, path, registry entry or None) for a registered name or a path."""
    text = str(spec)
    if text in KNOWN_DATASETS:
        known = KNOWN_DATASETS[text]
        return known.name, known.root, known
    path = Path(text).expanduser()
    if not path.exists():
        raise DatasetError(
            f"unknown dataset {text!r}: neither a registered name ({', '.join(list_datasets())})"
            " nor an existing path"
        )
    return path.stem if path.is_file() else path.name, path.resolve(), None


def load_one(spec: str | Path, *, verify: bool = True) -> tuple[list[Sample], dict[str, Any]]:
    """The samples of one dataset (name or path) and a record of where they came from."""
    name, path, known = resolve_dataset(spec)
    record: dict[str, Any] = {"spec": str(spec), "name": name, "path": str(path)}
    if known is not None:
        record.update(known.to_dict())
        if verify:
            record["manifest_sha256"] = verify_manifest(known)
            record["checksum_ok"] = True
        samples = load_folder(path, name, default_signer=known.default_signer)
    elif path.is_dir():
        samples = load_folder(path, name)
        if (path / MANIFEST).is_file():
            record["manifest_sha256"] = sha256_file(path / MANIFEST)
    elif path.suffix.lower() == ".npz":
        from asl_core.data.arrays import load_npz  # arrays imports this module

        samples = load_npz(path, name)
        record["sha256"] = sha256_file(path)
    elif path.suffix.lower() == ".csv":
        from asl_core.data.arrays import load_landmark_csv

        samples = load_landmark_csv(path, name)
        record["sha256"] = sha256_file(path)
    else:
        raise DatasetError(f"{path}: expected a folder, an .npz or a landmark .csv")
    record["kind"] = (
        "landmarks" if samples[0].landmarks is not None else "npz" if path.is_file() else "folder"
    )
    record["num_images"] = len(samples)
    record["num_classes"] = len({s.label for s in samples})
    return samples, record


def filter_classes(samples: list[Sample], classes: str | Sequence[str] | None) -> list[Sample]:
    """Keep "all", "letters", "digits" or an explicit list of labels."""
    if classes is None or classes == "all":
        return samples
    if classes == "letters":
        keep = set(LETTERS)
    elif classes == "digits":
        keep = set(DIGITS)
    elif isinstance(classes, str):
        raise DatasetError(f"classes must be all, letters, digits or a list, not {classes!r}")
    else:
        keep = {normalise_label(str(c)) for c in classes}
    return [s for s in samples if s.label in keep]


def limit_per_class(samples: list[Sample], limit: int | None, seed: int = 0) -> list[Sample]:
    """At most `limit` samples per class, drawn at random (seeded), in their original order.

    Random rather than the first N so that a small slice still mixes signers and lights.
    """
    if not limit:
        return samples
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_class[sample.label].append(index)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in sorted(by_class):
        indices = by_class[label]
        if len(indices) > limit:
            indices = sorted(rng.choice(indices, size=limit, replace=False).tolist())
        keep.extend(indices)
    return [samples[i] for i in sorted(keep)]


def load_datasets(
    specs: Sequence[str | Path] | str,
    *,
    classes: str | Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    verify: bool = True,
    dataset_limits: Mapping[str, int] | None = None,
    min_classes: int = 1,
) -> SampleSet:
    """Combine datasets (registered names or paths) into one SampleSet.

    `classes` keeps only some classes; `limit` caps each class (quick runs and tests);
    `dataset_limits` caps each class of the named datasets only ({"grassknoted_letters": 50}:
    a set of near-duplicate video frames of one person that would otherwise outnumber every
    other person), drawn at random with `seed` like `limit`. Raises DatasetError when fewer
    than `min_classes` classes are left (training needs 2; evaluating one letter's photos, 1).
    """
    if isinstance(specs, str | Path):
        specs = [specs]
    if not specs:
        raise DatasetError("no dataset given")
    dataset_limits = dict(dataset_limits or {})
    samples: list[Sample] = []
    sources = []
    for spec in specs:
        loaded, record = load_one(spec, verify=verify)
        if record["name"] in dataset_limits:
            loaded = limit_per_class(loaded, dataset_limits[record["name"]], seed)
            record["limit_per_class"] = dataset_limits[record["name"]]
        samples.extend(loaded)
        sources.append(record)
    names = [record["name"] for record in sources]
    if len(set(names)) != len(names):
        raise DatasetError(f"a dataset is named twice: {names}")
    if unknown := sorted(set(dataset_limits) - set(names)):
        raise DatasetError(
            f"dataset_limits names {unknown}, which are not among the datasets ({names})"
        )
    samples = filter_classes(samples, classes)
    samples = limit_per_class(samples, limit, seed)
    if not samples:
        raise DatasetError(f"no samples left after keeping classes {classes!r}")
    if len(labels := sort_labels({s.label for s in samples})) < min_classes:
        raise DatasetError(
            f"training needs at least {min_classes} classes (one folder per class), found "
            f"{len(labels)}: {', '.join(labels)}"
        )
    selection = {
        "datasets": [str(s) for s in specs],
        "classes": classes if classes is None or isinstance(classes, str) else list(classes),
        "limit_per_class": limit,
        "dataset_limits": dataset_limits,
        "seed": seed,
        "verify": verify,
    }
    return SampleSet(samples, labels, sources, selection)


def read_sample_rgb(sample: Sample) -> np.ndarray:
    """The sample's photo as RGB uint8 (H, W, 3)."""
    if sample.image is not None:
        return sample.image
    if sample.path is None:
        raise DatasetError(f"{sample.source} is a landmark row and has no image")
    from asl_core.io.images import load_image

    return load_image(sample.path)
