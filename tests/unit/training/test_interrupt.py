"""Ctrl-C during training, on a small real slice of massey36: one line saying where it stopped
and the command that continues it, exit status 130, the run recorded "interrupted" (not
"crashed") with the resume state of its last finished epoch, and that command works."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.runs.format import RunStatus, read_metrics
from asl_core.runs.local import load_local_run
from asl_core.runs.tables import runs_table
from asl_core.runs.writer import RunLog
from asl_core.settings import REPO_ROOT
from asl_core.training import fit as fit_module
from asl_core.training.state import TrainingInterrupted, interrupts_deferred, resume_command
from tests.helpers.training import read_json, slice_args, training_environment
from training import kfold, run_command, sweep, train


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.getbasetemp()
    with training_environment(root):
        yield


def ctrl_c_in_epoch(number: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """KeyboardInterrupt (what Python raises for SIGINT) in the middle of epoch `number`,
    counted over the whole test (a group's runs share the count)."""
    real = fit_module.train_one_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", interrupted)


def cli(command, argv: list[str], capsys) -> tuple[int, list[str]]:
    code = run_command(command.main, command.get_args_parser(), argv)
    return code, capsys.readouterr().err.strip().splitlines()


def shown_python(cwd: Path) -> str:
    """sys.executable as a user in `cwd` would type it (relative when inside `cwd`)."""
    inside = sys.executable.startswith(f"{cwd}{os.sep}")
    return os.path.relpath(sys.executable, cwd) if inside else sys.executable


PYTHON = shown_python(Path.cwd())  # in the repository: .venv/bin/python

TRAIN = ["--config", "landmark_mlp", "--set", "early_stopping.enabled=false", *slice_args()]


def test_ctrl_c_in_an_epoch_is_one_line_exit_130_and_resumable(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    ctrl_c_in_epoch(3, monkeypatch)
    argv = [*TRAIN, "--set", "epochs=4", "--runs-dir", str(tmp_path / "runs")]
    code, lines = cli(train, argv, capsys)
    (run,) = (tmp_path / "runs").iterdir()
    command = f"{PYTHON} -m training.train --resume {run}"  # tmp_path: outside the working folder
    assert code == 130
    assert lines[-1] == f"Interrupted at epoch 3 of 4; continue with: {command}"
    assert not any("Traceback" in line for line in lines)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_done"] == 2
    assert summary["resume_command"] == command and "error" not in summary
    assert read_json(run / "state.json")["epoch"] == 2  # the last finished epoch's state

    listed = load_local_run(run)
    assert listed.status == RunStatus.INTERRUPTED and listed.has_problems
    assert listed.problems == [
        f"training was interrupted (Ctrl-C), 2 finished epochs kept; continue with: {command}"
    ]
    assert list(runs_table([listed])["status"]) == ["interrupted"]

    monkeypatch.undo()
    code, _ = cli(train, shlex.split(command)[3:], capsys)  # the printed command, as given
    assert code == 0
    summary = read_json(run / "summary.json")
    assert summary["status"] == "finished" and summary["epochs_done"] == 4
    assert "resume_command" not in summary
    assert [row["epoch"] for row in read_metrics(run)] == [1, 2, 3, 4]


def test_ctrl_c_before_the_first_epoch_finished_removes_the_empty_folder(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Nothing was kept: one sentence, no folder left behind, and the same command (same
    --run-name) starts over under that name instead of making int3-2."""
    runs = tmp_path / "runs"
    ctrl_c_in_epoch(1, monkeypatch)
    argv = [*TRAIN, "--set", "epochs=1", "--runs-dir", str(runs), "--run-name", "int3"]
    code, lines = cli(train, argv, capsys)
    assert code == 130
    assert lines[-1] == (
        "Interrupted during epoch 1 of 1, so nothing was kept: run the same command again to "
        "start over (its empty folder was removed)"
    )
    assert list(runs.iterdir()) == []
    monkeypatch.undo()
    code, _ = cli(train, argv, capsys)
    assert code == 0 and [p.name for p in runs.iterdir()] == ["int3"]
    assert read_json(runs / "int3" / "summary.json")["status"] == "finished"


def test_a_folder_holding_more_than_the_config_is_kept(tmp_path: Path) -> None:
    """Only a folder with nothing but the config and status files is removed."""
    run = tmp_path / "int4"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    stop = TrainingInterrupted.at(run, None, 0).without_empty_folder()
    assert str(stop) == (
        "Interrupted before the first epoch finished, so nothing was kept: run the same command "
        f"again to start over (its folder {run} is kept)"
    )
    assert stop.run_dir == run and sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "notes.txt",
    ]


def test_kfold_records_the_interrupted_fold_and_names_the_rest(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    ctrl_c_in_epoch(4, monkeypatch)  # fold0 trains epochs 1-2, fold1 stops in its epoch 2
    argv = [*TRAIN, "--set", "epochs=2", "--folds", "3", "--group", "g",
            "--runs-dir", str(tmp_path)]  # fmt: skip
    code, lines = cli(kfold, argv, capsys)
    record = read_json(tmp_path / "g" / "kfold.json")
    assert [r["status"] for r in record["runs"]] == ["finished", "interrupted"]
    fold1 = record["runs"][1]["run_dir"]
    assert code == 130
    assert lines[-1] == (
        f"Interrupted at epoch 2 of 2; continue with: {PYTHON} -m training.train --resume {fold1} "
        "(kfold run 2 of 3; not started: fold2)"
    )
    assert read_json(Path(fold1) / "summary.json")["status"] == "interrupted"


def test_sweep_records_the_interrupted_trial_and_names_the_rest(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("model: landmark_mlp\nepochs: 2\ngrid:\n  lr: [0.001, 0.002, 0.003]\n")
    ctrl_c_in_epoch(2, monkeypatch)
    argv = ["--config", str(grid), *slice_args(), "--group", "g", "--runs-dir", str(tmp_path)]
    code, lines = cli(sweep, argv, capsys)
    record = read_json(tmp_path / "g" / "sweep.json")
    (trial,) = record["trials"]
    assert code == 130 and trial["status"] == "interrupted"
    assert lines[-1] == (
        f"Interrupted at epoch 2 of 2; continue with: {PYTHON} -m training.train --resume "
        f"{trial['run_dir']} (trial 1 of 3; not started: trial 2, trial 3)"
    )


def test_ctrl_c_as_an_epoch_is_logged_keeps_that_epoch(
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """SIGINT right after epoch 2 is written to metrics.jsonl (and W&B): the run keeps that
    epoch's resume state too, so its record agrees with itself."""
    real = RunLog.log_epoch

    def log_then_sigint(self, row, *args, **kwargs):
        real(self, row, *args, **kwargs)
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a signal is handled between bytecodes: it has arrived by now

    monkeypatch.setattr(RunLog, "log_epoch", log_then_sigint)
    argv = [*TRAIN, "--set", "epochs=3", "--runs-dir", str(tmp_path / "runs")]
    code, lines = cli(train, argv, capsys)
    (run,) = (tmp_path / "runs").iterdir()
    assert code == 130
    assert lines[-1] == (
        f"Interrupted after epoch 2 of 3; continue with: {PYTHON} -m training.train --resume {run}"
    )
    assert [row["epoch"] for row in read_metrics(run)] == [1, 2]
    assert read_json(run / "state.json")["epoch"] == 2
    assert read_json(run / "summary.json")["epochs_done"] == 2


def test_the_resume_command_names_the_interpreter_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer without an activated venv runs what is printed: a bare `python` lacks torch."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / ".venv" / "bin" / "python"))
    run = tmp_path / "runs" / "int1"
    assert resume_command(run) == ".venv/bin/python -m training.train --resume runs/int1"
    monkeypatch.setattr(sys, "executable", "/opt/my python/bin/python3")
    outside = "'/opt/my python/bin/python3' -m training.train --resume runs/int1"
    assert resume_command(run) == outside


def test_sigint_while_the_resume_state_is_written_waits_for_both_files() -> None:
    written = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # a signal is handled between bytecodes: it has arrived by now
        written.append("both files")
    assert written == ["both files"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_a_real_sigint_to_training_is_one_line_and_exit_130(massey_root: Path, tmp_path: Path):
    """Ctrl-C as a terminal sends it: SIGINT to the training process, after its first epoch."""
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "training.train", *TRAIN, "--set", "epochs=100000",
            "--runs-dir", str(runs)]  # fmt: skip
    process = subprocess.Popen(argv, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not list(runs.glob("*/state.json")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    (run,) = runs.iterdir()
    summary = read_json(run / "summary.json")
    saved = read_json(run / "state.json")["epoch"]
    assert process.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Interrupted ") and " of 100000; continue with: " in last
    assert last.endswith(f"{shown_python(REPO_ROOT)} -m training.train --resume {run}")
    assert summary["status"] == "interrupted" and summary["epochs_done"] == saved >= 1
