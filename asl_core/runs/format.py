"""Run folders and W&B: every epoch goes to both, so runs can be read with or without W&B.

W&B offline runs keep config, history and summary only in a binary log that nothing can read
without a server (../shared/NOTES.md, "W&B without a server"). So next to every `wandb.log`
this module writes plain files in the run folder, the pattern timm uses; the run browser reads
those. The format (another engineer's reader depends on it; change both together):

runs/<run_name>/
  config.json        the full resolved config (model, data, split with counts and signers per
                     side, optimiser, schedule, augmentation, seed, group, job_type, command,
                     git commit, no-hand counts, started_at)
  metrics.jsonl      one object per finished epoch: epoch, stage, train_loss, train_acc,
                     val_loss, val_acc, val_precision, val_recall, val_f1, lr, epoch_time_s, time
  confusion/epoch_001.json, ..., confusion/test.json
                     {"epoch", "split": "val"|"test", "labels", "matrix"} (+ "no_hand": per
                     true label, photos in which no hand was found: counted wrong, not in matrix)
  summary.json       status running|finished|crashed|stopped_early, epochs_done, best_epoch,
                     best_val_acc, best_val_loss, test_*, no_hand, duration_s, finished_at,
                     updated_at
  report.json        per-class precision, recall, f1, support on the test split
  checkpoint.safetensors + checkpoint.json   the best weights (asl_core.models.checkpoint)
  state.safetensors + state.json             resume state (written by asl_core.training)
  wandb/             the W&B run (offline unless WANDB_MODE says otherwise)

Every file is written atomically (temporary file + rename); metrics.jsonl is rewritten whole
each epoch (it is small), so an interruption never leaves half a line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

METRIC_KEYS = (
    "epoch",
    "stage",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "val_precision",
    "val_recall",
    "val_f1",
    "lr",
    "epoch_time_s",
    "time",
)


STATUSES = ("running", "finished", "crashed", "stopped_early")


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of metrics.jsonl (an unparseable line, from an older writer, is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
