"""Train, measure and ship the app's default model, and write its model card.

    python -m training.model_card --config training/configs/default_model.yaml --ship

One command regenerates every number in `asl_core/default_model/MODEL_CARD.md`:
1. leave people out (`training.kfold --split lopo`): every one of the 12 people in
   massey36, grassknoted_letters and aslhg is held out once; `training.heldout` reads their
   photos as the app does and gives accuracy per person, per dataset and over people, the
   calibration (temperature and threshold: accepted answers 95% right on held-out people) and
   the confusions, and how much a hand turned in 3-D costs;
2. leave one dataset out: train on two datasets, test on the third (three runs);
3. a stratified random 70/15/15 split (optimistic: the same people and sessions on both
   sides), read with the same rules, whose checkpoint is the one shipped (it has seen every
   person), with the calibration of step 1 recorded in it;
4. the candidates compared by `bench/accuracy.py` (bench/results/accuracy.json), what the
   detector finds in dark and far photos (bench/results/hard_photos.json), when present;
5. CPU latency of the shipped model through the Predictor on real photos.
Photos where no hand is found count as wrong everywhere. Earlier runs can be reused
(`--lopo-group`, `--lodo-group`, `--random-run`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from training import format_table

ROOT = Path(__file__).resolve().parents[1]


DATASET_WORDS = {
    "massey36": "massey36 (5 people, hand on black)",
    "grassknoted_letters": "grassknoted (1 person, one room, letters only)",
    "aslhg": "aslhg (6 people, phone photos in ordinary rooms)",
}
"""How the card names each dataset's people and scene."""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="training/configs/default_model.yaml")
    parser.add_argument("--lopo-group", help="reuse this runs/<group> (kfold.json) for lopo")
    parser.add_argument("--lodo-group", help="reuse the lodo runs in this runs/<group> folder")
    parser.add_argument("--random-run", help="reuse this random-split run folder")
    parser.add_argument("--target", type=float, default=0.95, help="accepted answers right")
    parser.add_argument("--runs-dir", type=Path, help="default: $ASL_RUNS_DIR or runs/")
    parser.add_argument("--ship", action="store_true", help="copy the checkpoint into the app")
    parser.add_argument("--out", type=Path, default=ROOT / "asl_core" / "default_model")
    return parser


def lopo_runs(args: argparse.Namespace, runs_dir: Path) -> list[Path]:
    from asl_core.runs.format import KFOLD_FILE
    from training import kfold

    group = args.lopo_group
    if not group:
        group = f"card-lopo-{time.strftime('%Y%m%d-%H%M%S')}"
        kfold.main(kfold.get_args_parser().parse_args(
            ["--config", args.config, "--split", "lopo", "--runs-dir", str(runs_dir),
             "--group", group, "--set", "progress=false"]
        ))  # fmt: skip
    record = json.loads((runs_dir / group / KFOLD_FILE).read_text())
    return [Path(run["run_dir"]) for run in record["runs"]]


def lodo_runs(args: argparse.Namespace, runs_dir: Path) -> dict[str, Path]:
    """{test dataset: run folder}: reused from --lodo-group, or trained now (three runs)."""
    from asl_core.training.config import load_config
    from asl_core.training.fit import fit
    from training.heldout import lodo_run_dirs

    if args.lodo_group:
        return lodo_run_dirs(runs_dir / args.lodo_group)
    group = f"card-lodo-{time.strftime('%Y%m%d-%H%M%S')}"
    datasets = load_config(args.config, []).datasets
    runs = {}
    for dataset in datasets:
        overrides = ["split.name=lodo", f"split.test_dataset={dataset}", "progress=false"]
        config = load_config(args.config, overrides, runs_dir=str(runs_dir / group), group=group)
        runs[dataset] = fit(config).run_dir
    return runs


def run_random(args: argparse.Namespace, runs_dir: Path) -> Path:
    from asl_core.training.config import load_config
    from asl_core.training.fit import fit

    if args.random_run:
        return Path(args.random_run)
    config = load_config(
        args.config, ["split.name=random", "progress=false"], runs_dir=str(runs_dir)
    )
    return fit(config).run_dir


def per_class_accuracy(readings: Any, temperature: float) -> dict[str, float]:
    """Group-rule accuracy of each class on the held-out people's photos (no hand = wrong);
    J and Z, never answered from a still photo, are left out."""
    from asl_core.inference.answers import motion_mask
    from training import heldout

    index, _, _ = heldout.answer(readings, "group", temperature)
    correct = index == readings.labels
    motion = motion_mask(readings.class_names)
    return {
        name: float(correct[readings.labels == i].mean())
        for i, name in enumerate(readings.class_names)
        if (readings.labels == i).any() and not motion[i]
    }


def measure_latency(checkpoint: Path, photos: list[Path]) -> dict[str, float]:
    from asl_core.inference.predictor import Predictor
    from asl_core.io.images import load_image

    detect, model = [], []
    with Predictor([checkpoint], mirror=True) as predictor:
        for path in photos:
            prediction = predictor.predict_image(load_image(path))
            detect.append(prediction.timings_ms.get("detect", 0.0))
            model.append(prediction.timings_ms.get("model", 0.0))
    return {"detect_ms": statistics.median(detect), "model_ms": statistics.median(model)}


def hard_photos() -> list[dict[str, Any]]:
    """bench/hard_photos.py's share of hands found in dark and far photos, when it was run."""
    path = ROOT / "bench" / "results" / "hard_photos.json"
    if not path.exists():
        return []
    wanted = ("ordinary", "dark", "far")
    rows = [row for row in json.loads(path.read_text()).get("variants", [])
            if row.get("side") == "after" and row.get("variant") in wanted]  # fmt: skip
    return [{"variant": r["variant"], "photos": r["photos"], "found": r["hand found"]}
            for r in rows]  # fmt: skip


def candidates() -> list[dict[str, Any]]:
    """bench/accuracy.py's candidates (bench/results/accuracy.json), when it was run."""
    path = ROOT / "bench" / "results" / "accuracy.json"
    if not path.exists():
        return []
    rows = []
    for result in json.loads(path.read_text()).get("results", []):
        lopo = result["lopo"]
        rows.append({
            "config": result["config"],
            "per_dataset": {k: v["group"] for k, v in lopo["per_dataset"].items()},
            "mean": lopo["overall"]["group"],
            "mean_all": lopo["overall"]["all"],
            "turned_60": result["turned"]["60"],
            "lodo": {k: v["group"] for k, v in result.get("lodo", {}).items()},
        })  # fmt: skip
    return rows


def candidates_command() -> str | None:
    """The command line that produced bench/results/accuracy.json, when it was run."""
    path = ROOT / "bench" / "results" / "accuracy.json"
    if not path.exists():
        return None
    command = json.loads(path.read_text()).get("command") or []
    return " ".join(shlex.quote(part) for part in ["python", *command]) or None


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


CARD_TEMPLATE = Path(__file__).with_name("model_card.md.j2")
"""The card's text (jinja2); `render_card` fills it in."""


def render_card(card: dict[str, Any]) -> str:
    """MODEL_CARD.md's text for `card` (what `main` builds, or card.json as shipped)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(CARD_TEMPLATE.parent),
        undefined=jinja2.StrictUndefined,  # a missing card field is an error, not a blank
        autoescape=False,  # markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["f3"] = fmt
    environment.filters["pct"] = pct
    template = environment.get_template(CARD_TEMPLATE.name)
    return template.render(**card, dataset_words=DATASET_WORDS)


def write_card(out: Path, card: dict[str, Any]) -> None:
    """Write out/MODEL_CARD.md."""
    (out / "MODEL_CARD.md").write_text(render_card(card))


def main(args: argparse.Namespace) -> dict[str, Any]:
    from asl_core.io.files import atomic_write_json
    from asl_core.models.checkpoint import checkpoint_paths, read_meta
    from asl_core.runs.format import CHECKPOINT_META_FILE, CONFIG_FILE, SUMMARY_FILE
    from asl_core.settings import data_dir, runs_dir
    from training import heldout

    root = (args.runs_dir or runs_dir()).resolve()
    runs = lopo_runs(args, root)
    readings = heldout.read_runs(runs)
    people = len(set(readings.person))
    calibration = heldout.calibrate(
        readings, args.target, f"leave people out: {len(runs)} folds, {people} people"
    )
    temperature = calibration.temperature
    lopo = heldout.summarise(readings, temperature=temperature, threshold=calibration.threshold)
    confused = heldout.confusions(readings, temperature)
    lodo = {
        dataset: heldout.summarise(heldout.read_runs([run]), temperature=temperature)["overall"]
        for dataset, run in lodo_runs(args, root).items()
    }
    random_dir = run_random(args, root)
    summary = json.loads((random_dir / SUMMARY_FILE).read_text())
    config = json.loads((random_dir / CONFIG_FILE).read_text())
    photos = sorted((data_dir() / "massey36" / "images").glob("*/hand5_*_bot_seg_1_*.jpeg"))
    checkpoint = random_dir / CHECKPOINT_META_FILE
    meta = read_meta(checkpoint)
    card = {
        "architecture": meta.architecture,
        "representation": str(meta.input_spec.representation),
        "class_names": meta.class_names,
        "datasets": config["datasets"],
        "dataset_limits": config.get("dataset_limits") or {},
        "config": args.config,
        "lopo": {"group": runs[0].parent.name, "folds": len(runs), **lopo},
        "lodo": lodo,
        "calibration": calibration.to_dict(),
        "turned": {str(d): heldout.turned(readings, runs, d) for d in (30, 60)},
        "pairs": [[a, b, n] for (a, b), n in confused.most_common(12)],
        "per_class": per_class_accuracy(readings, temperature),
        "random": {
            "run": random_dir.name,
            "test_acc": summary["test_acc"],
            "seed": config["split"]["params"].get("random_state"),
            **heldout.summarise(heldout.read_runs([random_dir]), temperature=temperature)[
                "overall"
            ],
        },
        "hard_photos": hard_photos(),
        "candidates": candidates(),
        "candidates_command": candidates_command(),
        "latency": measure_latency(checkpoint, photos),
        "command": f"python -m training.model_card --config {args.config} --ship",
    }
    columns = ("people", "all", "group", "letters", "digits")
    held_out = [*lopo["per_dataset"].items(), ("mean of people", lopo["overall"])]
    rows = [{"held out": name, **{m: values[m] for m in columns}} for name, values in held_out]
    print(format_table(rows, ("held out", *columns)))
    print(
        f"calibration: T={calibration.temperature:.3f}, threshold {calibration.threshold:.3f}: "
        f"accepted {calibration.accepted_accuracy:.3f} right, coverage {calibration.coverage:.3f}"
        f"; random split {card['random']['group']:.4f} (optimistic)"
    )
    if args.ship:
        args.out.mkdir(parents=True, exist_ok=True)
        weights, meta_path = checkpoint_paths(checkpoint)
        shutil.copyfile(weights, args.out / "model.safetensors")
        shipped = json.loads(meta_path.read_text())
        overall = lopo["overall"]
        shipped["metrics"] = {
            **shipped.get("metrics", {}),
            "unseen_signer_acc_letters_or_digits": overall["group"],
            "unseen_signer_acc_all_classes": overall["all"],
            "unseen_signer_acc_letters": overall["letters"],
            "unseen_signer_acc_digits": overall["digits"],
            **{f"unseen_signer_acc_{k}": v["group"] for k, v in lopo["per_dataset"].items()},
            **{f"lodo_acc_{k}": v["group"] for k, v in lodo.items()},
            "random_split_acc_letters_or_digits": card["random"]["group"],
        }
        shipped["extra"] = {
            **shipped.get("extra", {}),
            "source_run": random_dir.name,
            "calibration": calibration.to_dict(),
        }
        atomic_write_json(args.out / "model.json", shipped)
        atomic_write_json(args.out / "card.json", card)
        write_card(args.out, card)
        print(f"shipped {args.out / 'model.json'} and MODEL_CARD.md")
    return card


if __name__ == "__main__":
    main(get_args_parser().parse_args())
