"""Kept weights, early stopping, the resume state written after every epoch, the lock that
makes one process the only writer of a run folder, and what Ctrl-C leaves of a run."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout
from safetensors.torch import load_file, save_file

from asl_core.io.files import atomic_write_json
from asl_core.models.checkpoint import non_finite_tensors
from asl_core.models.registry import AslModel
from asl_core.runs.format import (
    CONFIG_FILE,
    METRICS_FILE,
    STATE_META_FILE,
    STATE_WEIGHTS_FILE,
    SUMMARY_FILE,
    now_iso,
)
from asl_core.training.config import ResumeError

RUN_LOCK = ".writer.lock"
"""In a run folder: held (flock, by `filelock`) by the one process training into it."""


class RunBusyError(ResumeError):
    """Another process is training into the run folder."""


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's writer lock, or raise RunBusyError at once. The operating system
    drops the lock when its process dies, so a killed run can be resumed straight away."""
    lock = FileLock(str(Path(run_dir) / RUN_LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunBusyError(
            f"another process is training into {Path(run_dir).name} (its lock {RUN_LOCK} is "
            "held): wait for it to finish, or stop it, before resuming"
        ) from None
    try:
        yield
    finally:
        lock.release()


def shown_path(path: str | Path) -> str:
    """`path` as the user would type it: relative to the working folder when inside it (links
    are not followed: a venv's `bin/python` stays itself), else as given."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(path)


def resume_command(run_dir: Path) -> str:
    """The one command that continues the run in `run_dir`: the interpreter that is running
    now (`sys.executable`, e.g. `.venv/bin/python`: a bare `python` may lack torch), then
    `-m training.train --resume` and the folder, both shown as `shown_path` gives them."""
    python, folder = shlex.quote(shown_path(sys.executable)), shlex.quote(shown_path(run_dir))
    return f"{python} -m training.train --resume {folder}"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during `fit`. Its text is the one line for the user: where the run
    stopped and the command that continues it. The run folder then says "interrupted" and keeps
    the resume state of its last finished epoch; `command` is None when nothing can resume."""

    def __init__(self, message: str, run_dir: Path | None = None, command: str | None = None):
        super().__init__(message)
        self.run_dir, self.command = run_dir, command

    @classmethod
    def at(
        cls, run_dir: Path | None, epoch: tuple[int, int] | None, saved: int
    ) -> TrainingInterrupted:
        """For a run in `run_dir` (None: not made yet) stopped in `epoch` (number, of total;
        None: before the epochs) with the resume state of epoch `saved` (0: none)."""
        if run_dir is None:
            return cls("Interrupted before training started: no run folder yet, nothing to resume")
        if saved == 0:
            where = "before the first epoch finished"
            if epoch is not None:
                where = "during epoch {} of {}".format(*epoch)
                where += " before any epoch was saved" if epoch[0] > 1 else ""
            return cls(
                f"Interrupted {where}, so nothing was kept: run the same command again to start "
                f"over (its folder {shown_path(run_dir)} is kept)",
                run_dir,
            )
        where = f"after epoch {saved}, before the next one started"
        if epoch is not None:
            number, total = epoch
            where = f"{'after' if number == saved else 'at'} epoch {number} of {total}"
        command = resume_command(run_dir)
        return cls(f"Interrupted {where}; continue with: {command}", run_dir, command)

    def without_empty_folder(self) -> TrainingInterrupted:
        """This interruption, after removing its run folder when nothing was kept in it (no
        epoch finished: only UNKEPT_FILES are there), so that starting the run again with the
        same name reuses the name; `run_dir` is then None. Call it once the run's log is
        closed (its summary.json written, W&B finished)."""
        folder = self.run_dir
        if self.command is not None or folder is None or not folder.is_dir():
            return self
        for entry in folder.iterdir():
            if entry.name not in UNKEPT_FILES or (
                entry.name == METRICS_FILE and entry.stat().st_size
            ):
                return self
        shutil.rmtree(folder)
        kept = f"(its folder {shown_path(folder)} is kept)"
        return type(self)(str(self).replace(kept, "(its empty folder was removed)"))


UNKEPT_FILES = frozenset({CONFIG_FILE, SUMMARY_FILE, METRICS_FILE, RUN_LOCK, "wandb"})
"""What a run folder holds before its first epoch finished: the config and status files, an
empty metrics file, the writer lock and W&B's own folder (an offline run with no epoch)."""


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it: the two resume files are
    written as a pair. Signals reach only the main thread: elsewhere (a job's thread) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt


def format_metric(value: float | None) -> str:
    """A metric for a progress or result line: 4 decimals, or "n/a" when there is none."""
    return "n/a" if value is None else f"{value:.4f}"


class BestTracker:
    """The best epoch by `monitor`, and the weights kept: those of the best epoch
    (`keep="best"`, restored at phase ends) or of the latest one (`keep="last"`).

    `value` is the best monitored value (early stopping counts epochs without improving it);
    `epoch`, `val_acc` and `val_loss` describe the best epoch, `kept_epoch` and `state` the
    weights kept: the same epoch under keep: best, the latest one under keep: last (there the
    best epoch is only observed, never selected: personalisation validates on its test photos).
    """

    def __init__(
        self, monitor: str = "val_loss", min_delta: float = 0.0, keep: str = "best"
    ) -> None:
        self.monitor = monitor
        self.min_delta = min_delta
        self.keep = keep
        self.value: float | None = None
        self.epoch = 0
        self.val_acc: float | None = None
        self.val_loss: float | None = None
        self.kept_epoch = 0
        self.state: dict[str, torch.Tensor] | None = None

    def improves(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.value is None:
            return True
        if self.monitor == "val_loss":
            return value < self.value - self.min_delta
        return value > self.value + self.min_delta

    def update(self, epoch: int, row: dict[str, Any], model: AslModel) -> bool:
        """Record an epoch; True when it improved the monitored value."""
        value = row[self.monitor]
        improved = self.improves(value)
        if improved:
            self.value, self.epoch = value, epoch
            self.val_acc, self.val_loss = row["val_acc"], row["val_loss"]
        if improved or self.keep == "last":
            self.kept_epoch = epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return improved

    def describe(self, kept_val_acc: float | None) -> str:
        """'best epoch 4 (val_acc 0.9)', or under keep: last 'kept the final epoch 30 (val_acc
        0.8; best by val_loss: epoch 12)'."""

        if self.keep != "last":
            return f"best epoch {self.epoch} (val_acc {format_metric(self.val_acc)})"
        return (
            f"kept the final epoch {self.kept_epoch} (val_acc {format_metric(kept_val_acc)}; "
            f"best by {self.monitor}: epoch {self.epoch})"
        )

    def restore(self, model: AslModel) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "value": self.value,
            "epoch": self.epoch,
            "val_acc": self.val_acc,
            "val_loss": self.val_loss,
            "kept_epoch": self.kept_epoch,
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.value = data.get("value")
        self.epoch = int(data.get("epoch") or 0)
        self.val_acc = data.get("val_acc")
        self.val_loss = data.get("val_loss")
        self.kept_epoch = int(data.get("kept_epoch") or self.epoch)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def save_state(
    run_dir: Path,
    model: AslModel,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    best: BestTracker,
    info: dict[str, Any],
) -> list[str]:
    """state.safetensors (every tensor) + state.json (the rest); both atomic, no pickle.

    Returns [] when written. When a floating-point tensor holds NaN or infinity (a diverged
    run: a resume from it would train on NaN) nothing is written, so the state of the last
    finite epoch stays, and the names of those tensors are returned; the run then ends
    "crashed" when its checkpoint is refused for the same reason.
    """
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        tensors[f"model.{key}"] = value.detach().cpu().clone().contiguous()
    if best.state is not None:
        for key, value in best.state.items():
            tensors[f"best.{key}"] = value.detach().cpu().clone().contiguous()
    optim_state = optimizer.state_dict()
    optim_values: dict[str, dict[str, Any]] = {}
    for param_id, param_state in optim_state["state"].items():
        values: dict[str, Any] = {}
        for name, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{param_id}.{name}"] = value.detach().cpu().clone().contiguous()
                values[name] = "tensor"
            else:
                values[name] = value
        optim_values[str(param_id)] = values
    if bad := non_finite_tensors(tensors):
        return bad
    tensors["rng.torch"] = torch.get_rng_state()
    payload = {
        **info,
        "best": best.to_json(),
        "optimizer": {"param_groups": optim_state["param_groups"], "state": optim_values},
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"python": random.getstate(), "numpy": np.random.get_state()},
        "saved_at": now_iso(),
    }
    weights = run_dir / STATE_WEIGHTS_FILE
    tmp = weights.with_name(f".{weights.name}.tmp")
    with interrupts_deferred():  # never the weights of one epoch beside the json of another
        save_file(tensors, str(tmp))
        os.replace(tmp, weights)
        atomic_write_json(run_dir / STATE_META_FILE, _json_safe(payload))
    return []


@dataclass
class ResumeState:
    info: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @classmethod
    def read(cls, run_dir: Path) -> ResumeState:
        meta, weights = run_dir / STATE_META_FILE, run_dir / STATE_WEIGHTS_FILE
        if not meta.is_file() or not weights.is_file():
            raise ResumeError(
                f"{run_dir.name} has no resume state ({STATE_META_FILE} + "
                f"{STATE_WEIGHTS_FILE}): it stopped before its first epoch finished, or its "
                "weights were NaN from the first epoch on (training diverged); start it again "
                "instead (with a lower learning rate if it diverged)"
            )
        return cls(json.loads(meta.read_text(encoding="utf-8")), load_file(str(weights)))

    def refuse_if_finished(self, run_dir: Path, config: Any, phases: Sequence[Any]) -> None:
        """Raise ResumeError when the run's summary says it ended (finished or stopped early)
        and no epoch of `phases` (optim.Phase: name, epochs) is left to train: a resume that
        would only re-test the kept weights. The loop of `fit` counts epochs the same way (a
        phase that stopped early counts as done). A run that crashed after its last epoch
        (during the test) is not refused: the resume finishes it. Whatever its status, a
        config asking fewer epochs (of the phase it is in) than the run already did is refused:
        it would rewrite config.json and report a run longer than it says as finished."""
        start, phase_epoch, done = (
            int(self.info[k]) for k in ("phase_index", "phase_epoch", "epoch")
        )
        if start < len(phases) and phase_epoch > phases[start].epochs:
            phase = phases[start]
            key = "epochs" if phase.name in ("full", "head") else "stage_epochs"
            where = "" if len(phases) == 1 else f" in its {phase.name} phase"
            raise ResumeError(
                f"{run_dir.name} already did {phase_epoch} epoch{'s' * (phase_epoch != 1)}"
                f"{where}, more than {key}={phase.epochs} asks: to resume it, --set {key}=M "
                f"with M above {phase_epoch} (or leave {key} as the run recorded it)"
            )
        summary = run_dir / SUMMARY_FILE
        status = json.loads(summary.read_text(encoding="utf-8")).get("status") if (
            summary.is_file()) else None  # fmt: skip
        if status not in ("finished", "stopped_early"):
            return
        early = config.early_stopping
        left = 0
        for index in range(start, len(phases)):
            phase = phases[index]
            trained = phase_epoch if index == start else 0
            stops_early = early.enabled or phase.name not in ("full", "head")
            if index == start and stops_early and int(self.info["bad_epochs"]) >= early.patience:
                trained = phase.epochs
            left += max(0, phase.epochs - trained)
        if left > 0:
            return
        if len(phases) > 1 or phases[-1].name != "full":
            more = (f"start a new run from it with --init-checkpoint "
                    f"{run_dir}/checkpoint.json")  # fmt: skip
        else:
            more = f"--set epochs=M with M above {done} (e.g. epochs={2 * done})"
            if status == "stopped_early":
                more += f" and a patience above {early.patience} (early stopping ended it)"
        ended = "stopped early after" if status == "stopped_early" else "finished all"
        raise ResumeError(
            f"{run_dir.name} already {ended} {done} epoch{'s' * (done != 1)}: nothing to resume; "
            f"to train longer, {more}"
        )

    def prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def restore_model(self, model: AslModel, best: BestTracker) -> None:
        model.load_state_dict(self.prefixed("model."))
        best.load_json(self.info.get("best", {}))
        best_state = self.prefixed("best.")
        best.state = best_state or None

    def restore_optimizer(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        saved = self.info["optimizer"]
        state: dict[int, dict[str, Any]] = {}
        for param_id, values in saved["state"].items():
            state[int(param_id)] = {
                name: self.tensors[f"optim.{param_id}.{name}"] if value == "tensor" else value
                for name, value in values.items()
            }
        groups = [
            {k: _to_tuple(v) if k == "betas" else v for k, v in group.items()}
            for group in saved["param_groups"]
        ]
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        if scheduler is not None and self.info.get("scheduler"):
            saved_scheduler = dict(self.info["scheduler"])
            if "T_max" in saved_scheduler:  # a longer phase on resume keeps its new length
                saved_scheduler["T_max"] = scheduler.T_max
            scheduler.load_state_dict(saved_scheduler)

    def restore_rng(self) -> None:
        rng = self.info.get("rng") or {}
        if "python" in rng:
            random.setstate(_to_tuple(rng["python"]))
        if "numpy" in rng:
            kind, keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        if "rng.torch" in self.tensors:
            torch.set_rng_state(self.tensors["rng.torch"])


@dataclass
class RunResult:
    """What `fit` returns (on every process)."""

    run_dir: Path
    run_name: str
    status: str
    epochs_done: int
    best_epoch: int
    best_val_acc: float | None
    best_val_loss: float | None
    test: dict[str, Any]
    history: list[dict[str, Any]]
    checkpoint: Path | None
    no_hand: dict[str, Any]
    class_names: list[str]
