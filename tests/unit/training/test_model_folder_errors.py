"""`--model <folder>` for a folder that holds no model (training.evaluate and the CLI predict):
a run that was interrupted, crashed or is still running says so and how to go on; a group of
runs (k-fold, sweep) says to pick one of its runs. One `error:` line, exit status 2."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.__main__ import main as asl_main
from asl_core.training import fit as fit_module
from tests.helpers.photos import massey_photo
from tests.helpers.runs import write_run
from tests.helpers.training import read_json, slice_args, training_environment
from training import evaluate, run_command, train


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with training_environment(tmp_path_factory.getbasetemp()):
        yield


def evaluate_lines(model: Path, capsys) -> tuple[int, list[str]]:
    argv = ["--model", str(model), "--output", str(model.parent / "e.json")]
    code = run_command(evaluate.main, evaluate.get_args_parser(), argv)
    return code, capsys.readouterr().err.strip().splitlines()


def predict_lines(model: Path, photo: Path, capsys) -> tuple[int, list[str]]:
    code = asl_main(["predict", "--model", str(model), str(photo)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_an_interrupted_run_says_it_has_no_model_and_how_to_continue(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real, calls = fit_module.train_one_epoch, {"n": 0}

    def ctrl_c_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", ctrl_c_in_epoch_2)
    argv = ["--config", "landmark_mlp", *slice_args(), "--set", "epochs=3",
            "--runs-dir", str(tmp_path / "runs"), "--run-name", "int1"]  # fmt: skip
    assert run_command(train.main, train.get_args_parser(), argv) == 130
    run = tmp_path / "runs" / "int1"
    command = read_json(run / "summary.json")["resume_command"]
    capsys.readouterr()
    expected = [
        f"error: {run} is a training run that was interrupted and has no model yet (no "
        f"checkpoint.json): continue it with: {command}"
    ]
    assert evaluate_lines(run, capsys) == (2, expected)
    photo = massey_photo(massey_root, "A")
    assert predict_lines(run, photo, capsys) == (2, expected)
    from asl_core.serve.api import main as serve_main  # the API's start: the same words

    assert serve_main(["--model", str(run)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == expected
    # A copy (or a moved run) resumes from where it is now, not from the recorded folder.
    copy = Path(shutil.copytree(run, tmp_path / "runs" / "copy of int1"))
    code, lines = evaluate_lines(copy, capsys)
    assert code == 2 and lines[0].endswith(f"--resume '{copy}'")


def test_a_crashed_run_and_a_group_of_runs(tmp_path: Path, capsys) -> None:
    crashed = write_run(tmp_path / "crashed", status="crashed")
    (crashed / "checkpoint.json").unlink(missing_ok=True)
    code, lines = evaluate_lines(crashed, capsys)
    assert code == 2 and lines == [
        f"error: {crashed} is a training run that crashed and has no model yet (no "
        "checkpoint.json): train it again"
    ]
    group = tmp_path / "kfold-g"
    for fold in ("fold0", "fold1", "fold2"):
        write_run(group / fold)
    code, lines = evaluate_lines(group, capsys)
    assert code == 2 and lines == [
        f"error: {group} holds 3 runs, not one model: pick one, e.g. "
        f"--model {group / 'fold0'} or --model {group / 'fold1'}"
    ]


def test_a_missing_model_path_is_named_as_given(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "runs" / "nonexist"
    code, lines = evaluate_lines(missing, capsys)
    assert code == 2 and lines == [
        f"error: {missing} does not exist (no such run folder, and no nonexist.json beside it); "
        "pass a checkpoint .json (runs/<run>/checkpoint.json) or an exported .onnx"
    ]


def test_evaluate_help_mentions_run_folders() -> None:
    help_text = " ".join(evaluate.get_args_parser().format_help().split())
    assert "a training run's folder (runs/RUN) or its checkpoint" in help_text
