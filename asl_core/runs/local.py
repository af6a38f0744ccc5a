"""Training runs read from the run folders training writes (the format is
`asl_core.runs.format`), as the `Run` records the Runs page browses, plots and compares.

Runs of a grid search or k-fold may sit one level deeper, in a group folder. Every file is
optional: a run is listed with whatever it has, and what is wrong becomes a sentence in
`Run.problems`. One broken run never breaks the list.

Status rule (`records.resolve_status`):
- `summary.json` says finished / stopped_early / crashed / interrupted: that status.
- It says running: the run is running while something was written recently, i.e. the newest
  of `summary.updated_at` and the mtimes of `summary.json` / `metrics.jsonl` is younger than
  `max(STALE_AFTER_S, STALE_EPOCH_FACTOR x the longest epoch seen)`. Older than that, or the
  summary names a pid on this host that no longer exists, the process died without saying so:
  "incomplete", with a sentence saying since when nothing was written.
- `summary.json` missing, unreadable or with an unknown status: "incomplete".
- `metrics.jsonl` ending in a truncated line: the good lines are kept; a run that is not
  running any more is flagged and shown "incomplete" (a crash mid-write), while a running run
  is simply being written to and is not flagged.

Speed (10,000 runs, `bench/runs_page.py`): listing stats LISTED_FILES of each run folder and
reparses only a folder whose stats changed; a finished run's `Run` is kept as it was built.
No DataFrame is built while listing (`Run.history` is made on first use), and confusion
matrices and the report are read only for the runs a user opens (`LocalRunDetails`).

Symbolic links are followed, but a link back into the listed tree (to the runs folder, a parent
of it, or a folder already listed) is skipped and every run is listed once, by its real path.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from asl_core.runs.format import (
    CHECKPOINT_META_FILE,
    CHECKPOINT_WEIGHTS_FILE,
    CONFIG_FILE,
    CONFUSION_DIR,
    KFOLD_FILE,
    METRICS_FILE,
    REPORT_FILE,
    RUN_MARKERS,
    SUMMARY_FILE,
    SWEEP_FILE,
    WANDB_DIR,
    Confusion,
    ParsedMetrics,
    RunStatus,
    confusion_from_record,
    confusion_key,
    parse_metrics,
)
from asl_core.runs.records import (
    Run,
    T,
    _describe,
    _epoch_key,
    _epoch_order,
    _model_name,
    _number,
    _parse_time,
    _split_name,
    _time_from_name,
    confusion_from_wandb_table,
    metric_max,
    report_frame,
    resolve_status,
    wandb_confusion_tables,
)
from asl_core.runs.tables import runs_table, sort_runs

MAX_DEPTH = 3


# Files read when listing; their (mtime, size) decide whether a cached parse is still good.
LISTED_FILES: tuple[str, ...] = (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    CHECKPOINT_META_FILE,
    CHECKPOINT_WEIGHTS_FILE,
)


# Folders that are never runs and never hold runs.
SKIPPED_FOLDERS = frozenset({WANDB_DIR, CONFUSION_DIR, "__pycache__", "node_modules"})


# Files beside the runs of a group that describe the group (grid search, k-fold).
GROUP_SUMMARY_FILES: tuple[str, ...] = (SWEEP_FILE, KFOLD_FILE, SUMMARY_FILE)


# (mtime_ns, size) of each of LISTED_FILES, (-1, -1) for one that is missing.
Signature = tuple[tuple[int, int], ...]


_MISSING = (-1, -1)


def _signature(folder: str | Path) -> Signature:
    signature = []
    prefix = f"{folder}{os.sep}"
    for name in LISTED_FILES:
        try:
            stat = os.stat(prefix + name)
        except OSError:
            signature.append(_MISSING)
        else:
            signature.append((stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def _is_run(signature: Signature) -> bool:
    return any(signature[LISTED_FILES.index(marker)] != _MISSING for marker in RUN_MARKERS)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


FULL_CHECK_EVERY_S = 30.0
"""Between full checks of a runs folder (the stats of every run's files), a listing trusts each
folder's own mtime: the writer replaces files by rename, which changes it, so a rerun of the
page costs one stat per run. A file edited in place (not by rename) is seen at the next full
check."""


# folder -> (its mtime_ns, its candidate sub-folders as (path, real target of a followed link)).
_DIRS: dict[str, tuple[int, list[tuple[str, str | None]]]] = {}


# runs folder -> time.monotonic() of its last full check.
_LAST_FULL_CHECK: dict[str, float] = {}


# A run folder found: its path, its signature (None: unchanged since cached, not re-statted)
# and its own mtime_ns.
_Found = tuple[str, Signature | None, int]


def _discover(runs_dir: Path, max_depth: int, *, full: bool = True) -> list[_Found]:
    """Run folders under `runs_dir` (depth 1..max_depth), or `runs_dir` itself when it is one.
    A run folder is not searched further (its `wandb/` and `confusion/` are its own). Not
    `full`: a folder whose mtime is unchanged is taken from the caches without reading it."""
    try:
        root_mtime = os.stat(runs_dir).st_mtime_ns
    except OSError:
        return []
    signature = _signature(runs_dir)
    if _is_run(signature):
        return [(str(runs_dir), signature, root_mtime)]  # pointed at one run folder: that run
    found: list[_Found] = []
    root = os.path.realpath(runs_dir)
    link_targets: list[str] = []

    def follow(path: str) -> str | None:
        # A link into the listed tree lists its runs twice; one to an ancestor loops.
        real = os.path.realpath(path)
        if _inside(real, root) or _inside(root, real):
            return None
        if any(_inside(real, seen) or _inside(seen, real) for seen in link_targets):
            return None
        link_targets.append(real)
        return real

    def children(folder: str, mtime: int) -> list[tuple[str, str | None]]:
        cached = _DIRS.get(folder)
        if not full and cached is not None and cached[0] == mtime:
            link_targets.extend(real for _, real in cached[1] if real is not None)
            return cached[1]
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            return []
        kept: list[tuple[str, str | None]] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                continue
            try:
                if not entry.is_dir():
                    continue
                if entry.is_symlink():
                    if (real := follow(entry.path)) is not None:
                        kept.append((entry.path, real))
                else:
                    kept.append((entry.path, None))
            except OSError:
                continue
        _DIRS[folder] = (mtime, kept)
        return kept

    def visit(folder: str, mtime: int, depth: int) -> None:
        for path, _ in children(folder, mtime):
            try:
                child_mtime = os.stat(path).st_mtime_ns  # before its files: a write after it
            except OSError:  # shows at the next listing
                continue
            if not full:
                cached = _FOLDER_CACHE.get(path)
                if cached is not None and cached.run is not None:
                    if cached.folder_mtime == child_mtime:
                        found.append((path, None, child_mtime))
                        continue
                elif path in _DIRS and _DIRS[path][0] == child_mtime and depth < max_depth:
                    visit(path, child_mtime, depth + 1)  # a group folder, as it was
                    continue
            signature = _signature(path)
            if _is_run(signature):
                found.append((path, signature, child_mtime))
            elif depth < max_depth:
                visit(path, child_mtime, depth + 1)

    visit(str(runs_dir), root_mtime, 1)
    return found


def discover_run_folders(runs_dir: Path, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Folders under `runs_dir` (depth 1..max_depth) holding config.json or metrics.jsonl,
    or `runs_dir` itself when it is such a folder; each real folder once."""
    return [Path(folder) for folder, _, _ in _discover(Path(runs_dir), max_depth)]


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
    last_write: float | None = None  # newest mtime of summary.json / metrics.jsonl


@dataclass
class _CachedFolder:
    signature: Signature
    parsed: _ParsedFolder
    runs_dir: Path | None = None
    run: Run | None = None  # a run whose status no longer depends on the clock
    folder_mtime: int | None = None  # the folder's own mtime_ns when `run` was listed


# str(folder) -> its last parse. Module-level so every page rerun in the process shares it.
_FOLDER_CACHE: dict[str, _CachedFolder] = {}


_DETAILS_CACHE: dict[Path, LocalRunDetails] = {}


def clear_cache() -> None:
    _FOLDER_CACHE.clear()
    _DETAILS_CACHE.clear()
    _DIRS.clear()
    _LAST_FULL_CHECK.clear()


def _local_details(folder: Path) -> LocalRunDetails:
    # One per folder for the process: what it read stays cached across page reruns.
    details = _DETAILS_CACHE.get(folder)
    if details is None:
        details = _DETAILS_CACHE[folder] = LocalRunDetails(folder)
    return details


def _cached_folder(folder: Path, signature: Signature | None = None) -> _CachedFolder:
    signature = _signature(folder) if signature is None else signature
    key = str(folder)
    cached = _FOLDER_CACHE.get(key)
    if cached is None or cached.signature != signature:
        cached = _FOLDER_CACHE[key] = _CachedFolder(signature, _parse_folder(folder, signature))
    return cached


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


def _parse_folder(folder: Path, signature: Signature) -> _ParsedFolder:
    parsed = _ParsedFolder()
    problems = parsed.problems
    parsed.config = _read_json_object(folder / CONFIG_FILE, problems, required=True) or {}
    parsed.summary = _read_json_object(folder / SUMMARY_FILE, problems, required=True)
    metrics_path = folder / METRICS_FILE
    if metrics_path.is_file():
        try:
            parsed.metrics = parse_metrics(_read_text(metrics_path))
        except OSError as error:
            problems.append(f"{METRICS_FILE} cannot be read: {_describe(error)}")
        if parsed.metrics.bad_lines:
            lines = ", ".join(map(str, parsed.metrics.bad_lines[:5]))
            problems.append(f"{METRICS_FILE} has unreadable lines (skipped): {lines}")
    else:
        problems.append(f"{METRICS_FILE} is missing (no epoch finished)")
    parsed.checkpoint = _find_checkpoint(folder, signature, problems)
    written = [signature[LISTED_FILES.index(name)][0] for name in (SUMMARY_FILE, METRICS_FILE)]
    parsed.last_write = max((ns / 1e9 for ns in written if ns >= 0), default=None)
    return parsed


def _find_checkpoint(folder: Path, signature: Signature, problems: list[str]) -> Path | None:
    """The run's checkpoint weights when both its files are there. Their content is checked
    only when the run is opened (`Run.checked_checkpoint`): reading every checkpoint.json
    while listing cost 1.3 ms a run, and importing torch."""
    meta = signature[LISTED_FILES.index(CHECKPOINT_META_FILE)] != _MISSING
    weights = signature[LISTED_FILES.index(CHECKPOINT_WEIGHTS_FILE)] != _MISSING
    if weights and not meta:
        problems.append(f"{CHECKPOINT_WEIGHTS_FILE} has no {CHECKPOINT_META_FILE} beside it")
    elif meta and not weights:
        problems.append(f"{CHECKPOINT_META_FILE} is there but {CHECKPOINT_WEIGHTS_FILE} is missing")
    return folder / CHECKPOINT_WEIGHTS_FILE if meta and weights else None


def _build_local_run(folder: Path, runs_dir: Path, parsed: _ParsedFolder, now: float) -> Run:
    config, summary = parsed.config, parsed.summary
    records = parsed.metrics.records
    status, status_problems = resolve_status(
        summary,
        last_write=parsed.last_write,
        longest_epoch_s=metric_max(records, "epoch_time_s"),
        now=now,
    )
    problems = [*parsed.problems, *status_problems]
    if parsed.metrics.truncated and status != RunStatus.RUNNING:
        # A running run may be mid-line; one that stopped left half a line: it crashed there.
        problems.append(f"{METRICS_FILE} ends with a truncated line (kept {len(records)} epochs)")
        if status in (RunStatus.FINISHED, RunStatus.STOPPED_EARLY):
            status = RunStatus.INCOMPLETE
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
        metrics=list(records),
        summary=summary,
        status=status,
        problems=problems,
        group=_group_name(config, folder, runs_dir),
        model=_model_name(config),
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


def _group_name(config: dict[str, Any], folder: Path, runs_dir: Path) -> str | None:
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
    if run.status == RunStatus.RUNNING and run.started_at is not None:
        return max(0.0, now - run.started_at.timestamp())
    total = sum(v for row in run.metrics if (v := _number(row.get("epoch_time_s"))) is not None)
    return float(total) if total > 0 else None


def load_local_run(
    folder: Path,
    runs_dir: Path | None = None,
    now: float | None = None,
    *,
    signature: Signature | None = None,
) -> Run:
    """One run folder as a Run; never raises (a failure becomes a problem sentence).

    Cached per folder until one of LISTED_FILES changes; a running run is rebuilt each time
    (whether it is still running depends on the clock).
    """
    folder = Path(folder)
    runs_dir = Path(runs_dir) if runs_dir is not None else folder.parent
    now = datetime.now(UTC).timestamp() if now is None else now
    try:
        cached = _cached_folder(folder, signature)
        if cached.run is not None and cached.runs_dir == runs_dir:
            return cached.run
        run = _build_local_run(folder, runs_dir, cached.parsed, now)
        if run.status != RunStatus.RUNNING:
            cached.run, cached.runs_dir = run, runs_dir
        return run
    except Exception as error:  # why: one broken run never breaks the list
        return Run(
            id=str(folder),
            name=folder.name,
            source="local",
            path=folder,
            status=RunStatus.INCOMPLETE,
            problems=[f"the run folder could not be read: {_describe(error)}"],
        )


class LocalRunDetails:
    """Confusion matrices and report of a local run, read on demand and cached by file stats."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[tuple[str, int, int], Any] = {}

    def _cached(self, path: Path, parse: Callable[[Path], T]) -> T:
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (str(path), -1, -1)
        if key not in self._cache:
            self._cache[key] = parse(path)
        return self._cache[key]

    def _confusion_files(self) -> dict[int | str, Path]:
        folder = self.folder / CONFUSION_DIR
        files: dict[int | str, Path] = {}
        if folder.is_dir():
            for path in folder.glob("*.json"):
                key = confusion_key(path.name)
                if key is not None:
                    files[key] = path
        return files

    def _wandb_tables(self) -> dict[int | str, Path]:
        # A resumed run has several W&B run folders; the newest holds the latest tables.
        for files in sorted((self.folder / WANDB_DIR).glob("*run-*/files"), reverse=True):
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
        path = self.folder / REPORT_FILE
        if not path.is_file():
            return None
        return self._cached(path, lambda p: report_frame(_read_json_file(p)))

    def checkpoint_architecture(self) -> str | None:
        path = self.folder / CHECKPOINT_META_FILE
        if not path.is_file():
            return None
        return self._cached(path, _read_checkpoint_architecture)


def _read_checkpoint_architecture(path: Path) -> str:
    from asl_core.models.checkpoint import read_meta  # torch: only for a run that is opened

    return read_meta(path).architecture


def _read_confusion_file(path: Path) -> Confusion:
    name = f"{CONFUSION_DIR}/{path.name}"
    try:
        data = _read_json_file(path)
    except ValueError as error:
        raise ValueError(f"{name} is corrupted: {_describe(error)}") from None
    return confusion_from_record(data, name)


class LocalRunSource:
    """The runs under a folder (default `asl_core.settings.runs_dir()`)."""

    def __init__(self, runs_dir: str | os.PathLike[str]) -> None:
        self.runs_dir = Path(runs_dir).expanduser()

    def list_runs(self) -> list[Run]:
        """Every run folder as a Run, newest first; unreadable runs are listed with problems.

        Folders unchanged since the last listing are not read again (see FULL_CHECK_EVERY_S).
        """
        now = datetime.now(UTC).timestamp()
        root = self.runs_dir.resolve() if self.runs_dir.exists() else self.runs_dir
        key, clock = str(root), time.monotonic()
        full = clock - _LAST_FULL_CHECK.get(key, -math.inf) >= FULL_CHECK_EVERY_S
        if full:
            _LAST_FULL_CHECK[key] = clock
        runs = []
        for folder, signature, folder_mtime in _discover(root, MAX_DEPTH, full=full):
            cached = _FOLDER_CACHE.get(folder)
            if (
                cached is not None
                and cached.run is not None
                and cached.runs_dir == root
                and (signature is None or cached.signature == signature)
            ):
                cached.folder_mtime = folder_mtime
                runs.append(cached.run)  # the fast path of every rerun: nothing changed
                continue
            run = load_local_run(Path(folder), root, now, signature=signature)
            if (cached := _FOLDER_CACHE.get(folder)) is not None:
                cached.folder_mtime = folder_mtime
            runs.append(run)
        return sort_runs(runs)

    def group_info(self, group: str) -> dict[str, Any] | None:
        """The group's own summary file (sweep.json, ...) when its runs share a folder."""
        root = self.runs_dir.resolve()
        folder = (root / group).resolve()
        if not folder.is_relative_to(root):  # a group name from a run's config: never `..`
            return None
        for name in GROUP_SUMMARY_FILES:
            path = folder / name
            if path.is_file() and not (folder / CONFIG_FILE).exists():
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
