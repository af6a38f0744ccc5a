"""Training runs, read from the run folders training writes (offline) or from a W&B project
(online), as one `Run` shape that the runs page browses, plots and compares.

A local run folder (see `asl_core.training`) holds `config.json`, `metrics.jsonl` (one line per
finished epoch), `summary.json`, `confusion/epoch_NNN.json` and `confusion/test.json`,
`report.json` (per-class scores on the test split), `checkpoint.safetensors` +
`checkpoint.json`, and possibly `wandb/offline-run-*/` (W&B's own offline copy). Runs of a grid
search or k-fold may sit one level deeper, in a group folder. Every file is optional: a run is
listed with whatever it has, and what is wrong becomes a sentence in `Run.problems`. One broken
run never breaks the list.

Status rule (`resolve_status`):
- `summary.json` says finished / stopped_early / crashed: that status.
- It says running: the run is running while something was written recently, i.e. the newest
  of `summary.updated_at` and the mtimes of `summary.json` / `metrics.jsonl` is younger than
  `max(STALE_AFTER_S, STALE_EPOCH_FACTOR x the longest epoch seen)`. Older than that, or the
  summary names a pid on this host that no longer exists, the process died without saying so:
  "incomplete", with a sentence saying since when nothing was written.
- `summary.json` missing, unreadable or with an unknown status: "incomplete".
- `metrics.jsonl` ending in a truncated line: the good lines are kept; a run that is not
  running any more is flagged and shown "incomplete" (a crash mid-write), while a running run
  is simply being written to and is not flagged.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from asl_core.processes import pid_alive

STATUSES: tuple[str, ...] = ("running", "finished", "crashed", "stopped_early", "incomplete")
# A run whose summary says "running" but that wrote nothing for this long has died silently.
STALE_AFTER_S = 3600.0
# ...unless its epochs are slow: then wait this many of its longest epoch before saying so.
STALE_EPOCH_FACTOR = 3.0
MAX_DEPTH = 3
RUN_MARKERS: tuple[str, ...] = ("config.json", "metrics.jsonl")
# Files read when listing; their (mtime, size) decide whether a cached parse is still good.
LISTED_FILES: tuple[str, ...] = (
    "config.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.json",
    "checkpoint.safetensors",
)
# Folders that are never runs and never hold runs.
SKIPPED_FOLDERS = frozenset({"wandb", "confusion", "__pycache__", "node_modules"})
# Files beside the runs of a group that describe the group (grid search, k-fold).
GROUP_SUMMARY_FILES: tuple[str, ...] = ("sweep.json", "group.json", "kfold.json", "summary.json")
# Config keys (or dotted prefixes) that differ between any two runs and say nothing about the
# training recipe: names, paths, the command line, feature-extraction timings.
VOLATILE_CONFIG_KEYS: tuple[str, ...] = (
    "started_at",
    "run_name",
    "run_dir",
    "out_dir",
    "runs_dir",
    "hostname",
    "pid",
    "command",
    "extraction",
)
# Keys training records about the data and the machine rather than sets: shown when comparing
# runs, left out of a group's table of what varies (which is about the settings).
RECORD_CONFIG_KEYS: tuple[str, ...] = (
    "split.counts",
    "split.signers",
    "split.datasets",
    "split.classes",
    "split.unknown_signer_in_train",
    "no_hand",
    "sources",
    "selection",
    "augmentation_applied",
    "phases",
    "class_names",
    "num_classes",
    "input_spec",
    "pretrained_loaded",
    "pipeline_version",
    "world_size",
    "device",
    "torch_version",
    "git_commit",
)
# Summary keys holding accuracy on signers the model never saw (leave-one-signer-out).
UNSEEN_SIGNER_KEYS: tuple[str, ...] = (
    "unseen_signer_acc",
    "test_unseen_signer_acc",
    "loso_acc",
    "mean_unseen_signer_acc",
)
WANDB_LOGIN_HELP = (
    "Browsing a W&B project needs a W&B account and an API key on this machine: run "
    "`wandb login` in a terminal, or start the app with `WANDB_API_KEY=<your key>` "
    "(https://wandb.ai/authorize shows the key). Local runs need neither."
)
# W&B run states (wandb.apis.public.Run.state) as ours.
WANDB_STATES: dict[str, str] = {
    "running": "running",
    "pending": "running",
    "preempting": "running",
    "finished": "finished",
    "crashed": "crashed",
    "failed": "crashed",
    "killed": "incomplete",
    "preempted": "incomplete",
}

# Shown for a value a run does not have.
MISSING = "—"

T = TypeVar("T")


class RunSourceError(RuntimeError):
    """A source of runs that cannot be read at all; the message is meant for the user."""


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


class _RunDetails(Protocol):
    """What a run loads only when asked (confusion matrices, the per-class report)."""

    def confusion_epochs(self) -> list[int | str]: ...

    def confusion(self, epoch: int | str) -> Confusion | None: ...

    def report(self) -> pd.DataFrame | None: ...


@dataclass(eq=False)
class Run:
    """One training run, local or from W&B. Everything but `id`, `name` and `source` may be
    empty; `problems` says in words what is missing or broken."""

    id: str
    name: str
    source: str  # "local" | "wandb"
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"epoch": []}))
    summary: dict[str, Any] = field(default_factory=dict)
    status: str = "incomplete"
    problems: list[str] = field(default_factory=list)
    group: str | None = None
    model: str | None = None
    split: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    checkpoint: Path | None = None
    details: _RunDetails | None = field(default=None, repr=False)

    @property
    def epochs(self) -> int:
        done = _number(self.summary.get("epochs_done"))
        return max(len(self.history), int(done) if done is not None else 0)

    @property
    def best_val_acc(self) -> float | None:
        value = _number(self.summary.get("best_val_acc"))
        return value if value is not None else _column_max(self.history, "val_acc")

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
        return bool(self.problems) or self.status in ("crashed", "incomplete")

    def confusion_epochs(self) -> list[int | str]:
        """Epochs with a confusion matrix, ascending, then "test" when there is one."""
        return self._ask("list the confusion matrices", lambda d: d.confusion_epochs(), [])

    def confusion(self, epoch: int | str) -> Confusion | None:
        """(labels, matrix) of an epoch's validation confusion matrix, or "test"."""
        return self._ask(f"read the confusion matrix of {epoch}", lambda d: d.confusion(epoch))

    def report(self) -> pd.DataFrame | None:
        """Per-class precision, recall, f1 and support on the test split (index = class)."""
        return self._ask("read the per-class report", lambda d: d.report())

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


# ---------------------------------------------------------------------------- small helpers


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, text, a dict)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _column_max(frame: pd.DataFrame, column: str) -> float | None:
    if column not in frame.columns:
        return None
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    return float(values.max()) if len(values) else None


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


# -------------------------------------------------------------------------- reading metrics


@dataclass
class ParsedMetrics:
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


def history_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per epoch; `epoch` numbered 1.. when the records lack it."""
    frame = pd.DataFrame.from_records([dict(record) for record in records])
    if frame.empty:
        return pd.DataFrame({"epoch": pd.Series(dtype="int64")})
    if "epoch" not in frame.columns:
        frame.insert(0, "epoch", range(1, len(frame) + 1))
    frame["epoch"] = pd.to_numeric(frame["epoch"], errors="coerce")
    return frame.reset_index(drop=True)


# ------------------------------------------------------------------------ local run folders


def discover_run_folders(runs_dir: Path, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Folders under `runs_dir` (depth 1..max_depth) holding config.json or metrics.jsonl,
    or `runs_dir` itself when it is such a folder.

    A run folder is not searched further (its `wandb/` and `confusion/` are its own).
    """
    found: list[Path] = []

    def visit(folder: Path, depth: int) -> None:
        try:
            children = sorted(entry for entry in folder.iterdir() if entry.is_dir())
        except OSError:
            return
        for child in children:
            if child.name.startswith(".") or child.name in SKIPPED_FOLDERS:
                continue
            if any((child / marker).is_file() for marker in RUN_MARKERS):
                found.append(child)
            elif depth < max_depth:
                visit(child, depth + 1)

    if any((runs_dir / marker).is_file() for marker in RUN_MARKERS):
        return [runs_dir]  # pointed at one run folder: that run
    if runs_dir.is_dir():
        visit(runs_dir, 1)
    return found


def _stat_signature(folder: Path, names: Iterable[str]) -> tuple[tuple[str, int, int], ...]:
    signature = []
    for name in names:
        try:
            stat = (folder / name).stat()
        except OSError:
            signature.append((name, -1, -1))
        else:
            signature.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def _read_text(path: Path) -> str:
    """Every file this module parses is read here (tests count the calls)."""
    return path.read_bytes().decode("utf-8", errors="replace")


def _read_json_file(path: Path) -> Any:
    return json.loads(_read_text(path))


@dataclass
class _ParsedFolder:
    """What listing reads from a run folder; cached until one of LISTED_FILES changes."""

    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    metrics: ParsedMetrics = field(default_factory=lambda: ParsedMetrics([], False, []))
    problems: list[str] = field(default_factory=list)
    checkpoint: Path | None = None
    checkpoint_architecture: str | None = None
    last_write: float | None = None  # newest mtime of summary.json / metrics.jsonl


# folder -> (file signature, parse). Module-level so every page rerun in the process shares it.
_FOLDER_CACHE: dict[Path, tuple[tuple[tuple[str, int, int], ...], _ParsedFolder]] = {}
_DETAILS_CACHE: dict[Path, LocalRunDetails] = {}


def clear_cache() -> None:
    _FOLDER_CACHE.clear()
    _DETAILS_CACHE.clear()


def _local_details(folder: Path) -> LocalRunDetails:
    # One per folder for the process: what it read stays cached across page reruns.
    details = _DETAILS_CACHE.get(folder)
    if details is None:
        details = _DETAILS_CACHE[folder] = LocalRunDetails(folder)
    return details


def _parse_folder_cached(folder: Path) -> _ParsedFolder:
    signature = _stat_signature(folder, LISTED_FILES)
    cached = _FOLDER_CACHE.get(folder)
    if cached is not None and cached[0] == signature:
        return cached[1]
    parsed = _parse_folder(folder)
    _FOLDER_CACHE[folder] = (signature, parsed)
    return parsed


def _read_json_object(path: Path, problems: list[str], *, required: bool) -> dict | None:
    if not path.is_file():
        if required:
            problems.append(f"{path.name} is missing")
        return None
    try:
        value = _read_json_file(path)
    except ValueError as error:
        problems.append(f"{path.name} is corrupted: {_describe(error)}")
        return None
    except OSError as error:
        problems.append(f"{path.name} cannot be read: {_describe(error)}")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path.name} does not hold a JSON object")
        return None
    return value


def _parse_folder(folder: Path) -> _ParsedFolder:
    parsed = _ParsedFolder()
    problems = parsed.problems
    parsed.config = _read_json_object(folder / "config.json", problems, required=True) or {}
    parsed.summary = _read_json_object(folder / "summary.json", problems, required=True)
    metrics_path = folder / "metrics.jsonl"
    if metrics_path.is_file():
        try:
            parsed.metrics = parse_metrics(_read_text(metrics_path))
        except OSError as error:
            problems.append(f"metrics.jsonl cannot be read: {_describe(error)}")
        if parsed.metrics.bad_lines:
            lines = ", ".join(map(str, parsed.metrics.bad_lines[:5]))
            problems.append(f"metrics.jsonl has unreadable lines (skipped): {lines}")
    else:
        problems.append("metrics.jsonl is missing (no epoch finished)")
    parsed.checkpoint, parsed.checkpoint_architecture = _find_checkpoint(folder, problems)
    mtimes = [_mtime(folder / name) for name in ("summary.json", "metrics.jsonl")]
    parsed.last_write = max((m for m in mtimes if m is not None), default=None)
    return parsed


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _find_checkpoint(folder: Path, problems: list[str]) -> tuple[Path | None, str | None]:
    """The run's checkpoint (weights path) and architecture, checked through read_meta."""
    meta_path = folder / "checkpoint.json"
    weights_path = folder / "checkpoint.safetensors"
    if not meta_path.exists():
        if weights_path.exists():
            problems.append("checkpoint.safetensors has no checkpoint.json beside it")
        return None, None
    from asl_core.checkpoint import read_meta  # imports torch: only when a run has one

    try:
        meta = read_meta(meta_path)
    except Exception as error:
        problems.append(f"checkpoint.json is corrupted: {_describe(error)}")
        return None, None
    if not weights_path.is_file():
        problems.append("checkpoint.json is there but checkpoint.safetensors is missing")
        return None, meta.architecture
    return weights_path, meta.architecture


def resolve_status(
    summary: Mapping[str, Any] | None,
    *,
    last_write: float | None,
    longest_epoch_s: float | None,
    now: float,
) -> tuple[str, list[str]]:
    """Our status and the sentences explaining it (see the module docstring)."""
    if summary is None:
        return "incomplete", []
    status = summary.get("status")
    if status in ("finished", "stopped_early"):
        return str(status), []
    if status == "crashed":
        error = summary.get("error")
        epochs = summary.get("epochs_done")
        after = f" after {epochs} epochs" if isinstance(epochs, int) else ""
        return "crashed", [f"training crashed{after}" + (f": {error}" if error else "")]
    if status != "running":
        return "incomplete", [f"summary.json has an unknown status {status!r}"]
    updated = _parse_time(summary.get("updated_at"))
    latest = max(
        [t for t in (updated.timestamp() if updated else None, last_write) if t is not None],
        default=None,
    )
    patience = max(STALE_AFTER_S, STALE_EPOCH_FACTOR * (longest_epoch_s or 0.0))
    if _process_gone(summary):
        return "incomplete", [
            f"summary.json says running but its process (pid {summary['pid']}) is gone"
        ]
    if latest is not None and now - latest > patience:
        since = datetime.fromtimestamp(latest).strftime("%Y-%m-%d %H:%M")
        return "incomplete", [
            f"summary.json says running but nothing was written for "
            f"{format_duration(now - latest)} (since {since}): the training process probably "
            "stopped without finishing"
        ]
    return "running", []


def _build_local_run(folder: Path, runs_dir: Path, parsed: _ParsedFolder, now: float) -> Run:
    config, summary = parsed.config, parsed.summary
    history = history_frame(parsed.metrics.records)
    longest_epoch = _column_max(history, "epoch_time_s")
    status, status_problems = resolve_status(
        summary, last_write=parsed.last_write, longest_epoch_s=longest_epoch, now=now
    )
    problems = [*parsed.problems, *status_problems]
    if parsed.metrics.truncated and status != "running":
        # A running run may be mid-line; one that stopped left half a line: it crashed there.
        problems.append(f"metrics.jsonl ends with a truncated line (kept {len(history)} epochs)")
        if status in ("finished", "stopped_early"):
            status = "incomplete"
    summary = dict(summary or {})
    started = (
        _parse_time(config.get("started_at"))
        or _parse_time(summary.get("started_at"))
        or _time_from_name(folder.name)
    )
    run = Run(
        id=_run_id(folder, runs_dir),
        name=folder.name,
        source="local",
        path=folder,
        config=dict(config),
        history=history,
        summary=summary,
        status=status,
        problems=problems,
        group=_group_name(config, folder, runs_dir),
        model=_model_name(config) or parsed.checkpoint_architecture,
        split=_split_name(config),
        started_at=started,
        checkpoint=parsed.checkpoint,
        details=_local_details(folder),
    )
    run.duration_s = _duration(run, now)
    return run


def _run_id(folder: Path, runs_dir: Path) -> str:
    if folder != runs_dir and folder.is_relative_to(runs_dir):
        return folder.relative_to(runs_dir).as_posix()
    return folder.name


def _group_name(config: Mapping[str, Any], folder: Path, runs_dir: Path) -> str | None:
    group = config.get("group")
    if group not in (None, ""):
        return str(group)
    parent = folder.parent
    if parent != runs_dir and parent.is_relative_to(runs_dir):
        return parent.relative_to(runs_dir).as_posix()
    return None


def _duration(run: Run, now: float) -> float | None:
    recorded = _number(run.summary.get("duration_s"))
    if recorded is not None:
        return recorded
    if run.status == "running" and run.started_at is not None:
        return max(0.0, now - run.started_at.timestamp())
    if "epoch_time_s" in run.history.columns:
        total = pd.to_numeric(run.history["epoch_time_s"], errors="coerce").sum()
        return float(total) if total > 0 else None
    return None


def load_local_run(folder: Path, runs_dir: Path | None = None, now: float | None = None) -> Run:
    """One run folder as a Run; never raises (a failure becomes a problem sentence)."""
    folder = Path(folder)
    runs_dir = Path(runs_dir) if runs_dir is not None else folder.parent
    now = datetime.now(UTC).timestamp() if now is None else now
    try:
        return _build_local_run(folder, runs_dir, _parse_folder_cached(folder), now)
    except Exception as error:  # why: one broken run never breaks the list
        return Run(
            id=str(folder),
            name=folder.name,
            source="local",
            path=folder,
            status="incomplete",
            problems=[f"the run folder could not be read: {_describe(error)}"],
        )


class LocalRunDetails:
    """Confusion matrices and report of a local run, read on demand and cached by file stats."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[tuple[str, int, int], Any] = {}

    def _cached(self, path: Path, parse: Callable[[Path], T]) -> T:
        ((_, mtime, size),) = _stat_signature(path.parent, [path.name])
        key = (str(path), mtime, size)
        if key not in self._cache:
            self._cache[key] = parse(path)
        return self._cache[key]

    def _confusion_files(self) -> dict[int | str, Path]:
        folder = self.folder / "confusion"
        files: dict[int | str, Path] = {}
        if folder.is_dir():
            for path in folder.glob("*.json"):
                match = re.fullmatch(r"epoch_0*(\d+)\.json", path.name)
                if match:
                    files[int(match.group(1))] = path
                elif path.name == "test.json":
                    files["test"] = path
        return files

    def _wandb_tables(self) -> dict[int | str, Path]:
        # A resumed run has several W&B run folders; the newest holds the latest tables.
        for files in sorted((self.folder / "wandb").glob("*run-*/files"), reverse=True):
            tables = {p.relative_to(files).as_posix(): p for p in files.rglob("*.table.json")}
            if found := wandb_confusion_tables(tables):
                return found
        return {}

    def confusion_epochs(self) -> list[int | str]:
        return _epoch_order(self._confusion_files() or self._wandb_tables())

    def confusion(self, epoch: int | str) -> Confusion | None:
        epoch = _epoch_key(epoch)
        files = self._confusion_files()
        if files:
            path = files.get(epoch)
            return self._cached(path, _read_confusion_file) if path else None
        table = self._wandb_tables().get(epoch)
        if table is None:
            return None
        return self._cached(table, lambda path: confusion_from_wandb_table(_read_json_file(path)))

    def report(self) -> pd.DataFrame | None:
        path = self.folder / "report.json"
        if not path.is_file():
            return None
        return self._cached(path, lambda p: report_frame(_read_json_file(p)))


def _epoch_key(epoch: int | str) -> int | str:
    if isinstance(epoch, str) and epoch.strip().isdigit():
        return int(epoch)
    return epoch


def _epoch_order(keys: Iterable[int | str]) -> list[int | str]:
    keys = list(keys)
    numbers = sorted(key for key in keys if isinstance(key, int))
    return [*numbers, *sorted(key for key in keys if isinstance(key, str))]


def confusion_from_json(data: Any, name: str = "confusion matrix") -> Confusion:
    """A `{"labels": [...], "matrix": [[...]]}` object, checked to be square and numeric."""
    if not isinstance(data, dict) or "labels" not in data or "matrix" not in data:
        raise ValueError(f"{name} lacks labels or matrix")
    labels = [str(label) for label in data["labels"]]
    matrix = np.asarray(data["matrix"], dtype=float)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"{name}: the matrix is {matrix.shape} for {len(labels)} labels")
    if np.all(matrix == np.round(matrix)):
        matrix = matrix.astype(np.int64)
    no_hand = data.get("no_hand")
    if isinstance(no_hand, dict):
        no_hand = {str(k): int(v) for k, v in no_hand.items() if _number(v)}
    elif isinstance(no_hand, list) and len(no_hand) == len(labels):
        no_hand = {label: int(v) for label, v in zip(labels, no_hand, strict=True) if _number(v)}
    else:
        no_hand = {}
    return Confusion(labels, matrix, no_hand)


def _read_confusion_file(path: Path) -> Confusion:
    try:
        data = _read_json_file(path)
    except ValueError as error:
        raise ValueError(f"confusion/{path.name} is corrupted: {_describe(error)}") from None
    return confusion_from_json(data, f"confusion/{path.name}")


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
        raise ValueError("report.json does not hold a JSON object")
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


class LocalRunSource:
    """The runs under a folder (default `asl_core.settings.runs_dir()`)."""

    def __init__(self, runs_dir: str | os.PathLike[str]) -> None:
        self.runs_dir = Path(runs_dir).expanduser()

    def list_runs(self) -> list[Run]:
        """Every run folder as a Run, newest first; unreadable runs are listed with problems."""
        now = datetime.now(UTC).timestamp()
        root = self.runs_dir.resolve() if self.runs_dir.exists() else self.runs_dir
        runs = [load_local_run(folder, root, now) for folder in discover_run_folders(root)]
        return sort_runs(runs)

    def group_info(self, group: str) -> dict[str, Any] | None:
        """The group's own summary file (sweep.json, ...) when its runs share a folder."""
        folder = self.runs_dir / group
        for name in GROUP_SUMMARY_FILES:
            path = folder / name
            if path.is_file() and not (folder / "config.json").exists():
                try:
                    value = _read_json_file(path)
                except (OSError, ValueError):
                    continue
                if isinstance(value, dict):
                    return value
        return None

    @staticmethod
    def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
        return runs_table(runs)


def sort_runs(runs: Iterable[Run]) -> list[Run]:
    """Newest first; runs with no start time last, by name."""
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(runs, key=lambda run: (run.started_at or epoch, run.name), reverse=True)


# --------------------------------------------------------------------------- tables, helpers

RUNS_TABLE_COLUMNS: tuple[str, ...] = (
    "⚠",
    "name",
    "model",
    "split",
    "status",
    "epochs",
    "best val acc",
    "unseen-signer acc",
    "test acc",
    "started",
    "duration",
    "group",
    "problems",
)


def _local_naive(moment: datetime | None) -> pd.Timestamp | None:
    # Tables show local wall-clock time; one tz-less dtype keeps the column sortable.
    return pd.Timestamp(moment.astimezone().replace(tzinfo=None)) if moment else None


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run for the runs page (the first column flags runs with problems)."""
    rows = [
        {
            "⚠": "⚠️" if run.has_problems else "",
            "name": run.name,
            "model": run.model or "",
            "split": run.split or "",
            "status": run.status,
            "epochs": run.epochs,
            "best val acc": run.best_val_acc,
            "unseen-signer acc": run.unseen_signer_acc,
            "test acc": run.test_acc,
            "started": _local_naive(run.started_at),
            "duration": format_duration(run.duration_s),
            "group": run.group or "",
            "problems": len(run.problems),
        }
        for run in runs
    ]
    frame = pd.DataFrame(rows, columns=list(RUNS_TABLE_COLUMNS))
    for column in ("best val acc", "unseen-signer acc", "test acc"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["started"] = pd.to_datetime(frame["started"])
    return frame


def unique_labels(runs: Sequence[Run]) -> dict[str, Run]:
    """A label per run for pickers: its name, or `name (id)` where names repeat."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    return {(run.name if counts[run.name] == 1 else f"{run.name} ({run.id})"): run for run in runs}


def filter_runs(
    runs: Iterable[Run],
    *,
    models: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    group: str | None = None,
) -> list[Run]:
    """Runs matching every filter given (an empty selection means no filter)."""
    return [
        run
        for run in runs
        if (not models or (run.model or "") in models)
        and (not splits or (run.split or "") in splits)
        and (group is None or run.group == group)
    ]


def groups(runs: Iterable[Run]) -> dict[str, list[Run]]:
    """Runs by group (grid search, k-fold), groups in name order."""
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        if run.group:
            grouped.setdefault(run.group, []).append(run)
    return dict(sorted(grouped.items()))


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (`split.name`); lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _display_value(value: Any) -> str:
    # JSON spelling (null, true, [..]): what the config files themselves say.
    if isinstance(value, list | tuple | dict | bool) or value is None:
        return json.dumps(value, default=str)
    return str(value)


def _has_prefix(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in prefixes)


def hyperparameter_table(
    runs: Sequence[Run], *, settings_only: bool = False, include_volatile: bool = False
) -> pd.DataFrame:
    """Rows = flattened config keys, columns = runs (unique labels); values as text so mixed
    types display alike. A key a run lacks shows as "—". `settings_only` leaves out what
    training recorded about the data and machine (RECORD_CONFIG_KEYS)."""
    skipped = (() if include_volatile else VOLATILE_CONFIG_KEYS) + (
        RECORD_CONFIG_KEYS if settings_only else ()
    )
    flat = {
        label: {
            key: value
            for key, value in flatten_config(run.config).items()
            if not _has_prefix(key, skipped)
        }
        for label, run in unique_labels(runs).items()
    }
    keys = sorted({key for values in flat.values() for key in values})
    table = pd.DataFrame(
        {
            label: [_display_value(values[key]) if key in values else MISSING for key in keys]
            for label, values in flat.items()
        },
        index=pd.Index(keys, name="key"),
    )
    return table


def differing_keys(table: pd.DataFrame) -> list[str]:
    """Rows of a hyperparameter table whose value is not the same in every column."""
    if table.shape[1] < 2:
        return []
    return [str(key) for key, row in table.iterrows() if row.nunique(dropna=False) > 1]


def highlight_differences(table: pd.DataFrame, colour: str = "#fff3b0") -> Any:
    """A pandas Styler of the table with the differing rows highlighted."""
    differ = set(differing_keys(table))
    return table.style.apply(
        lambda row: [f"background-color: {colour}" if row.name in differ else ""] * len(row),
        axis=1,
    )


def group_table(runs: Sequence[Run]) -> pd.DataFrame:
    """A grid search or k-fold at a glance: one row per run, the config keys that vary across
    the group, then its scores; best validation accuracy first."""
    config = hyperparameter_table(runs, settings_only=True)
    varying = config.loc[differing_keys(config)].T
    scores = pd.DataFrame(
        {
            "best val acc": [run.best_val_acc for run in runs],
            "test acc": [run.test_acc for run in runs],
            "unseen-signer acc": [run.unseen_signer_acc for run in runs],
            "status": [run.status for run in runs],
        },
        index=varying.index,
        dtype=object,
    )
    table = pd.concat([varying, scores], axis=1)
    for column in ("best val acc", "test acc", "unseen-signer acc"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table = table.dropna(axis=1, how="all")
    table.index.name = "run"
    order = "best val acc" if "best val acc" in table.columns else None
    return table.sort_values(order, ascending=False) if order else table


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = float(np.mean(values))
    # Sample standard deviation, as k-fold results are reported; undefined for one run.
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, std


def kfold_summary(runs: Sequence[Run]) -> dict[str, Any]:
    """Mean and sample std over the runs of a group (folds or grid points) of best val acc,
    test acc and unseen-signer acc; each over the runs that measured it (`<metric>_n`)."""
    summary: dict[str, Any] = {"runs": len(runs)}
    for metric in ("best_val_acc", "test_acc", "unseen_signer_acc"):
        values = [v for v in (getattr(run, metric) for run in runs) if v is not None]
        mean, std = _mean_std(values)
        summary[f"{metric}_mean"], summary[f"{metric}_std"] = mean, std
        summary[f"{metric}_n"] = len(values)
    return summary


def format_mean_std(mean: float | None, std: float | None) -> str:
    """An accuracy's mean ± std as percentages: `81.2% ± 3.4%`."""
    if mean is None:
        return MISSING
    return f"{mean:.1%} ± {std:.1%}" if std is not None else f"{mean:.1%}"


def history_csv(run: Run) -> bytes:
    """The run's per-epoch metrics as CSV."""
    return run.history.to_csv(index=False).encode("utf-8")


# ----------------------------------------------------------------------------------- W&B


def wandb_credentials_available() -> bool:
    """Whether `wandb.Api()` can authenticate without prompting (key in env or netrc)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    try:
        from wandb.sdk.lib.wbauth.wbnetrc import read_netrc_auth

        return bool(read_netrc_auth(host=host))
    except Exception:  # wandb internals move between versions: read the netrc ourselves
        netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
        hostname = re.sub(r"^https?://", "", host).split("/")[0].split(":")[0]
        try:
            return hostname in netrc_path.read_text()
        except OSError:
            return False


_NETWORK_WORDS = (
    "connect",
    "max retries",
    "timed out",
    "timeout",
    "name or service",
    "resolve",
    "network",
    "unreachable",
    "ssl",
    "did not respond",
)
_AUTH_WORDS = ("401", "403", "unauthorized", "permission", "api key", "authentic")
_NOT_FOUND_WORDS = ("404", "not found", "could not find", "does not exist")


def _error_chain_text(error: BaseException) -> str:
    """The messages of an error and its causes (wandb wraps a timeout in an auth error)."""
    parts, seen, current = [], set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(parts).lower()


def friendly_wandb_error(error: BaseException, path: str) -> str:
    """A sentence for the user instead of a traceback."""
    text = _error_chain_text(error)
    # Network first: wandb reports an unreachable server as "error verifying the API key".
    if any(word in text for word in _NETWORK_WORDS):
        return (
            "Could not reach the W&B server: check the internet connection (or WANDB_BASE_URL). "
            "Local runs still work offline."
        )
    if any(word in text for word in _AUTH_WORDS):
        return f"W&B refused the credentials while reading {path}. {WANDB_LOGIN_HELP}"
    if any(word in text for word in _NOT_FOUND_WORDS):
        return (
            f"W&B has no project {path!r} visible to this account: check the entity (user or "
            "team name) and the project name."
        )
    return f"W&B could not list the runs of {path}: {_describe(error)}"


def normalise_metric_name(name: str) -> str:
    """`val/accuracy`, `Validation Accuracy`, `learning_rate` -> `val_acc`, `lr`."""
    key = re.sub(r"[/\s\-.]+", "_", name.strip()).lower()
    key = re.sub(r"^validation_", "val_", key)
    key = re.sub(r"accuracy$", "acc", key)
    return {"learning_rate": "lr", "epoch_time": "epoch_time_s", "f1_score": "f1"}.get(key, key)


def _is_media(value: Any) -> bool:
    return isinstance(value, dict) and "_type" in value


def wandb_history_frame(raw: Any) -> pd.DataFrame:
    """A W&B history (DataFrame or records with `_step`) as one row per epoch."""
    frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame.from_records(list(raw or []))
    if frame.empty:
        return history_frame([])
    media = [c for c in frame.columns if frame[c].map(_is_media).any()]
    internal = [c for c in frame.columns if str(c).startswith("_") and c != "_step"]
    frame = frame.drop(columns=media + internal)
    frame = frame.rename(columns=lambda c: c if c == "_step" else normalise_metric_name(str(c)))
    frame = frame.loc[:, ~frame.columns.duplicated()]
    metrics = [c for c in frame.columns if c not in ("_step", "epoch")]
    frame = frame.dropna(how="all", subset=metrics) if metrics else frame
    if "epoch" in frame.columns and frame["epoch"].notna().any():
        # Train and validation may be logged in separate calls: one row per epoch, last value.
        frame = frame[frame["epoch"].notna()].groupby("epoch", as_index=False, sort=True).last()
    else:
        frame = frame.sort_values("_step") if "_step" in frame.columns else frame
        frame.insert(0, "epoch", range(1, len(frame) + 1))
    return history_frame(frame.to_dict("records"))


def wandb_summary_dict(summary: Any) -> dict[str, Any]:
    """The plain values of a W&B run summary (`HTTPSummary._json_dict`), media left out.

    Keys logged as `test/acc` are also given under our local name (`test_acc`), so the same
    code reads both sources; an existing key of that name wins.
    """
    raw = getattr(summary, "_json_dict", None)
    if not isinstance(raw, Mapping):
        raw = dict(summary or {})
    plain = {str(k): v for k, v in raw.items() if not _is_media(v)}
    for key, value in list(plain.items()):
        if not key.startswith("_"):
            plain.setdefault(normalise_metric_name(key), value)
    return plain


def map_wandb_state(state: str | None, summary: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Our status for a W&B run state; our own summary status refines "finished"."""
    ours = WANDB_STATES.get(str(state).lower()) if state else None
    if ours is None:
        return "incomplete", [f"W&B reports an unknown run state {state!r}"]
    own = summary.get("status")
    if ours == "finished" and own in ("stopped_early", "crashed"):
        ours = str(own)
    if state in ("crashed", "failed", "killed", "preempted"):
        return ours, [f"W&B reports the run as {state}"]
    if ours == "crashed":
        return ours, ["training crashed (summary status)"]
    return ours, []


def _attempt(problems: list[str], what: str, read: Callable[[], T], default: T) -> T:
    try:
        value = read()
    except Exception as error:  # why: one broken run never breaks the list
        problems.append(f"could not read {what} from W&B: {_describe(error)}")
        return default
    return default if value is None else value


def run_from_wandb(api_run: Any) -> Run:
    """A `wandb.apis.public.Run` (or the same shape) as a Run; never raises."""
    problems: list[str] = []
    run_id = str(_attempt(problems, "the run id", lambda: api_run.id, "?"))
    name = str(_attempt(problems, "the run name", lambda: api_run.name, "") or run_id)
    config = _attempt(problems, "the config", lambda: dict(api_run.config), {})
    config = {k: v for k, v in config.items() if not str(k).startswith("_")}
    summary = _attempt(problems, "the summary", lambda: wandb_summary_dict(api_run.summary), {})
    history = _attempt(problems, "the history", lambda: _wandb_history(api_run), history_frame([]))
    state = _attempt(problems, "the state", lambda: api_run.state, None)
    status, state_problems = map_wandb_state(state, summary)
    group = getattr(api_run, "group", None) or config.get("group")
    started = _parse_wandb_time(getattr(api_run, "created_at", None)) or _parse_time(
        config.get("started_at")
    )
    duration = _number(summary.get("duration_s"))
    if duration is None:
        duration = _number(summary.get("_runtime"))
    return Run(
        id=run_id,
        name=name,
        source="wandb",
        config=config,
        history=history,
        summary=summary,
        status=status,
        problems=problems + state_problems,
        group=str(group) if group else None,
        model=_model_name(config),
        split=_split_name(config),
        started_at=started,
        duration_s=duration,
        details=WandbRunDetails(api_run),
    )


def _wandb_history(api_run: Any) -> pd.DataFrame:
    try:
        raw = api_run.history(samples=100_000, pandas=True)
    except Exception:
        raw = list(itertools.islice(api_run.scan_history(), 100_000))
    return wandb_history_frame(raw)


def _parse_wandb_time(value: Any) -> datetime | None:
    # W&B's createdAt is UTC without a zone suffix.
    if isinstance(value, str) and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip()):
        value = value.strip() + "+00:00"
    return _parse_time(value)


class WandbRunDetails:
    """Confusion tables and report of a W&B run, downloaded on demand into a temp folder."""

    def __init__(self, api_run: Any) -> None:
        self.api_run = api_run
        self._files: dict[str, Any] | None = None
        self._downloaded: dict[str, Any] = {}
        self._folder = Path(tempfile.gettempdir()) / "asl-wandb-files"

    def _all_files(self) -> dict[str, Any]:
        if self._files is None:
            self._files = {str(f.name): f for f in self.api_run.files()}
        return self._files

    def _json(self, name: str) -> Any:
        if name not in self._downloaded:
            folder = self._folder / re.sub(r"[^\w.-]", "_", str(self.api_run.id))
            file = self._all_files()[name]
            file.download(root=str(folder), replace=True)
            self._downloaded[name] = _read_json_file(folder / name)
        return self._downloaded[name]

    def confusion_epochs(self) -> list[int | str]:
        return _epoch_order(wandb_confusion_tables(self._all_files()))

    def confusion(self, epoch: int | str) -> Confusion | None:
        name = wandb_confusion_tables({n: n for n in self._all_files()}).get(_epoch_key(epoch))
        return confusion_from_wandb_table(self._json(name)) if name else None

    def report(self) -> pd.DataFrame | None:
        name = next((n for n in self._all_files() if n.rsplit("/", 1)[-1] == "report.json"), None)
        return report_frame(self._json(name)) if name else None


class WandbRunSource:
    """The runs of a W&B project, read through `wandb.Api()` (online, needs an API key)."""

    def __init__(
        self, entity: str | None, project: str, api: Any = None, *, limit: int = 500
    ) -> None:
        self.entity = (entity or "").strip()
        self.project = project.strip()
        self.api = api
        self.limit = limit

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}" if self.entity else self.project

    def _connect(self) -> Any:
        if self.api is not None:
            return self.api
        if not wandb_credentials_available():
            raise RunSourceError(f"No W&B API key found. {WANDB_LOGIN_HELP}")
        try:
            import wandb

            self.api = wandb.Api(timeout=20)
        except Exception as error:
            raise RunSourceError(friendly_wandb_error(error, self.path)) from None
        return self.api

    def list_runs(self) -> list[Run]:
        """Every run of the project (up to `limit`), newest first.

        Raises RunSourceError with a sentence for the user when W&B cannot be read at all.
        """
        if not self.project:
            raise RunSourceError("Enter a W&B project name.")
        api = self._connect()
        try:
            api_runs = list(itertools.islice(iter(api.runs(self.path)), self.limit))
        except Exception as error:
            raise RunSourceError(friendly_wandb_error(error, self.path)) from None
        return sort_runs(run_from_wandb(api_run) for api_run in api_runs)


def iter_problem_runs(runs: Iterable[Run]) -> Iterator[Run]:
    """Runs that need a warning (problems, crashed, incomplete)."""
    return (run for run in runs if run.has_problems)
