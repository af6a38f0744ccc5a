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

`KNOWN_DATASETS` is the registry of public sets this project trains on, with their upstream,
licence and a checksum of their manifest; `load_datasets(["massey36", "/some/folder"])`
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
import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from asl_core.checkpoint import atomic_write_bytes, sha256_file
from asl_core.labels import DIGITS, LETTERS, normalise_label, sort_labels
from asl_core.settings import data_dir

if TYPE_CHECKING:
    from asl_core.features import FeatureTable
    from asl_core.models import InputSpec

MANIFEST = "MANIFEST.csv"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
LANDMARK_VALUES = 63
SPLIT_NAMES = ("random", "kfold", "loso", "lodo")
SIDES = ("train", "val", "test")

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


# --- samples ------------------------------------------------------------------------------


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


# --- registry -----------------------------------------------------------------------------


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


# --- loaders ------------------------------------------------------------------------------


def _parse_massey_name(name: str) -> dict[str, str] | None:
    match = MASSEY_NAME.match(name)
    return match.groupdict() if match else None


def load_folder(
    root: str | Path, name: str | None = None, *, default_signer: str | None = None
) -> list[Sample]:
    """A class-per-folder tree, read through its MANIFEST.csv when it has one.

    Signers come from the manifest's `signer` column, else from Massey-style file names,
    else `default_signer` (None when unknown). Without a manifest the sha256 of each file is
    computed here (about 1 ms per photo).
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
            for row in reader:
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
                    )
                )
    else:
        base = root / "images" if (root / "images").is_dir() else root
        class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        for class_dir in class_dirs:
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
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
        raise DatasetError(f"no images found under {root}")
    return samples


def _array_sha256(image: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(repr((image.shape, str(image.dtype))).encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise DatasetError(f"expected H x W x 3 images, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and float(np.nanmax(image)) <= 1.0:
            image = image * 255.0
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def load_npz(path: str | Path, name: str | None = None) -> list[Sample]:
    """Seed 000's format: `images` (N, H, W, 3) and `labels` (N), names or integers.

    Integer labels are named through `class_names` when present, else kept as numbers.
    Read with allow_pickle=False: object arrays are refused, never unpickled.
    """
    path = Path(path)
    name = name or path.stem
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive or "labels" not in archive:
                raise DatasetError(f"{path} needs arrays 'images' and 'labels'")
            images = archive["images"]
            labels = archive["labels"]
            class_names = archive.get("class_names", None)
    except ValueError as error:  # object arrays need pickle, which we refuse
        raise DatasetError(f"{path} cannot be read without pickle ({error})") from None
    if len(images) != len(labels):
        raise DatasetError(f"{path}: {len(images)} images but {len(labels)} labels")
    samples = []
    for index, (image, raw) in enumerate(zip(images, labels, strict=True)):
        if np.issubdtype(np.asarray(raw).dtype, np.integer):
            label = str(class_names[int(raw)]) if class_names is not None else str(int(raw))
        else:
            label = str(raw)
        rgb = _as_rgb_uint8(np.asarray(image))
        samples.append(
            Sample(
                label=normalise_label(label),
                dataset=name,
                image=rgb,
                sha256=_array_sha256(rgb),
                source=f"{path}#{index}",
            )
        )
    return samples


LANDMARK_META_COLUMNS = frozenset(
    {"label", "signer", "handedness", "path", "source", "dataset", "lighting", "sha256", "split"}
)


def load_landmark_csv(path: str | Path, name: str | None = None) -> list[Sample]:
    """Rows of `label`, optional `signer`/`handedness` and 63 numeric landmark columns.

    The 63 values are 21 landmarks x (x, y, z) in any isotropic frame; they are normalised
    here exactly as `representations.landmark_vector` does (wrist-centred, scale 1, a
    "Right" hand mirrored), which leaves an already normalised vector unchanged.
    """
    from asl_core.representations import landmark_vector

    path = Path(path)
    name = name or path.stem
    samples = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "label" not in fields:
            raise DatasetError(f"{path} needs a 'label' column")
        value_columns = [c for c in fields if c not in LANDMARK_META_COLUMNS]
        if len(value_columns) != LANDMARK_VALUES:
            raise DatasetError(
                f"{path} has {len(value_columns)} landmark columns; expected {LANDMARK_VALUES} "
                "(21 landmarks x 3)"
            )
        for line, row in enumerate(reader, start=2):
            try:
                values = np.array([float(row[c]) for c in value_columns], dtype=np.float64)
            except (TypeError, ValueError):
                raise DatasetError(f"{path}:{line}: a landmark value is not a number") from None
            handedness = (row.get("handedness") or "").strip() or None
            vector = landmark_vector(values.reshape(21, 3), handedness=handedness)
            samples.append(
                Sample(
                    label=normalise_label(row["label"]),
                    dataset=name,
                    landmarks=vector,
                    signer=(row.get("signer") or "").strip() or None,
                    source=f"{path}:{line}",
                )
            )
    if not samples:
        raise DatasetError(f"{path} has no rows")
    return samples


def write_landmark_csv(
    path: str | Path, rows: Iterable[tuple[str, str | None, np.ndarray]]
) -> Path:
    """Write (label, signer, 63-vector) rows in the format `load_landmark_csv` reads."""
    header = ["label", "signer"] + [f"{axis}{i}" for i in range(21) for axis in "xyz"]
    lines = [",".join(header)]
    for label, signer, vector in rows:
        values = np.asarray(vector, dtype=np.float64).reshape(-1)
        if values.shape != (LANDMARK_VALUES,):
            raise ValueError(f"expected {LANDMARK_VALUES} values, got {values.shape}")
        lines.append(",".join([label, signer or "", *(f"{v:.7g}" for v in values)]))
    path = Path(path)
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


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
        samples = load_npz(path, name)
        record["sha256"] = sha256_file(path)
    elif path.suffix.lower() == ".csv":
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
) -> SampleSet:
    """Combine datasets (registered names or paths) into one SampleSet.

    `classes` keeps only some classes; `limit` caps each class (quick runs and tests).
    """
    if isinstance(specs, str | Path):
        specs = [specs]
    if not specs:
        raise DatasetError("no dataset given")
    samples: list[Sample] = []
    sources = []
    for spec in specs:
        loaded, record = load_one(spec, verify=verify)
        samples.extend(loaded)
        sources.append(record)
    names = [record["name"] for record in sources]
    if len(set(names)) != len(names):
        raise DatasetError(f"a dataset is named twice: {names}")
    samples = filter_classes(samples, classes)
    samples = limit_per_class(samples, limit, seed)
    if not samples:
        raise DatasetError(f"no samples left after keeping classes {classes!r}")
    selection = {
        "datasets": [str(s) for s in specs],
        "classes": classes if classes is None or isinstance(classes, str) else list(classes),
        "limit_per_class": limit,
        "seed": seed,
        "verify": verify,
    }
    return SampleSet(samples, sort_labels(s.label for s in samples), sources, selection)


def read_sample_rgb(sample: Sample) -> np.ndarray:
    """The sample's photo as RGB uint8 (H, W, 3)."""
    if sample.image is not None:
        return sample.image
    if sample.path is None:
        raise DatasetError(f"{sample.source} is a landmark row and has no image")
    from asl_core.images import load_image

    return load_image(sample.path)


# --- splits -------------------------------------------------------------------------------


@dataclass
class Split:
    """Indices of the train, val and test sides, with the name and parameters that made them."""

    name: str
    params: dict[str, Any]
    train: list[int]
    val: list[int]
    test: list[int]
    notes: dict[str, Any] = field(default_factory=dict)

    def sides(self) -> dict[str, list[int]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def describe(self, samples: Sequence[Sample]) -> dict[str, Any]:
        """What config.json records: counts, signers, datasets and classes per side."""
        sides = self.sides()
        return {
            "name": self.name,
            "params": dict(self.params),
            "counts": {side: len(idx) for side, idx in sides.items()},
            "signers": {
                side: sorted({samples[i].signer for i in idx if samples[i].signer is not None})
                for side, idx in sides.items()
            },
            "datasets": {
                side: dict(sorted(Counter(samples[i].dataset for i in idx).items()))
                for side, idx in sides.items()
            },
            "classes": {side: len({samples[i].label for i in idx}) for side, idx in sides.items()},
            **self.notes,
        }


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def stratified_partition(
    indices: Sequence[int],
    labels: Sequence[str],
    fractions: Sequence[float],
    rng: np.random.Generator,
) -> list[list[int]]:
    """Split `indices` class by class into len(fractions) + 1 parts; the last takes the rest.

    Each class is shuffled and cut at rounded fractions of its size, so every part keeps the
    class proportions. A class too small to give every part one sample fills the first parts
    in order (the remainder part, normally training, keeps at least one sample).
    """
    by_class: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_class[labels[index]].append(index)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in sorted(by_class):
        members = np.array(by_class[label])
        rng.shuffle(members)
        n = len(members)
        start = 0
        for part, fraction in enumerate(fractions):
            take = _round_half_up(n * fraction)
            if fraction > 0 and take == 0 and n - start > 1:
                take = 1
            take = min(take, max(0, n - start - 1))
            parts[part].extend(members[start : start + take].tolist())
            start += take
        parts[-1].extend(members[start:].tolist())
    return [sorted(part) for part in parts]


def random_split(
    samples: Sequence[Sample],
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Stratified train/val/test (seed 004: 70/15/15, random_state 42)."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1:
        raise ValueError("val_fraction and test_fraction must be in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must leave something to train on")
    labels = [s.label for s in samples]
    rng = np.random.default_rng(random_state)
    val, test, train = stratified_partition(
        range(len(samples)), labels, (val_fraction, test_fraction), rng
    )
    params = {
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "random_state": random_state,
    }
    return Split("random", params, train, val, test)


def kfold_assignments(
    samples: Sequence[Sample], folds: int = 5, random_state: int = 42
) -> np.ndarray:
    """The fold (0..folds-1) of every sample: stratified, each class dealt round-robin."""
    if folds < 2:
        raise ValueError("kfold needs at least 2 folds")
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_class[sample.label].append(index)
    rng = np.random.default_rng(random_state)
    assignment = np.empty(len(samples), dtype=np.int64)
    offset = 0  # where the previous class stopped dealing, so fold sizes stay even overall
    for label in sorted(by_class):
        members = np.array(by_class[label])
        rng.shuffle(members)
        for position, index in enumerate(members):
            assignment[index] = (offset + position) % folds
        offset = (offset + len(members)) % folds
    return assignment


def kfold_split(
    samples: Sequence[Sample],
    *,
    folds: int = 5,
    fold: int = 0,
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Fold `fold` is the test side; validation is a stratified slice of the other folds.

    With `val_fraction: 0` the test fold is also the validation side (seed 003's protocol).
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    assignment = kfold_assignments(samples, folds, random_state)
    test = np.flatnonzero(assignment == fold).tolist()
    rest = np.flatnonzero(assignment != fold).tolist()
    labels = [s.label for s in samples]
    params = {
        "folds": folds,
        "fold": fold,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    if val_fraction <= 0:
        return Split("kfold", params, rest, list(test), test, {"val_is_test_fold": True})
    rng = np.random.default_rng(random_state + 1000 + fold)
    val, train = stratified_partition(rest, labels, (val_fraction,), rng)
    return Split("kfold", params, train, val, test)


def loso_split(
    samples: Sequence[Sample],
    *,
    test_signer: str,
    val_signer: str | None = None,
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Leave one signer out: no signer is ever on two sides (see the module doc)."""
    signers = sorted({s.signer for s in samples if s.signer is not None})
    for role, signer in (("test_signer", test_signer), ("val_signer", val_signer)):
        if signer is not None and signer not in signers:
            raise DatasetError(
                f"{role} {signer!r} is not in the data; signers: {', '.join(signers) or 'none'}"
            )
    if not test_signer:
        raise DatasetError(f"loso needs a test_signer (one of {', '.join(signers)})")
    if val_signer == test_signer:
        raise DatasetError("val_signer must differ from test_signer")
    test = [i for i, s in enumerate(samples) if s.signer == test_signer]
    unknown = sum(1 for s in samples if s.signer is None)
    params = {
        "test_signer": test_signer,
        "val_signer": val_signer,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    notes = {"unknown_signer_in_train": unknown}
    if val_signer is not None:
        val = [i for i, s in enumerate(samples) if s.signer == val_signer]
        train = [i for i, s in enumerate(samples) if s.signer not in (test_signer, val_signer)]
        return Split("loso", params, train, val, test, notes)
    rest = [i for i, s in enumerate(samples) if s.signer != test_signer]
    rng = np.random.default_rng(random_state)
    val, train = stratified_partition(rest, [s.label for s in samples], (val_fraction,), rng)
    return Split("loso", params, train, val, test, notes)


def lodo_split(
    samples: Sequence[Sample],
    *,
    test_dataset: str = "grassknoted_letters",
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Leave one dataset out: train and validate on the others, test on `test_dataset`."""
    datasets = sorted({s.dataset for s in samples})
    if test_dataset not in datasets:
        raise DatasetError(
            f"test_dataset {test_dataset!r} is not among the loaded datasets "
            f"({', '.join(datasets)}); add it to `datasets`"
        )
    if len(datasets) < 2:
        raise DatasetError("lodo needs at least two datasets")
    rest = [i for i, s in enumerate(samples) if s.dataset != test_dataset]
    rng = np.random.default_rng(random_state)
    val, train = stratified_partition(rest, [s.label for s in samples], (val_fraction,), rng)
    trained = {samples[i].label for i in train}
    test, dropped = [], Counter()
    for i, s in enumerate(samples):
        if s.dataset == test_dataset:
            if s.label in trained:
                test.append(i)
            else:
                dropped[s.label] += 1
    params = {
        "test_dataset": test_dataset,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    notes = {"test_dropped_untrained_classes": dict(sorted(dropped.items()))}
    return Split("lodo", params, train, val, test, notes)


SPLITTERS: dict[str, Callable[..., Split]] = {
    "random": random_split,
    "kfold": kfold_split,
    "loso": loso_split,
    "lodo": lodo_split,
}


def make_split(samples: Sequence[Sample], name: str, **params: Any) -> Split:
    """Build a split by name; `params` not used by that split are ignored (and not recorded)."""
    if name not in SPLITTERS:
        raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLIT_NAMES)}")
    import inspect

    splitter = SPLITTERS[name]
    accepted = set(inspect.signature(splitter).parameters) - {"samples"}
    return splitter(samples, **{k: v for k, v in params.items() if k in accepted})


# --- torch dataset ------------------------------------------------------------------------


class AslDataset(Dataset):
    """Yields `(input, label_index, has_input)` in the form a model's InputSpec asks for.

    - "landmarks": the 63-vector (float32), through `transform` (landmark augmentation).
    - "image": the cached hand crop or skeleton (`representation`), through `transform`,
      which resizes to spec.size, turns greyscale when spec.channels == 1 and normalises.
    - "sequence": `spec.sequence_length` views of the same photo, each through `transform`
      (in training, T differently augmented views). Static photos have no motion: J and Z are
      still frames here, so a sequence model sees a jittered still, not the letter's movement.
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
        representation: str | None = None,
        include_no_hand: bool = True,
        memory_budget_mb: float = 1024,
    ) -> None:
        self.table = table
        self.class_index = {name: i for i, name in enumerate(class_names)}
        self.spec = spec
        self.transform = transform
        self.representation = representation or spec.representation
        if spec.kind != "landmarks" and self.representation not in ("crop", "skeleton"):
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
        from asl_core.augment import resize_square

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
        return self.transform(image), label, True


__all__ = [
    "KNOWN_DATASETS",
    "SPLIT_NAMES",
    "AslDataset",
    "DatasetChecksumError",
    "DatasetError",
    "KnownDataset",
    "Sample",
    "SampleSet",
    "Split",
    "filter_classes",
    "kfold_assignments",
    "kfold_split",
    "limit_per_class",
    "list_datasets",
    "load_datasets",
    "load_folder",
    "load_landmark_csv",
    "load_npz",
    "lodo_split",
    "loso_split",
    "make_split",
    "random_split",
    "read_sample_rgb",
    "resolve_dataset",
    "stratified_partition",
    "verify_manifest",
    "write_landmark_csv",
]
