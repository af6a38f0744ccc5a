"""Shared fixtures. Tests that need real photos find them through `ASL_DATA_DIR`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from asl_core.settings import data_dir

if TYPE_CHECKING:
    from asl_core.inference.predictor import Predictor

os.environ.setdefault("WANDB_MODE", "offline")


os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real-photo datasets; skips the test with the reason when they are absent."""
    root = data_dir()
    if not (root / "massey36" / "MANIFEST.csv").exists():
        pytest.skip(f"real photos not found at {root} (set ASL_DATA_DIR to the shared data folder)")
    return root


@pytest.fixture(scope="session")
def massey_root(data_root: Path) -> Path:
    return data_root / "massey36"


@pytest.fixture(scope="session")
def letters_root(data_root: Path) -> Path:
    root = data_root / "grassknoted_letters"
    if not (root / "MANIFEST.csv").exists():
        pytest.skip(f"grassknoted_letters not found under {data_root}")
    return root


@pytest.fixture(scope="module")
def predictor() -> Iterator[Predictor]:
    """The shipped default model, loaded once per test module; skips when it is missing."""
    from asl_core.inference.predictor import ModelNotAvailable, Predictor  # torch: only here

    try:
        shipped = Predictor()
    except ModelNotAvailable as error:
        pytest.skip(f"the shipped default model is missing: {error}")
    with shipped:
        yield shipped
