"""Datasets given as arrays rather than photo folders, each format's reader beside its writer:
seed 000's `.npz` (`load_npz`) and the landmark CSV (`load_landmark_csv`, `write_landmark_csv`).
`sources.load_one` reads either into `Sample`s."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from asl_core.data.sources import LANDMARK_VALUES, DatasetError, Sample
from asl_core.io.files import atomic_write_bytes
from asl_core.labels import normalise_label


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
    here exactly as `views.landmark_vector` does (wrist-centred, scale 1, a
    "Right" hand mirrored), which leaves an already normalised vector unchanged.
    """
    from asl_core.vision.views import landmark_vector

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
