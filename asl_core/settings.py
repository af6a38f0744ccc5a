"""Settings read from the environment, in one place.

`ASL_DATA_DIR`  folder holding the datasets (default: ../shared/data beside the repository)
`ASL_RUNS_DIR`  folder where training writes its runs (default: runs/ in the repository)
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The folder holding the datasets (`massey36/`, `grassknoted_letters/`, ...)."""
    return Path(os.environ.get("ASL_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).resolve()


def runs_dir() -> Path:
    """The folder where training runs are written and the app looks for checkpoints."""
    return Path(os.environ.get("ASL_RUNS_DIR", REPO_ROOT / "runs")).resolve()


def cache_dir() -> Path:
    """The folder for derived data (landmarks and crops computed once per image)."""
    return Path(os.environ.get("ASL_CACHE_DIR", REPO_ROOT / ".cache" / "asl")).resolve()
