"""Export a checkpoint: check the options, choose the output path, run the exporter."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from asl_core.export.common import FORMATS, QUANTIZATIONS, ExportError, ExportResult
from asl_core.export.onnx import export_onnx
from asl_core.export.quantize import prune_model
from asl_core.export.torchscript import TORCHSCRIPT_SUFFIX, export_torchscript
from asl_core.models.checkpoint import CheckpointError, load_checkpoint
from asl_core.models.onnx_model import (
    ONNX_SUFFIX,
)


def default_output_path(
    source: str | os.PathLike[str],
    fmt: str,
    quantize: str | None = None,
    prune: float | None = None,
) -> Path:
    """Beside the checkpoint: model.json -> model.onnx, model.pruned30.int8.onnx, ..."""
    source = Path(source)
    stem = source.name.removesuffix(".json").removesuffix(".safetensors")
    parts = [stem]
    if prune:
        parts.append(f"pruned{round(prune * 100)}")
    if quantize:
        parts.append(quantize)
    suffix = ONNX_SUFFIX if fmt == "onnx" else TORCHSCRIPT_SUFFIX
    return source.with_name(".".join(parts) + suffix)


def check_options(source: Path, fmt: str, quantize: str | None, prune: float | None) -> None:
    """Refuse impossible combinations before any work (calibration takes a while)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantize!r}; choose {', '.join(QUANTIZATIONS)}")
    if fmt == "torchscript" and quantize == "int8-static":
        raise ExportError("int8-static is available for ONNX only; use --quantize int8")
    if prune is not None and not 0.0 < prune < 1.0:
        raise ExportError(f"--prune takes a fraction between 0 and 1, got {prune}")
    if source.suffix == ONNX_SUFFIX or source.name.endswith(TORCHSCRIPT_SUFFIX):
        raise ExportError(
            f"{source.name} is already an exported file; export from the checkpoint it came from "
            "(the .json beside a .safetensors)"
        )


def export_checkpoint(
    source: str | os.PathLike[str],
    fmt: str = "onnx",
    *,
    output: str | os.PathLike[str] | None = None,
    quantize: str | None = None,
    prune: float | None = None,
    calibration: Sequence[torch.Tensor] | None = None,
    calibration_info: dict[str, Any] | None = None,
) -> ExportResult:
    """Export a safetensors checkpoint (its `.json` or `.safetensors`, or their common stem).

    calibration: model inputs from real photos (see `calibration_inputs`), for int8-static.
    """
    source = Path(source)
    check_options(source, fmt, quantize, prune)
    if quantize == "int8-static" and not calibration:
        raise ExportError("int8-static needs calibration inputs from real photos")
    try:
        loaded = load_checkpoint(source)
    except FileNotFoundError as error:
        raise CheckpointError(str(error)) from None
    model = loaded.model.eval()
    pruning = prune_model(model, prune) if prune else None
    output = Path(output) if output else default_output_path(loaded.path, fmt, quantize, prune)
    if output.resolve() in {
        loaded.path.resolve(),
        loaded.path.with_suffix(".safetensors").resolve(),
    }:
        raise ExportError(f"{output} would overwrite the checkpoint it is exported from")
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        return export_onnx(
            model,
            loaded.meta,
            output,
            source=loaded.path,
            quantize=quantize,
            pruning=pruning,
            calibration=calibration,
            calibration_info=calibration_info,
        )
    return export_torchscript(
        model, loaded.meta, output, source=loaded.path, quantize=quantize, pruning=pruning
    )
