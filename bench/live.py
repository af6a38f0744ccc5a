"""Can the live page keep up with a 640x480, 30 fps webcam? The frame callback's path, timed.

1. Throughput: the page's callback path (`LiveFrameAdapter`: av frame -> RGB -> reader thread:
   StreamRecognizer.process; callback: overlay -> av frame), one frame at a time, each read
   before the next, on a 640x480 clip of real photos; next to MediaPipe alone (a video-mode
   `HandDetector` on the same RGB frames), and their ratio.
2. Real time: the same callback fed at 30 fps, as aiortc hands frames over: how long a frame
   spends in the callback (the delay the video sees), and how many frames the reader reads
   (it takes the newest whenever it is free; the others are shown, not read).
3. The real-browser figure: frames per second the page showed in Chromium during the browser
   test (tests/e2e/test_live_browser.py writes bench/results/live_browser.json), if present.

Not included: WebRTC's VP8 decode/encode in aiortc and the browser itself (about half a core,
per ../shared/NOTES.md); the browser figure includes them.

.venv/bin/python bench/live.py [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from fractions import Fraction

from common import RESULTS, print_table, require_massey, summarise_ms, write_json

CLIP_TEXT = "CAB HI"
FPS = 30
TIME_BASE = Fraction(1, 90000)  # aiortc's video clock


def av_frames(frames: list) -> list:
    """The clip as aiortc's decoder hands it over: yuv420p frames with pts on a 90 kHz clock."""
    import av

    out = []
    for frame in frames:
        video = av.VideoFrame.from_ndarray(frame.rgb, format="rgb24").reformat(format="yuv420p")
        video.pts = round(frame.timestamp / TIME_BASE)
        video.time_base = TIME_BASE
        out.append(video)
    return out


def throughput(frames: list, videos: list, repeats: int) -> list[dict[str, object]]:
    from asl_core.app.live import LiveFrameAdapter
    from asl_core.inference.predictor import Predictor
    from asl_core.inference.stream import StreamRecognizer
    from asl_core.vision.hands import HandDetector

    predictor = Predictor()
    best: dict[str, list[float]] = {}
    for _ in range(repeats):  # alternate; keep each path's fastest pass (shared machine)
        detector = HandDetector(mode="video", max_num_hands=1)
        alone = []
        for frame in frames:
            start = time.perf_counter()
            detector.detect(frame.rgb)
            alone.append(time.perf_counter() - start)
        detector.close()
        # One frame at a time, each read before the next is handed over: the full path
        # (callback + reading on the reader thread), no frame skipped.
        adapter = LiveFrameAdapter(StreamRecognizer(predictor))
        callback = []
        for video in videos:
            start = time.perf_counter()
            adapter(video)
            adapter.wait_idle()
            callback.append(time.perf_counter() - start)
        adapter.close()
        for name, times in (("MediaPipe alone", alone), ("callback path", callback)):
            if name not in best or sum(times) < sum(best[name]):
                best[name] = times
    return [
        {"path": name, "frames": len(t), "fps": len(t) / sum(t), **summarise_ms(t)}
        for name, t in best.items()
    ]


def real_time(videos: list) -> dict[str, object]:
    """Feed the callback at 30 fps on the wall clock, as aiortc would: how long each frame
    waits in the callback (the video's delay), and how many frames the reader gets to."""
    from asl_core.app.live import LiveFrameAdapter
    from asl_core.inference.predictor import Predictor
    from asl_core.inference.stream import StreamRecognizer

    adapter = LiveFrameAdapter(StreamRecognizer(Predictor()))
    start = time.monotonic()
    callback, read_fps = [], []
    for video in videos:
        due = start + float(video.time)
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        begin = time.perf_counter()
        adapter(video)
        callback.append(time.perf_counter() - begin)
        if video.time >= 2.0:  # the 2 s rate window is full
            read_fps.append(adapter.stats().read_fps)
    adapter.wait_idle()
    adapter.close()
    stats = adapter.stats()
    return {
        "frames": stats.frames,
        "read": stats.read,
        "skipped": stats.skipped,
        "read_share": stats.read / stats.frames,
        "read_fps_median": statistics.median(read_fps),
        "text": adapter.recognizer.text,
        "callback": summarise_ms(callback),
        "stage_ms": stats.stage_ms,
    }


def browser_figure() -> dict[str, object] | None:
    path = RESULTS / "live_browser.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from tests.helpers.clips import build_spelling_clip

    torch.set_num_threads(args.threads)
    massey_root = require_massey()
    frames = build_spelling_clip(CLIP_TEXT, massey_root, fps=FPS)
    videos = av_frames(frames)

    rows = throughput(frames, videos, args.repeats)
    ratio = rows[1]["fps"] / rows[0]["fps"]
    print_table(rows, ["path", "frames", "fps", "median_ms", "p95_ms"])
    print(f"\ncallback path / MediaPipe alone: {ratio:.2f}")

    paced = real_time(videos)
    print(
        f"\nfed at {FPS} fps: read {paced['read']} of {paced['frames']} frames "
        f"({paced['read_share']:.0%}, median {paced['read_fps_median']:.1f} fps); each frame "
        f"spent median {paced['callback']['median_ms']:.1f} ms, p95 "
        f"{paced['callback']['p95_ms']:.1f} ms in the callback; spelled {paced['text']!r}"
    )

    browser = browser_figure()
    if browser:
        print(
            f"\nreal browser (Chromium, fake camera, {browser.get('clip', {}).get('size')}): "
            f"{browser['callback_fps_median']} fps shown, {browser['read_fps_median']} fps read, "
            f"stages {browser.get('stage_ms_median')}"
        )
    else:
        print("\nno real-browser figure yet: run `pytest -m e2e tests/e2e/test_live_browser.py`")
    write_json(
        "live",
        {
            "clip": {"text": CLIP_TEXT, "size": [640, 480], "frames": len(frames), "fps": FPS},
            "throughput": rows,
            "fps_ratio": ratio,
            "real_time": paced,
            "browser": browser,
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
