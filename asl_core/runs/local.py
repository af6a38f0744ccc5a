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

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from asl_core.runs.records import (
    Confusion,
    ParsedMetrics,
    Run,
    T,
    _column_max,
    _describe,
    _epoch_key,
    _epoch_order,
    _model_name,
    _number,
    _parse_time,
    _split_name,
    _time_from_name,
    confusion_from_json,
    confusion_from_wandb_table,
    history_frame,
    parse_metrics,
    report_frame,
    resolve_status,
    wandb_confusion_tables,
)
from asl_core.runs.tables import runs_table, sort_runs

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
    from asl_core.models.checkpoint import read_meta

    try:
        meta = read_meta(meta_path)
    except Exception as error:
        problems.append(f"checkpoint.json is corrupted: {_describe(error)}")
        return None, None
    if not weights_path.is_file():
        problems.append("checkpoint.json is there but checkpoint.safetensors is missing")
        return None, meta.architecture
    return weights_path, meta.architecture


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


def _read_confusion_file(path: Path) -> Confusion:
    try:
        data = _read_json_file(path)
    except ValueError as error:
        raise ValueError(f"confusion/{path.name} is corrupted: {_describe(error)}") from None
    return confusion_from_json(data, f"confusion/{path.name}")


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
