"""What `training.evaluate` refuses, with one line and exit status 2 (no MediaPipe runs)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.checkpoints import copy_shipped
from training import evaluate, run_command


def test_empty_test_side_is_one_line_exit_2(massey_root: Path, tmp_path: Path, capsys) -> None:
    """Two photos a class: the random split fills val then train, the test side is empty."""
    meta = copy_shipped(tmp_path / "model")
    argv = ["--model", str(meta), "--data", str(massey_root), "--split", "random", "--classes",
            "A", "B", "--limit-per-class", "2", "--output", str(tmp_path / "e.json")]  # fmt: skip
    assert run_command(evaluate.main, evaluate.get_args_parser(), argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "the test side of the random split has no photos" in err
    assert "--limit-per-class 2" in err and "--side" in err
    assert not (tmp_path / "e.json").exists()
