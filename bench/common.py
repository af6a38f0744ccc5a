"""Shared by the benchmark scripts: timing, a plain-text table and a JSON record."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/NAME.py` from the repository root
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def require_massey() -> Path:
    """The massey36 photos the benchmarks read; exits with the reason when they are absent."""
    from asl_core.settings import data_dir

    massey_root = data_dir() / "massey36"
    if not (massey_root / "MANIFEST.csv").exists():
        raise SystemExit(f"real photos not found at {massey_root} (set ASL_DATA_DIR)")
    return massey_root


def time_call(fn: Callable[[], Any], *, repeats: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summarise_ms(times: Sequence[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * p95}


def machine() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    from training import format_table

    print(format_table(rows, columns))


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path
