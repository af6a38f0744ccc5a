"""Export to ONNX (with the checkpoint record embedded), optionally quantised."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asl_core.export.common import (
    ONNX_OPSET,
    ExportResult,
    _check,
    _quiet_deprecations,
    export_record,
)
from asl_core.export.quantize import _quantize_onnx
from asl_core.io.files import atomic_write_bytes, atomic_write_json, sha256_file
from asl_core.models.checkpoint import CheckpointMeta
from asl_core.models.onnx_model import (
    METADATA_KEY,
    OnnxModel,
    sidecar_path,
)
from asl_core.vision.spec import InputSpec


def _onnx_export(model: nn.Module, spec: InputSpec, path: Path) -> None:
    """fp32 ONNX with a dynamic batch axis (one photo or many)."""
    with _quiet_deprecations(), torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            model,
            (spec.example(1),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def _write_onnx_with_record(graph_path: Path, output: Path, record: dict[str, Any]) -> None:
    import onnx

    graph = onnx.load(str(graph_path))
    del graph.metadata_props[:]
    entry = graph.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(record)
    graph.doc_string = (
        f"ASL hand-sign classifier ({record['architecture']}, {record['num_classes']} classes); "
        f"metadata key {METADATA_KEY!r}"
    )
    atomic_write_bytes(output, graph.SerializeToString())


def export_onnx(
    model: nn.Module,
    meta: CheckpointMeta,
    output: Path,
    *,
    source: Path,
    quantize: str | None = None,
    pruning: dict[str, Any] | None = None,
    calibration: Sequence[torch.Tensor] | None = None,
    calibration_info: dict[str, Any] | None = None,
) -> ExportResult:
    spec = meta.input_spec
    with tempfile.TemporaryDirectory(prefix="asl-export-") as tmp:
        work = Path(tmp)
        graph = work / "fp32.onnx"
        _onnx_export(model, spec, graph)
        if quantize is not None:
            quantized = work / "int8.onnx"
            _quantize_onnx(graph, quantized, quantize, calibration)
            graph = quantized
        # Check the final graph through the same class the Predictor uses, with a provisional
        # record (the check's own result joins the record afterwards).
        provisional = export_record(
            meta, fmt="onnx", quantization=quantize, pruning=pruning, source=source, check={}
        )
        checked = work / "checked.onnx"
        _write_onnx_with_record(graph, checked, provisional)
        check = _check(model, OnnxModel(checked), spec, fp32=quantize is None, photos=calibration)
        record = export_record(
            meta,
            fmt="onnx",
            quantization=quantize,
            pruning=pruning,
            source=source,
            check=check,
            calibration=calibration_info,
        )
        _write_onnx_with_record(graph, output, record)
    sidecar = sidecar_path(output)
    atomic_write_json(
        sidecar,
        {**record, "file": {"name": output.name, "bytes": output.stat().st_size,
                            "sha256": sha256_file(output)}},
    )  # fmt: skip
    return ExportResult(output, record, output.stat().st_size, sidecar)
