"""The Runs page with 10,000 runs: listing cold and warm, and clicks on the page.

.venv/bin/python bench/runs_page.py [--runs 10000] [--folder DIR] [--name runs_page]

Makes `--runs` small synthetic run folders in a temporary folder (or reuses `--folder` when it
already holds them, so two versions of the code can be timed on the same folders). Synthetic is
fine here: only the number and size of the files matter for speed, never their numbers. Each
run has config.json, metrics.jsonl (10 epochs), summary.json, report.json and
confusion/test.json (36 classes); one run in ten has checkpoint.json (the shipped model's)
beside a placeholder weights file; half the runs sit in group folders of five.

Times, in seconds: wall clock, and CPU time of this process (`cpu`: what a click costs
whatever else the machine runs; AppTest runs the page in a thread of this process and waits
without spinning). The files were just written, so the OS file cache is warm for every row.
- `list cold`: `LocalRunSource.list_runs()` with its caches cleared (the first page load of a
  server process);
- `list warm`: again with nothing changed (what every rerun of the page costs);
- `list 1 changed`: after one run's summary.json was rewritten;
- `page load`: `AppTest` of pages/3_Runs.py, first run (listing cold; imports done before);
- then one row per click, each an `AppTest` rerun: rerun as is, next page, compare a second
  run, filter by model, clear the filter. A click the page does not have is skipped.

Prints a table and writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, print_table, write_json

from asl_core.runs.format import (
    CHECKPOINT_META_FILE,
    CHECKPOINT_WEIGHTS_FILE,
    CONFIG_FILE,
    CONFUSION_DIR,
    METRICS_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    confusion_file,
)

LABELS = [str(digit) for digit in range(10)] + [chr(ord("A") + i) for i in range(26)]
EPOCHS = 10
PAGE = ROOT / "pages" / "3_Runs.py"


def make_runs(root: Path, count: int) -> None:
    """`count` run folders in the run-folder format, written plainly (no fsync: speed)."""
    rng = random.Random(0)
    meta = (ROOT / "asl_core" / "default_model" / "model.json").read_text()
    matrix = [[5 if row == col else 0 for col in range(len(LABELS))] for row in range(36)]
    confusion = {"epoch": None, "split": "test", "labels": LABELS, "matrix": matrix}
    report = {label: {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 5} for label in LABELS}
    for index in range(count):
        group = f"grid-{index // 10:04d}" if index % 10 < 5 else None
        month, day = 1 + index % 12, 1 + (index // 12) % 28
        stamp = f"2026{month:02d}{day:02d}-{index % 24:02d}{index % 60:02d}{index % 59:02d}"
        model = rng.choice(["landmark_mlp", "mobilenet_v2", "small_cnn"])
        folder = root / (group or "") / f"{stamp}-{model}-random-{index:05d}"
        (folder / CONFUSION_DIR).mkdir(parents=True)
        lr = rng.choice([0.01, 0.003, 0.001])
        config = {
            "model": model,
            "split": {"name": "random", "counts": {"train": 700}},
            "lr": lr,
            "epochs": EPOCHS,
            "batch_size": 64,
            "seed": index,
            "group": group,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config))
        rows = []
        for epoch in range(1, EPOCHS + 1):
            acc = 0.9 - 0.5 / epoch + rng.random() * 0.02
            rows.append({"epoch": epoch, "stage": "train", "train_loss": 1 / epoch,
                         "train_acc": acc + 0.02, "val_loss": 1.2 / epoch, "val_acc": acc,
                         "val_precision": acc, "val_recall": acc, "val_f1": acc, "lr": lr,
                         "epoch_time_s": 1.5, "time": "2026-01-01T00:00:00+00:00"})  # fmt: skip
        (folder / METRICS_FILE).write_text("".join(json.dumps(row) + "\n" for row in rows))
        summary = {"status": "finished", "epochs_done": EPOCHS, "best_val_acc": rows[-1]["val_acc"],
                   "test_acc": rows[-1]["val_acc"] - 0.01, "duration_s": 15.0}  # fmt: skip
        (folder / SUMMARY_FILE).write_text(json.dumps(summary))
        (folder / REPORT_FILE).write_text(json.dumps(report))
        (folder / confusion_file(None, "test")).write_text(json.dumps(confusion))
        if index % 10 == 0:
            (folder / CHECKPOINT_META_FILE).write_text(meta)
            (folder / CHECKPOINT_WEIGHTS_FILE).write_bytes(b"placeholder")


def count_runs(root: Path) -> int:
    return sum(1 for _ in root.rglob(METRICS_FILE))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, value)."""
    cpu = time.process_time()
    wall, value = timed(fn)
    return wall, time.process_time() - cpu, value


def bench_listing(root: Path) -> list[dict[str, Any]]:
    from asl_core.runs import local

    source = local.LocalRunSource(root)
    if hasattr(local, "clear_cache"):
        local.clear_cache()
    rows = []
    wall, cpu, runs = timed_cpu(source.list_runs)
    rows.append({"step": "list cold", "seconds": wall, "cpu_s": cpu, "runs": len(runs)})
    wall, cpu, _ = timed_cpu(source.list_runs)
    rows.append({"step": "list warm", "seconds": wall, "cpu_s": cpu, "runs": len(runs)})
    summary = next(root.rglob(SUMMARY_FILE))
    temporary = summary.with_name(f".{SUMMARY_FILE}.tmp")
    temporary.write_bytes(summary.read_bytes())
    os.replace(temporary, summary)  # a rewrite as the writer does it: by rename
    wall, cpu, _ = timed_cpu(source.list_runs)
    rows.append({"step": "list 1 changed", "seconds": wall, "cpu_s": cpu, "runs": len(runs)})
    return rows


def _find(elements: Any, label: str) -> Any:
    return next((element for element in elements if element.label == label), None)


def bench_page(root: Path) -> list[dict[str, Any]]:
    import plotly.graph_objects  # noqa: F401 (imports outside the timings)
    from streamlit.testing.v1 import AppTest

    from asl_core.runs import local

    os.environ["ASL_RUNS_DIR"] = str(root)
    if hasattr(local, "clear_cache"):
        local.clear_cache()
    app = AppTest.from_file(str(PAGE), default_timeout=900)
    wall, cpu, _ = timed_cpu(app.run)
    rows = [{"step": "page load", "seconds": wall, "cpu_s": cpu, "exception": bool(app.exception)}]

    def click(step: str, action: Callable[[], Any] | None) -> None:
        if action is None:
            rows.append({"step": step, "seconds": None, "cpu_s": None, "exception": None})
            return
        wall, cpu, _ = timed_cpu(action)
        rows.append({"step": step, "seconds": wall, "cpu_s": cpu, "exception": bool(app.exception)})

    click("rerun", app.run)
    pages = [box for box in app.number_input if box.key == "runs_page"]
    click("next page", (lambda: pages[0].set_value(2).run()) if pages else None)
    compare = _find(app.multiselect, "Compare runs")
    options = list(compare.options) if compare is not None else []
    if compare is not None and len(options) > 1:
        click("compare 2 runs", lambda: compare.set_value([options[0], options[1]]).run())
    else:
        click("compare 2 runs", None)
    model = _find(app.multiselect, "Model")
    click("filter by model", (lambda: model.set_value(["small_cnn"]).run()) if model else None)
    model = _find(app.multiselect, "Model")
    click("clear the filter", (lambda: model.set_value([]).run()) if model else None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, help="reuse (or make and keep) run folders here")
    parser.add_argument("--name", default="runs_page", help="bench/results/<name>.json")
    args = parser.parse_args()
    temporary = None
    if args.folder is None:
        temporary = Path(tempfile.mkdtemp(prefix="asl-runs-bench-"))
        root = temporary / "runs"
    else:
        root = args.folder
    try:
        made = 0.0
        if count_runs(root) != args.runs:
            shutil.rmtree(root, ignore_errors=True)
            made, _ = timed(lambda: make_runs(root, args.runs))
        listing = bench_listing(root)
        page = bench_page(root)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    rows = [*listing, *page]
    shown = [
        {
            "step": row["step"],
            "seconds": "—" if row["seconds"] is None else f"{row['seconds']:.2f}",
            "cpu s": "—" if row["cpu_s"] is None else f"{row['cpu_s']:.2f}",
        }
        for row in rows
    ]
    print(f"{args.runs:,} runs (made in {made:.0f} s); load average {os.getloadavg()[0]:.1f}\n")
    print_table(shown, ["step", "seconds", "cpu s"])
    clicks = [row["seconds"] for row in page[1:] if row["seconds"] is not None]
    write_json(
        args.name,
        {
            "runs": args.runs,
            "load_average_1min": os.getloadavg()[0],
            "rows": rows,
            "slowest_click_s": max(clicks) if clicks else None,
            "note": "synthetic run folders (speed only); OS file cache warm; wall clock of "
            "AppTest reruns in this process (server-side script time, no browser)",
        },
    )


if __name__ == "__main__":
    main()
