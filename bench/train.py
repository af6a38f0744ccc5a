"""Training throughput (images per second) of every registered model on this CPU.

.venv/bin/python bench/train.py [--models landmark_mlp small_cnn] [--batch 16] [--steps 3]
                                [--threads 2] [--size 112]

A training step is forward, cross-entropy, backward and an Adam step on a synthetic batch of
the model's declared input (throughput does not depend on the pixels). Each model gets one
untimed warm-up step, then `--steps` timed ones; images/s = batch / median step time. The
data pipeline is measured separately: `augment` rows time the training preset on one cached
224 px crop (`--size` overrides the models' input sizes for a quick look at smaller inputs).

`--card` reruns the model card's accuracy table (leave-one-signer-out and random split, about
10 minutes): `python -m training.model_card`, printed but not shipped.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import print_table, write_json

LIGHT_FIRST = ("landmark_mlp", "scratch_mlp", "small_cnn", "custom_cnn", "baseline_cnn",
               "enhanced_cnn", "cnn_lstm", "mobilenet_v2", "resnet18", "vgg16")  # fmt: skip


def train_step_seconds(name: str, batch: int, steps: int, size: int | None) -> dict:
    import torch

    from asl_core.models.registry import create_model

    torch.manual_seed(0)
    kwargs = {"image_size": size} if size and name != "landmark_mlp" else {}
    model = create_model(name, num_classes=36, **kwargs).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    inputs = model.input_spec.example(batch)
    labels = torch.randint(0, 36, (batch,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        criterion(model(inputs), labels).backward()
        optimizer.step()

    step()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    spec = model.input_spec
    frames = spec.sequence_length or 1
    return {
        "model": name,
        "input": f"{spec.kind} {spec.size or spec.dim}" + (f"x{frames}" if frames > 1 else ""),
        "batch": batch,
        "step_ms": 1000 * median,
        "images_per_s": batch / median,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
    }


def augment_rows(repeats: int = 20) -> list[dict]:
    """Time the training presets on a 224 px RGB image (the cache size)."""
    import numpy as np

    from asl_core.data.augment import AugmentConfig, LandmarkTrainPreset, train_preset
    from asl_core.vision.spec import InputSpec

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    rows = []
    for size in (28, 112, 224):
        spec = InputSpec(kind="image", size=size)
        preset = train_preset(spec, AugmentConfig(hflip_prob=0.5))
        preset(image)
        start = time.perf_counter()
        for _ in range(repeats):
            preset(image)
        seconds = (time.perf_counter() - start) / repeats
        rows.append({"model": f"augment image {size}px", "step_ms": 1000 * seconds,
                     "images_per_s": 1 / seconds, "batch": 1})  # fmt: skip
    vector = rng.normal(size=63).astype(np.float32)
    preset = LandmarkTrainPreset(AugmentConfig())
    start = time.perf_counter()
    for _ in range(repeats * 10):
        preset(vector)
    seconds = (time.perf_counter() - start) / (repeats * 10)
    rows.append({"model": "augment landmarks", "step_ms": 1000 * seconds,
                 "images_per_s": 1 / seconds, "batch": 1})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", help="default: every registered model")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, help="override every image model's input size")
    parser.add_argument(
        "--card",
        action="store_true",
        help="rerun the model card's accuracy table (training.model_card, without shipping)",
    )
    args = parser.parse_args()  # fmt: skip
    if args.card:
        from training import model_card

        model_card.main(model_card.get_args_parser().parse_args([]))
        return

    import torch

    from asl_core.models.registry import list_models

    torch.set_num_threads(args.threads)
    names = args.models or [n for n in LIGHT_FIRST if n in list_models()] + [
        n for n in list_models() if n not in LIGHT_FIRST
    ]
    rows = []
    for name in names:
        rows.append(train_step_seconds(name, args.batch, args.steps, args.size))
        print(f"{name}: {rows[-1]['images_per_s']:.1f} images/s", flush=True)
    rows += augment_rows()
    print()
    print_table(rows, ["model", "input", "batch", "step_ms", "images_per_s", "params_M"])
    write_json("train", {"batch": args.batch, "steps": args.steps, "size": args.size,
                         "rows": rows})  # fmt: skip


if __name__ == "__main__":
    main()
