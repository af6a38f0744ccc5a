"""Command-line training, in the style of torchvision's references/classification.

    python -m training.train    --config training/configs/NAME.yaml [--set key=value ...]
    python -m training.sweep    --config training/configs/seed004_grid.yaml
    python -m training.kfold    --config ... [--folds 5 | --split loso]
    python -m training.evaluate --model runs/RUN/checkpoint.safetensors [--model ...] --data ...

Each module has `get_args_parser()` and `main(args)`; the work is in `asl_core.training`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any


def run_command(
    main: Callable[[argparse.Namespace], Any],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse `argv` and run `main`; a mistake of the user's (a bad config key, a run that
    cannot resume, missing weights or data, an unusable checkpoint) prints one line,
    `error: ...`, and returns 2 instead of a traceback. Ctrl-C prints one line (a training run
    says where it stopped and the command that continues it) and returns 130, the shell's
    status for SIGINT. Anything else is a bug and raises."""
    from asl_core.data.sources import DatasetError
    from asl_core.models.checkpoint import CheckpointError, FolderWithoutModel
    from asl_core.models.registry import PretrainedWeightsMissing
    from asl_core.training.config import ConfigError, ResumeError

    args = parser.parse_args(argv)
    try:
        main(args)
    except FolderWithoutModel as e:  # a run with no model yet, or a group of runs: say which
        from asl_core.runs.model_folder import why_no_model

        print(f"error: {why_no_model(e.folder) or e}", file=sys.stderr)
        return 2
    except (ConfigError, ResumeError, DatasetError, CheckpointError, PretrainedWeightsMissing) as e:
        problems = [line.strip() for line in str(e).splitlines() if line.strip()]
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # state.TrainingInterrupted says where and how to go on
        print(str(stop) or "Interrupted", file=sys.stderr)
        return 130
    return 0


def group_interrupted(
    stop: KeyboardInterrupt, where: str, not_started: Sequence[str]
) -> KeyboardInterrupt:
    """Ctrl-C in a group command (kfold, sweep) as one line: the run's own line (where it
    stopped, the command that continues that run), which run of the group it was, and the runs
    not started (the group commands do not resume a group)."""
    from asl_core.training.state import TrainingInterrupted

    rest = ", ".join(not_started) or "none"
    return TrainingInterrupted(
        f"{stop} ({where}; not started: {rest})",
        getattr(stop, "run_dir", None),
        getattr(stop, "command", None),
    )


def add_group_arguments(parser: argparse.ArgumentParser, group_default: str) -> None:
    """The options of the commands that run a group of runs (sweep, kfold)."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key; repeatable",
    )
    parser.add_argument("--data", nargs="+", metavar="DATASET", help="datasets (names or paths)")
    parser.add_argument("--runs-dir", help="parent of the group folder (default: $ASL_RUNS_DIR)")
    parser.add_argument("--limit-per-class", type=int, help="at most N photos per class")
    parser.add_argument("--group", help=f"group name (default: {group_default})")


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table (numbers to 4 significant digits) for the command-line summaries."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
