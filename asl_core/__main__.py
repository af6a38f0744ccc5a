"""Command line: `python -m asl_core predict [options] PATH...`.

Every file it is given or finds in a folder gets one line: the answer, or `error` with the
reason (not a photo, empty, too large, truncated, unreadable ...); the exit status is 1 when any
line is an error. A file is checked from its size and first bytes before it is read, so a 2 GB
video in a folder of photos costs nothing. Hidden files and folders (names starting with a dot,
such as `.DS_Store`) are skipped when walking a folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from asl_core.labels import CLASS_FILTERS, DEFAULT_CLASS_FILTER


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m asl_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="recognise the sign in images",
        description="One line per file: the answer, or `error` and why (exit 1 if any).",
    )
    predict.add_argument("paths", nargs="+", type=Path, help="images or folders of images")
    predict.add_argument(
        "--model",
        action="append",
        type=Path,
        help="checkpoint (.json) or exported .onnx; repeat for an ensemble; default: shipped model",
    )
    predict.add_argument(
        "--classes",
        choices=CLASS_FILTERS,
        default=DEFAULT_CLASS_FILTER,
        help=f"answer only with these (default {DEFAULT_CLASS_FILTER}, as the app: O/0, V/2 and "
        "W/6 are one handshape)",
    )
    predict.add_argument(
        "--threshold", type=float, default=None, help="default: the calibrated 0.72"
    )
    predict.add_argument("--no-mirror", action="store_true", help="skip mirrored input")
    predict.add_argument("--top", type=int, default=5, help="classes listed per image")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


class EmptyFolder(OSError):
    """A folder given on the command line that holds no file to read."""


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def iter_inputs(paths: Sequence[Path]) -> Iterator[Path | EmptyFolder]:
    """Files as given (whatever they are, so a bad file gets its error line); folders walked
    for every file in sorted order (not only photo suffixes: a `.heic` or a misnamed file gets
    its line too), hidden ones skipped. A folder with no file yields an `EmptyFolder`."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        if not files:
            yield EmptyFolder(f"{path}: no files in this folder")
        yield from files


def _error_text(error: BaseException) -> str:
    from asl_core.io.images import ImageError

    if isinstance(error, ImageError | EmptyFolder):
        return str(error)
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def _emit(record: dict[str, Any], text: str, as_json: bool) -> None:
    print(json.dumps(record) if as_json else text, flush=True)


def predict_command(args: argparse.Namespace) -> int:
    from asl_core.inference.predictor import DEFAULT_THRESHOLD, ModelNotAvailable, Predictor
    from asl_core.io.images import ImageError, load_image
    from asl_core.vision.photo_stats import no_hand_hints

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
        for item in iter_inputs(args.paths):
            if isinstance(item, EmptyFolder):
                failures += 1
                folder = str(item).split(": ", 1)[0]
                _emit({"path": folder, "error": "no files in this folder"}, str(item), args.json)
                continue
            try:
                rgb = load_image(item)  # size and magic bytes are checked before reading
                prediction = predictor.predict_image(rgb)
            except (ImageError, OSError) as error:
                failures += 1
                message = _error_text(error)
                _emit({"path": str(item), "error": message}, f"{item}: error: {message}", args.json)
                continue
            prediction.top = prediction.top[: args.top]
            top = ", ".join(f"{name} {p:.0%}" for name, p in prediction.top)
            text = f"{item}: {prediction.display_label}" + (f"  [{top}]" if top else "")
            if not prediction.hand:
                hints = no_hand_hints(rgb)
                text += f"  ({hints[0].message})" if hints else ""
            _emit(prediction.to_json(str(item)), text, args.json)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.command == "predict":
        return predict_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
