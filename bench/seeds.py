"""The reference experiments (../shared/seeds) beside their write-ups: one row per experiment.

.venv/bin/python bench/seeds.py --quick      # every experiment, small: about an hour, 2 cores
.venv/bin/python bench/seeds.py              # full scale: the configs as written (many hours)
.venv/bin/python bench/seeds.py --quick --only seed003_scratch seed004_cnn_lstm

Each experiment runs its config in training/configs/ through the command a user would run
(`training.train`, `training.kfold` for seed 003's 5-fold protocol, `training.sweep` for seed
004's grid) and its figure is put beside the write-up's, measured the way the write-up measured
it: seed 003 the mean accuracy on the held-out fold (5 folds, validated on that fold), seed 004
validation and test accuracy of a stratified 70/15/15 split, the grid its best point. Seeds 000
and 002 report no accuracy; their row gives ours on a 70/15/15 split.

`--quick` shrinks what the write-ups leave to the machine: photos per class (`limit_per_class`),
image size, epochs (QUICK below, per experiment); seed 003's scratch model runs at full scale
(it takes a minute). Data, split, model, optimiser, learning rates, augmentation and stopping
rule stay the config's. Full scale runs the configs unchanged.

ImageNet ResNet18 and VGG16 weights cannot be downloaded here. When torchvision's file is not
in `--weights-dir` or torch's hub folder, the experiments that start from them (seed 003's
head-only and staged ResNet18, seed 002's VGG16) start instead from a stand-in: the same
network trained here from random weights on aslhg + grassknoted_letters (other people than
massey36's), passed as `init_checkpoint` with `pretrained=false`; the row says so. A stand-in
trained on 7,000 photos is no ImageNet: expect those rows well below the write-up's.

Writes bench/results/seeds.json and prints the table, and with `--markdown` the README's table.
Runs go to $ASL_RUNS_DIR/seeds-<scale>-<time>/ (W&B off: the plain run files are written).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from common import RESULTS, print_table, write_json

from asl_core.runs.format import CHECKPOINT_META_FILE
from asl_core.training.config import CONFIG_DIR


@dataclass(frozen=True)
class Experiment:
    """One experiment of a write-up: its config, how it is run and what the write-up reports."""

    name: str  # the config's file stem in training/configs
    seed: str
    title: str
    command: str  # train | kfold | sweep
    writeup: str  # the write-up's figure, as it states it
    writeup_acc: float | None  # that figure as a fraction, when it is an accuracy
    quick: tuple[str, ...] = ()  # --set overrides at quick scale
    stand_in: str | None = None  # the ImageNet weights file a stand-in replaces when missing
    deviations: tuple[str, ...] = field(default=())


SEED000_DEV = ("data not named by the write-up: massey36 letters",)
SEED002_DEV = ("datasets not named: massey36 (Kaggle ayuraj)", "split, optimiser, epochs ours")
SEED004_DEV = (
    "grassknoted_letters (26 letters, one signer, video frames) for 004's webcam set",
    "frames without a hand count wrong (004 kept only frames with one)",
)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("seed000_custom_cnn", "000", "CustomCNN (attention)", "train", "not reported",
               None, ("limit_per_class=40", "arch_kwargs.image_size=64", "epochs=8"),
               deviations=SEED000_DEV),
    Experiment("seed000_mobilenet_v2", "000", "CustomMobileNetV2 (ImageNet, attention)", "train",
               "not reported", None,
               ("limit_per_class=40", "arch_kwargs.image_size=96", "epochs=5"),
               deviations=SEED000_DEV),
    Experiment("seed000_resnet18", "000", "CustomResNet18 (attention)", "train", "not reported",
               None, ("limit_per_class=40", "arch_kwargs.image_size=64", "epochs=8"),
               deviations=(*SEED000_DEV, "random init (ImageNet ResNet18 not available)")),
    Experiment("seed002_small_cnn", "002", "5-conv CNN", "train", "not reported", None,
               ("limit_per_class=40", "arch_kwargs.image_size=64", "epochs=8"),
               deviations=SEED002_DEV),
    Experiment("seed002_vgg16", "002", "VGG16 transfer (frozen base, new top)", "train",
               "not reported", None,
               ("limit_per_class=20", "arch_kwargs.image_size=32", "epochs=5"),
               stand_in="vgg16-397923af.pth", deviations=SEED002_DEV),
    Experiment("seed003_scratch", "003", "scratch 28x28 MLP (300, 100)", "kfold",
               "85.23% validation (5-fold)", 0.8523, (),
               deviations=("augmentation off (destroys a 28 px image)",)),
    Experiment("seed003_resnet18_head", "003", "ResNet18, FC only", "kfold",
               "94.60% validation (5-fold)", 0.9460,
               ("limit_per_class=20", "arch_kwargs.image_size=64", "epochs=3"),
               stand_in="resnet18-f37072fd.pth"),
    Experiment("seed003_resnet18_staged", "003", "ResNet18, FC then layer4, layer3 at 1e-4",
               "kfold", "99.20% validation (5-fold)", 0.9920,
               ("limit_per_class=20", "arch_kwargs.image_size=64", "epochs=3", "stage_epochs=2"),
               stand_in="resnet18-f37072fd.pth"),
    Experiment("seed004_baseline_cnn", "004", "baseline CNN", "train",
               "validation 100% (train 100% at epoch 10)", 1.0,
               ("limit_per_class=60", "arch_kwargs.image_size=64", "epochs=6"),
               deviations=SEED004_DEV),
    Experiment("seed004_enhanced_cnn", "004", "enhanced CNN (BN + dropout on the 512 layer)",
               "train", "validation 100%, test 100%", 1.0,
               ("limit_per_class=60", "arch_kwargs.image_size=64", "epochs=6"),
               deviations=SEED004_DEV),
    Experiment("seed004_cnn_lstm", "004", "CNN+LSTM on 8 consecutive frames", "train",
               "validation 100%, test 100%", 1.0,
               ("arch_kwargs.image_size=64", "epochs=10"),
               deviations=(*SEED004_DEV, "004's code never calls its LSTM; ours does")),
    Experiment("seed004_grid", "004", "grid: batch x lr x weight decay (8 trials)", "sweep",
               "best: batch 32, lr 1e-3, wd 1e-4 (validation 100%)", 1.0,
               ("limit_per_class=30", "arch_kwargs.image_size=64", "epochs=3"),
               deviations=SEED004_DEV),
)  # fmt: skip


STAND_IN_DATA = ("aslhg", "grassknoted_letters")
STARTING_POINT = ("pretrained=", "init_checkpoint=", "weights_path=")  # said by the notes
STAND_IN_QUICK = ("limit_per_class=30", "epochs=5")
STAND_IN_LR = {"resnet18": 1e-3, "vgg16": 1e-4}  # VGG16 has no BatchNorm: 1e-3 does not learn


def _weights_file(filename: str, weights_dir: str | None) -> Path | None:
    """torchvision's ImageNet file in --weights-dir or torch's hub folder, else None."""
    import torch

    for folder in (weights_dir, Path(torch.hub.get_dir()) / "checkpoints"):
        if folder and (Path(folder) / filename).is_file():
            return Path(folder) / filename
    return None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale = "quick" if args.quick else "full"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        from asl_core.settings import runs_dir

        self.root = Path(args.runs_dir or runs_dir()).resolve() / f"seeds-{self.scale}-{stamp}"
        self.stand_ins: dict[tuple[str, str], dict[str, Any]] = {}

    def common(self) -> list[str]:
        return ["wandb=false", "progress=false"]

    def sets(self, experiment: Experiment) -> list[str]:
        return [*self.common(), *(experiment.quick if self.args.quick else ())]

    def stand_in(self, experiment: Experiment) -> tuple[list[str], str, dict[str, Any] | None]:
        """Overrides that start from a stand-in for missing ImageNet weights, the note, and
        the stand-in's record (None when the ImageNet file is there)."""
        from asl_core.training.config import load_config
        from asl_core.training.fit import fit

        weights = _weights_file(str(experiment.stand_in), self.args.weights_dir)
        if weights is not None:
            return [f"weights_path={weights}"], f"ImageNet weights {weights.name}", None
        base = load_config(CONFIG_DIR / f"{experiment.name}.yaml", self.sets(experiment))
        key = (base.model, repr(sorted(base.arch_kwargs.items())))
        if key not in self.stand_ins:
            sets = [*self.common(), f"model={base.model}", "pretrained=false", "freeze=none",
                    f"datasets=[{','.join(STAND_IN_DATA)}]", "representation=crop",
                    "split.name=random", f"lr={STAND_IN_LR[base.model]}", "batch_size=32",
                    "epochs=10", "augmentation.hflip_prob=0.5",
                    f"runs_dir={self.root / 'stand-ins'}", "name_suffix=stand-in"]  # fmt: skip
            sets += [f"arch_kwargs.{k}={v}" for k, v in base.arch_kwargs.items()]
            if self.args.quick:
                sets += list(STAND_IN_QUICK)
            print(f"\n### stand-in {base.model} {base.arch_kwargs} for missing "
                  f"{experiment.stand_in}", file=sys.stderr)  # fmt: skip
            result = fit(load_config(None, sets), command=sys.argv)
            self.stand_ins[key] = {
                "checkpoint": str(result.run_dir / CHECKPOINT_META_FILE),
                "model": base.model,
                "arch_kwargs": base.arch_kwargs,
                "overrides": sets,
                "test_acc": result.test.get("acc"),
                "best_val_acc": result.best_val_acc,
            }
        record = self.stand_ins[key]
        note = (f"no {experiment.stand_in} here: starts from a stand-in {base.model} trained "
                f"from random weights on {' + '.join(STAND_IN_DATA)} (its own validation "
                f"accuracy {record['best_val_acc']:.2f})")  # fmt: skip
        return ["pretrained=false", f"init_checkpoint={record['checkpoint']}"], note, record

    def run(self, experiment: Experiment) -> dict[str, Any]:
        from training import kfold, sweep, train

        sets = self.sets(experiment)
        notes = list(experiment.deviations)
        started = time.monotonic()  # a stand-in trained for this experiment counts in its time
        cpu_started = _cpu_seconds()
        stand_in = None
        if experiment.stand_in:
            extra, note, stand_in = self.stand_in(experiment)
            sets += extra
            notes.append(note)
        config = str(CONFIG_DIR / f"{experiment.name}.yaml")
        argv = ["--config", config, "--runs-dir", str(self.root / experiment.name)]
        for item in sets:
            argv += ["--set", item]
        print(f"\n### {experiment.name} ({self.scale}): {' '.join(argv)}", file=sys.stderr)
        row: dict[str, Any] = {
            "experiment": experiment.name,
            "seed": experiment.seed,
            "title": experiment.title,
            "command": f"training.{experiment.command}",
            "overrides": [s for s in sets if s not in self.common()],
            "writeup": experiment.writeup,
            "writeup_acc": experiment.writeup_acc,
            "deviations": notes,
            "stand_in": stand_in,
        }
        if experiment.command == "kfold":
            record = kfold.main(kfold.get_args_parser().parse_args(argv))
            stats = record["stats"]["test_acc"]
            row.update(acc=stats["mean"], acc_std=stats["std"], folds=stats["n"],
                       measure="held-out-fold accuracy, mean +- sd of 5 folds",
                       runs=[r["run_name"] for r in record["runs"]],
                       per_fold=[r["test_acc"] for r in record["runs"]])  # fmt: skip
        elif experiment.command == "sweep":
            record = sweep.main(sweep.get_args_parser().parse_args(argv))
            best = record["best"] or {}
            row.update(
                acc=best.get("best_val_acc"),
                test_acc=best.get("test_acc"),
                best_params=best.get("params"),
                measure="best trial's validation accuracy (its test accuracy)",
                trials=[
                    {k: t.get(k) for k in ("params", "best_val_acc", "test_acc", "status")}
                    for t in record["ranking"]
                ],
            )
        else:
            result = train.main(train.get_args_parser().parse_args(argv))
            row.update(acc=result.best_val_acc if experiment.seed == "004" else result.test["acc"],
                       val_acc=result.best_val_acc, test_acc=result.test["acc"],
                       test_count=result.test["count"], test_no_hand=result.test["no_hand"],
                       test_acc_with_hand=_with_hand(result.test),
                       measure=("best validation accuracy (test beside it)"
                                if experiment.seed == "004" else "test accuracy, 70/15/15"),
                       runs=[result.run_name], status=result.status)  # fmt: skip
        row["seconds"] = round(time.monotonic() - started, 1)
        row["cpu_seconds"] = round(_cpu_seconds() - cpu_started, 1)
        return row


def _cpu_seconds() -> float:
    """CPU time of this process, every thread (the machine is shared: wall time is not ours)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _with_hand(test: dict[str, Any]) -> float | None:
    """Test accuracy over the photos (sequences) in which a hand was found: seed 004 kept only
    those (its preprocessing saved a crop only where MediaPipe found a hand)."""
    found = test["count"] - test["no_hand"]
    return test["acc"] * test["count"] / found if found else None


def ours_text(row: dict[str, Any]) -> str:
    """The 'ours' cell: the figure measured as the write-up measured it."""
    acc = row.get("acc")
    if acc is None:
        return row.get("error", "failed")
    if row.get("acc_std") is not None:
        return f"{acc:.3f} +- {row['acc_std']:.3f} ({row['folds']} folds)"
    if row.get("best_params"):
        params = ", ".join(f"{k} {v}" for k, v in row["best_params"].items())
        return f"best: {params}; validation {acc:.3f}, test {row['test_acc']:.3f}"
    if row["seed"] == "004":
        return (f"validation {row['val_acc']:.3f}, test {row['test_acc']:.3f} "
                f"({row['test_acc_with_hand']:.3f} of those with a hand found)")  # fmt: skip
    return f"test {row['test_acc']:.3f} (validation {row['val_acc']:.3f})"


def markdown(rows: list[dict[str, Any]], scale: str) -> str:
    lines = [f"| seed | experiment (config) | write-up | ours, same protocol ({scale}) | "
             "scale and deviations | minutes, wall (CPU) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        shown = [o for o in row.get("overrides", []) if not o.startswith(STARTING_POINT)]
        scale_cell = "; ".join([*shown, *row.get("deviations", [])])
        lines.append(
            f"| {row['seed']} | {row['title']} (`{row['experiment']}`) | {row['writeup']} | "
            f"{ours_text(row)} | {scale_cell or 'as configured'} | "
            f"{row.get('seconds', 0) / 60:.1f} ({row.get('cpu_seconds', 0) / 60:.1f}) |"
        )
    return "\n".join(lines)


def _earlier_rows(scale: str) -> dict[str, dict[str, Any]]:
    """The rows of the last run at this scale (`--only` reruns replace theirs and keep the
    others)."""
    path = RESULTS / "seeds.json"
    if not path.is_file():
        return {}
    earlier = json.loads(path.read_text())
    if earlier.get("scale") != scale:
        return {}
    return {row["experiment"]: row for row in earlier.get("experiments", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small scale (about an hour)")
    parser.add_argument("--only", nargs="+", metavar="CONFIG", help="only these experiments")
    parser.add_argument("--weights-dir", help="folder holding torchvision ImageNet files")
    parser.add_argument("--runs-dir", help="parent of the runs folder (default: $ASL_RUNS_DIR)")
    parser.add_argument("--markdown", action="store_true", help="print the README table too")
    args = parser.parse_args()
    known = {e.name: e for e in EXPERIMENTS}
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        raise SystemExit(f"unknown experiments {unknown}; known: {', '.join(known)}")
    chosen = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    bench = Bench(args)
    earlier = _earlier_rows(bench.scale) if args.only else {}
    rows = []
    for experiment in chosen:
        try:
            rows.append(bench.run(experiment))
        except Exception as error:  # one broken experiment must not lose the others
            rows.append({"experiment": experiment.name, "seed": experiment.seed,
                         "title": experiment.title, "writeup": experiment.writeup,
                         "error": f"{type(error).__name__}: {error}"})  # fmt: skip
            print(f"{experiment.name} failed: {rows[-1]['error']}", file=sys.stderr)
        rows[-1]["runs_root"] = str(bench.root)
        done = {**earlier, **{r["experiment"]: r for r in rows}}
        ordered = [done[e.name] for e in EXPERIMENTS if e.name in done]
        write_json("seeds", {"scale": bench.scale, "experiments": ordered})
    rows = ordered
    table = [{**r, "ours": ours_text(r), "min": round(r.get("seconds", 0) / 60, 1),
              "cpu_min": round(r.get("cpu_seconds", 0) / 60, 1)} for r in rows]  # fmt: skip
    print_table(table, ("seed", "experiment", "writeup", "ours", "min", "cpu_min"))
    total = sum(r.get("seconds", 0) for r in rows) / 60
    cpu = sum(r.get("cpu_seconds", 0) for r in rows) / 60
    print(f"\n{len(rows)} experiments at {bench.scale} scale: {total:.1f} min wall, "
          f"{cpu:.1f} min CPU (all threads)")  # fmt: skip
    if args.markdown:
        print("\n" + markdown(rows, bench.scale))


if __name__ == "__main__":
    main()
