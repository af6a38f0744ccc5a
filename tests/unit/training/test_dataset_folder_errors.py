"""`training.train --data <folder>` with a folder that cannot train: one `error:` line and exit
2 before any run folder exists (photos are grey PNGs: only the folder layout matters here)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.files import grey_photo
from training import run_command, train


def photos(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"p{index}.png").write_bytes(grey_photo(64, 48))


def train_on(folder: Path, tmp_path: Path, capsys) -> tuple[int, list[str]]:
    argv = ["--config", "landmark_mlp", "--data", str(folder), "--runs-dir", str(tmp_path / "r"),
            "--set", "wandb=false", "--set", "progress=false"]  # fmt: skip
    code = run_command(train.main, train.get_args_parser(), argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_one_class_folder_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    photos(tmp_path / "mine" / "A", 3)
    code, lines = train_on(tmp_path / "mine", tmp_path, capsys)
    assert code == 2
    assert lines == ["error: training needs at least 2 classes (one folder per class), found 1: A"]
    assert not (tmp_path / "r").exists()


def test_photos_without_class_folders_say_how_to_arrange_them(tmp_path: Path, capsys) -> None:
    photos(tmp_path / "mine", 2)
    code, lines = train_on(tmp_path / "mine", tmp_path, capsys)
    folder = tmp_path / "mine"
    assert code == 2
    assert lines == [
        f"error: {folder} holds 2 photos but no class folders (first: p0.png): put the photos "
        f"in one folder per class ({folder}/A/, {folder}/B/, ...)"
    ]


def test_empty_class_folders_are_named(tmp_path: Path, capsys) -> None:
    (tmp_path / "mine" / "A").mkdir(parents=True)
    (tmp_path / "mine" / "B").mkdir()
    code, lines = train_on(tmp_path / "mine", tmp_path, capsys)
    folder = tmp_path / "mine"
    assert code == 2
    assert lines == [
        f"error: no photos in the class folders of {folder} (A, B): put the photos in one "
        f"folder per class ({folder}/A/, {folder}/B/, ...)"
    ]
