"""`--resume` of a run that trained all its epochs says there is nothing to do (exit 2)."""

from __future__ import annotations

from pathlib import Path

from asl_core.training.config import resume_config
from asl_core.training.fit import fit
from tests.helpers.training import read_json, tiny
from training import run_command, train


def test_resume_of_a_finished_run_says_nothing_to_do(
    massey_root: Path, tmp_path: Path, capsys
) -> None:
    run = fit(tiny(tmp_path, epochs=2)).run_dir
    before = {name: (run / name).read_bytes() for name in ("summary.json", "metrics.jsonl")}
    capsys.readouterr()
    code = run_command(train.main, train.get_args_parser(), ["--resume", str(run)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines == [
        f"error: {run.name} already finished all 2 epochs: nothing to resume; to train "
        "longer, --set epochs=M with M above 2 (e.g. epochs=4)"
    ]
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing rewritten
    # What the line offers works.
    assert fit(resume_config(run, ["epochs=3"]), resume_dir=run).epochs_done == 3
    assert read_json(run / "summary.json")["status"] == "finished"


def test_resume_asking_fewer_epochs_than_done_is_refused(
    massey_root: Path, tmp_path: Path, capsys
) -> None:
    run = fit(tiny(tmp_path, epochs=3)).run_dir
    before = {name: (run / name).read_bytes() for name in ("config.json", "summary.json")}
    capsys.readouterr()
    argv = ["--resume", str(run), "--set", "epochs=2"]
    code = run_command(train.main, train.get_args_parser(), argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines == [
        f"error: {run.name} already did 3 epochs, more than epochs=2 asks: to resume it, "
        "--set epochs=M with M above 3 (or leave epochs as the run recorded it)"
    ]
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing rewritten
