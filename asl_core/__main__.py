"""Command line: `python -m asl_core predict [options] PATH...`.

Every photo it is given or finds in a folder gets one line: the answer, or `error` with the
reason (not a photo, empty, too large, truncated, unreadable, not a regular file ...); the exit
status is 1 when any line is an error. A file is checked from its size and first bytes before it
is read, so a 2 GB video in a folder of photos costs nothing. When walking a folder, hidden files
and folders (names starting with a dot, such as `.DS_Store`) are ignored, and files without a
photo suffix (notes.txt, MANIFEST.csv) are skipped: one line per folder lists them
(`{"path": FOLDER, "skipped": [names]}` with --json) and they do not make the exit status 1.
A file named on the command line is always read, whatever its suffix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

# numpy and OpenCV, not torch: --help stays quick
from asl_core.inference.answers import TOP_K, check_threshold, check_top
from asl_core.labels import CLASS_FILTERS, DEFAULT_CLASS_FILTER, ClassFilter, check_class_filter

T = TypeVar("T")


def _argparse_type(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a check the HTTP API shares (`answers.check_threshold`,
    `answers.check_top`, `labels.check_class_filter`): its ValueError becomes argparse's
    one-line error, so both interfaces say the same words."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = check.__name__
    return parse


_threshold = _argparse_type(check_threshold)
_classes: Callable[[str], ClassFilter] = _argparse_type(check_class_filter)
_top = _argparse_type(check_top)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m asl_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="recognise the sign in images",
        description="One line per photo: the answer, or `error` and why (exit 1 if any). In "
        "folders, files without a photo suffix are skipped (listed on one line per folder) and "
        "hidden ones ignored; a file named on the command line is always read.",
    )
    predict.add_argument("paths", nargs="+", type=Path, help="images or folders of images")
    predict.add_argument(
        "--model",
        action="append",
        type=Path,
        help="checkpoint (.json), a training run folder (its checkpoint.json) or exported .onnx; "
        "repeat for an ensemble; default: shipped model",
    )
    predict.add_argument(
        "--classes",
        type=_classes,
        choices=CLASS_FILTERS,
        default=DEFAULT_CLASS_FILTER,
        help=f"answer only with these (default {DEFAULT_CLASS_FILTER}, as the app: O/0, V/2 and "
        "W/6 are one handshape)",
    )
    predict.add_argument(
        "--threshold",
        type=_threshold,
        default=None,
        help="0 to 1; default: the threshold the model records (calibrated on people it never "
        "saw; the shipped model's is 0.72), else the shipped model's 0.72",
    )
    predict.add_argument("--no-mirror", action="store_true", help="skip mirrored input")
    predict.add_argument(
        "--top",
        type=_top,
        default=TOP_K,
        help=f"classes listed per image, 1 to {TOP_K} (default {TOP_K}; the API's top=N)",
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


class EmptyFolder(OSError):
    """A folder given on the command line that holds no file to read."""


@dataclass
class SkippedFiles:
    """Files of a walked folder that have no photo suffix (`photo_suffixes()`): not read."""

    folder: Path
    paths: list[Path]

    def names(self) -> list[str]:
        return [p.relative_to(self.folder).as_posix() for p in self.paths]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def iter_inputs(paths: Sequence[Path]) -> Iterator[Path | EmptyFolder | SkippedFiles]:
    """Files as given (whatever they are, so a bad file gets its error line); folders walked
    in sorted order for every file with a photo suffix (`photo_suffixes()`, any case; a
    misnamed or broken photo still gets its error line), hidden ones ignored, then one
    `SkippedFiles` for the folder's other files if it has any. A folder with no file at all
    yields an `EmptyFolder`."""
    from asl_core.io.images import photo_suffixes

    suffixes = {suffix.lower() for suffix in photo_suffixes()}
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        if not files:
            yield EmptyFolder(f"{path}: no files in this folder")
        skipped = [p for p in files if p.suffix.lower() not in suffixes]
        yield from (p for p in files if p.suffix.lower() in suffixes)
        if skipped:
            yield SkippedFiles(path, skipped)


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
    from asl_core.inference.answers import Interface
    from asl_core.inference.predictor import ModelNotAvailable, Predictor
    from asl_core.io.images import ImageError, load_image
    from asl_core.models.checkpoint import FolderWithoutModel

    try:
        predictor = Predictor(
            args.model,
            threshold=args.threshold,  # None: the model's own (Predictor.threshold_source)
            mirror=not args.no_mirror,
            classes=args.classes,
            interface=Interface.CLI,
        )
    except FolderWithoutModel as error:  # a run with no model yet, or a group: say which
        from asl_core.runs.model_folder import why_no_model

        print(f"error: {why_no_model(error.folder) or error}", file=sys.stderr)
        return 2
    except (ModelNotAvailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failures = 0
    with predictor:
        for item in iter_inputs(args.paths):
            if isinstance(item, SkippedFiles):
                names = item.names()
                text = f"{item.folder}: skipped {len(names)} file(s) without a photo suffix: "
                _emit(
                    {"path": str(item.folder), "skipped": names}, text + ", ".join(names), args.json
                )
                continue
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
            top = ", ".join(f"{name} {p:.0%}" for name, p in prediction.top[: args.top])
            text = f"{item}: {prediction.display_label}" + (f"  [{top}]" if top else "")
            if prediction.advice:
                text += f"  ({prediction.advice})"
            _emit(prediction.to_json(str(item), top=args.top), text, args.json)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.command == "predict":
        return predict_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
