"""Evaluate one checkpoint, or several averaged (softmax mean, seed 000 4.4.6 "ensembles").

    python -m training.evaluate --model runs/RUN/checkpoint.safetensors
    python -m training.evaluate --model runs/A/checkpoint.safetensors \
        --model runs/B/checkpoint.safetensors --data massey36 --split loso --test-signer hand3
    python -m training.evaluate --model runs/RUN/checkpoint.json --data my_photos/ --split none

By default (`--split checkpoint`) the data and split the first checkpoint was trained with are
rebuilt exactly (same datasets, class selection, per-class limit, split parameters) and its
`--side` (test) is evaluated. `--split none` evaluates every photo of `--data`. Any split
option given on the command line replaces the checkpoint's. Photos in which no hand is found
count as wrong. Prints the metrics, per-signer and per-dataset accuracy and writes JSON
(`--output`; by default beside the model's run, runs/RUN/evaluations/<time>-<run>.json, or
runs/evaluations/<time>-<model>.json for a checkpoint outside a run folder or an ensemble of
several runs) and prints where.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from training import format_table, run_command


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate checkpoints", add_help=add_help)
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="PATH",
        help="a training run's folder (runs/RUN) or its checkpoint (.json, .safetensors or "
        "the stem); repeat to ensemble",
    )
    parser.add_argument(
        "--data",
        nargs="+",
        metavar="DATASET",
        help="datasets (names or paths); default: the checkpoint's",
    )
    parser.add_argument(
        "--split",
        default="checkpoint",
        choices=("checkpoint", "none", "random", "kfold", "loso", "lodo"),
    )
    parser.add_argument("--side", default="test", choices=("train", "val", "test"))
    parser.add_argument("--test-signer")
    parser.add_argument("--val-signer")
    parser.add_argument("--test-dataset")
    parser.add_argument("--fold", type=int)
    parser.add_argument("--folds", type=int)
    parser.add_argument("--random-state", type=int)
    parser.add_argument("--classes", nargs="+", help="all | letters | digits | labels")
    parser.add_argument("--limit-per-class", type=int)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="MediaPipe processes")
    parser.add_argument("--output", help="JSON file to write")
    return parser  # fmt: skip


def _selection(args: argparse.Namespace, meta_data: dict[str, Any]) -> dict[str, Any]:
    saved = dict(meta_data.get("selection") or {})
    classes: Any = saved.get("classes")
    if args.classes:
        classes = args.classes[0] if len(args.classes) == 1 else list(args.classes)
    if args.data:
        # Other data: the training selection (classes, limit) does not apply unless asked.
        return {
            "datasets": list(args.data),
            "classes": classes if args.classes else None,
            "limit_per_class": args.limit_per_class,
            "seed": saved.get("seed", 0),
            "verify": True,
        }
    if not saved.get("datasets"):
        raise SystemExit("the checkpoint does not record its datasets: pass --data")
    if args.limit_per_class is not None:
        saved["limit_per_class"] = args.limit_per_class
    return {**saved, "classes": classes}


def _split_spec(args: argparse.Namespace, meta_data: dict[str, Any]) -> tuple[str, dict]:
    saved = meta_data.get("split") or {}
    cli = {
        "test_signer": args.test_signer,
        "val_signer": args.val_signer,
        "test_dataset": args.test_dataset,
        "fold": args.fold,
        "folds": args.folds,
        "random_state": args.random_state,
    }
    cli = {k: v for k, v in cli.items() if v is not None}
    if args.split == "none":
        return "none", {}
    if args.split == "checkpoint":
        if not saved.get("name"):
            raise SystemExit("the checkpoint records no split: pass --split")
        return saved["name"], {**saved.get("params", {}), **cli}
    params = dict(saved.get("params", {})) if saved.get("name") == args.split else {}
    return args.split, {**params, **cli}


def _empty_side(
    side: str, split_name: str, counts: dict[str, int], selection: dict[str, Any]
) -> Exception:
    """The DatasetError for a split whose evaluated side holds no photo, with why and what to
    do. A stratified split (random, kfold) fills a class's val, then test, then train side, so a
    class needs 3 photos before its test side gets one (asl_core.data.splits)."""
    from asl_core.data.sources import DatasetError

    limit = selection.get("limit_per_class")
    why = (
        f"with --limit-per-class {limit} each class is too small to give every side a photo "
        "(a class needs at least 3 before its test side gets one)"
        if limit is not None
        else "the split parameters leave no photo on that side"
    )
    return DatasetError(
        f"the {side} side of the {split_name} split has no photos (counts {counts}): {why}; "
        "raise --limit-per-class, evaluate another --side, or use --split none"
    )


def main(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from asl_core.data.augment import eval_preset
    from asl_core.data.dataset import AslDataset
    from asl_core.data.features import FeatureCache, extract_features
    from asl_core.data.sources import load_datasets
    from asl_core.data.splits import make_split
    from asl_core.io.files import atomic_write_json
    from asl_core.labels import sort_labels
    from asl_core.models.checkpoint import load_checkpoint
    from asl_core.runs.format import evaluation_path
    from asl_core.settings import runs_dir
    from asl_core.training.engine import collect_logits, summarise_predictions

    loaded = [load_checkpoint(path) for path in args.model]
    first = loaded[0].meta
    selection = _selection(args, first.data)
    samples = load_datasets(
        selection["datasets"],
        classes=selection.get("classes"),
        limit=selection.get("limit_per_class"),
        seed=selection.get("seed", 0),
        verify=selection.get("verify", True),
    )
    split_name, split_params = _split_spec(args, first.data)
    if split_name == "none":
        indices = list(range(len(samples)))
        split_record: dict[str, Any] = {"name": "none", "counts": {"all": len(indices)}}
    else:
        split = make_split(samples.samples, split_name, **split_params)
        indices = split.sides()[args.side]
        split_record = split.describe(samples.samples)
        if not indices:
            raise _empty_side(args.side, split_name, split_record["counts"], selection)
        recorded = (first.data.get("split") or {}).get("counts")
        if args.split == "checkpoint" and recorded and recorded != split_record["counts"]:
            print(f"warning: split counts {split_record['counts']} differ from the training "
                  f"run's {recorded}: the data changed", file=sys.stderr)  # fmt: skip
    cache_sizes = {int(c.meta.extra.get("cache_size", 224)) for c in loaded}
    names = sort_labels(set(samples.class_names) | {n for c in loaded for n in c.meta.class_names})
    column = {name: i for i, name in enumerate(names)}
    probabilities = None
    has_input = labels = None
    for size in sorted(cache_sizes):
        table = extract_features(samples.samples, FeatureCache(size=size), workers=args.workers)
        for checkpoint in loaded:
            if int(checkpoint.meta.extra.get("cache_size", 224)) != size:
                continue
            spec = checkpoint.meta.input_spec
            dataset = AslDataset(table, indices, names, spec, eval_preset(spec))
            loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
            logits, labels, has_input = collect_logits(
                checkpoint.model, loader, torch.device("cpu")
            )
            probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
            # Each model answers over its own classes: place them in the common class list.
            placed = np.zeros((len(labels), len(names)), dtype=np.float64)
            for j, name in enumerate(checkpoint.meta.class_names):
                placed[:, column[name]] = probs[:, j]
            probabilities = placed if probabilities is None else probabilities + placed
    assert probabilities is not None and labels is not None and has_input is not None
    probabilities /= len(loaded)
    loss = None
    if has_input.any():
        picked = probabilities[has_input, labels[has_input]]
        loss = float(-np.log(np.clip(picked, 1e-12, None)).mean())
    result = summarise_predictions(probabilities, labels, has_input, names, loss=loss)
    breakdown: dict[str, dict[str, list[int]]] = {
        "signer": defaultdict(lambda: [0, 0]),
        "dataset": defaultdict(lambda: [0, 0]),
    }
    for position, index in enumerate(indices):
        sample = samples.samples[index]
        hit = int(result.y_pred[position] == result.y_true[position])
        for key, value in (("signer", sample.signer or "unknown"), ("dataset", sample.dataset)):
            breakdown[key][value][0] += hit
            breakdown[key][value][1] += 1
    per = {
        key: {name: {"acc": c / n, "count": n} for name, (c, n) in sorted(groups.items())}
        for key, groups in breakdown.items()
    }
    metrics = result.metrics()
    report = {
        "models": [
            {"path": str(c.path), "architecture": c.meta.architecture,
             "run_name": c.meta.extra.get("run_name"), "classes": len(c.meta.class_names)}
            for c in loaded
        ],
        "ensemble": "mean of softmax probabilities" if len(loaded) > 1 else None,
        "selection": selection,
        "split": split_record,
        "side": args.side if split_name != "none" else "all",
        "metrics": metrics,
        "per_signer": per["signer"],
        "per_dataset": per["dataset"],
        "report": result.report,
        "confusion": result.confusion_json(None, args.side),
        "no_hand_files": [samples.samples[i].source for i, ok in zip(indices, has_input,
                                                                        strict=True) if not ok],
        "evaluated_at": datetime.now().isoformat(timespec="seconds"),
        "command": sys.argv,
    }  # fmt: skip
    print(
        format_table([{"metric": k, "value": v} for k, v in metrics.items()], ("metric", "value"))
    )
    for key in ("per_signer", "per_dataset"):
        rows = [{key[4:]: name, **values} for name, values in report[key].items()]
        print()
        print(format_table(rows, (key[4:], "acc", "count")))
    if args.output:
        output = Path(args.output)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        tag = loaded[0].meta.extra.get("run_name") or loaded[0].meta.architecture
        name = f"{stamp}-{tag}{'-ensemble' if len(loaded) > 1 else ''}.json"
        output = evaluation_path([c.path for c in loaded], runs_dir(), name)
    atomic_write_json(output, report)
    print(f"\nwrote {output}")
    return report


if __name__ == "__main__":
    sys.exit(run_command(main, get_args_parser()))
