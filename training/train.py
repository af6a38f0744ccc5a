"""Train one model: `python -m training.train --config training/configs/NAME.yaml`.

Examples:
    python -m training.train --config training/configs/landmark_mlp.yaml
    python -m training.train --config training/configs/seed004_enhanced_cnn.yaml \
        --set epochs=3 --limit-per-class 20
    python -m training.train --config landmark_mlp --set split.name=loso \
        --set split.test_signer=hand3
    python -m training.train --resume runs/20250101-120000-landmark_mlp-random --set epochs=20
    python -m training.train --config landmark_mlp --init-checkpoint runs/RUN/checkpoint.json
    torchrun --nproc_per_node=2 -m training.train --config training/configs/landmark_mlp.yaml

`--set key=value` takes YAML values and dotted keys (`--set split.name=lodo`); `--data`
replaces the datasets (registered names or paths: a folder, an .npz, a landmark .csv).
`--resume` continues a run as it was started: only `epochs`, `stage_epochs` and how it runs
(`progress`, `threads`, workers) can change. A grid config is refused: `training.sweep` runs it.
A bad key, a run that cannot resume or missing weights or data print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from asl_core.data.sources import KNOWN_DATASETS
from training import run_command


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train an ASL hand-sign classifier", add_help=add_help
    )
    parser.add_argument("--config", help="YAML config (training/configs/NAME.yaml or NAME)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (YAML value; dotted keys for nested ones); repeatable",
    )
    parser.add_argument(
        "--data", nargs="+", metavar="DATASET", help="datasets: registered names or paths"
    )
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    parser.add_argument(
        "--init-checkpoint",
        metavar="CHECKPOINT",
        help="start from this checkpoint's weights (classes it shares keep their rows)",
    )
    parser.add_argument("--runs-dir", help="folder for run folders (default: $ASL_RUNS_DIR)")
    parser.add_argument(
        "--limit-per-class", type=int, help="at most N photos per class (quick runs)"
    )
    parser.add_argument("--run-name", help="run folder name (default: time-model-split)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    parser.add_argument(
        "--list-datasets", action="store_true", help="list the registered datasets and exit"
    )
    return parser


def _updates(args: argparse.Namespace) -> dict:
    return {
        "datasets": args.data,
        "runs_dir": args.runs_dir,
        "limit_per_class": args.limit_per_class,
        "run_name": args.run_name,
        "init_checkpoint": args.init_checkpoint,
    }


def main(args: argparse.Namespace):
    from asl_core.training.config import load_config, resume_config
    from asl_core.training.fit import fit

    if args.list_datasets:
        for name, known in KNOWN_DATASETS.items():
            print(f"{name}: {known.title}\n  {known.upstream}\n  licence: {known.licence}\n"
                  f"  {known.num_images} images, {known.num_classes} classes, "
                  f"root {known.root}")  # fmt: skip
        return None
    updates = {k: v for k, v in _updates(args).items() if v is not None}
    if args.resume:
        if args.config:
            raise SystemExit("--resume continues a run with its own config: drop --config")
        config = resume_config(args.resume, args.overrides, **updates)
    else:
        if not args.config:
            raise SystemExit("--config is required (or --resume RUN_DIR)")
        config = load_config(args.config, args.overrides, **updates)
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=2))
        return None
    return fit(config, resume_dir=args.resume, command=sys.argv)


if __name__ == "__main__":
    sys.exit(run_command(main, get_args_parser()))
