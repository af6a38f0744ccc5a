"""fp32 vs int8 (and pruned) exports of one checkpoint: size, CPU latency and accuracy, one run.

.venv/bin/python bench/export.py [--model M.json] [--data ../shared/data/massey36]
                                 [--per-class 8] [--repeats 50] [--threads 2] [--prune 0.3]

Every variant (PyTorch fp32; ONNX fp32, int8 dynamic, int8 static; TorchScript fp32, int8
dynamic; ONNX fp32 pruned) is exported from the same checkpoint into a temporary folder and
measured the same way:
- size on disk of the model file;
- CPU latency of the model alone, batch 1, median and p95 over `--repeats` calls after 30
  untimed ones (TorchScript's first 10-20 calls are far slower: it re-optimises the graph);
- accuracy on real massey36 photos through the Predictor's own path (MediaPipe detection,
  input building, mirrored second reading, as the app answers); a photo where no hand is
  found counts as wrong. Detections are computed once and shared by every variant;
- top-1 agreement with PyTorch fp32 on the same photos.
Two photo sets: a class-balanced random sample of photos of signers the model was trained on
(it may contain training photos: a measure of fidelity, not of generalisation), and every
photo of one signer (default hand5, left out of the random set). That signer is called
"unseen" only when the checkpoint's metadata says the model never saw it (`meta.data`: the
split's signers per side, a leave-one-signer-out test signer, or datasets without massey36);
otherwise the column says "seen in training" or "training signers not recorded".

Writes bench/results/export.json and bench/results/export.md (the table for the model card).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, print_table, summarise_ms, time_call, write_json

WARMUP = 30
"""Untimed calls first: TorchScript's profiling executor re-optimises the graph during its first
10-20 calls, which run 100-1000x slower (about 70 ms each for the landmark MLP here)."""


@dataclass
class Variant:
    name: str
    fmt: str  # "pytorch", "onnx", "torchscript"
    quantize: str | None = None
    prune: float | None = None


@dataclass
class PhotoSet:
    key: str
    description: str
    photos: list[Any]  # asl_core.data.sources.Sample
    unseen: bool


def variants(prune: float | None) -> list[Variant]:
    chosen = [
        Variant("PyTorch fp32 (safetensors)", "pytorch"),
        Variant("ONNX fp32", "onnx"),
        Variant("ONNX int8 dynamic", "onnx", "int8"),
        Variant("ONNX int8 static", "onnx", "int8-static"),
        Variant("TorchScript fp32", "torchscript"),
        Variant("TorchScript int8 dynamic", "torchscript", "int8"),
    ]
    if prune:
        chosen.append(Variant(f"ONNX fp32, pruned {prune:.0%}", "onnx", None, prune))
    return chosen


def balanced_sample(samples: list[Any], per_class: int, seed: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    by_class: dict[str, list[Any]] = {}
    for sample in samples:
        by_class.setdefault(sample.label, []).append(sample)
    chosen = []
    for label in sorted(by_class):
        members = by_class[label]
        picks = rng.choice(len(members), size=min(per_class, len(members)), replace=False)
        chosen += [members[i] for i in sorted(picks)]
    return chosen


def photo_sets(meta: Any, samples: list[Any], args: argparse.Namespace) -> list[PhotoSet]:
    """A random set of photos and the photos of one signer, disjoint. The signer's set is
    called unseen only when the checkpoint's metadata says the model never saw that signer."""
    from asl_core.export.common import unseen_signers

    signers = sorted({s.signer for s in samples if s.signer})
    unseen = unseen_signers(meta, signers, "massey36")
    if unseen:
        held_out = args.signer if args.signer in unseen else sorted(unseen)[0]
        signer_description = f"unseen signer {held_out}, all photos"
    else:
        held_out = args.signer
        why = "seen in training" if unseen is not None else "training signers not recorded"
        signer_description = f"signer {held_out}, all photos ({why})"
    pool = [s for s in samples if s.signer != held_out and s.signer not in (unseen or set())]
    names = ", ".join(sorted({s.signer for s in pool}))
    random_description = f"random photos of {names} ({args.per_class}/class, seen in training)"
    return [
        PhotoSet("random", random_description, balanced_sample(pool, args.per_class, args.seed),
                 unseen=False),
        PhotoSet("signer", signer_description, [s for s in samples if s.signer == held_out],
                 unseen=bool(unseen)),
    ]  # fmt: skip


def unseen_note(meta: Any, samples: list[Any]) -> str:
    from asl_core.export.common import unseen_signers

    unseen = unseen_signers(meta, {s.signer for s in samples if s.signer}, "massey36")
    if unseen is None:
        return (
            "The checkpoint does not record which signers it was trained on, so no accuracy "
            "here is on an unseen signer."
        )
    if not unseen:
        return "Every massey36 signer was seen in training: no unseen-signer accuracy."
    return f"Signers never seen in training, per the checkpoint: {', '.join(sorted(unseen))}."


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="checkpoint .json (default: shipped)"
    )
    parser.add_argument("--data", type=Path, default=None, help="massey36 folder")
    parser.add_argument("--per-class", type=int, default=8, help="photos per class, random set")
    parser.add_argument("--signer", default="hand5", help="preferred unseen signer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prune", type=float, default=0.3, help="0 to leave the pruned row out")
    parser.add_argument("--calibration-count", type=int, default=128)
    args = parser.parse_args()

    import torch

    from asl_core.data.sources import load_folder
    from asl_core.export.checkpoint_export import export_checkpoint
    from asl_core.export.quantize import calibration_inputs
    from asl_core.export.torchscript import load_torchscript
    from asl_core.inference.predictor import LoadedModel, Predictor, default_model_path
    from asl_core.io.images import load_image
    from asl_core.models.checkpoint import load_checkpoint
    from asl_core.models.onnx_model import OnnxModel
    from asl_core.settings import data_dir
    from asl_core.vision.hands import HandDetector

    torch.set_num_threads(args.threads)
    source = args.model or default_model_path()
    if source.suffix == ".onnx":
        parser.error("--model takes the checkpoint (.json) the exports are made from")
    checkpoint = load_checkpoint(source)
    meta, spec = checkpoint.meta, checkpoint.meta.input_spec
    samples = load_folder(args.data or data_dir() / "massey36")
    sets = photo_sets(meta, samples, args)
    evaluated = {s.path for photo_set in sets for s in photo_set.photos}
    # Calibration photos: seen signers only, none of the photos evaluated on.
    unseen_names = {s.signer for photo_set in sets if photo_set.unseen for s in photo_set.photos}
    calibration_pool = [
        s for s in samples if s.path not in evaluated and s.signer not in unseen_names
    ]
    per_class = -(-args.calibration_count // len({s.label for s in samples}))  # rounded up
    calibration_photos = [s.path for s in balanced_sample(calibration_pool, per_class, 1)]

    detector = HandDetector(mode="image")
    print(f"detecting hands in {len(evaluated)} photos (once, shared by every variant) ...")
    cache: dict[Path, tuple[Any, Any]] = {}
    for photo_set in sets:
        for sample in photo_set.photos:
            if sample.path not in cache:
                rgb = load_image(sample.path)
                cache[sample.path] = (rgb, detector.detect(rgb))
    calibration = calibration_inputs(
        spec, calibration_photos, limit=args.calibration_count, detector=detector
    )

    rows: list[dict[str, Any]] = []
    reference: dict[Path, str | None] = {}
    example = spec.example(1)
    with tempfile.TemporaryDirectory(prefix="asl-bench-export-") as tmp:
        for variant in variants(args.prune or None):
            if variant.fmt == "pytorch":
                path, model = checkpoint.path.with_suffix(".safetensors"), checkpoint.model
                record: dict[str, Any] = {}
            else:
                suffix = ".onnx" if variant.fmt == "onnx" else ".torchscript.pt"
                result = export_checkpoint(
                    checkpoint.path,
                    variant.fmt,
                    output=Path(tmp) / f"{len(rows)}{suffix}",
                    quantize=variant.quantize,
                    prune=variant.prune,
                    calibration=calibration,
                )
                path, record = result.path, result.record
                model = (
                    OnnxModel(path, threads=args.threads)
                    if variant.fmt == "onnx"
                    else load_torchscript(path)
                )
            with torch.inference_mode():
                times = time_call(lambda m=model: m(example), repeats=args.repeats, warmup=WARMUP)
            predictor = Predictor([checkpoint.path], detector=detector)
            predictor.models = [LoadedModel(model, meta, path)]  # same Predictor path for all
            row: dict[str, Any] = {
                "variant": variant.name,
                "size_MB": path.stat().st_size / 1e6,
                **summarise_ms(times),
            }
            agree = total_with_hand = 0
            for photo_set in sets:
                correct = 0
                for sample in photo_set.photos:
                    rgb, det = cache[sample.path]
                    label = predictor.predict_detection(rgb, det).label
                    correct += label == sample.label
                    if variant.fmt == "pytorch":
                        reference[sample.path] = label
                    elif det is not None:
                        agree += label == reference[sample.path]
                        total_with_hand += 1
                row[f"acc_{photo_set.key}"] = correct / len(photo_set.photos)
            row["agree_fp32"] = agree / total_with_hand if total_with_hand else 1.0
            if record:
                row["check"] = record["export"]["check"]
                row["pruning"] = record["export"]["pruning"]
            rows.append(row)
            print(f"  {variant.name}: done")
    detector.close()

    columns = ["variant", "size_MB", "median_ms", "p95_ms"]
    columns += [f"acc_{s.key}" for s in sets] + ["agree_fp32"]
    print()
    print_table(rows, columns)
    for photo_set in sets:
        with_hand = sum(cache[s.path][1] is not None for s in photo_set.photos)
        print(f"acc_{photo_set.key}: {photo_set.description}: {len(photo_set.photos)} photos, "
              f"hand found in {with_hand}")  # fmt: skip
    note = unseen_note(meta, samples)
    print(note)

    payload = {
        "model": str(source),
        "architecture": meta.architecture,
        "input_spec": spec.to_dict(),
        "threads": args.threads,
        "repeats": args.repeats,
        "batch": 1,
        "photo_sets": {
            s.key: {
                "description": s.description,
                "photos": len(s.photos),
                "with_hand": sum(cache[p.path][1] is not None for p in s.photos),
                "unseen_signer": s.unseen,
            }
            for s in sets
        },
        "calibration": {"photos": len(calibration_photos), "with_hand": len(calibration)},
        "unseen_note": note,
        "rows": rows,
    }
    write_json("export", payload)
    markdown = markdown_table(rows, sets, meta, source, args, note)
    (RESULTS / "export.md").write_text(markdown)
    print(f"wrote {(RESULTS / 'export.md').relative_to(ROOT)}")


def markdown_table(
    rows: list[dict[str, Any]],
    sets: list[PhotoSet],
    meta: Any,
    source: Path,
    args: argparse.Namespace,
    note: str,
) -> str:
    headers = ["variant", "size (MB)", "latency median (ms)", "latency p95 (ms)"]
    headers += [f"accuracy: {s.description}" for s in sets] + ["top-1 agreement with fp32"]
    lines = [
        f"Exports of `{source.name}` ({meta.architecture}, {meta.num_classes} classes): "
        f"CPU, {args.threads} threads, batch 1, model only; accuracy through the Predictor "
        "(MediaPipe detection, mirrored second reading; no hand found counts as wrong).",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    for row in rows:
        cells = [
            row["variant"],
            f"{row['size_MB']:.3f}",
            f"{row['median_ms']:.3f}",
            f"{row['p95_ms']:.3f}",
            *(f"{row[f'acc_{s.key}']:.1%} (n={len(s.photos)})" for s in sets),
            f"{row['agree_fp32']:.1%}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", note, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
