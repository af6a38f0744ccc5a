"""Settings read from the environment, in one place.

`ASL_DATA_DIR`     folder holding the datasets (default: ../shared/data beside the repository)
`ASL_RUNS_DIR`     folder where training writes its runs (default: runs/ in the repository)
`ASL_CAPTURE_DIR`  folder where the Capture page saves photos (default: user_data/captures in
                   the repository, ignored by git)
`ASL_CACHE_DIR`    folder for derived data (default: .cache/asl in the repository)
`ASL_DEFAULT_MODEL` the checkpoint (or .onnx) used when none is chosen (default: the shipped
                   model, asl_core/default_model/model.json)

The folder boxes of the pages accept only folders inside `folder_roots()` (runs, captures,
datasets): a page served to others must not read or write wherever someone types.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent

CAPTURE_DIR_ENV = "ASL_CAPTURE_DIR"


DEFAULT_MODEL = PACKAGE_DIR / "default_model" / "model.json"
"""The checkpoint the project ships (its `.json`; the weights are beside it)."""


def _configured(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "").strip()
    return (Path(value).expanduser() if value else default).resolve()


def data_dir() -> Path:
    """The folder holding the datasets (`massey36/`, `grassknoted_letters/`, ...)."""
    return _configured("ASL_DATA_DIR", REPO_ROOT.parent / "shared" / "data")


def runs_dir() -> Path:
    """The folder where training runs are written and the app looks for checkpoints."""
    return _configured("ASL_RUNS_DIR", REPO_ROOT / "runs")


def capture_dir() -> Path:
    """The folder where the Capture page saves photos (`ASL_CAPTURE_DIR`)."""
    return _configured(CAPTURE_DIR_ENV, REPO_ROOT / "user_data" / "captures")


def cache_dir() -> Path:
    """The folder for derived data (landmarks and crops computed once per image)."""
    return _configured("ASL_CACHE_DIR", REPO_ROOT / ".cache" / "asl")


def default_model_path() -> Path:
    """The checkpoint used when none is chosen: `ASL_DEFAULT_MODEL`, or the shipped one."""
    return Path(os.environ.get("ASL_DEFAULT_MODEL", DEFAULT_MODEL))


def folder_roots() -> tuple[Path, ...]:
    """The folders a page's folder box may point into: runs, captures, datasets."""
    return runs_dir(), capture_dir(), data_dir()


class OutsideRootsError(ValueError):
    """A folder typed into a page that lies outside the configured folders."""


def folder_within_roots(
    folder: str | os.PathLike[str], roots: Sequence[Path] | None = None
) -> Path:
    """`folder` resolved (`~` expanded, `..` and symbolic links followed) when it is one of
    `roots` (default `folder_roots()`) or inside one; OutsideRootsError saying which folders
    are allowed and how to add one otherwise."""
    roots = tuple(folder_roots() if roots is None else roots)
    text = str(folder).strip()
    if not text:
        raise OutsideRootsError("Type a folder.")
    resolved = Path(text).expanduser().resolve()  # a relative path: from the app's folder
    if any(resolved.is_relative_to(root.resolve()) for root in roots):
        return resolved
    raise OutsideRootsError(
        f"{text} is outside the folders this app may use ({_list_roots(roots)}). Choose a "
        "folder inside one of them, or start the app with ASL_RUNS_DIR, ASL_CAPTURE_DIR or "
        "ASL_DATA_DIR pointing where you want."
    )


def _list_roots(roots: Sequence[Path]) -> str:
    return ", ".join(str(root) for root in roots)
