"""The run-folder format: one definition (`asl_core.runs.format`) that the writer and the
readers both use. Folders here are written by the real writer (`RunLog`, W&B off)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from asl_core.runs import format as run_format
from asl_core.runs.format import (
    INFERRED_STATUSES,
    METRIC_KEYS,
    STATUSES,
    WRITTEN_STATUSES,
    confusion_file,
    confusion_from_record,
    confusion_key,
    confusion_record,
    epoch_row,
    parse_metrics,
    read_metrics,
)
from asl_core.runs.local import load_local_run
from asl_core.runs.records import resolve_status
from asl_core.runs.writer import RunLog
from asl_core.settings import REPO_ROOT
from tests.helpers.runs import write_run

ROW = dict(
    train_loss=0.9, train_acc=0.6, val_loss=1.1, val_acc=0.55, val_precision=0.5,
    val_recall=0.52, val_f1=0.51, lr=0.001,
)  # fmt: skip


def test_what_the_writer_writes_the_reader_reads(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", epochs=3, labels=("A", "B"))
    written = [
        run_format.CONFIG_FILE,
        run_format.METRICS_FILE,
        run_format.SUMMARY_FILE,
        run_format.REPORT_FILE,
        confusion_file(None, "test"),
        confusion_file(2, "val"),
    ]
    for name in written:
        assert (folder / name).is_file(), name
    rows = read_metrics(folder)
    assert [list(row) for row in rows] == [list(METRIC_KEYS)] * 3
    run = load_local_run(folder, tmp_path)
    assert run.status == "finished" and run.problems == []
    assert run.epochs == 3 and list(run.history["epoch"]) == [1, 2, 3]
    assert run.best_val_acc == pytest.approx(0.7)
    assert run.confusion_epochs() == [1, 2, 3, "test"]
    confusion = run.confusion(2)
    assert confusion.labels == ["A", "B"] and confusion.matrix.tolist() == [[2, 0], [0, 2]]
    assert confusion.no_hand == {"A": 1}
    assert set(run.report().index) == {"A", "B"}


def test_epoch_row_is_the_metrics_schema() -> None:
    row = epoch_row(4, "head", seconds=12.34567, **ROW)
    assert list(row) == list(METRIC_KEYS)
    assert row["epoch"] == 4 and row["stage"] == "head" and row["epoch_time_s"] == 12.346
    assert row["val_f1"] == 0.51 and isinstance(row["time"], str)


def test_statuses_say_which_are_written_and_which_inferred(tmp_path: Path) -> None:
    assert set(STATUSES) == set(WRITTEN_STATUSES) | set(INFERRED_STATUSES)
    assert not set(WRITTEN_STATUSES) & set(INFERRED_STATUSES)
    log = RunLog(tmp_path / "run", use_wandb=False)
    log.start({})
    for inferred in INFERRED_STATUSES:
        with pytest.raises(ValueError, match="status must be one of running, finished"):
            log.finish(inferred)
    for written in ("finished", "stopped_early", "crashed"):
        status, _ = resolve_status(
            {"status": written}, last_write=None, longest_epoch_s=None, now=0
        )
        assert status == written
    log.finish("stopped_early")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "stopped_early"


def test_confusion_record_round_trips_and_refuses_a_bad_shape() -> None:
    record = confusion_record(["A", "B"], np.array([[3, 1], [0, 4]]), epoch=7, split="val",
                              no_hand=[0, 2])  # fmt: skip
    assert json.loads(json.dumps(record)) == record
    back = confusion_from_record(record)
    assert back.matrix.tolist() == [[3, 1], [0, 4]] and back.no_hand == {"B": 2}
    with pytest.raises(ValueError, match=r"the matrix is \(2, 3\) for 2 labels"):
        confusion_record(["A", "B"], [[1, 2, 3], [4, 5, 6]], epoch=1, split="val")
    with pytest.raises(ValueError, match=r"confusion/x\.json lacks labels or matrix"):
        confusion_from_record({"labels": ["A"]}, "confusion/x.json")
    with pytest.raises(ValueError, match="needs its epoch"):
        confusion_file(None, "val")
    assert confusion_file(3, "val") == "confusion/epoch_003.json"
    assert [confusion_key(name) for name in ("epoch_012.json", "test.json", "notes.json")] == [
        12,
        "test",
        None,
    ]


def test_a_cut_last_line_is_kept_apart_from_bad_lines() -> None:
    text = '{"epoch": 1}\nnot json\n{"epoch": 2}\n{"epoch": 3, "val'
    parsed = parse_metrics(text)
    assert [row["epoch"] for row in parsed.records] == [1, 2]
    assert parsed.truncated and parsed.bad_lines == [2]


def _string_constants(path: Path) -> set[str]:
    """String literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    }  # fmt: skip


@pytest.mark.parametrize(
    "module",
    [*(f"asl_core/runs/{name}" for name in ("writer", "local", "records", "wandb_source",
                                            "tables")),
     "training/evaluate"],
)  # fmt: skip
def test_no_file_name_of_the_format_is_spelled_outside_it(module: str) -> None:
    constants = vars(run_format).items()
    files = {value for key, value in constants if key.endswith("_FILE")} | {"test.json"}
    folders = {value for key, value in constants if key.endswith("_DIR")}
    spelled = [
        text
        for text in _string_constants(REPO_ROOT / f"{module}.py")
        if any(name in text for name in files) or any(f"{name}/" in text for name in folders)
    ]
    assert spelled == [], f"{module}.py spells {spelled}: use asl_core.runs.format"
