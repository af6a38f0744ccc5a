"""What a run is, to the Runs page: `Run`, its confusion matrices, metric history and report."""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from asl_core.io.files import pid_alive
from asl_core.runs.format import (
    CHECKPOINT_META_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    Confusion,
    RunStatus,
)

# A run whose summary says "running" but that wrote nothing for this long has died silently.
STALE_AFTER_S = 3600.0


# ...unless its epochs are slow: then wait this many of its longest epoch before saying so.
STALE_EPOCH_FACTOR = 3.0


# Summary keys holding accuracy on signers the model never saw (leave-one-signer-out).
UNSEEN_SIGNER_KEYS: tuple[str, ...] = (
    "unseen_signer_acc",
    "test_unseen_signer_acc",
    "loso_acc",
    "mean_unseen_signer_acc",
)


# Shown for a value a run does not have.
MISSING = "—"


T = TypeVar("T")


class RunSourceError(RuntimeError):
    """A source of runs that cannot be read at all; the message is meant for the user."""


class _RunDetails(Protocol):
    """What a run loads only when asked (confusion matrices, the per-class report, the
    checkpoint's metadata)."""

    def confusion_epochs(self) -> list[int | str]: ...

    def checkpoint_architecture(self) -> str | None:
        """The architecture the checkpoint's metadata names (None: no checkpoint); raises
        ValueError with the reason when the metadata is unusable."""
        ...

    def confusion(self, epoch: int | str) -> Confusion | None: ...

    def report(self) -> pd.DataFrame | None: ...


@dataclass(eq=False)
class Run:
    """One training run, local or from W&B. Everything but `id`, `name` and `source` may be
    empty; `problems` says in words what is missing or broken.

    `metrics` holds the per-epoch rows (metrics.jsonl, or W&B's history); `history` is them as
    a DataFrame, built on first use: a listing of thousands of runs never builds one.
    """

    id: str
    name: str
    source: str  # "local" | "wandb"
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list, repr=False)
    summary: dict[str, Any] = field(default_factory=dict)
    status: str = RunStatus.INCOMPLETE
    problems: list[str] = field(default_factory=list)
    group: str | None = None
    model: str | None = None
    split: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    checkpoint: Path | None = None
    details: _RunDetails | None = field(default=None, repr=False)

    @cached_property
    def history(self) -> pd.DataFrame:
        """One row per epoch (`history_frame` of `metrics`)."""
        return history_frame(self.metrics)

    @property
    def epochs(self) -> int:
        done = _number(self.summary.get("epochs_done"))
        return max(len(self.metrics), int(done) if done is not None else 0)

    @property
    def best_val_acc(self) -> float | None:
        value = _number(self.summary.get("best_val_acc"))
        return value if value is not None else metric_max(self.metrics, "val_acc")

    @property
    def test_acc(self) -> float | None:
        return _number(self.summary.get("test_acc"))

    @property
    def unseen_signer_acc(self) -> float | None:
        """Accuracy on signers absent from training, where the run measured it."""
        for key in UNSEEN_SIGNER_KEYS:
            value = _number(self.summary.get(key))
            if value is not None:
                return value
        return self.test_acc if self.split == "loso" else None

    @property
    def has_problems(self) -> bool:
        unfinished = (RunStatus.CRASHED, RunStatus.INTERRUPTED, RunStatus.INCOMPLETE)
        return bool(self.problems) or self.status in unfinished

    def confusion_epochs(self) -> list[int | str]:
        """Epochs with a confusion matrix, ascending, then "test" when there is one."""
        return self._ask("list the confusion matrices", lambda d: d.confusion_epochs(), [])

    def confusion(self, epoch: int | str) -> Confusion | None:
        """(labels, matrix) of an epoch's validation confusion matrix, or "test"."""
        return self._ask(f"read the confusion matrix of {epoch}", lambda d: d.confusion(epoch))

    def report(self) -> pd.DataFrame | None:
        """Per-class precision, recall, f1 and support on the test split (index = class)."""
        return self._ask("read the per-class report", lambda d: d.report())

    def checked_checkpoint(self) -> Path | None:
        """`checkpoint` once its metadata has been read and validated, which listing does not
        do (it would cost a JSON parse per run, and torch); None, with a problem sentence,
        when the metadata is unusable."""
        if self.checkpoint is None or self.details is None:
            return self.checkpoint
        try:
            architecture = self.details.checkpoint_architecture()
        except Exception as error:
            self._note(f"{CHECKPOINT_META_FILE} is corrupted: {_describe(error)}")
            self.checkpoint = None
            return None
        self.model = self.model or architecture
        return self.checkpoint

    def _ask(self, what: str, read: Callable[[_RunDetails], T], default: T = None) -> T:
        # A broken file met lazily becomes a problem sentence, like those met when listing.
        if self.details is None:
            return default
        try:
            return read(self.details)
        except Exception as error:
            self._note(f"could not {what}: {_describe(error)}")
            return default

    def _note(self, sentence: str) -> None:
        if sentence not in self.problems:
            self.problems.append(sentence)


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, text, a dict)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metric_max(rows: Iterable[Mapping[str, Any]], key: str) -> float | None:
    """The largest finite number under `key` in the rows, or None (no DataFrame: listing
    thousands of runs calls this per run)."""
    values = [value for row in rows if (value := _number(row.get(key))) is not None]
    return max(values) if values else None


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO text or a Unix time; naive text is taken as local time."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the machine's local zone
    return parsed.astimezone(UTC)


def _time_from_name(name: str) -> datetime | None:
    # Run folders are named `YYYYMMDD-HHMMSS-...` in local time.
    match = re.match(r"(\d{8})-(\d{6})", name)
    if not match:
        return None
    try:
        naive = datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return naive.astimezone().astimezone(UTC)


def format_duration(seconds: float | None) -> str:
    """`42 s`, `3 min 5 s`, `2 h 10 min`; empty when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _model_name(config: Mapping[str, Any]) -> str | None:
    model = config.get("model")
    if isinstance(model, Mapping):  # {"name": ..., ...} in some configs
        model = model.get("name")
    return str(model) if model not in (None, "") else None


def _split_name(config: Mapping[str, Any]) -> str | None:
    split = config.get("split")
    if isinstance(split, Mapping):
        split = split.get("name")
    return str(split) if split not in (None, "") else None


def _process_gone(summary: Mapping[str, Any]) -> bool:
    """True only when the summary names a process on this machine that no longer exists."""
    pid, host = summary.get("pid"), summary.get("hostname") or summary.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or host != socket.gethostname():
        return False
    return not pid_alive(pid)


def history_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per epoch; `epoch` numbered 1.. when the records lack it."""
    frame = pd.DataFrame.from_records([dict(record) for record in records])
    if frame.empty:
        return pd.DataFrame({"epoch": pd.Series(dtype="int64")})
    if "epoch" not in frame.columns:
        frame.insert(0, "epoch", range(1, len(frame) + 1))
    frame["epoch"] = pd.to_numeric(frame["epoch"], errors="coerce")
    return frame.reset_index(drop=True)


def _interrupted(summary: Mapping[str, Any]) -> str:
    epochs = summary.get("epochs_done")
    kept = f", {epochs} finished epochs kept" if isinstance(epochs, int) else ""
    command = summary.get("resume_command")
    return f"training was interrupted (Ctrl-C){kept}" + (
        f"; continue with: {command}" if command else "; nothing to resume"
    )


def resolve_status(
    summary: Mapping[str, Any] | None,
    *,
    last_write: float | None,
    longest_epoch_s: float | None,
    now: float,
) -> tuple[str, list[str]]:
    """Our status and the sentences explaining it (see `asl_core.runs.local`'s docstring):
    one of the statuses summary.json can hold, or "incomplete" inferred here."""
    if summary is None:
        return RunStatus.INCOMPLETE, []
    status = summary.get("status")
    if status in (RunStatus.FINISHED, RunStatus.STOPPED_EARLY):
        return RunStatus(status), []
    if status == RunStatus.CRASHED:
        error = summary.get("error")
        epochs = summary.get("epochs_done")
        after = f" after {epochs} epochs" if isinstance(epochs, int) else ""
        return RunStatus.CRASHED, [f"training crashed{after}" + (f": {error}" if error else "")]
    if status == RunStatus.INTERRUPTED:
        return RunStatus.INTERRUPTED, [_interrupted(summary)]
    if status != RunStatus.RUNNING:
        return RunStatus.INCOMPLETE, [f"{SUMMARY_FILE} has an unknown status {status!r}"]
    updated = _parse_time(summary.get("updated_at"))
    latest = max(
        [t for t in (updated.timestamp() if updated else None, last_write) if t is not None],
        default=None,
    )
    patience = max(STALE_AFTER_S, STALE_EPOCH_FACTOR * (longest_epoch_s or 0.0))
    if _process_gone(summary):
        return RunStatus.INCOMPLETE, [
            f"{SUMMARY_FILE} says running but its process (pid {summary['pid']}) is gone"
        ]
    if latest is not None and now - latest > patience:
        since = datetime.fromtimestamp(latest).strftime("%Y-%m-%d %H:%M")
        return RunStatus.INCOMPLETE, [
            f"{SUMMARY_FILE} says running but nothing was written for "
            f"{format_duration(now - latest)} (since {since}): the training process probably "
            "stopped without finishing"
        ]
    return RunStatus.RUNNING, []


def _epoch_key(epoch: int | str) -> int | str:
    if isinstance(epoch, str) and epoch.strip().isdigit():
        return int(epoch)
    return epoch


def _epoch_order(keys: Iterable[int | str]) -> list[int | str]:
    keys = list(keys)
    numbers = sorted(key for key in keys if isinstance(key, int))
    return [*numbers, *sorted(key for key in keys if isinstance(key, str))]


def confusion_from_wandb_table(table: Any) -> Confusion | None:
    """The matrix in a W&B confusion-matrix table (`wandb.plot.confusion_matrix`'s columns
    Actual / Predicted / nPredictions); None when the table is something else."""
    if not isinstance(table, dict) or "columns" not in table or "data" not in table:
        return None
    columns = [str(column).lower() for column in table["columns"]]

    def index(*names: str) -> int | None:
        return next((columns.index(name) for name in names if name in columns), None)

    actual = index("actual", "y_true", "true", "label")
    predicted = index("predicted", "y_pred", "pred", "prediction")
    count = index("npredictions", "count", "n")
    if actual is None or predicted is None or count is None:
        return None
    rows = table["data"]
    # wandb writes the cells class by class, so first appearance keeps the class order.
    labels = list(dict.fromkeys(str(v) for row in rows for v in (row[actual], row[predicted])))
    position = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for row in rows:
        matrix[position[str(row[actual])], position[str(row[predicted])]] += int(row[count] or 0)
    return Confusion(labels, matrix)


def wandb_confusion_tables(files: Mapping[str, T]) -> dict[int | str, T]:
    """Confusion-matrix tables among W&B media files, named by their path in the run's files
    (`media/table/val/confusion_matrix_table_<n>_<hash>.table.json`).

    Validation tables are numbered 1.. in the order of `<n>` (one per epoch); a table whose key
    has a `test` part is the test split.
    """
    numbered: list[tuple[int, str]] = []
    found: dict[int | str, T] = {}
    for name in files:
        if not name.endswith(".table.json") or "confusion" not in name.lower():
            continue
        match = re.match(r"(.*)_(\d+)_[0-9a-f]+\.table\.json$", name)
        key, order = (match.group(1), int(match.group(2))) if match else (name, 0)
        if re.search(r"(^|[/_])test([/_]|$)", key.lower()):
            found["test"] = files[name]
        else:
            numbered.append((order, name))
    for epoch, (_, name) in enumerate(sorted(numbered), start=1):
        found[epoch] = files[name]
    return found


# Aggregate rows of an sklearn-style classification report, not classes.
_REPORT_AGGREGATES = frozenset({"accuracy", "macro avg", "weighted avg", "micro avg"})


def report_frame(data: Any) -> pd.DataFrame | None:
    """report.json (`{label: {precision, recall, f1, support}}`) as a DataFrame, one row per
    class; sklearn's `f1-score` is read as `f1` and its average rows are left out."""
    if not isinstance(data, dict):
        raise ValueError(f"{REPORT_FILE} does not hold a JSON object")
    rows = {
        str(label): {str(k).replace("f1-score", "f1"): v for k, v in scores.items()}
        for label, scores in data.items()
        if isinstance(scores, dict) and str(label).lower() not in _REPORT_AGGREGATES
    }
    if not rows:
        return None
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "class"
    return frame.apply(pd.to_numeric, errors="coerce")
