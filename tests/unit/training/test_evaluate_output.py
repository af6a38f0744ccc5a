"""Where `training.evaluate` writes its report: beside the model's run when the model is a run's
checkpoint (or the run folder), in the runs folder's evaluations/ for a checkpoint outside a
run folder; it prints the path. On a tiny real run of a massey36 slice."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.models.checkpoint import checkpoint_paths
from asl_core.runs.format import EVALUATIONS_DIR
from asl_core.settings import runs_dir
from asl_core.training.fit import fit
from tests.helpers.training import read_json, tiny, training_environment
from training import evaluate, run_command


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.getbasetemp()
    with training_environment(root, ASL_RUNS_DIR=str(root / "default-runs")):
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, massey_root: Path) -> Path:
    return fit(tiny(tmp_path_factory.mktemp("trained"), epochs=1)).run_dir


def evaluate_cli(model: Path, capsys) -> tuple[Path, dict]:
    assert run_command(evaluate.main, evaluate.get_args_parser(), ["--model", str(model)]) == 0
    wrote = [line for line in capsys.readouterr().out.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == 1, wrote
    output = Path(wrote[0].removeprefix("wrote "))
    return output, read_json(output)


@pytest.mark.parametrize("given", ["checkpoint.safetensors", "checkpoint.json", "."])
def test_a_runs_checkpoint_is_evaluated_into_that_run(run: Path, given: str, capsys) -> None:
    output, report = evaluate_cli(run / given, capsys)
    assert output.parent == run / EVALUATIONS_DIR
    assert output.name.endswith(f"-{run.name}.json")
    assert report["metrics"]["count"] == read_json(run / "summary.json")["test_count"]


def test_a_checkpoint_outside_a_run_folder_goes_to_the_runs_folder(
    run: Path, tmp_path: Path, capsys
) -> None:
    bare = tmp_path / "mine"
    bare.mkdir()
    for source in checkpoint_paths(run / "checkpoint"):
        shutil.copyfile(source, bare / source.name)
    output, _ = evaluate_cli(bare / "checkpoint.json", capsys)
    assert output.parent == runs_dir() / EVALUATIONS_DIR  # ASL_RUNS_DIR, set above
    assert not (bare / EVALUATIONS_DIR).exists()
