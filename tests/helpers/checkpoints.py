"""Tampered copies of the shipped model, for the tests of what loading refuses."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asl_core.inference.predictor import DEFAULT_MODEL
from asl_core.io.files import sha256_file
from asl_core.models.checkpoint import checkpoint_paths, content_sha256


def copy_shipped(folder: Path, name: str = "model") -> Path:
    """The shipped default model copied into `folder`; returns the copy's `.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    source_weights, source_meta = checkpoint_paths(DEFAULT_MODEL)
    weights, meta = checkpoint_paths(folder / name)
    shutil.copyfile(source_weights, weights)
    shutil.copyfile(source_meta, meta)
    return meta


def edit_meta(meta_path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `change` to the metadata JSON in place (a hand edit: checksums left as they were)."""
    raw = json.loads(meta_path.read_text())
    change(raw)
    meta_path.write_text(json.dumps(raw, indent=2))
    return raw


def resign(meta_path: Path) -> None:
    """Recompute both checksums, as a file saved that way would carry them: the test then
    reaches the check after the checksum."""
    weights, _ = checkpoint_paths(meta_path)

    def sign(raw: dict[str, Any]) -> None:
        raw["weights_sha256"] = sha256_file(weights)
        raw["content_sha256"] = content_sha256(raw)

    edit_meta(meta_path, sign)
