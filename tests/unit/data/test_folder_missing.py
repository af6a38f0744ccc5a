"""A folder dataset whose MANIFEST.csv lists files that are not there is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asl_core.data.sources import DatasetError, load_datasets, load_folder


def _manifest_and_one_photo(massey_root: Path, folder: Path) -> str:
    """massey36's MANIFEST.csv and only its first photo; returns that photo's manifest path."""
    folder.mkdir()
    shutil.copyfile(massey_root / "MANIFEST.csv", folder / "MANIFEST.csv")
    first = (folder / "MANIFEST.csv").read_text().splitlines()[1].split(",")[0]
    (folder / first).parent.mkdir(parents=True)
    shutil.copyfile(massey_root / first, folder / first)
    return first


def test_missing_listed_files_are_refused(massey_root: Path, tmp_path: Path) -> None:
    first = _manifest_and_one_photo(massey_root, tmp_path / "x")
    total = len((massey_root / "MANIFEST.csv").read_text().splitlines()) - 1
    with pytest.raises(DatasetError) as caught:
        load_datasets([str(tmp_path / "x")])
    message = str(caught.value)
    assert f"lists {total - 1} of {total} files that do not exist" in message
    second = (massey_root / "MANIFEST.csv").read_text().splitlines()[2].split(",")[0]
    assert second in message and first not in message


def test_captures_may_have_missing_files(massey_root: Path, tmp_path: Path) -> None:
    """allow_missing (the capture folder) keeps every row; the caller drops the missing."""
    first = _manifest_and_one_photo(massey_root, tmp_path / "x")
    samples = load_folder(tmp_path / "x", allow_missing=True)
    assert [s.path for s in samples if s.path.is_file()] == [tmp_path / "x" / first]
