"""Does an image model on hand crops help the landmark model on people it never saw?

.venv/bin/python bench/ensemble.py --landmark-group LOPO_GROUP --image-group LOPO_GROUP \
    [--weight 0.5] [--photos 60] [--threads 2]

1. Accuracy: the two leave-people-out groups (`python -m training.kfold --split lopo`, the
   same folds: the same people held out, checked) are read by `training.heldout` on the
   landmark runs' held-out photos (every photo of those people, whatever the image runs were
   trained on): landmarks alone, the image model alone, and their ensemble (temperature-scaled
   probabilities averaged with `--weight` for the landmark model, fixed before measuring; each
   person's temperatures fitted on the other people). Per dataset and the mean over held-out
   people, under training.heldout's rules (no hand = wrong, J and Z never answered, letters
   and digits read in their own group); accepted answers at the threshold making them 95%
   right, with coverage.
2. CPU latency of one photo (`Predictor.predict_image`: detection, preprocessing, models) on
   real Massey photos: the shipped landmark model alone, and with the image model of fold 0
   (without, and with, the mirrored second reading the Predictor gives image models), in one
   run, alternating: the median over photos of each photo's fastest of `--repeats` (wall
   clock) and the mean CPU time per photo (all threads), each as a ratio to landmarks alone.

Prints the tables and writes bench/results/ensemble.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, print_table, require_massey, write_json

METRICS = ("letters", "digits", "group", "all")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landmark-group", required=True, help="lopo group of the landmark model")
    parser.add_argument("--image-group", required=True, help="lopo group of the image model")
    parser.add_argument("--weight", type=float, default=0.5, help="landmark model's share")
    parser.add_argument("--photos", type=int, default=60, help="photos timed for latency")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs-dir", type=Path, help="default: $ASL_RUNS_DIR or runs/")
    parser.add_argument("--target", type=float, default=0.95, help="accepted-answer accuracy")
    return parser


def fold_runs(group_dir: Path) -> dict[str, Path]:
    """{"fold<k>": run folder} of the finished leave-people-out runs in a group folder (made
    by `training.kfold --split lopo`, or fold by fold by `training.train`)."""
    from asl_core.runs.format import CHECKPOINT_META_FILE, CONFIG_FILE

    found = {}
    for config_path in sorted(group_dir.glob(f"*/{CONFIG_FILE}")):
        split = json.loads(config_path.read_text(encoding="utf-8"))["split"]
        if split["name"] == "lopo" and (config_path.parent / CHECKPOINT_META_FILE).exists():
            found[f"fold{split['params']['fold']}"] = config_path.parent
    if not found:
        raise SystemExit(f"no finished leave-people-out runs in {group_dir}")
    return found


def scored(readings: Any, target: float, label: str) -> dict[str, Any]:
    from training import heldout

    calibration = heldout.calibrate(readings, target, label)
    summary = heldout.summarise(
        readings, temperature=calibration.temperature, threshold=calibration.threshold
    )
    return {"summary": summary, "calibration": calibration.to_dict()}


def accuracy(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from training import heldout

    landmark_runs = fold_runs(root / args.landmark_group)
    image_runs = fold_runs(root / args.image_group)
    if set(landmark_runs) != set(image_runs):
        raise SystemExit(f"folds differ: {sorted(landmark_runs)} and {sorted(image_runs)}")
    folds = sorted(landmark_runs)
    landmark = heldout.read_runs([landmark_runs[f] for f in folds])
    image = heldout.read_runs(
        [image_runs[f] for f in folds], photos_of=[landmark_runs[f] for f in folds]
    )
    fused = heldout.ensemble([landmark, image], [args.weight, 1.0 - args.weight])
    label = f"lopo, {len(folds)} folds"
    return {
        "landmarks": scored(landmark, args.target, label),
        "image": scored(image, args.target, label),
        "ensemble": scored(fused, args.target, label),
    }


def accuracy_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, result in results.items():
        summary = result["summary"]
        per = [*summary["per_dataset"].items(), ("mean of people", summary["overall"])]
        for dataset, values in per:
            row = {"model": name, "held out": dataset, "people": values["people"]}
            rows.append({**row, **{metric: values[metric] for metric in METRICS}})
        accepted = summary["accepted"]
        rows.append({
            "model": name,
            "held out": f"accepted >= {accepted['threshold']:.2f}",
            "all": accepted["all"]["accuracy"],
            "letters": accepted["all_letters"]["accuracy"],
            "coverage": accepted["all"]["coverage"],
        })  # fmt: skip
    return rows


def latency(args: argparse.Namespace, image_checkpoint: Path) -> dict[str, Any]:
    """Median ms per photo of the three Predictors on the same photos (module doc)."""
    from pipeline import sample_photos

    from asl_core.inference.predictor import Predictor, default_model_path
    from asl_core.io.images import load_image
    from asl_core.vision.hands import HandDetector

    images = [load_image(p) for p in sample_photos(require_massey(), args.photos)]
    detector = HandDetector(mode="image")
    shipped = default_model_path()
    shared = {"detector": detector}
    predictors = {
        "landmarks alone": Predictor(detector=detector),
        "landmarks + image": Predictor([shipped, image_checkpoint], mirror=False, **shared),
        "landmarks + image, mirrored too": Predictor([shipped, image_checkpoint], **shared),
    }
    for predictor in predictors.values():  # warm-up: MediaPipe's graph, torch's kernels
        for rgb in images[:3]:
            predictor.predict_image(rgb)
    best: dict[str, list[float]] = {name: [float("inf")] * len(images) for name in predictors}
    cpu: dict[str, float] = dict.fromkeys(predictors, 0.0)
    for _ in range(args.repeats):
        for k, rgb in enumerate(images):
            for name, predictor in predictors.items():
                wall, used = time.perf_counter(), time.process_time()
                predictor.predict_image(rgb)
                cpu[name] += time.process_time() - used
                best[name][k] = min(best[name][k], time.perf_counter() - wall)
    detector.close()
    rows = []
    for name, times in best.items():
        rows.append({
            "path": name,
            "photos": len(times),
            "median_ms": 1000 * statistics.median(times),
            "cpu_ms_per_photo": 1000 * cpu[name] / (len(times) * args.repeats),
        })  # fmt: skip
    base, base_cpu = rows[0]["median_ms"], rows[0]["cpu_ms_per_photo"]
    for row in rows:
        row["ratio"] = row["median_ms"] / base
        row["cpu_ratio"] = row["cpu_ms_per_photo"] / base_cpu
    return {"rows": rows, "image_checkpoint": str(image_checkpoint), "repeats": args.repeats}


def main(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from asl_core.settings import runs_dir

    torch.set_num_threads(args.threads)
    root = (args.runs_dir or runs_dir()).resolve()
    started = time.process_time()
    results = accuracy(args, root)
    accuracy_cpu_s = time.process_time() - started
    print_table(accuracy_rows(results), ("model", "held out", "people", *METRICS, "coverage"))
    print(f"ensemble: landmark weight {args.weight}; temperatures per person fitted on the "
          "others; no hand = wrong; J and Z never answered; each person counts once")  # fmt: skip
    from asl_core.runs.format import CHECKPOINT_META_FILE

    image_checkpoint = fold_runs(root / args.image_group)["fold0"] / CHECKPOINT_META_FILE
    timing = latency(args, image_checkpoint)
    print()
    print_table(timing["rows"], ("path", "photos", "median_ms", "ratio", "cpu_ms_per_photo",
                                   "cpu_ratio"))  # fmt: skip
    payload = {
        "command": sys.argv,
        "landmark_group": args.landmark_group,
        "image_group": args.image_group,
        "weight": args.weight,
        "accuracy": results,
        "accuracy_cpu_s": accuracy_cpu_s,
        "latency": timing,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    write_json("ensemble", payload)
    return payload


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(get_args_parser().parse_args())
