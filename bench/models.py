"""Parameters, size on disk and CPU latency (batch 1) of every registered model.

.venv/bin/python bench/models.py [--repeats 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import print_table, summarise_ms, time_call, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classes", type=int, default=36)
    args = parser.parse_args()

    import torch

    from asl_core.models.checkpoint import checkpoint_paths, save_checkpoint
    from asl_core.models.registry import create_model, list_models

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        for name in list_models():
            torch.manual_seed(0)
            model = create_model(name, num_classes=args.classes).eval()
            x = model.input_spec.example(batch=1)
            stem = Path(tmp) / name
            save_checkpoint(stem, model, [str(i) for i in range(args.classes)], architecture=name)
            size = checkpoint_paths(stem)[0].stat().st_size
            times = time_call(lambda m=model, x=x: m(x), repeats=args.repeats)
            spec = model.input_spec
            shape = f"{spec.kind} {spec.size or spec.dim}" + (
                f"x{spec.sequence_length}" if spec.sequence_length else ""
            )
            rows.append({
                "model": name,
                "input": shape,
                "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
                "size_MB": size / 1e6,
                **summarise_ms(times),
            })  # fmt: skip
    print_table(rows, ["model", "input", "params_M", "size_MB", "median_ms", "p95_ms"])
    write_json("models", {"repeats": args.repeats, "batch": 1, "rows": rows})


if __name__ == "__main__":
    main()
