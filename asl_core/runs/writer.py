"""Writes one run folder (the format is `asl_core.runs.format`) and mirrors it to W&B."""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from asl_core.io.files import atomic_write_bytes, atomic_write_json
from asl_core.runs.format import (
    CONFIG_FILE,
    METRIC_KEYS,
    METRICS_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    WRITTEN_STATUSES,
    RunStatus,
    confusion_file,
    metrics_text,
    now_iso,
)


def make_run_name(
    model: str, split: str, suffix: str | None = None, when: datetime | None = None
) -> str:
    """`<yyyymmdd-HHMMSS>-<model>-<split>[-<suffix>]`."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{model}-{split}"
    if suffix:
        name += f"-{suffix}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def unique_run_dir(runs_root: Path, name: str) -> Path:
    """runs_root/name, or name-2, name-3, ... when a run of that name exists already."""
    candidate = runs_root / name
    counter = 2
    while candidate.exists():
        candidate = runs_root / f"{name}-{counter}"
        counter += 1
    return candidate


def git_commit(root: Path) -> str | None:
    """HEAD of the repository holding `root`, or None (no git, not a repository)."""
    import subprocess

    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


class RunLog:
    """Writes one run folder and mirrors it to W&B. Inactive (every call a no-op) off rank 0.

    W&B: `wandb.init(project, dir=run_dir, mode=$WANDB_MODE or "offline", config, group,
    job_type, name, id)`. If wandb cannot start, a warning is printed and the plain files are
    still written: they are the record that matters offline.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        active: bool = True,
        use_wandb: bool = True,
        project: str = "asl-signs",
        group: str | None = None,
        job_type: str = "train",
    ) -> None:
        self.run_dir = Path(run_dir)
        self.active = active
        self.use_wandb = use_wandb and active
        self.project = project
        self.group = group
        self.job_type = job_type
        self.rows: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}
        self.wandb_run: Any = None
        self.started = time.monotonic()
        self.duration_before = 0.0  # time spent by earlier (interrupted) sessions of this run

    # --- files ----------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.run_dir / name

    def write_json(self, name: str, payload: Any) -> None:
        if self.active:
            atomic_write_json(self.path(name), payload)

    def start(
        self,
        config: dict[str, Any],
        *,
        resumed_rows: Sequence[dict[str, Any]] = (),
        wandb_id: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Write config.json and a "running" summary, and open the W&B run.

        `resumed_rows` are the epochs kept from an interrupted session; metrics.jsonl is
        rewritten with exactly those, so epochs redone after a resume are never duplicated.
        """
        if not self.active:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.rows = [dict(row) for row in resumed_rows]
        self._write_metrics()
        self.summary = dict(summary or {})
        self.duration_before = float(self.summary.get("duration_s") or 0.0)
        self.write_json(CONFIG_FILE, config)
        # pid and hostname let a run browser tell a live run from one that died silently.
        self.update_summary(
            status=RunStatus.RUNNING,
            epochs_done=len(self.rows),
            finished_at=None,
            pid=os.getpid(),
            hostname=socket.gethostname(),
        )
        if self.use_wandb:
            self._start_wandb(config, wandb_id)

    def _start_wandb(self, config: dict[str, Any], wandb_id: str | None) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")
        try:
            import wandb

            self.wandb_run = wandb.init(
                project=self.project,
                dir=str(self.run_dir),
                mode=os.environ.get("WANDB_MODE", "offline"),
                # As config.json has it: W&B records an enum member (a StrEnum such as
                # Representation too) by its name, "CROP", where the file says "crop".
                config=json.loads(json.dumps(config)),
                group=self.group,
                job_type=self.job_type,
                name=self.run_dir.name,
                id=wandb_id,
                resume="allow" if wandb_id else None,
                reinit="finish_previous",
            )
        except Exception as error:  # W&B must never cost a training run
            warnings.warn(
                f"W&B could not start ({error}); writing the run folder only", stacklevel=2
            )
            self.wandb_run = None

    @property
    def wandb_id(self) -> str | None:
        return getattr(self.wandb_run, "id", None)

    def _write_metrics(self) -> None:
        atomic_write_bytes(self.path(METRICS_FILE), metrics_text(self.rows).encode())

    def update_summary(self, **fields: Any) -> None:
        if not self.active:
            return
        self.summary.update(fields)
        self.summary["duration_s"] = round(
            self.duration_before + time.monotonic() - self.started, 2
        )
        self.summary["updated_at"] = now_iso()
        self.write_json(SUMMARY_FILE, self.summary)

    def log_epoch(
        self,
        row: dict[str, Any],
        confusion: dict[str, Any],
        *,
        wandb_extra: dict[str, Any] | None = None,
        predictions: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        """One finished epoch: metrics.jsonl, confusion/epoch_NNN.json, summary, W&B."""
        if not self.active:
            return
        ordered = {key: row[key] for key in METRIC_KEYS if key in row}
        self.rows = [r for r in self.rows if r.get("epoch") != ordered["epoch"]] + [ordered]
        self._write_metrics()
        epoch = int(ordered["epoch"])
        self.write_json(confusion_file(epoch, "val"), confusion)
        if self.wandb_run is not None:
            payload = {
                "epoch": epoch,
                "train/loss": row["train_loss"],
                "train/acc": row["train_acc"],
                "val/loss": row["val_loss"],
                "val/acc": row["val_acc"],
                "val/precision": row["val_precision"],
                "val/recall": row["val_recall"],
                "val/f1": row["val_f1"],
                "lr": row["lr"],
                "epoch_time": row["epoch_time_s"],
                **(wandb_extra or {}),
            }
            if predictions is not None:
                payload["val/confusion_matrix"] = self._wandb_confusion(
                    predictions, confusion["labels"], f"val confusion, epoch {epoch}"
                )
            self._wandb_log(payload, step=epoch)

    def _wandb_confusion(
        self, predictions: tuple[Sequence[int], Sequence[int]], labels: list[str], title: str
    ) -> Any:
        import wandb

        y_true, y_pred = predictions
        # Photos without a hand have no prediction (-1): they are in the plain files' no_hand.
        pairs = [(int(t), int(p)) for t, p in zip(y_true, y_pred, strict=True) if p >= 0]
        return wandb.plot.confusion_matrix(
            y_true=[t for t, _ in pairs],
            preds=[p for _, p in pairs],
            class_names=list(labels),
            title=title,
        )

    def _wandb_log(self, payload: dict[str, Any], step: int) -> None:
        try:
            self.wandb_run.log(payload, step=step)
        except Exception as error:
            warnings.warn(f"wandb.log failed ({error})", stacklevel=3)

    def log_test(
        self,
        metrics: dict[str, Any],
        confusion: dict[str, Any],
        report: dict[str, Any],
        *,
        step: int,
        predictions: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        """The test evaluation, its own section: test/ keys at their own step, and files."""
        if not self.active:
            return
        self.write_json(confusion_file(None, "test"), confusion)
        self.write_json(REPORT_FILE, report)
        if self.wandb_run is not None:
            payload = {f"test/{key}": value for key, value in metrics.items()}
            if predictions is not None:
                payload["test/confusion_matrix"] = self._wandb_confusion(
                    predictions, confusion["labels"], "test confusion"
                )
            self._wandb_log(payload, step=step)
            try:
                for key, value in metrics.items():
                    self.wandb_run.summary[f"test/{key}"] = value
            except Exception as error:
                warnings.warn(f"wandb summary failed ({error})", stacklevel=2)

    def finish(self, status: str, **fields: Any) -> None:
        """Final summary (status, finished_at) and close W&B (exit code 1 unless finished)."""
        if status not in WRITTEN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(WRITTEN_STATUSES)}, not {status!r}")
        if not self.active:
            return
        self.update_summary(status=status, finished_at=now_iso(), **fields)
        self.close(exit_code=0 if status in (RunStatus.FINISHED, RunStatus.STOPPED_EARLY) else 1)

    def close(self, exit_code: int = 0) -> None:
        if self.wandb_run is not None:
            try:
                self.wandb_run.finish(exit_code=exit_code)
            except Exception as error:
                warnings.warn(f"wandb.finish failed ({error})", stacklevel=2)
            self.wandb_run = None
