"""Tables over runs for the Runs page: listing, filters, hyperparameters, groups, k-fold."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from asl_core.runs.records import MISSING, Run, format_duration

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


def sort_runs(runs: Iterable[Run]) -> list[Run]:
    """Newest first; runs with no start time last, by name."""
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(runs, key=lambda run: (run.started_at or epoch, run.name), reverse=True)


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


def _local_naive(moment: datetime | None) -> datetime | None:
    # Tables show local wall-clock time; one tz-less dtype keeps the column sortable.
    return moment.astimezone().replace(tzinfo=None) if moment else None


def _score(value: float | None) -> float:
    return float("nan") if value is None else value


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run for the runs page (the first column flags runs with problems).

    Built column by column (about 0.1 s for 10,000 runs; bench/runs_page.py)."""
    columns: dict[str, list[Any]] = {
        "⚠": ["⚠️" if run.has_problems else "" for run in runs],
        "name": [run.name for run in runs],
        "model": [run.model or "" for run in runs],
        "split": [run.split or "" for run in runs],
        "status": [str(run.status) for run in runs],
        "epochs": [run.epochs for run in runs],
        "best val acc": [_score(run.best_val_acc) for run in runs],
        "unseen-signer acc": [_score(run.unseen_signer_acc) for run in runs],
        "test acc": [_score(run.test_acc) for run in runs],
        "started": [_local_naive(run.started_at) for run in runs],
        "duration": [format_duration(run.duration_s) for run in runs],
        "group": [run.group or "" for run in runs],
        "problems": [len(run.problems) for run in runs],
    }
    frame = pd.DataFrame(
        {
            **columns,
            "epochs": np.asarray(columns["epochs"], dtype=np.int64),
            "best val acc": np.asarray(columns["best val acc"], dtype=np.float64),
            "unseen-signer acc": np.asarray(columns["unseen-signer acc"], dtype=np.float64),
            "test acc": np.asarray(columns["test acc"], dtype=np.float64),
            "started": pd.to_datetime(
                np.array([m or None for m in columns["started"]], dtype="datetime64[us]")
            ),
            "problems": np.asarray(columns["problems"], dtype=np.int64),
        },
        columns=list(RUNS_TABLE_COLUMNS),
    )
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


def iter_problem_runs(runs: Iterable[Run]) -> Iterator[Run]:
    """Runs that need a warning (problems, crashed, incomplete)."""
    return (run for run in runs if run.has_problems)
