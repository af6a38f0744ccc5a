"""The run folder: the one definition of what training writes and the Runs page reads.

`asl_core.runs.writer` (training) writes it and `asl_core.runs.local` / `records` read it, both
through the names and functions below, so the two cannot drift. W&B offline runs keep config,
history and summary only in a binary log that nothing reads without a server
(../shared/NOTES.md, "W&B without a server"), so next to every `wandb.log` the writer puts these
plain files in the run folder (the pattern timm uses):

runs/[<group>/]<run_name>/
  config.json        CONFIG_FILE: the full resolved config (model, data, split with counts and
                     signers per side, optimiser, schedule, augmentation, seed, group, job_type,
                     command, git commit, no-hand counts, started_at)
  metrics.jsonl      METRICS_FILE: one object per finished epoch, keys METRIC_KEYS in that order
                     (`epoch_row` builds one): epoch, stage, train_loss, train_acc,
                     train_precision, train_recall, train_f1, val_loss, val_acc,
                     val_precision, val_recall, val_f1, lr, lr_backbone, epoch_time_s, time
  confusion/epoch_001.json, ..., confusion/test.json
                     `confusion_file(epoch, split)`; the object `confusion_record` writes and
                     `confusion_from_record` reads: {"epoch", "split": "val"|"test", "labels",
                     "matrix"} (+ "no_hand": per true label, photos in which no hand was found:
                     counted wrong, not in the matrix)
  summary.json       SUMMARY_FILE: status (one of WRITTEN_STATUSES), epochs_done, best_epoch,
                     best_val_acc, best_val_loss (the best epoch by the monitored metric),
                     kept_epoch (whose weights the checkpoint holds: the best one, or the last
                     under keep: last), test_*, no_hand, duration_s, finished_at,
                     updated_at, pid, hostname; error (crashed); resume_command (interrupted)
  report.json        REPORT_FILE: per-class precision, recall, f1, support on the test split
  checkpoint.safetensors + checkpoint.json   CHECKPOINT_*: the best weights
                     (asl_core.models.checkpoint)
  state.safetensors + state.json             STATE_*: resume state (asl_core.training)
  wandb/             WANDB_DIR: the W&B run (offline unless WANDB_MODE says otherwise)
  evaluations/       EVALUATIONS_DIR: `python -m training.evaluate` reports on this run's
                     checkpoint (`evaluation_path`); those on a checkpoint outside a run folder,
                     or on several runs' checkpoints, go to runs/evaluations/
runs/<group>/sweep.json  SWEEP_FILE: a grid search's trials, best first (training.sweep)
runs/<group>/kfold.json  KFOLD_FILE: a k-fold or leave-people-out group's folds and their mean
                     and spread (training.kfold)

Statuses: training writes one of WRITTEN_STATUSES into summary.json; a reader infers
"incomplete" (INFERRED_STATUSES) for a run whose summary is missing or unreadable, or that says
running but whose process is gone (`asl_core.runs.records.resolve_status`).

Every file is written atomically (temporary file + rename); metrics.jsonl is rewritten whole
each epoch (it is small), so an interruption never leaves half a line, and a reader that finds
one anyway (`parse_metrics`) keeps the good lines and says the last one was cut.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_FILE = "config.json"


METRICS_FILE = "metrics.jsonl"


SUMMARY_FILE = "summary.json"


REPORT_FILE = "report.json"


CONFUSION_DIR = "confusion"


CHECKPOINT_STEM = "checkpoint"
CHECKPOINT_META_FILE = f"{CHECKPOINT_STEM}.json"
CHECKPOINT_WEIGHTS_FILE = f"{CHECKPOINT_STEM}.safetensors"


STATE_META_FILE = "state.json"
STATE_WEIGHTS_FILE = "state.safetensors"


WANDB_DIR = "wandb"


EVALUATIONS_DIR = "evaluations"


SWEEP_FILE = "sweep.json"
KFOLD_FILE = "kfold.json"


# A folder holding either of these is a run folder (a run killed before its first epoch has
# only config.json; an old one may lack it).
RUN_MARKERS: tuple[str, ...] = (CONFIG_FILE, METRICS_FILE)


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` holds one of RUN_MARKERS."""
    return any((Path(folder) / marker).is_file() for marker in RUN_MARKERS)


def evaluation_path(checkpoints: Sequence[Path], runs_root: Path, name: str) -> Path:
    """Where an evaluation report `name` goes: `<run>/evaluations/` when every checkpoint
    (its .json or .safetensors) lies in one run folder, else `<runs_root>/evaluations/`."""
    folders = {Path(path).resolve().parent for path in checkpoints}
    run = folders.pop() if len(folders) == 1 else None
    return (run if run is not None and is_run_folder(run) else runs_root) / EVALUATIONS_DIR / name


class RunStatus(StrEnum):
    """A run's status. A StrEnum: each member equals its text in summary.json."""

    RUNNING = "running"
    FINISHED = "finished"
    CRASHED = "crashed"
    INTERRUPTED = "interrupted"  # Ctrl-C: resumable from its last finished epoch
    STOPPED_EARLY = "stopped_early"
    INCOMPLETE = "incomplete"


# Written by training into summary.json.
WRITTEN_STATUSES: tuple[RunStatus, ...] = (
    RunStatus.RUNNING,
    RunStatus.FINISHED,
    RunStatus.CRASHED,
    RunStatus.INTERRUPTED,
    RunStatus.STOPPED_EARLY,
)


# Never written: a reader's word for a run that stopped without saying how.
INFERRED_STATUSES: tuple[RunStatus, ...] = (RunStatus.INCOMPLETE,)


STATUSES: tuple[RunStatus, ...] = WRITTEN_STATUSES + INFERRED_STATUSES


METRIC_KEYS: tuple[str, ...] = (
    "epoch",
    "stage",
    "train_loss",
    "train_acc",
    "train_precision",
    "train_recall",
    "train_f1",
    "val_loss",
    "val_acc",
    "val_precision",
    "val_recall",
    "val_f1",
    "lr",
    "lr_backbone",
    "epoch_time_s",
    "time",
)


def now_iso() -> str:
    """The time stamps of the run files: local time with its offset, to the second."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


# --- metrics.jsonl ---------------------------------------------------------------------------


def epoch_row(
    epoch: int,
    stage: str,
    *,
    train_loss: float,
    train_acc: float,
    val_loss: float | None,
    val_acc: float,
    val_precision: float,
    val_recall: float,
    val_f1: float,
    lr: float,
    seconds: float,
    train_precision: float | None = None,
    train_recall: float | None = None,
    train_f1: float | None = None,
    lr_backbone: float | None = None,
) -> dict[str, Any]:
    """One line of metrics.jsonl, keys in METRIC_KEYS order. Losses are mean cross-entropy,
    accuracies and the macro precision/recall/F1 fractions in [0, 1], `seconds` the epoch's
    wall-clock time (rounded to ms); `time` is when the row was made. `lr` is the head's
    rate (the only one when everything trains at one rate), `lr_backbone` the rate of the
    backbone layers when they train at their own (fine-tuning stages, `backbone_lr`), else
    null; the train_* precision/recall/F1 are null in runs written before they were logged."""
    return {
        "epoch": int(epoch),
        "stage": stage,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "train_precision": train_precision,
        "train_recall": train_recall,
        "train_f1": train_f1,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "val_precision": val_precision,
        "val_recall": val_recall,
        "val_f1": val_f1,
        "lr": lr,
        "lr_backbone": lr_backbone,
        "epoch_time_s": round(seconds, 3),
        "time": now_iso(),
    }


def metrics_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """The whole metrics.jsonl for these rows (only METRIC_KEYS, in order; one line each)."""
    return "".join(
        json.dumps({key: row[key] for key in METRIC_KEYS if key in row}) + "\n" for row in rows
    )


@dataclass
class ParsedMetrics:
    """The good rows of a metrics.jsonl; `truncated` when its last line was cut, `bad_lines`
    the 1-based numbers of other unreadable lines."""

    records: list[dict[str, Any]]
    truncated: bool
    bad_lines: list[int]


def parse_metrics(text: str) -> ParsedMetrics:
    """The good lines of a metrics.jsonl; a bad last line is a truncated write, not an error."""
    lines = text.split("\n")
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    records: list[dict[str, Any]] = []
    bad_lines: list[int] = []
    truncated = False
    for position, (number, line) in enumerate(numbered):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif position == len(numbered) - 1:
            truncated = True
        else:
            bad_lines.append(number)
    return ParsedMetrics(records, truncated, bad_lines)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The good rows of a run's metrics.jsonl ([] when there is none)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    return parse_metrics(path.read_bytes().decode("utf-8", errors="replace")).records


# --- confusion/ ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Confusion:
    """A confusion matrix (rows = true class, columns = predicted). Unpacks as
    `labels, matrix = confusion`. `no_hand`: photos per true class in which no hand was found
    (counted wrong by training, not in the matrix)."""

    labels: list[str]
    matrix: np.ndarray
    no_hand: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.labels, self.matrix))


def confusion_file(epoch: int | None, split: str) -> str:
    """The path of a confusion matrix inside the run folder: `confusion/test.json` for the
    test split, `confusion/epoch_NNN.json` for an epoch's validation."""
    if split == "test":
        return f"{CONFUSION_DIR}/test.json"
    if epoch is None:
        raise ValueError("a validation confusion matrix needs its epoch")
    return f"{CONFUSION_DIR}/epoch_{int(epoch):03d}.json"


def confusion_key(file_name: str) -> int | str | None:
    """What a file in confusion/ holds: its epoch, "test", or None for another file."""
    if file_name == "test.json":
        return "test"
    match = re.fullmatch(r"epoch_0*(\d+)\.json", file_name)
    return int(match.group(1)) if match else None


def confusion_record(
    labels: Sequence[str],
    matrix: Any,
    *,
    epoch: int | None,
    split: str,
    no_hand: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The JSON object of one confusion matrix. `matrix`: counts, shape (classes, classes),
    rows = true class; `no_hand`: per true class (same order), photos without a hand."""
    counts = np.asarray(matrix)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(f"the matrix is {counts.shape} for {len(labels)} labels")
    record: dict[str, Any] = {
        "epoch": None if epoch is None else int(epoch),
        "split": split,
        "labels": [str(label) for label in labels],
        "matrix": counts.astype(np.int64).tolist(),
    }
    if no_hand is not None:
        record["no_hand"] = [int(count) for count in no_hand]
    return record


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    return int(value) if math.isfinite(float(value)) and value else None


def confusion_from_record(data: Any, name: str = "confusion matrix") -> Confusion:
    """A `{"labels": [...], "matrix": [[...]]}` object, checked to be square and numeric;
    ValueError naming `name` otherwise. Reads no_hand as a list per label or a mapping."""
    if not isinstance(data, dict) or "labels" not in data or "matrix" not in data:
        raise ValueError(f"{name} lacks labels or matrix")
    labels = [str(label) for label in data["labels"]]
    matrix = np.asarray(data["matrix"], dtype=float)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"{name}: the matrix is {matrix.shape} for {len(labels)} labels")
    if np.all(matrix == np.round(matrix)):
        matrix = matrix.astype(np.int64)
    raw = data.get("no_hand")
    if isinstance(raw, dict):
        pairs = [(str(label), _count(value)) for label, value in raw.items()]
    elif isinstance(raw, list) and len(raw) == len(labels):
        pairs = [(label, _count(value)) for label, value in zip(labels, raw, strict=True)]
    else:
        pairs = []
    return Confusion(labels, matrix, {label: count for label, count in pairs if count})
