"""Reading training runs: real run folders written by a tiny real training, broken copies of
them, the per-folder cache, and W&B runs of the real `wandb.apis.public.Run` shape."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from wandb.apis.public.files import File as WandbFile
from wandb.apis.public.runs import Run as WandbRun
from wandb.errors import AuthenticationError, CommError

from asl_core.io.files import atomic_write_bytes
from asl_core.models import checkpoint as checkpoint_module
from asl_core.runs import local as runs_module
from asl_core.runs.local import LocalRunSource, load_local_run
from asl_core.runs.records import Run, RunSourceError
from asl_core.runs.tables import (
    differing_keys,
    group_table,
    history_csv,
    hyperparameter_table,
    kfold_summary,
    runs_table,
)
from asl_core.runs.wandb_source import WandbRunSource, run_from_wandb
from tests.helpers.runs import (
    EPOCHS,
    GROUP,
    RUN_OVERRIDES,
    run_folders,
    train_real_runs,
    truncate_last_line,
)

EPOCH_KEYS = ["train_loss", "train_acc", "val_loss", "val_acc", "val_precision", "val_recall"]


@pytest.fixture(scope="session")
def real_runs_dir(tmp_path_factory: pytest.TempPathFactory, massey_root: Path) -> Path:
    base = tmp_path_factory.getbasetemp() / "asl-real-runs"
    base.mkdir(exist_ok=True)
    return train_real_runs(base, massey_root.parent)


@pytest.fixture(scope="session")
def real_runs(real_runs_dir: Path) -> list[Run]:
    runs = LocalRunSource(real_runs_dir).list_runs()
    assert len(runs) == len(RUN_OVERRIDES)
    return runs


@pytest.fixture
def scratch_runs(real_runs_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the real runs (tests break it freely)."""
    runs_module.clear_cache()
    return Path(shutil.copytree(real_runs_dir, tmp_path / "runs", symlinks=True))


def test_real_runs_read_completely(real_runs: list[Run]) -> None:
    for run in real_runs:
        assert run.source == "local" and run.status == "finished", run.problems
        assert run.problems == []
        assert run.model == "landmark_mlp"
        assert run.split in ("random", "loso") and run.group == GROUP
        assert run.started_at is not None and run.duration_s and run.duration_s > 0
        assert run.epochs == EPOCHS and list(run.history["epoch"]) == [1, 2]
        assert set(EPOCH_KEYS) <= set(run.history.columns)
        assert run.history["val_acc"].between(0, 1).all()
        assert run.best_val_acc == pytest.approx(run.summary["best_val_acc"])
        assert run.test_acc is not None and 0 <= run.test_acc <= 1
        assert run.checkpoint is not None and run.checkpoint.is_file()


def test_confusion_matrices_and_report_are_read_lazily(real_runs: list[Run]) -> None:
    run = real_runs[0]
    assert run.confusion_epochs() == [1, 2, "test"]
    labels, matrix = run.confusion("test")
    assert len(labels) == matrix.shape[0] == matrix.shape[1] > 1
    assert matrix.dtype.kind == "i" and matrix.sum() > 0
    per_epoch = run.confusion(2)
    assert per_epoch is not None and per_epoch.labels == labels
    assert run.confusion(99) is None
    report = run.report()
    assert report is not None
    assert {"precision", "recall", "f1", "support"} <= set(report.columns)
    assert set(report.index) <= set(labels)
    assert report[["precision", "recall", "f1"]].stack().between(0, 1).all()


def test_a_single_run_folder_lists_that_run(real_runs: list[Run]) -> None:
    (run,) = LocalRunSource(real_runs[0].path).list_runs()
    assert run.name == real_runs[0].name and run.problems == [] and run.group == GROUP


def test_runs_table_has_one_row_per_run(real_runs: list[Run]) -> None:
    table = runs_table(real_runs)
    assert list(table["name"]) == [run.name for run in real_runs]
    assert set(table["status"]) == {"finished"}
    assert (table["epochs"] == EPOCHS).all()
    assert table["best val acc"].between(0, 1).all()
    assert set(table["⚠"]) == {""}
    assert pd.api.types.is_datetime64_any_dtype(table["started"])
    # The loso run's test signer was never seen: its test accuracy is unseen-signer accuracy.
    by_split = table.set_index("split")
    assert by_split.loc["loso", "unseen-signer acc"] == by_split.loc["loso", "test acc"]
    assert pd.isna(by_split.loc["random", "unseen-signer acc"])


def test_hyperparameter_differences(real_runs: list[Run]) -> None:
    table = hyperparameter_table(real_runs)
    assert list(table.columns) == [run.name for run in real_runs]
    assert "model" in table.index and "started_at" not in table.index
    differ = differing_keys(table)
    assert {"lr", "split.name"} <= set(differ)
    assert "model" not in differ and "batch_size" not in differ
    assert set(table.loc["lr"]) == {"0.01", "0.003"}


def test_group_table_shows_what_varies_and_the_scores(real_runs: list[Run]) -> None:
    table = group_table(real_runs)
    assert set(table.index) == {run.name for run in real_runs}
    assert {"lr", "split.name", "best val acc", "test acc"} <= set(table.columns)
    assert not any(column.startswith("split.counts") for column in table.columns)
    assert table["best val acc"].is_monotonic_decreasing


def test_kfold_summary_over_the_group(real_runs: list[Run]) -> None:
    summary = kfold_summary(real_runs)
    values = [run.best_val_acc for run in real_runs]
    assert summary["runs"] == 2 and summary["best_val_acc_n"] == 2
    assert summary["best_val_acc_mean"] == pytest.approx(np.mean(values))
    assert summary["best_val_acc_std"] == pytest.approx(np.std(values, ddof=1))
    single = kfold_summary(real_runs[:1])
    assert single["best_val_acc_std"] is None  # one run has no spread


def test_history_csv_round_trips(real_runs: list[Run]) -> None:
    run = real_runs[0]
    back = pd.read_csv(io.BytesIO(history_csv(run)))
    assert list(back.columns) == list(run.history.columns)
    assert back["val_acc"].tolist() == pytest.approx(run.history["val_acc"].tolist())


def test_broken_runs_are_flagged_and_the_others_still_listed(scratch_runs: Path) -> None:
    intact, template = run_folders(scratch_runs)
    truncated = shutil.copytree(template, template.with_name("truncated-metrics"))
    truncate_last_line(truncated / "metrics.jsonl")
    no_summary = shutil.copytree(template, template.with_name("no-summary"))
    (no_summary / "summary.json").unlink()
    bad_checkpoint = shutil.copytree(template, template.with_name("bad-checkpoint"))
    meta = bad_checkpoint / "checkpoint.json"
    meta.write_text(meta.read_text()[:40])
    garbage = scratch_runs / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_bytes(b"\x00\xff not json")
    (garbage / "metrics.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n")

    listed = {run.name: run for run in LocalRunSource(scratch_runs).list_runs()}

    assert set(listed) == {p.name for p in (intact, template, truncated, no_summary)} | {
        "bad-checkpoint",
        "garbage",
    }
    assert listed[intact.name].problems == [] and listed[intact.name].status == "finished"
    cut = listed["truncated-metrics"]
    assert cut.status == "incomplete" and cut.epochs >= EPOCHS - 1
    assert len(cut.history) == EPOCHS - 1
    assert f"metrics.jsonl ends with a truncated line (kept {EPOCHS - 1} epochs)" in cut.problems
    missing = listed["no-summary"]
    assert missing.status == "incomplete" and "summary.json is missing" in missing.problems
    assert len(missing.history) == EPOCHS  # what is there is still shown
    broken = listed["bad-checkpoint"]
    # Listing does not read checkpoints; opening the run does, and says what is wrong.
    assert broken.checked_checkpoint() is None and broken.checkpoint is None
    assert any(p.startswith("checkpoint.json is corrupted") for p in broken.problems)
    assert broken.status == "finished"  # the training itself finished
    assert listed[intact.name].checked_checkpoint() == intact / "checkpoint.safetensors"
    junk = listed["garbage"]
    assert junk.status == "incomplete" and junk.has_problems
    assert any("config.json is corrupted" in p for p in junk.problems)
    table = runs_table(list(listed.values())).set_index("name")
    assert table.loc["truncated-metrics", "⚠"] == "⚠️"
    assert table.loc[intact.name, "⚠"] == ""


def test_a_reader_crash_on_one_run_never_breaks_the_list(
    scratch_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = run_folders(scratch_runs)
    real_build = runs_module._build_local_run

    def build(folder: Path, *args: Any) -> Run:
        if folder.name == first.name:
            raise RuntimeError("disk on fire")
        return real_build(folder, *args)

    monkeypatch.setattr(runs_module, "_build_local_run", build)
    listed = {run.name: run for run in LocalRunSource(scratch_runs).list_runs()}
    assert listed[first.name].problems == ["the run folder could not be read: disk on fire"]
    assert listed[second.name].problems == []


def test_a_broken_confusion_file_becomes_a_problem(scratch_runs: Path) -> None:
    folder = run_folders(scratch_runs)[0]
    (folder / "confusion" / "test.json").write_text('{"labels": ["A"], "matrix": [[1, 2]]}')
    run = load_local_run(folder, scratch_runs)
    assert run.confusion("test") is None
    assert any("confusion matrix of test" in p for p in run.problems)
    assert run.confusion(1) is not None  # the other epochs still read


def set_summary(folder: Path, **fields: Any) -> None:
    path = folder / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_running_runs_stay_running_and_stale_ones_are_flagged(scratch_runs: Path) -> None:
    live, dead = run_folders(scratch_runs)
    now = time.time()
    set_summary(
        live,
        status="running",
        updated_at=pd.Timestamp.now(tz="UTC").isoformat(),
        pid=os.getpid(),  # a live process on this host
        hostname=socket.gethostname(),
    )
    # A live writer may be caught mid-line: not a problem while the run is running.
    truncate_last_line(live / "metrics.jsonl")
    three_hours_ago = pd.Timestamp(now - 3 * 3600, unit="s", tz="UTC")
    set_summary(dead, status="running", updated_at=three_hours_ago.isoformat(), pid=None)
    for name in ("summary.json", "metrics.jsonl"):
        os.utime(dead / name, (now - 3 * 3600, now - 3 * 3600))

    listed = {run.name: run for run in LocalRunSource(scratch_runs).list_runs()}
    assert listed[live.name].status == "running" and listed[live.name].problems == []
    stale = listed[dead.name]
    assert stale.status == "incomplete"
    assert any("nothing was written for 3 h" in p for p in stale.problems)


def test_running_run_whose_process_is_gone_is_flagged_at_once(scratch_runs: Path) -> None:
    folder = run_folders(scratch_runs)[0]
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    set_summary(
        folder,
        status="running",
        updated_at=pd.Timestamp.now(tz="UTC").isoformat(),
        pid=gone.pid,
        hostname=socket.gethostname(),
    )
    run = load_local_run(folder, scratch_runs)
    assert run.status == "incomplete"
    assert run.problems == [f"summary.json says running but its process (pid {gone.pid}) is gone"]


def test_crashed_run_is_listed_with_its_error(scratch_runs: Path) -> None:
    folder = run_folders(scratch_runs)[0]
    set_summary(folder, status="crashed", error="CUDA out of memory", epochs_done=1)
    run = load_local_run(folder, scratch_runs)
    assert run.status == "crashed" and run.has_problems
    assert run.problems == ["training crashed after 1 epochs: CUDA out of memory"]


def test_confusion_falls_back_to_wandb_tables(scratch_runs: Path) -> None:
    folder = run_folders(scratch_runs)[0]
    local = load_local_run(folder, scratch_runs)
    expected = local.confusion("test")
    tables = list(folder.glob("wandb/*run-*/files/media/table/**/*.table.json"))
    if not tables:  # training logged no W&B tables: write what wandb.plot writes
        media = folder / "wandb" / "offline-run-x" / "files" / "media" / "table" / "test"
        media.mkdir(parents=True)
        (media / "confusion_matrix_table_0_0123abcd.table.json").write_text(
            json.dumps(wandb_table(expected.labels, expected.matrix))
        )
    shutil.rmtree(folder / "confusion")
    runs_module.clear_cache()
    run = load_local_run(folder, scratch_runs)
    assert "test" in run.confusion_epochs()
    labels, matrix = run.confusion("test")
    # wandb's table lists only classes that appear; compare over those.
    assert labels == [label for label in expected.labels if label in labels]
    index = [expected.labels.index(label) for label in labels]
    assert matrix.tolist() == expected.matrix[np.ix_(index, index)].tolist()


def count_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    reads: Counter[Path] = Counter()
    real_read = runs_module._read_text

    def counting_read(path: Path) -> str:
        reads[path] += 1
        return real_read(path)

    def counting_read_meta(path: Path) -> Any:
        reads[Path(path)] += 1
        return real_read_meta(path)

    real_read_meta = checkpoint_module.read_meta
    monkeypatch.setattr(runs_module, "_read_text", counting_read)
    monkeypatch.setattr(checkpoint_module, "read_meta", counting_read_meta)
    return reads


def test_listing_again_rereads_only_changed_runs(
    scratch_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = LocalRunSource(scratch_runs)
    reads = count_reads(monkeypatch)
    first = source.list_runs()
    assert {path.name for path in reads} == {"config.json", "metrics.jsonl", "summary.json"}
    assert all("history" not in vars(run) for run in first)  # no DataFrame built to list
    reads.clear()
    second = source.list_runs()
    assert [run.name for run in second] == [run.name for run in first]
    assert reads == Counter()  # nothing reread
    assert all(a is b for a, b in zip(first, second, strict=True))  # nor rebuilt

    # Confusion matrices are read once, however often the page asks and relists.
    test_json = first[0].path / "confusion" / "test.json"
    for listing in (first, source.list_runs()):
        run = next(run for run in listing if run.path == first[0].path)
        assert run.confusion("test") is not None
    assert reads == Counter({test_json: 1})
    reads.clear()

    changed, unchanged = run_folders(scratch_runs)
    metrics = changed / "metrics.jsonl"
    atomic_write_bytes(metrics, metrics.read_bytes())  # as the writer does: a rename
    again = {run.name: run for run in source.list_runs()}
    assert reads and {path.parent for path in reads} == {changed}
    assert again[unchanged.name] is not None and len(again[changed.name].history) == EPOCHS


def wandb_table(labels: list[str], matrix: np.ndarray) -> dict[str, Any]:
    """What `wandb.plot.confusion_matrix` writes: one row per (actual, predicted) pair."""
    data = [
        [labels[i], labels[j], float(matrix[i][j])]
        for i in range(len(labels))
        for j in range(len(labels))
    ]
    return {"columns": ["Actual", "Predicted", "nPredictions"], "data": data}


class FakeFile(WandbFile):
    """A real `wandb.apis.public.File` whose download copies local bytes."""

    def __init__(self, name: str, content: bytes) -> None:
        super().__init__(None, {"name": name, "sizeBytes": len(content)})
        self.content = content

    def download(self, root: str = ".", replace: bool = False, **_: Any) -> Any:
        path = Path(root) / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content)
        return path.open()


class FakeWandbRun(WandbRun):
    """A real `wandb.apis.public.Run` answering its GraphQL queries from a local run folder,
    logged the way asl_core.runs.format logs to W&B (`train/loss`, `val/acc`, ..., `test/acc`)."""

    def __init__(self, folder: Path, run_id: str, state: str = "finished") -> None:
        self.folder = folder
        config = json.loads((folder / "config.json").read_text())
        summary = json.loads((folder / "summary.json").read_text())
        self.rows = [
            json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
        ]
        wandb_summary = {
            "_runtime": summary["duration_s"],
            "epoch": self.rows[-1]["epoch"],
            "val/acc": self.rows[-1]["val_acc"],
            "test/acc": summary["test_acc"],
            "val/confusion_matrix": {"_type": "table-file", "path": "media/table/x.table.json"},
        }
        attrs = {
            "id": "UnVuOjE=",
            "name": run_id,
            "displayName": folder.name,
            "state": state,
            "group": config.get("group"),
            "createdAt": "2026-11-21T08:15:00",
            # The server sends config as JSON text of {"key": {"value": ...}}.
            "config": json.dumps({key: {"value": value} for key, value in config.items()}),
            "summaryMetrics": json.dumps(wandb_summary),
            "systemMetrics": "{}",
        }
        super().__init__(None, "ent", "proj", run_id, attrs=attrs, lazy=False)

    def _exec(self, query: str, **kwargs: Any) -> dict[str, Any]:
        lines = []
        for step, row in enumerate(self.rows, start=1):
            logged = {
                "_step": step,
                "_runtime": step * 2.0,
                "_timestamp": pd.Timestamp(row["time"]).timestamp(),
                "epoch": row["epoch"],
                **{key.replace("_", "/", 1): row[key] for key in [*EPOCH_KEYS, "val_f1"]},
                "lr": row["lr"],
                "epoch_time": row["epoch_time_s"],
                "val/confusion_matrix": {"_type": "table-file", "path": "media/x.table.json"},
            }
            lines.append(json.dumps(logged))
        lines.append(json.dumps({"_step": len(self.rows) + 1, "test/acc": 0.5}))
        return {"project": {"run": {"history": lines}}}

    def files(self, *args: Any, **kwargs: Any) -> list[FakeFile]:  # type: ignore[override]
        files = []
        for epoch, path in enumerate(sorted(self.folder.glob("confusion/epoch_*.json")), 1):
            data = json.loads(path.read_text())
            name = f"media/table/val/confusion_matrix_table_{epoch - 1}_abc123.table.json"
            files.append(
                FakeFile(name, json.dumps(wandb_table(data["labels"], data["matrix"])).encode())
            )
        test = json.loads((self.folder / "confusion" / "test.json").read_text())
        name = f"media/table/test/confusion_matrix_table_{epoch}_abc123.table.json"
        files.append(
            FakeFile(name, json.dumps(wandb_table(test["labels"], test["matrix"])).encode())
        )
        files.append(FakeFile("requirements.txt", b"torch\n"))
        return files


class StubApi:
    def __init__(self, runs: list[Any] | None = None, error: Exception | None = None) -> None:
        self._runs, self.error, self.paths = runs or [], error, []

    def runs(self, path: str, **kwargs: Any) -> list[Any]:
        self.paths.append(path)
        if self.error is not None:
            raise self.error
        return self._runs


def test_wandb_runs_have_the_shape_of_local_runs(real_runs: list[Run]) -> None:
    local = real_runs[0]
    api = StubApi([FakeWandbRun(local.path, "abc123")])
    (online,) = WandbRunSource("ent", "proj", api=api).list_runs()
    assert api.paths == ["ent/proj"]
    assert online.source == "wandb" and online.id == "abc123" and online.name == local.name
    assert online.status == "finished" and online.problems == []
    assert online.config == local.config
    assert (online.model, online.split, online.group) == (local.model, local.split, local.group)
    columns = ["epoch", *EPOCH_KEYS, "val_f1", "lr", "epoch_time_s"]
    assert set(columns) <= set(online.history.columns)
    pd.testing.assert_frame_equal(
        online.history[columns].reset_index(drop=True),
        local.history[columns].reset_index(drop=True),
        check_dtype=False,
    )
    assert online.best_val_acc == pytest.approx(local.best_val_acc)
    assert online.test_acc == pytest.approx(local.test_acc)
    assert online.started_at is not None and online.started_at.utcoffset().total_seconds() == 0
    assert online.confusion_epochs() == [1, 2, "test"]
    assert online.confusion("test").matrix.sum() == local.confusion("test").matrix.sum()
    assert online.report() is None  # not logged to W&B


@pytest.mark.parametrize(
    ("state", "status", "flagged"),
    [
        ("running", "running", False),
        ("finished", "finished", False),
        ("crashed", "crashed", True),
        ("failed", "crashed", True),
        ("killed", "incomplete", True),
        ("weird", "incomplete", True),
    ],
)
def test_wandb_states_map_to_ours(
    real_runs: list[Run], state: str, status: str, flagged: bool
) -> None:
    run = run_from_wandb(FakeWandbRun(real_runs[0].path, "abc123", state=state))
    assert run.status == status
    assert bool(run.problems) == flagged


def test_one_broken_wandb_run_never_breaks_the_list(real_runs: list[Run]) -> None:
    class BrokenHistory(FakeWandbRun):
        def history(self, *args: Any, **kwargs: Any) -> Any:
            raise CommError("history endpoint returned 500")

        def scan_history(self, *args: Any, **kwargs: Any) -> Any:
            raise CommError("history endpoint returned 500")

    good = FakeWandbRun(real_runs[0].path, "good1")
    bad = BrokenHistory(real_runs[1].path, "bad1")
    listed = {
        run.id: run for run in WandbRunSource("", "proj", api=StubApi([good, bad])).list_runs()
    }
    assert listed["good1"].problems == []
    assert listed["bad1"].history.empty
    assert listed["bad1"].problems == [
        "could not read the history from W&B: history endpoint returned 500"
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            CommError("Max retries exceeded", ConnectionError("Name or service not known")),
            "Could not reach the W&B server",
        ),
        (CommError("Permission denied: 403"), "W&B refused the credentials"),
        (ValueError("Could not find project proj"), "W&B has no project"),
        (RuntimeError("boom"), "W&B could not list the runs of ent/proj: boom"),
    ],
)
def test_wandb_errors_become_sentences(error: Exception, expected: str) -> None:
    with pytest.raises(RunSourceError, match=expected) as caught:
        WandbRunSource("ent", "proj", api=StubApi(error=error)).list_runs()
    assert "Traceback" not in str(caught.value)


def test_no_wandb_key_tells_how_to_log_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(RunSourceError, match="wandb login"):
        WandbRunSource("ent", "proj").list_runs()


def test_unreachable_wandb_server_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        # What wandb 0.28 raises here with a key but no network (seen on this machine).
        try:
            raise TimeoutError("Timed out waiting for response")
        except TimeoutError as cause:
            raise AuthenticationError("An error occurred while verifying the API key.") from cause

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(wandb, "Api", unreachable)
    with pytest.raises(RunSourceError, match="Could not reach the W&B server"):
        WandbRunSource("ent", "proj").list_runs()
