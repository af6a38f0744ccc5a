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


def massey_photo(massey_root: Path, label: str, signer: str = "hand1", index: int = 1) -> Path:
    """One real Massey photo: massey_photo(root, 'a') is images/a/hand1_a_bot_seg_1_cropped.jpeg."""
    folder = massey_root / "images" / label.lower()
    exact = folder / f"{signer}_{label.lower()}_bot_seg_{index}_cropped.jpeg"
    if exact.exists():
        return exact
    return sorted(folder.glob(f"{signer}_*.jpeg"))[index - 1]
