"""Command line: `python -m asl_core predict [options] PATH...`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from asl_core.labels import CLASS_FILTERS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m asl_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="recognise the sign in images")
    predict.add_argument("paths", nargs="+", type=Path, help="images or folders of images")
    predict.add_argument(
        "--model",
        action="append",
        type=Path,
        help="checkpoint (.json) or exported .onnx; repeat for an ensemble; default: shipped model",
    )
    predict.add_argument("--classes", choices=CLASS_FILTERS, default="all")
    predict.add_argument("--threshold", type=float, default=None, help="default 0.6")
    predict.add_argument("--no-mirror", action="store_true", help="skip mirrored input")
    predict.add_argument("--top", type=int, default=5, help="classes listed per image")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def iter_images(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given (whatever their suffix, so a bad file gets its error line); folders
    walked for image files in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            yield path


def predict_command(args: argparse.Namespace) -> int:
    from asl_core.inference.predictor import DEFAULT_THRESHOLD, ModelNotAvailable, Predictor
    from asl_core.io.images import ImageError, load_image

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    try:
        predictor = Predictor(
            args.model, threshold=threshold, mirror=not args.no_mirror, classes=args.classes
        )
    except (ModelNotAvailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failures = 0
    with predictor:
        for path in iter_images(args.paths):
            try:
                prediction = predictor.predict_image(load_image(path))
            except (ImageError, OSError) as error:
                failures += 1
                message = str(error) if isinstance(error, ImageError) else error.strerror
                if args.json:
                    print(json.dumps({"path": str(path), "error": message}), flush=True)
                else:
                    print(f"{path}: error: {message}", flush=True)
                continue
            prediction.top = prediction.top[: args.top]
            if args.json:
                print(json.dumps(prediction.to_json(str(path))), flush=True)
            else:
                top = ", ".join(f"{name} {p:.0%}" for name, p in prediction.top)
                print(f"{path}: {prediction.display_label}" + (f"  [{top}]" if top else ""))
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.command == "predict":
        return predict_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
