"""Shared fixtures. Tests that need real photos find them through `ASL_DATA_DIR`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asl_core.settings import data_dir

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
