"""Real training runs on a slice of ../shared/data, and damaged run folders, for reader tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_core.settings import REPO_ROOT

TRAIN_CONFIG = "training/configs/landmark_mlp.yaml"


GROUP = "lr-grid"


# Two tiny runs of one group, on Massey only: a random split, and leave-one-signer-out (hand3
# never seen in training) with another learning rate.
RUN_OVERRIDES: tuple[tuple[str, ...], ...] = (
    ("lr=0.01", f"group={GROUP}"),
    ("lr=0.003", f"group={GROUP}", "split.name=loso", "split.test_signer=hand3"),
)


EPOCHS = 2


def train_command(runs_dir: Path, overrides: tuple[str, ...]) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "training.train",
        "--config",
        TRAIN_CONFIG,
        "--set",
        f"epochs={EPOCHS}",
        "--limit-per-class",
        "4",
        "--data",
        "massey36",
        "--runs-dir",
        str(runs_dir),
    ]
    for override in overrides:
        command += ["--set", override]
    return command


def train_real_runs(base: Path, data_root: Path) -> Path:
    """Train RUN_OVERRIDES with the real CLI into `base/runs` once per session and return it.

    Shared by tests/unit/runs/test_runs.py and tests/app/test_runs_page.py through the marker
    file, whichever asks first.
    """
    runs_dir = base / "runs"
    if (base / "trained.ok").exists():
        return runs_dir
    if not (REPO_ROOT / "training" / "train.py").is_file():
        pytest.skip("training CLI not available yet (training/train.py is missing)")
    env = {
        **os.environ,
        "ASL_DATA_DIR": str(data_root),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
    }
    # Both at once: most of a tiny run is imports and W&B start-up, and the feature cache
    # they share is written atomically.
    processes = [
        subprocess.Popen(
            train_command(runs_dir, overrides),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for overrides in RUN_OVERRIDES
    ]
    try:
        for process in processes:
            output, _ = process.communicate(timeout=600)
            assert process.returncode == 0, f"training failed:\n{output}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    (base / "trained.ok").write_text("ok")
    return runs_dir


def run_folders(runs_dir: Path) -> list[Path]:
    return sorted(
        path.parent for path in runs_dir.rglob("config.json") if "wandb" not in path.parts
    )


def truncate_last_line(path: Path) -> None:
    data = path.read_bytes().rstrip(b"\n")
    last_line_start = data.rfind(b"\n") + 1
    path.write_bytes(data[: last_line_start + (len(data) - last_line_start) // 2])


def write_run(
    folder: Path,
    *,
    epochs: int = 2,
    status: str = "finished",
    labels: tuple[str, ...] = ("A", "B", "C"),
    config: dict | None = None,
) -> Path:
    """A run folder written by the real writer (`RunLog`, W&B off) with made-up numbers: for
    the format's plumbing (file names, rows, statuses), never for accuracy."""
    from asl_core.runs.format import confusion_record, epoch_row
    from asl_core.runs.writer import RunLog

    log = RunLog(folder, use_wandb=False)
    log.start({"model": "landmark_mlp", "split": {"name": "random"}, **(config or {})})
    size = len(labels)
    matrix = [[2 if row == column else 0 for column in range(size)] for row in range(size)]
    for epoch in range(1, epochs + 1):
        row = epoch_row(
            epoch, "train", train_loss=1.0 / epoch, train_acc=0.5, val_loss=1.5 / epoch,
            val_acc=0.4 + 0.1 * epoch, val_precision=0.5, val_recall=0.5, val_f1=0.5, lr=0.01,
            seconds=0.25,
        )  # fmt: skip
        confusion = confusion_record(
            labels, matrix, epoch=epoch, split="val", no_hand=[1] + [0] * (len(labels) - 1)
        )
        log.log_epoch(row, confusion)
        log.update_summary(epochs_done=epoch)
    report = {label: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2} for label in labels}
    log.log_test(
        {"acc": 1.0},
        confusion_record(labels, matrix, epoch=None, split="test"),
        report,
        step=epochs,
    )
    if status != "running":
        log.finish(status, best_val_acc=0.4 + 0.1 * epochs, test_acc=1.0)
    return folder
