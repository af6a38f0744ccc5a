"""Capture writes only into folders it made (a marker file): pointed at a dataset, it must not
rewrite the dataset's manifest or delete its photos. The dataset here is a copy of real
massey36 files (its MANIFEST.csv header and rows, and the photos those rows list) in tmp."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from asl_core.app.capture import CaptureSession
from asl_core.capture.names import NotCaptureFolderError
from asl_core.capture.store import (
    MANIFEST_COLUMNS,
    MARKER_NAME,
    CaptureStore,
    capture_folder_problem,
)
from asl_core.io.images import load_image


@pytest.fixture
def dataset_copy(tmp_path: Path, massey_root: Path) -> Path:
    """massey36's real MANIFEST.csv (header and first rows) and the photos of those rows."""
    folder = tmp_path / "massey-copy"
    with (massey_root / "MANIFEST.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, [row for _, row in zip(range(3), reader, strict=False)]
    for row in rows:
        target = folder / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(massey_root / row["path"], target)
    with (folder / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_dataset_folder_is_never_written_nor_its_photos_deleted(dataset_copy: Path) -> None:
    before = snapshot(dataset_copy)
    photo_path = next(path for path in before if path.startswith("images/"))
    rgb = load_image(dataset_copy / photo_path)
    store = CaptureStore(dataset_copy, who="Ann", cache_features=False)
    with pytest.raises(NotCaptureFolderError, match="was not made by the Capture page"):
        store.save(rgb, "B", "Ann")
    with pytest.raises(NotCaptureFolderError, match="never rewrites another dataset"):
        store.delete([photo_path])
    with pytest.raises(NotCaptureFolderError):
        store.claim()
    assert snapshot(dataset_copy) == before  # no marker, lock, probe or photo written
    session = CaptureSession(dataset_copy, "Ann")
    assert "was not made by the Capture page" in (session.problem() or "")
    assert snapshot(dataset_copy) == before


def test_a_new_or_empty_folder_gets_the_marker_and_is_used(tmp_path: Path, massey_root) -> None:
    rgb = load_image(next((massey_root / "images" / "b").glob("*.jpeg")))
    for folder in (tmp_path / "new" / "captures", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        assert capture_folder_problem(folder) is None
        store = CaptureStore(folder, who="Ann", cache_features=False)
        store.save(rgb, "B", "Ann")
        assert (folder / MARKER_NAME).is_file() and len(store.captures()) == 1
        # Once marked, more photos and deletions are fine.
        assert store.delete([store.captures()[0].path]) == 1


def test_a_capture_folder_from_before_the_marker_is_adopted(tmp_path: Path) -> None:
    folder = tmp_path / "old-captures"
    (folder / "images" / "B").mkdir(parents=True)
    (folder / "MANIFEST.csv").write_text(",".join(MANIFEST_COLUMNS) + "\n")
    assert capture_folder_problem(folder) is None
    CaptureStore(folder, who="Ann").claim()
    assert (folder / MARKER_NAME).is_file()


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"notes.txt": "mine"}, "already holds notes.txt"),
        ({"MANIFEST.csv": "path,label\n"}, "already holds MANIFEST.csv"),  # other columns
        ({"MANIFEST.csv": ",".join(MANIFEST_COLUMNS) + "\n", "train.py": ""}, "train.py"),
    ],
)
def test_other_folders_are_refused_with_what_they_hold(
    tmp_path: Path, layout: dict[str, str], message: str
) -> None:
    folder = tmp_path / "someone-elses"
    folder.mkdir()
    for name, text in layout.items():
        (folder / name).write_text(text)
    problem = capture_folder_problem(folder)
    assert problem is not None and message in problem
    with pytest.raises(NotCaptureFolderError):
        CaptureStore(folder, who="Ann").save(np.zeros((8, 8, 3), np.uint8), "B", "Ann")
    assert sorted(p.name for p in folder.iterdir()) == sorted(layout)


def test_a_file_is_not_a_capture_folder(tmp_path: Path) -> None:
    file = tmp_path / "photo.jpg"
    file.write_bytes(b"\xff\xd8")
    assert "is a file, not a folder" in (capture_folder_problem(file) or "")
