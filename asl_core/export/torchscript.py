"""Export to TorchScript and load such a file back."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asl_core.export.common import (
    ExportError,
    ExportResult,
    _check,
    _quiet_deprecations,
    export_record,
)
from asl_core.export.quantize import quantize_dynamic_torch
from asl_core.io.files import atomic_write_bytes
from asl_core.models.checkpoint import CheckpointMeta
from asl_core.models.onnx_model import (
    METADATA_KEY,
    meta_from_export_record,
)

TORCHSCRIPT_SUFFIX = ".torchscript.pt"


TORCHSCRIPT_EXTRA_FILE = f"{METADATA_KEY}.json"


def export_torchscript(
    model: nn.Module,
    meta: CheckpointMeta,
    output: Path,
    *,
    source: Path,
    quantize: str | None = None,
    pruning: dict[str, Any] | None = None,
) -> ExportResult:
    if quantize not in (None, "int8"):
        raise ExportError(
            f"{quantize} is available for ONNX only; TorchScript supports --quantize int8 "
            "(dynamic, Linear and LSTM layers)"
        )
    spec = meta.input_spec
    runnable = quantize_dynamic_torch(model) if quantize == "int8" else model
    with _quiet_deprecations(), torch.no_grad():
        # check_trace=False: `_check` compares on a batch itself, and torch's own check imports
        # the distributed-tensor package (about 4 s).
        traced = torch.jit.trace(runnable.eval(), (spec.example(1),), check_trace=False)
    check = _check(model, traced, spec, fp32=quantize is None)
    record = export_record(
        meta, fmt="torchscript", quantization=quantize, pruning=pruning, source=source, check=check
    )
    buffer = io.BytesIO()
    with _quiet_deprecations():
        torch.jit.save(traced, buffer, _extra_files={TORCHSCRIPT_EXTRA_FILE: json.dumps(record)})
    atomic_write_bytes(output, buffer.getvalue())
    return ExportResult(output, record, output.stat().st_size)


class TorchScriptModel:
    """A TorchScript archive this project exported, with the Predictor's call interface."""

    def __init__(self, module: torch.jit.ScriptModule, meta: CheckpointMeta, path: Path) -> None:
        self.module = module
        self.meta = meta
        self.input_spec = meta.input_spec
        self.path = path
        self.export_info: dict[str, Any] = meta.extra.get("export", {})

    def eval(self) -> TorchScriptModel:
        return self

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module(batch)


def load_torchscript(path: str | os.PathLike[str]) -> TorchScriptModel:
    """Load a TorchScript file WRITTEN BY `export_torchscript` (benchmarks, tests).

    A TorchScript archive holds code and pickled constants: loading a stranger's archive is as
    unsafe as unpickling it. The app and the Predictor never call this; they load .onnx only.
    """
    path = Path(path)
    extra = {TORCHSCRIPT_EXTRA_FILE: ""}
    with _quiet_deprecations():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[TORCHSCRIPT_EXTRA_FILE]
    if not text:
        raise ExportError(f"{path.name} has no {TORCHSCRIPT_EXTRA_FILE}; it was not exported here")
    meta, _ = meta_from_export_record(json.loads(text), f"{path.name}:{TORCHSCRIPT_EXTRA_FILE}")
    return TorchScriptModel(module.eval(), meta, path)
