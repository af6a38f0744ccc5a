"""Which weight of a "no letter" reading types best? The confidence vote's `NO_LETTER_WEIGHT`.

Clips of real photos spelled at two letters a second (double letters by a slide, J and Z
drawn by moving a real I or D photo; `tests.helpers.clips`): Massey signers 1-5 and the
grassknoted photos of the browser test. Each clip is read once by MediaPipe (video mode) at
30, 15 and 8 frames a second (every frame, every 2nd, every 4th: what a quiet, a busy and a
slow machine read); those detections are then replayed through `StreamRecognizer` (shipped
model, calibrated threshold, motion tracker, speller) once per candidate weight, so every
weight sees exactly the same readings. For each: letters typed in order (`difflib`), letters
typed that the clip does not show, and clips typed exactly.

.venv/bin/python bench/speller.py [--weights 0.4 0.5 0.6 0.72 0.8]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from common import print_table, require_massey, write_json
from live import GRASSKNOTED, letters_right

MASSEY_TEXTS = ("JAB ZAC CALL BELL", "HELLO WORLD")
RATES = {30: 1, 15: 2, 8: 4}  # frames a second -> every how many frames of the 30 fps clip


class Replay:
    """A detector that answers the recorded detections in order (`HandDetector`'s interface)."""

    def __init__(self, detections: list[Any]) -> None:
        self._detections: Iterator[Any] = iter(detections)

    def detect(self, rgb: Any) -> Any:
        return next(self._detections)

    def close(self) -> None:
        pass


def clips(massey_root: Any) -> dict[str, tuple[str, list]]:
    from asl_core.settings import data_dir
    from tests.helpers.clips import build_spelling_clip

    made = {}
    for signer in ("hand1", "hand2", "hand3", "hand4", "hand5"):
        for text in MASSEY_TEXTS:
            frames = build_spelling_clip(
                text, massey_root, letter_s=0.5, gap_s=1.2, lead_s=0.5, signers=(signer,)
            )
            made[f"massey {signer} {text}"] = (text, frames)
    letters_root = data_dir() / "grassknoted_letters" / "images"
    if letters_root.is_dir():
        frames = build_spelling_clip(
            "JAB CALL",
            photo_for=lambda letter: letters_root / letter / GRASSKNOTED[letter],
            letter_s=0.5,
            gap_s=1.5,
            lead_s=0.5,
            hand_fraction=0.8,
        )
        made["grassknoted JAB CALL"] = ("JAB CALL", frames)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.72, 0.8])
    args = parser.parse_args()

    import asl_core.inference.speller as speller
    from asl_core.inference.predictor import Predictor
    from asl_core.inference.stream import StreamRecognizer, StreamSettings
    from asl_core.vision.hands import HandDetector

    predictor = Predictor()
    settings = StreamSettings(classes="letters")
    recorded = []  # (clip, fps, text, frames read, detections)
    for name, (text, frames) in clips(require_massey()).items():
        for fps, step in RATES.items():
            read = frames[::step]
            detector = HandDetector(mode="video", max_num_hands=1)
            recorded.append((name, fps, text, read, [detector.detect(f.rgb) for f in read]))
            detector.close()

    shipped = speller.NO_LETTER_WEIGHT
    rows = []
    typed_by_clip: dict[str, str] = {}  # with the shipped weight: "<clip> at <fps>" -> text
    try:
        for weight in args.weights:
            speller.NO_LETTER_WEIGHT = weight
            for fps in RATES:
                right = extra = letters = exact = clips_done = 0
                for name, clip_fps, text, read, detections in recorded:
                    if clip_fps != fps:
                        continue
                    stream = StreamRecognizer(predictor, settings, detector=Replay(detections))
                    for frame in read:
                        stream.process(frame.rgb, timestamp=frame.timestamp)
                    typed = stream.text.strip()
                    if weight == shipped:
                        typed_by_clip[f"{name} at {fps} fps"] = typed
                    got, wrong = letters_right(text, typed)
                    right, extra = right + got, extra + wrong
                    letters += len(text.replace(" ", ""))
                    exact += typed == text
                    clips_done += 1
                rows.append(
                    {
                        "no_letter_weight": weight,
                        "read_fps": fps,
                        "letters_right": right,
                        "letters": letters,
                        "letters_extra": extra,
                        "exact": exact,
                        "clips": clips_done,
                    }
                )
    finally:
        speller.NO_LETTER_WEIGHT = shipped
    print_table(
        rows,
        ["no_letter_weight", "read_fps", "letters_right", "letters", "letters_extra", "exact"],
    )
    totals: dict[float, dict[str, int]] = {}
    for row in rows:
        total = totals.setdefault(row["no_letter_weight"], {"right": 0, "extra": 0, "exact": 0})
        total["right"] += row["letters_right"]
        total["extra"] += row["letters_extra"]
        total["exact"] += row["exact"]
    print()
    for clip, typed in typed_by_clip.items():
        text = next(t for n, f, t, *_ in recorded if clip == f"{n} at {f} fps")
        if typed != text:
            print(f"{clip}: typed {typed!r}")
    print()
    for weight, total in totals.items():
        mark = " (shipped)" if weight == shipped else ""
        print(
            f"weight {weight:g}{mark}: {total['right']} letters right, {total['extra']} extra, "
            f"{total['exact']} clips exact over the three rates"
        )
    write_json(
        "speller",
        {
            "threshold": settings.threshold,
            "window_s": settings.window_s,
            "hold_s": settings.hold_s,
            "shipped_weight": shipped,
            "clips": sorted({name for name, *_ in recorded}),
            "rows": rows,
            "typed_with_shipped_weight": typed_by_clip,
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
