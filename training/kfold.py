"""Cross-validation: one run per fold (seed 003) or per held-out signer, in one group.

    python -m training.kfold --config training/configs/seed003_scratch.yaml [--folds 5]
    python -m training.kfold --config training/configs/landmark_mlp.yaml --split loso \
        [--signers hand1 hand3]

kfold: fold k is the test side of run k (validation: a slice of the other folds, or the test
fold itself with --set split.val_fraction=0, seed 003's protocol).
loso: run s tests on every photo of signer s and trains on the others; these are the model
card's leave-one-signer-out numbers. Both report each run and the mean and sample standard
deviation (n - 1) of best validation and test accuracy; loso also the mean over signers
(each signer counts once) and the pooled accuracy (each photo counts once).
lopo: fold k of the people folds (asl_core.data.splits) is the test side of run k: every
person of every dataset is held out once; reported like kfold, with the pooled accuracy.

Runs go to runs/<group>/<run>/ and the summary to runs/<group>/kfold.json. Ctrl-C records the
run it stopped as interrupted and prints one line: how to continue that run (training.train
--resume) and the runs not started (a group is not resumed as a whole).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from training import add_group_arguments, format_table, group_interrupted, run_command


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="k-fold or leave-one-signer-out runs", add_help=add_help
    )
    parser.add_argument("--config", required=True, help="YAML config")
    parser.add_argument("--split", choices=("kfold", "loso", "lopo"), default="kfold")
    parser.add_argument("--folds", type=int, help="number of folds (default: the config's)")
    parser.add_argument("--signers", nargs="+", help="loso: only these held-out signers")
    add_group_arguments(parser, "<split>-<time>-<model>")
    return parser  # fmt: skip


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main(args: argparse.Namespace) -> dict[str, Any]:
    from asl_core.data.sources import load_datasets
    from asl_core.io.files import atomic_write_json
    from asl_core.runs.format import KFOLD_FILE
    from asl_core.settings import runs_dir
    from asl_core.training.config import apply_updates, load_config
    from asl_core.training.fit import fit
    from asl_core.training.optim import check_starting_weights
    from asl_core.training.state import TrainingInterrupted

    updates = {"datasets": args.data, "limit_per_class": args.limit_per_class, "group": args.group}
    base = load_config(args.config, args.overrides, **updates)  # checks --group as run names
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    group = base.group or f"{args.split}-{stamp}-{base.model}"
    root = Path(args.runs_dir or base.runs_dir or runs_dir()).resolve() / group
    common = {"group": group, "runs_dir": str(root), "split.name": args.split}
    if args.split in ("kfold", "lopo"):
        folds = args.folds or base.split.folds
        plans = [
            (f"fold{fold}", {**common, "split.folds": folds, "split.fold": fold})
            for fold in range(folds)
        ]
    else:
        samples = load_datasets(base.datasets, classes=base.classes, limit=base.limit_per_class,
                                seed=base.seed, verify=base.verify_datasets,
                                dataset_limits=base.dataset_limits)  # fmt: skip
        signers = args.signers or samples.signers
        if len(signers) < 2 and not args.signers:
            raise SystemExit(f"loso needs at least two signers; the data has {signers}")
        plans = [(s, {**common, "split.test_signer": s}) for s in signers]
    record: dict[str, Any] = {
        "kind": args.split,
        "group": group,
        "config": str(args.config),
        "overrides": list(args.overrides),
        "model": base.model,
        "runs": [],
        "started_at": stamp,
        "command": sys.argv,
    }
    # Every run's config is checked before the first one trains.
    configs = [apply_updates(base, {**changes, "name_suffix": name}) for name, changes in plans]
    check_starting_weights(configs)  # missing ImageNet weights: one line, before run 1
    for number, ((name, _), config) in enumerate(zip(plans, configs, strict=True), start=1):
        print(f"\n=== {args.split} {number}/{len(plans)}: {name}", file=sys.stderr)
        try:
            result = fit(config, command=sys.argv)
        except TrainingInterrupted as stop:  # kfold.json lists it; the line names the rest
            run_dir = stop.run_dir and str(stop.run_dir)
            record["runs"].append(
                {"name": name, "run_dir": run_dir, "status": "interrupted", "test_acc": None}
            )
            atomic_write_json(root / KFOLD_FILE, _summarise(record))
            raise group_interrupted(stop, f"{args.split} run {number} of {len(plans)}",
                                    [n for n, _ in plans[number:]]) from None  # fmt: skip
        record["runs"].append(
            {
                "name": name,
                "run_name": result.run_name,
                "run_dir": str(result.run_dir),
                "status": result.status,
                "best_epoch": result.best_epoch,
                "best_val_acc": result.best_val_acc,
                "test_acc": result.test.get("acc"),
                "test_f1": result.test.get("f1"),
                "test_count": result.test.get("count"),
                "test_no_hand": result.test.get("no_hand"),
            }
        )
        atomic_write_json(root / KFOLD_FILE, _summarise(record))
    record = _summarise(record)
    atomic_write_json(root / KFOLD_FILE, record)
    label = "signer" if args.split == "loso" else "fold"
    rows = [{label: r["name"], **r} for r in record["runs"]]
    print(format_table(rows, (label, "best_val_acc", "test_acc", "test_f1", "test_count",
                              "test_no_hand", "status", "run_name")))  # fmt: skip
    stats = record["stats"]
    for metric in ("best_val_acc", "test_acc"):
        mean, std = stats[metric]["mean"], stats[metric]["std"]
        if mean is not None:
            print(f"{metric}: {mean:.4f} ± {std:.4f} over {stats[metric]['n']} runs")
    if args.split == "loso" and stats.get("pooled_unseen_signer_acc") is not None:
        print(f"unseen-signer accuracy: mean over signers {stats['test_acc']['mean']:.4f}, "
              f"pooled over photos {stats['pooled_unseen_signer_acc']:.4f}")  # fmt: skip
    print(f"\nwrote {root / KFOLD_FILE}")
    return record


def _summarise(record: dict[str, Any]) -> dict[str, Any]:
    runs = record["runs"]
    stats: dict[str, Any] = {}
    for metric in ("best_val_acc", "test_acc", "test_f1"):
        values = [float(r[metric]) for r in runs if r.get(metric) is not None]
        mean, std = _mean_std(values)
        stats[metric] = {"mean": mean, "std": std, "n": len(values)}
    if record["kind"] in ("loso", "lopo"):
        counted = [r for r in runs if r.get("test_count")]
        total = sum(r["test_count"] for r in counted)
        correct = sum(r["test_acc"] * r["test_count"] for r in counted)
        if record["kind"] == "loso":
            stats["per_signer_acc"] = {r["name"]: r["test_acc"] for r in runs}
        stats["mean_unseen_signer_acc"] = stats["test_acc"]["mean"]
        stats["pooled_unseen_signer_acc"] = correct / total if total else None
    return {**record, "stats": stats}


if __name__ == "__main__":
    sys.exit(run_command(main, get_args_parser()))
