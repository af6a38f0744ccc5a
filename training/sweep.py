"""Grid search (seed 004): one run per combination, all in one W&B group.

    python -m training.sweep --config training/configs/seed004_grid.yaml [--set epochs=3]
        [--limit-per-class 20] [--max-trials 2]

The config's `grid:` maps config keys (dotted for nested ones) to lists of values. Every trial
is a full `training.train` run written to runs/<group>/<run>/ with `group` in its config.json;
runs/<group>/sweep.json lists the trials (rewritten after each one, so an interrupted sweep
keeps what it finished) and the table of trials sorted by best validation accuracy is printed.
A trial that fails is recorded as crashed and the sweep goes on. Ctrl-C records the trial it
stopped as interrupted and prints one line: how to continue that trial's run (training.train
--resume) and the trials not started (a sweep is not resumed as a whole).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from training import add_group_arguments, format_table, group_interrupted, run_command


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Grid search over a config", add_help=add_help)
    parser.add_argument("--config", required=True, help="YAML config with a `grid:` mapping")
    add_group_arguments(parser, "sweep-<time>-<model>")
    parser.add_argument("--max-trials", type=int, help="run only the first N combinations")
    return parser  # fmt: skip


COLUMNS = ("rank", "trial", "params", "best_val_acc", "best_val_loss", "test_acc", "epochs",
           "status", "run_name")  # fmt: skip


def main(args: argparse.Namespace) -> dict[str, Any]:
    from asl_core.io.files import atomic_write_json
    from asl_core.runs.format import SWEEP_FILE
    from asl_core.settings import runs_dir
    from asl_core.training.config import ConfigError, apply_updates, iter_grid, load_grid_config
    from asl_core.training.fit import fit
    from asl_core.training.optim import check_starting_weights
    from asl_core.training.state import TrainingInterrupted

    updates = {"datasets": args.data, "limit_per_class": args.limit_per_class, "group": args.group}
    base, grid = load_grid_config(args.config, args.overrides, **updates)  # checks --group too
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{args.config} has no `grid:` mapping of config keys to value lists")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    group = base.group or f"sweep-{stamp}-{base.model}"
    root = Path(args.runs_dir or base.runs_dir or runs_dir()).resolve() / group
    trials = list(iter_grid(grid))[: args.max_trials]
    # Every trial's config is checked (keys, types, rules) before the first one trains.
    configs = [
        apply_updates(
            base,
            {**params, "group": group, "job_type": "sweep", "runs_dir": str(root),
             "name_suffix": f"t{number:02d}"},
        )
        for number, params in enumerate(trials, start=1)
    ]  # fmt: skip
    check_starting_weights(configs)  # missing ImageNet weights: one line, not N crashed trials
    record: dict[str, Any] = {
        "kind": "sweep",
        "group": group,
        "config": str(args.config),
        "overrides": list(args.overrides),
        "grid": grid,
        "model": base.model,
        "split": base.split.name,
        "trials": [],
        "started_at": stamp,
        "command": sys.argv,
    }
    for number, (params, config) in enumerate(zip(trials, configs, strict=True), start=1):
        print(f"\n=== trial {number}/{len(trials)}: {params}", file=sys.stderr)
        trial: dict[str, Any] = {"trial": number, "params": params}
        try:
            result = fit(config, command=sys.argv)
        except TrainingInterrupted as stop:  # sweep.json lists it; the line names the rest
            trial.update(status="interrupted", run_dir=stop.run_dir and str(stop.run_dir))
            record["trials"].append(trial)
            atomic_write_json(root / SWEEP_FILE, _ranked(record))
            rest = [f"trial {later}" for later in range(number + 1, len(trials) + 1)]
            raise group_interrupted(stop, f"trial {number} of {len(trials)}", rest) from None
        except Exception as error:  # one broken trial must not lose the others
            trial.update(status="crashed", error=f"{type(error).__name__}: {error}")
        else:
            trial.update(
                status=result.status,
                run_name=result.run_name,
                run_dir=str(result.run_dir),
                best_epoch=result.best_epoch,
                best_val_acc=result.best_val_acc,
                best_val_loss=result.best_val_loss,
                test_acc=result.test.get("acc"),
                test_f1=result.test.get("f1"),
                epochs=result.epochs_done,
            )
        record["trials"].append(trial)
        atomic_write_json(root / SWEEP_FILE, _ranked(record))
    record = _ranked(record)
    atomic_write_json(root / SWEEP_FILE, record)
    rows = [{**t, "params": _short(t["params"])} for t in record["ranking"]]
    print(format_table(rows, COLUMNS))
    print(f"\nwrote {root / SWEEP_FILE}")
    return record


def _short(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _ranked(record: dict[str, Any]) -> dict[str, Any]:
    """Trials sorted by best validation accuracy (failed trials last), with their rank."""

    def key(trial: dict[str, Any]) -> float:
        value = trial.get("best_val_acc")
        return -1.0 if value is None else float(value)

    ranking = sorted(record["trials"], key=key, reverse=True)
    ranking = [{"rank": i, **t} for i, t in enumerate(ranking, start=1)]
    best = ranking[0] if ranking and ranking[0].get("best_val_acc") is not None else None
    return {**record, "ranking": ranking, "best": best}


if __name__ == "__main__":
    sys.exit(run_command(main, get_args_parser()))
