"""Resuming and starting from a checkpoint, on a small real slice of massey36: what a resume
may change, one writer per run folder, one-line refusals, init_checkpoint."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from asl_core.inference.predictor import default_model_path
from asl_core.models.checkpoint import NonFiniteWeightsError, load_checkpoint, non_finite_tensors
from asl_core.models.registry import create_model
from asl_core.runs.format import read_metrics
from asl_core.training import fit as fit_module
from asl_core.training.config import ConfigError, ResumeError, config_from_dict, resume_config
from asl_core.training.fit import fit
from asl_core.training.optim import load_initial_weights
from asl_core.training.state import RunBusyError
from tests.helpers.training import read_json, slice_args, tiny, training_environment
from training import run_command, train


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.getbasetemp()
    with training_environment(root):
        yield


def crash_in_epoch(number: int, root: Path) -> Path:
    """A real run of `tiny` interrupted in epoch `number`; returns its folder."""
    real = fit_module.train_one_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise RuntimeError("simulated interruption")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit_module, "train_one_epoch", interrupted)
        with pytest.raises(RuntimeError, match="simulated"):
            fit(tiny(root, epochs=3))
    (run,) = (root / "runs").iterdir()
    return run


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory, massey_root: Path) -> Path:
    """Interrupted in epoch 2: the resume state of epoch 1 is there."""
    return crash_in_epoch(2, tmp_path_factory.mktemp("crashed"))


@pytest.fixture
def run(crashed: Path, tmp_path: Path) -> Path:
    """A copy of the crashed run for one test."""
    return Path(shutil.copytree(crashed, tmp_path / crashed.name))


def resume_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = run_command(train.main, train.get_args_parser(), argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_resume_refuses_an_override_it_cannot_apply(run: Path, capsys) -> None:
    """F9: --set lr=0.05 on resume used to train on at the saved lr and record 0.05."""
    before = (run / "config.json").read_bytes()
    code, lines = resume_cli(["--resume", str(run), "--set", "lr=0.05"], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert f"cannot change lr when resuming {run.name}" in lines[0]
    # a crashed run has no checkpoint yet: the advice says to finish it first
    assert not (run / "checkpoint.json").exists()
    assert "resume it without changes first; then a new run can start from" in lines[0]
    assert (run / "config.json").read_bytes() == before  # nothing recorded, nothing trained
    with pytest.raises(ResumeError, match="cannot change datasets, runs_dir"):
        resume_config(run, datasets=["grassknoted_letters"], runs_dir="elsewhere")
    with pytest.raises(ConfigError, match="unknown config key epoch "):
        resume_config(run, ["epoch=5"])
    # What a resume can apply is applied, and config.json will say so.
    assert resume_config(run, ["epochs=5", "progress=true", "lr=0.001"]).epochs == 5


def test_two_resumes_of_one_run_never_write_at_once(run: Path, monkeypatch) -> None:
    """F10: the second resume is refused while the first trains; the first finishes alone."""
    entered, release = threading.Event(), threading.Event()
    real = fit_module.train_one_epoch

    def held(*args, **kwargs):
        entered.set()
        assert release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", held)
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            outcome["result"] = fit(resume_config(run), resume_dir=run)
        except BaseException as error:  # reported below
            outcome["error"] = error

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(120), outcome
        with pytest.raises(RunBusyError, match=f"another process is training into {run.name}"):
            fit(resume_config(run), resume_dir=run)
    finally:
        release.set()
        thread.join(120)
    assert "error" not in outcome, outcome
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    assert read_json(run / "summary.json")["status"] == "finished"
    monkeypatch.setattr(fit_module, "train_one_epoch", real)
    assert fit(resume_config(run, ["epochs=4"]), resume_dir=run).epochs_done == 4  # lock freed


def test_resuming_a_run_killed_before_its_first_epoch_is_one_line(
    massey_root: Path, tmp_path: Path, capsys
) -> None:
    """F16: the message was right, inside a traceback."""
    early = crash_in_epoch(1, tmp_path)
    capsys.readouterr()
    code, lines = resume_cli(["--resume", str(early)], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "stopped before its first epoch finished" in lines[0]
    code, lines = resume_cli(["--resume", str(tmp_path / "no-such-run")], capsys)
    assert code == 2 and lines == [f"error: {tmp_path / 'no-such-run'} is not a run folder "
                                   "(it has no config.json)"]  # fmt: skip


def test_init_checkpoint_copies_the_rows_of_shared_classes() -> None:
    shipped = load_checkpoint(default_model_path())
    meta = shipped.meta
    names = ["A", "B", "HELLO"]  # two classes it knows, one it does not
    config = config_from_dict(
        {"model": meta.architecture, "arch_kwargs": meta.arch_kwargs,
         "init_checkpoint": str(default_model_path())}
    )  # fmt: skip
    model = create_model(meta.architecture, len(names), **meta.arch_kwargs)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    record = load_initial_weights(model, config, names)
    assert record["classes_kept"] == ["A", "B"] and record["classes_new"] == ["HELLO"]
    old, new = shipped.model.state_dict(), model.state_dict()
    rows = len(meta.class_names)
    head = [k for k in new if new[k].shape[:1] == (3,) and old[k].shape[:1] == (rows,)]
    assert head  # the classifier's weight and bias
    for key in new:
        if key in head:
            for row, name in enumerate(names[:2]):
                assert torch.equal(new[key][row], old[key][meta.class_names.index(name)])
            assert torch.equal(new[key][2], fresh[key][2])  # HELLO keeps its fresh row
        else:
            assert torch.equal(new[key], old[key]), key
    other = config_from_dict({"model": "scratch_mlp", "init_checkpoint": config.init_checkpoint})
    with pytest.raises(
        ConfigError, match=f"is a {meta.architecture}, the config trains scratch_mlp"
    ):
        load_initial_weights(create_model("scratch_mlp", 3), other, names)


def test_train_from_a_checkpoint_on_the_command_line(
    massey_root: Path, tmp_path: Path, capsys
) -> None:
    base = fit(tiny(tmp_path / "base", epochs=2))
    args = ["--config", "landmark_mlp", "--set", "epochs=1", "--runs-dir", str(tmp_path / "r"),
            "--init-checkpoint", str(base.run_dir / "checkpoint.json"), *slice_args(),
            "--set", "classes=[B,C,L]"]  # fmt: skip
    assert run_command(train.main, train.get_args_parser(), args) == 0, capsys.readouterr().err
    (run,) = (tmp_path / "r").iterdir()
    config = read_json(run / "config.json")
    assert config["init_checkpoint"] == str(base.run_dir / "checkpoint.json")
    started = config["initialised_from"]
    assert started["classes_kept"] == ["B", "C", "L"] and started["classes_new"] == []
    assert load_checkpoint(run / "checkpoint").meta.extra["initialised_from"] == started


def test_a_diverged_run_leaves_no_nan_resume_state(
    massey_root: Path, tmp_path: Path, capsys
) -> None:
    """lr=1e30 makes every weight NaN: the run ends crashed, and no state it wrote holds NaN
    (a resume from it would train on NaN). It stops at its first NaN epoch, not the last."""
    with pytest.raises(NonFiniteWeightsError, match=r"after epoch \d+ .*Training diverged"):
        fit(tiny(tmp_path, lr=1e30, epochs=4))
    (run,) = (tmp_path / "runs").iterdir()
    assert read_json(run / "summary.json")["status"] == "crashed"
    rows = read_metrics(run)
    assert len(rows) < 4 and rows[-1]["train_loss"] is None  # NaN is written as null
    state = run / "state.safetensors"
    if state.exists():
        assert not non_finite_tensors(load_file(str(state)))
    else:  # NaN from the first epoch on: resuming says so, in one line
        capsys.readouterr()
        code, lines = resume_cli(["--resume", str(run)], capsys)
        assert code == 2 and len(lines) == 1 and "training diverged" in lines[0], lines
