"""Export a trained checkpoint for deployment (seed 000, section 4.4.8).

    python -m training.export --model runs/RUN/checkpoint.json --format onnx
    python -m training.export --model M.json --format onnx --quantize int8
    python -m training.export --model M.json --format onnx --quantize int8-static   # CNNs
    python -m training.export --model M.json --format torchscript --quantize int8 --prune 0.3

The ONNX file (with `NAME.onnx.json` beside it) can be given to the app, the CLI
(`python -m asl_core predict --model M.onnx`) and the HTTP API (`ASL_MODEL=M.onnx`). TorchScript
files are for other PyTorch runtimes: the app never loads TorchScript (it can run code).
See asl_core/export/ for what each option does and what was measured.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from asl_core.export.common import FORMATS, QUANTIZATIONS

LOW_AGREEMENT = 0.95
"""Below this top-1 agreement with PyTorch on the check inputs, the export is flagged."""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="checkpoint to export (.json beside its .safetensors); default: the shipped model",
    )
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default=None,
        help="int8: dynamic (fully connected and LSTM layers); int8-static: ONNX only, "
        "convolutions too, calibrated on real photos",
    )
    parser.add_argument(
        "--prune",
        type=float,
        default=None,
        metavar="FRACTION",
        help="zero this fraction of each Conv2d/Linear weight (L1, unstructured), e.g. 0.3",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="default: beside the checkpoint, e.g. M.int8.onnx"
    )
    parser.add_argument(
        "--calibration-data",
        type=Path,
        default=None,
        help="int8-static: folder of real photos (images/<class>/...); default: massey36",
    )
    parser.add_argument(
        "--calibration-count",
        type=int,
        default=128,
        help="int8-static: photos used for calibration (class-balanced)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)

    from asl_core.export.checkpoint_export import check_options, export_checkpoint
    from asl_core.export.common import ExportError
    from asl_core.export.quantize import calibration_inputs, calibration_photos
    from asl_core.inference.predictor import default_model_path
    from asl_core.models.checkpoint import CheckpointError, read_meta
    from asl_core.settings import data_dir

    source = args.model or default_model_path()
    try:
        check_options(source, args.format, args.quantize, args.prune)
        calibration = calibration_info = None
        if args.quantize == "int8-static":
            root = args.calibration_data or data_dir() / "massey36"
            if not root.is_dir():
                raise ExportError(
                    f"int8-static needs real photos to calibrate on; {root} does not exist "
                    "(pass --calibration-data or set ASL_DATA_DIR)"
                )
            meta = read_meta(source)
            photos, calibration_info = calibration_photos(meta, root, count=args.calibration_count)
            print(f"calibrating on {len(photos)} photos from {root} ...", file=sys.stderr)
            calibration = calibration_inputs(meta.input_spec, photos, limit=args.calibration_count)
            calibration_info["with_hand"] = len(calibration)
        result = export_checkpoint(
            source,
            args.format,
            output=args.output,
            quantize=args.quantize,
            prune=args.prune,
            calibration=calibration,
            calibration_info=calibration_info,
        )
    except (CheckpointError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.summary)
    check = result.record["export"]["check"]
    if check["real_photos"] and check["top1_agreement"] < LOW_AGREEMENT:
        print(
            f"warning: the {args.quantize} model changes the top-1 answer on "
            f"{1 - check['top1_agreement']:.0%} of the {check['inputs']}; measure it with "
            f"`python bench/export.py --model {source}` before shipping it",
            file=sys.stderr,
        )
    if result.sidecar is not None:
        print(f"metadata: {result.sidecar}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
