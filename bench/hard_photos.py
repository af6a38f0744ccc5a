"""Hard photos: dark rooms, far-away signers and huge phone photos, before and after the retries.

From real photos of `aslhg` and `grassknoted_letters` (people in ordinary rooms), each photo is
turned into variants built here, in memory:
- ordinary: the photo as it is;
- dark: a tenth of its brightness plus sensor noise (Gaussian, sigma 2 grey levels), rounded;
- far: the photo pasted UNSCALED at a random place in a 1920x1080 frame whose rest continues
  the photo's own edge pixels (so no second hand appears): the same pixels on the hand, a
  small signer in a big frame;
- huge: the photo blown up to 8160x6120 (50 MP) and encoded as a baseline JPEG, read through
  `load_image` like an upload (fewer photos: each costs about a second to make).

"before" is today's detector (plain try, then the padding retry: `retries=("padding",)`) and,
for huge photos, the decoder of commit `BEFORE_COMMIT` (read from git); "after" is the full
retry ladder and the reduced-scale decoder. Both run on the same photos in one run, alternating
per photo so that machine load falls on both alike. For each variant it prints the rate of
photos with a hand found, the accuracy of the shipped model (a photo without a hand counts as
wrong), the accuracy of the accepted answers, and the median detection time; then the accepted
accuracy by the ladder step that found the hand and by hand size (the measurement behind the
Predictor's unsure rule), and the peak resident memory of a fresh process answering one 50 MP
and one 200 MP photo (and decoding an 8000x5000 JPEG before and after).

.venv/bin/python bench/hard_photos.py [--per-dataset 60] [--huge 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, print_table, write_json

BEFORE_COMMIT = "db5da2f"
"""The commit before the retry ladder and the reduced-scale decoder (issue 14)."""


DATASETS = ("aslhg", "grassknoted_letters")


FAR_FRAME = (1920, 1080)


HUGE_SIZE = (8160, 6120)


GIANT_SIZE = (16320, 12240)


@dataclass
class Photo:
    path: Path
    label: str
    classes: str  # the class filter that fits the dataset: letters only for grassknoted


@dataclass
class Outcome:
    found: bool
    correct: bool
    accepted: bool
    detect_ms: float
    found_by: str | None = None
    hand_side: int | None = None
    detected_side: int | None = None
    confident: bool = False  # confidence >= threshold, whatever the unsure rule says
    dataset: str = ""
    frame_width: int = 0
    error: str | None = None


def sample(root: Path, per_dataset: int, seed: int) -> list[Photo]:
    """`per_dataset` photos of each set, spread over its classes (seeded)."""
    rng = random.Random(seed)
    photos = []
    for name in DATASETS:
        with (root / name / "MANIFEST.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        by_label: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            by_label.setdefault(row["label"], []).append(row)
        labels = sorted(by_label)
        picked = []
        while len(picked) < per_dataset:
            for label in labels:
                if len(picked) < per_dataset:
                    picked.append(rng.choice(by_label[label]))
        classes = "letters" if name == "grassknoted_letters" else "all"
        photos += [Photo(root / name / r["path"], r["label"].upper(), classes) for r in picked]
    return photos


def dark(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    values = rgb.astype(np.float32) * 0.1 + rng.normal(0.0, 2.0, rgb.shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def far(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    frame_w, frame_h = FAR_FRAME
    x = int(rng.integers(0, frame_w - width))
    y = int(rng.integers(0, frame_h - height))
    return cv2.copyMakeBorder(
        rgb, y, frame_h - height - y, x, frame_w - width - x, cv2.BORDER_REPLICATE
    )


def huge_jpeg(rgb: np.ndarray, size: tuple[int, int] = HUGE_SIZE) -> bytes:
    import cv2
    from PIL import Image

    big = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def before_decoder() -> Callable[[bytes], np.ndarray] | None:
    """`load_image` as it was at BEFORE_COMMIT, loaded from git; None without git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:asl_core/io/images.py"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "images_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("images_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Importing it set Pillow's process-wide guard to its own limit; put ours back.
    from PIL import Image

    from asl_core.io.images import MAX_PIXELS

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return module.load_image


def judge(predictor: Any, rgb: np.ndarray, det: Any, photo: Photo, ms: float) -> Outcome:
    prediction = predictor.predict_detection(rgb, det, classes=photo.classes)
    return Outcome(
        found=det is not None,
        correct=prediction.hand and prediction.label == photo.label,
        accepted=prediction.accepted,
        detect_ms=ms,
        found_by=det.found_by if det is not None else None,
        hand_side=det.hand_side if det is not None else None,
        detected_side=det.detected_side if det is not None else None,
        confident=prediction.hand and prediction.confidence >= predictor.threshold,
        dataset=photo.path.parents[2].name,
        frame_width=rgb.shape[1],
    )


def timed_detect(detector: Any, rgb: np.ndarray) -> tuple[Any, float]:
    start = time.perf_counter()
    det = detector.detect(rgb)
    return det, 1000 * (time.perf_counter() - start)


def summary(variant: str, side: str, outcomes: list[Outcome]) -> dict[str, Any]:
    done = [o for o in outcomes if o.error is None]
    accepted = [o for o in done if o.found and o.accepted]
    sides = [o.hand_side / o.frame_width for o in done if o.hand_side]
    return {
        "variant": variant,
        "side": side,
        "photos": len(outcomes),
        "refused": len(outcomes) - len(done),
        "hand found": sum(o.found for o in done) / len(outcomes),
        "accuracy": sum(o.correct for o in done) / len(outcomes),
        "accepted": len(accepted),
        "accepted accuracy": sum(o.correct for o in accepted) / len(accepted) if accepted else None,
        "median detect ms": statistics.median(o.detect_ms for o in done) if done else None,
        "median hand/frame width": statistics.median(sides) if sides else None,
    }


SIDE_BUCKETS = (0, 64, 96, 128, 192)
"""Edges of the hand-size groups: longer side of the landmark box in the detection image."""


def _side_bucket(side: int) -> str:
    lower = max(edge for edge in SIDE_BUCKETS if edge <= side)
    upper = [edge for edge in SIDE_BUCKETS if edge > side]
    return f"{lower}-{upper[0] - 1} px" if upper else f">= {lower} px"


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (Wilson 1927)."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * ((p * (1 - p) + z * z / (4 * total)) / total) ** 0.5 / (1 + z * z / total)
    return centre - half, centre + half


def breakdown(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Accuracy of the confident answers (confidence >= threshold, before the unsure rule) by
    ladder step, by hand size in the detection image, and by the rule's verdict: the evidence
    for `asl_core.inference.predictor.detection_doubt`."""
    from asl_core.inference.predictor import SMALL_HAND_PX, UNSURE_FOUND_BY

    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if not outcome.found:
            continue
        side = outcome.detected_side or 0
        groups.setdefault(f"found by {outcome.found_by}", []).append(outcome)
        groups.setdefault(f"hand {_side_bucket(side)}", []).append(outcome)
        # The same groups within each dataset: the datasets differ in difficulty and in
        # hand size, so pooled groups can mistake one for the other.
        short = outcome.dataset.split("_")[0]
        groups.setdefault(f"{short}: found by {outcome.found_by}", []).append(outcome)
        groups.setdefault(f"{short}: hand {_side_bucket(side)}", []).append(outcome)
        doubted = outcome.found_by in UNSURE_FOUND_BY or side < SMALL_HAND_PX
        groups.setdefault(f"rule: {'unsure' if doubted else 'kept'}", []).append(outcome)
    rows = []
    for name in sorted(groups):
        found = groups[name]
        confident = [o for o in found if o.confident]
        right = sum(o.correct for o in confident)
        low, high = wilson(right, len(confident))
        rows.append(
            {
                "group": name,
                "hands": len(found),
                "accuracy": sum(o.correct for o in found) / len(found),
                "confident": len(confident),
                "confident accuracy": right / len(confident) if confident else None,
                "95% low": low,
                "95% high": high,
            }
        )
    return rows


PEAK_SCRIPT = """
import sys
from pathlib import Path
from asl_core.inference.predictor import Predictor
from asl_core.io.images import load_image
def status(field):  # kB, from the kernel's own accounting of this process
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
decode = sys.argv[1]
if decode == "before":
    sys.path.insert(0, sys.argv[3])
    from images_before import load_image
predictor = Predictor()
predictor.predict_image(load_image(sys.argv[4]))  # warm: graphs built, kernels loaded
Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS:")
rgb = load_image(sys.argv[2])
if sys.argv[5] == "predict":
    predictor.predict_image(rgb)
peak = status("VmHWM:")
print(rgb.shape[1], rgb.shape[0], base, peak)
"""


def peak_memory(
    decoder: str, path: Path, warm: Path, work: str, before_dir: Path | None
) -> dict[str, Any]:
    """Peak resident memory (VmHWM, reset before the photo) of a fresh process answering one
    photo, and its resident memory just before. Not ru_maxrss: Linux carries it over from the
    parent through fork and exec, so a child of this big process would report the parent's."""
    args = [decoder, str(path), str(before_dir or ""), str(warm), work]
    run = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *args], cwd=ROOT, capture_output=True, text=True
    )
    row: dict[str, Any] = {"photo": path.name, "decoder": decoder, "work": work}
    if run.returncode != 0:
        row["result"] = run.stderr.strip().splitlines()[-1][:90]
        return row
    width, height, base, peak = map(int, run.stdout.split()[-4:])
    row.update(
        result=f"decoded {width}x{height}",
        **{"process before MB": base / 1024, "peak MB": peak / 1024},
        **{"photo cost MB": (peak - base) / 1024},
    )
    return row


MEMORY_COLUMNS = (
    "photo", "decoder", "work", "result", "process before MB", "peak MB", "photo cost MB"
)  # fmt: skip


def memory_rows(first: np.ndarray, warm: Path) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before_dir = folder / "before"
        before_dir.mkdir()
        source = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:asl_core/io/images.py"],
            cwd=ROOT, capture_output=True,
        ).stdout  # fmt: skip
        (before_dir / "images_before.py").write_bytes(source)
        files = {}
        for name, size in (("8000x5000", (8000, 5000)), ("50mp", HUGE_SIZE), ("200mp", GIANT_SIZE)):
            files[name] = folder / f"{name}.jpg"
            files[name].write_bytes(huge_jpeg(first, size))
        rows.append(peak_memory("before", files["8000x5000"], warm, "decode", before_dir))
        rows.append(peak_memory("after", files["8000x5000"], warm, "decode", before_dir))
        for name in ("50mp", "200mp"):
            rows.append(peak_memory("before", files[name], warm, "predict", before_dir))
            rows.append(peak_memory("after", files[name], warm, "predict", before_dir))
        sizes = ", ".join(
            f"{name} {path.stat().st_size / 1e6:.1f} MB" for name, path in files.items()
        )
        print(f"test JPEGs (baseline, quality 90): {sizes}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-dataset", type=int, default=60)
    parser.add_argument("--huge", type=int, default=6, help="photos for the 50 MP variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = parser.parse_args()

    from asl_core.inference.predictor import Predictor
    from asl_core.io.images import load_image
    from asl_core.settings import data_dir
    from asl_core.vision.hands import HandDetector

    root = data_dir()
    missing = [name for name in DATASETS if not (root / name / "MANIFEST.csv").exists()]
    if missing:
        raise SystemExit(f"real photos not found: {missing} under {root} (set ASL_DATA_DIR)")
    photos = sample(root, args.per_dataset, args.seed)
    images = [load_image(photo.path) for photo in photos]
    rng = np.random.default_rng(args.seed)
    variants = {
        "ordinary": images,
        "dark": [dark(rgb, rng) for rgb in images],
        "far": [far(rgb, rng) for rgb in images],
    }
    predictor = Predictor()
    sides = {
        "before": HandDetector(mode="image", retries=("padding",)),
        "after": HandDetector(mode="image"),
    }
    for detector in sides.values():  # warm-up: graphs, kernels
        for rgb in images[:3]:
            predictor.predict_detection(rgb, detector.detect(rgb))
    results: dict[str, dict[str, list[Outcome]]] = {}
    for variant, frames in variants.items():
        results[variant] = {"before": [], "after": []}
        for k, (photo, rgb) in enumerate(zip(photos, frames, strict=True)):
            order = ("before", "after") if k % 2 == 0 else ("after", "before")
            for side in order:
                det, ms = timed_detect(sides[side], rgb)
                results[variant][side].append(judge(predictor, rgb, det, photo, ms))
        print(f"{variant}: done", flush=True)

    decoders = {"before": before_decoder(), "after": load_image}
    results["huge 50 MP"] = {"before": [], "after": []}
    step = max(1, len(photos) // max(1, args.huge))
    for photo, rgb in list(zip(photos, images, strict=True))[::step][: args.huge]:
        data = huge_jpeg(rgb)
        for side in ("before", "after"):
            decode = decoders[side]
            if decode is None:
                continue
            try:
                big = decode(data)
            except ValueError as error:  # ImageError (the old decoder refuses above 40 MP)
                outcome = Outcome(False, False, False, 0.0, error=str(error)[:80])
                results["huge 50 MP"][side].append(outcome)
                continue
            det, ms = timed_detect(sides[side], big)
            results["huge 50 MP"][side].append(judge(predictor, big, det, photo, ms))
    print("huge: done", flush=True)

    rows = [
        summary(variant, side, outcomes)
        for variant, by_side in results.items()
        for side, outcomes in by_side.items()
        if outcomes
    ]
    columns = list(rows[0])
    print()
    print_table(rows, columns)
    ordinary = {
        row["side"]: row["median detect ms"] for row in rows if row["variant"] == "ordinary"
    }
    ratio = ordinary["after"] / ordinary["before"]
    print(f"\nordinary photos: median detection after/before = {ratio:.3f} (target <= 1.1)")
    after_all = [o for variant in ("dark", "far") for o in results[variant]["after"]]
    by_step = breakdown(results["ordinary"]["after"] + after_all)
    print("\nhands found (after; ordinary, dark and far), by ladder step, size and unsure rule:")
    print_table(by_step, list(by_step[0]))
    errors = sorted({o.error for o in results["huge 50 MP"]["before"] if o.error})
    if errors:
        print(f"\nbefore, huge photos refused with: {errors[0]}")

    memory: list[dict[str, Any]] = []
    if not args.no_memory:
        warm = Path(tempfile.mkdtemp()) / "warm.jpg"
        warm.write_bytes(photos[0].path.read_bytes())
        memory = memory_rows(images[0], warm)
        print("\npeak resident memory (VmHWM) of a fresh process, one photo:")
        print_table(memory, MEMORY_COLUMNS)
    write_json(
        "hard_photos",
        {
            "photos": {name: args.per_dataset for name in DATASETS},
            "huge_photos": args.huge,
            "seed": args.seed,
            "before_commit": BEFORE_COMMIT,
            "variants": rows,
            "ordinary_detect_ratio": ratio,
            "by_step_and_size": by_step,
            "memory": memory,
            "outcomes": {
                variant: {side: [vars(o) for o in found] for side, found in by_side.items()}
                for variant, by_side in results.items()
            },
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
