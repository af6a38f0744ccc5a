"""Accuracy on people the models never saw: one table per dataset, per candidate, in one run.

.venv/bin/python bench/accuracy.py --candidate training/configs/handframe_mlp.yaml \
    --candidate training/configs/landmark_mlp.yaml [--lodo] [--reuse CONFIG=GROUP ...]

For each candidate config: `python -m training.kfold --split lopo` (every person of every
dataset held out once: massey36's five, grassknoted's one, aslhg's six; the config's
`split.folds` folds, or `--folds`), then `training.heldout` reads every held-out photo as the
app does (both hands, J and Z never answered, no hand = wrong) and reports per dataset the mean
over its people under the two answer rules (any class; the photo's own group: letters or
digits), the calibrated threshold that makes accepted answers 95% right with its coverage, and
the accuracy when the held-out hands are turned in 3-D by up to 30 and 60 degrees. `--lodo`
adds leave-one-dataset-out (train on two sets, test on the third: one run per dataset).
`--reuse CONFIG=LOPO_GROUP[,LODO_GROUP]` reads earlier runs instead of training again.

Prints the table and writes bench/results/accuracy.json. Several hours on 2 busy cores for two
candidates with --lodo (each fold trains a model); minutes with --reuse.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, print_table, write_json

DATASETS = ("massey36", "grassknoted_letters", "aslhg")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidate", action="append", required=True, metavar="CONFIG")
    parser.add_argument("--reuse", action="append", default=[], metavar="CONFIG=GROUP[,GROUP]")
    parser.add_argument("--lodo", action="store_true", help="also leave one dataset out")
    parser.add_argument("--folds", type=int, help="people folds (default: the config's)")
    parser.add_argument("--runs-dir", type=Path, help="default: $ASL_RUNS_DIR or runs/")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key of every candidate")  # fmt: skip
    parser.add_argument("--target", type=float, default=0.95, help="accepted-answer accuracy")
    return parser


def lopo_runs(config: str, group: str | None, args: argparse.Namespace, root: Path) -> list[Path]:
    """The run folders of the candidate's lopo group (trained now unless `group` is given)."""
    from asl_core.runs.format import KFOLD_FILE
    from training import kfold

    if group is None:
        group = f"accuracy-lopo-{Path(config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        argv = ["--config", config, "--split", "lopo", "--runs-dir", str(root), "--group", group,
                "--set", "progress=false", "--set", "wandb=false"]  # fmt: skip
        argv += ["--folds", str(args.folds)] if args.folds else []
        for override in args.overrides:
            argv += ["--set", override]
        kfold.main(kfold.get_args_parser().parse_args(argv))
    record = json.loads((root / group / KFOLD_FILE).read_text())
    return [Path(run["run_dir"]) for run in record["runs"]]


def lodo_runs(
    config: str, group: str | None, args: argparse.Namespace, root: Path
) -> dict[str, Path]:
    from asl_core.training.config import load_config
    from asl_core.training.fit import fit
    from training.heldout import lodo_run_dirs

    if group:
        return lodo_run_dirs(root / group)

    group = f"accuracy-lodo-{Path(config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs = {}
    for dataset in DATASETS:
        overrides = ["split.name=lodo", f"split.test_dataset={dataset}", "progress=false",
                     "wandb=false", *args.overrides]  # fmt: skip
        loaded = load_config(config, overrides, runs_dir=str(root / group), group=group)
        runs[dataset] = fit(loaded).run_dir
    return runs


def measure(config: str, reuse: str | None, args: argparse.Namespace, root: Path) -> dict:
    from training import heldout

    lopo_group, _, lodo_group = (reuse or "").partition(",")
    runs = lopo_runs(config, lopo_group or None, args, root)
    readings = heldout.read_runs(runs)
    calibration = heldout.calibrate(readings, args.target, f"lopo, {len(runs)} folds")
    summary = heldout.summarise(
        readings, temperature=calibration.temperature, threshold=calibration.threshold
    )
    result: dict[str, Any] = {
        "config": config,
        "group": runs[0].parent.name,
        "lopo": summary,
        "calibration": calibration.to_dict(),
        "turned": {f"{d}": heldout.turned(readings, runs, d) for d in (30, 60)},
        "confusions": [[a, b, n] for (a, b), n in heldout.confusions(readings).most_common(15)],
    }
    if args.lodo:
        result["lodo"] = {}
        for dataset, run in lodo_runs(config, lodo_group or None, args, root).items():
            result["lodo"][dataset] = heldout.summarise(heldout.read_runs([run]))["overall"]
            result["lodo_group"] = run.parent.name
    return result


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        name = Path(result["config"]).stem
        lopo = result["lopo"]
        for dataset, values in [*lopo["per_dataset"].items(), ("mean of people", lopo["overall"])]:
            row = {"candidate": name, "held out": dataset, "people": values["people"]}
            row.update({k: values[k] for k in ("all", "group", "letters", "digits")})
            if dataset in result.get("lodo", {}):
                row["lodo group"] = result["lodo"][dataset]["group"]
            rows.append(row)
        accepted = lopo["accepted"]["all"]
        rows.append({
            "candidate": name,
            "held out": f"accepted >= {lopo['accepted']['threshold']:.2f}",
            "all": accepted["accuracy"],
            "group": lopo["accepted"]["group"]["accuracy"],
            "letters": lopo["accepted"]["all_letters"]["accuracy"],
            "people": None,
            "digits": None,
            "coverage": accepted["coverage"],
            "turned 30": result["turned"]["30"],
            "turned 60": result["turned"]["60"],
        })  # fmt: skip
    return rows


def main(args: argparse.Namespace) -> dict[str, Any]:
    from asl_core.settings import runs_dir

    root = (args.runs_dir or runs_dir()).resolve()
    reuse = dict(item.split("=", 1) for item in args.reuse)
    results = [measure(config, reuse.get(config), args, root) for config in args.candidate]
    print_table(table_rows(results), ("candidate", "held out", "people", "all", "group",
                                      "letters", "digits", "lodo group", "coverage",
                                      "turned 30", "turned 60"))  # fmt: skip
    print("all: any class answered; group: letters or digits (the photo's own); J and Z never "
          "answered; no hand counts as wrong; each person counts once")  # fmt: skip
    write_json("accuracy", {"command": sys.argv, "results": results})
    return {"results": results}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(get_args_parser().parse_args())
