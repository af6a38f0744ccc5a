"""A run name is one folder inside the runs folder: `--run-name ../escape` is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_core.training.config import ConfigError, load_config
from training import kfold, run_command, sweep, train


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", ".hidden", "a\\b", "x..y", "", "int\n1", "a\tb", "x\x1b[2J"]
)
def test_run_name_with_a_path_is_refused(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("landmark_mlp", run_name=name)
    message = str(caught.value)
    assert message.startswith("run_name: a run name is one folder name inside the runs folder")
    assert "\n" not in message


def test_train_refuses_before_writing(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    argv = ["--config", "landmark_mlp", "--runs-dir", str(runs), "--run-name", "../escape"]
    assert run_command(train.main, train.get_args_parser(), argv) == 2
    assert "error: run_name: a run name is one folder name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_plain_run_name_passes() -> None:
    assert load_config("landmark_mlp", run_name="my-run_2.1").run_name == "my-run_2.1"


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "a\\b", "", "g\nroup"])
@pytest.mark.parametrize("command", [kfold, sweep], ids=["kfold", "sweep"])
def test_group_with_a_path_is_refused_like_a_run_name(command, name: str, tmp_path, capsys) -> None:
    """--group ../escape made runs_dir/../escape; --run-name had the check, --group not."""
    config = "seed004_grid" if command is sweep else "landmark_mlp"
    argv = ["--config", config, "--runs-dir", str(tmp_path / "runs"), "--group", name]
    assert run_command(command.main, command.get_args_parser(), argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "error: group: a group name is one folder name inside the runs folder: no / or \\, "
        f"no .., not starting with ., no control characters (got {name!r})"
    ]
    assert list(tmp_path.iterdir()) == []


def test_plain_group_name_passes() -> None:
    assert load_config("landmark_mlp", group="lopo-handframe_2").group == "lopo-handframe_2"
