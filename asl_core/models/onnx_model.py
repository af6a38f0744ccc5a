"""Run an exported ONNX model through onnxruntime behind the call the Predictor makes.

`OnnxModel(path)` behaves like a loaded checkpoint's model where the Predictor touches it:
`model(tensor) -> logits tensor`, `.input_spec`, `.eval()`. Its `meta` (class names, input
specification, metrics, the data it was trained on) is read from the ONNX file itself, from
`model.metadata_props["asl_checkpoint"]`, which `asl_core.export` writes; the `NAME.onnx.json`
written beside it is the same record for people and tools that do not open the model.

ONNX is a protobuf description of a graph of standard operators: loading one runs no Python
code, unlike a pickle or a TorchScript archive, so the app may load a user-provided `.onnx`.
The metadata is checked before the model is used, as a checkpoint's is (its size and nesting,
its `content_sha256` over architecture, class names and input specification, so a hand-swapped
class list is refused (version 1 records, made before it, load without it); the class names,
the input specification against the architecture's, the input shape against the input
specification, the output width against the class count), one inference on an all-zero input
must give finite logits (NaN weights are refused), and a file without the metadata is refused
with the reason. The checksum catches hand edits, it is not a signature (as a checkpoint's).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asl_core.models.checkpoint import (
    MAX_HEADER_BYTES,
    MAX_META_BYTES,
    MAX_WEIGHTS_BYTES,
    SIGNED_KEYS,
    CheckpointError,
    CheckpointMeta,
    check_architecture,
    check_inference,
    content_sha256,
    meta_from_dict,
    parse_json_bounded,
)
from asl_core.vision.spec import InputSpec

EXPORT_FORMAT = "asl-export"


EXPORT_FORMAT_VERSION = 2
"""2 adds `content_sha256` and requires it; 1 (before it) still loads, unchecked, as version 1
checkpoints do."""


READABLE_EXPORT_VERSIONS = (1, EXPORT_FORMAT_VERSION)


EXPORT_SIGNED_KEYS: tuple[str, ...] = tuple(key for key in SIGNED_KEYS if key != "weights_sha256")
"""What an export record's `content_sha256` covers: a checkpoint's `SIGNED_KEYS` (format,
version, architecture and its arguments, class names, input specification) but the weights
checksum: the weights are in the exported file that holds the record. Data, metrics and how it
was exported are left out, as in a checkpoint."""


METADATA_KEY = "asl_checkpoint"
"""Key in the ONNX `metadata_props` (and the TorchScript extra file's stem) holding the record."""


ONNX_SUFFIX = ".onnx"


SIDECAR_SUFFIX = ".json"
"""`model.onnx` -> `model.onnx.json`: the suffix is appended, so it never names a checkpoint."""


class OnnxModelError(CheckpointError):
    """An ONNX file that cannot be used, with the reason (a CheckpointError, so callers that
    handle bad checkpoints handle it too)."""


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    path = Path(model_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sign_export_record(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as a reader will parse it (through JSON), with its `content_sha256` set."""
    signed = json.loads(json.dumps(record))
    signed["content_sha256"] = content_sha256(signed, EXPORT_SIGNED_KEYS)
    return signed


def _check_content(record: dict[str, Any], source: str) -> None:
    """The content checksum present (from version 2 on) and matching the record."""
    if record["format_version"] < 2:
        return
    value = record.get("content_sha256")
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise OnnxModelError(
            f"{source} lacks a valid content_sha256: the checksum is required, so an export "
            "cannot be used unchecked. Export the checkpoint again (python -m training.export)."
        )
    if content_sha256(record, EXPORT_SIGNED_KEYS) != value:
        covered = ", ".join(key for key in EXPORT_SIGNED_KEYS if key != "format")
        raise OnnxModelError(
            f"{source} was changed after it was exported: its {covered} do not match its "
            "content_sha256. A hand-edited class list or input specification would make the "
            "model answer wrongly; restore the file or export the checkpoint again "
            "(python -m training.export)."
        )


def meta_from_export_record(record: Any, source: str) -> tuple[CheckpointMeta, dict[str, Any]]:
    """(CheckpointMeta, export details) from the JSON record an export carries.

    `source` names where the record came from, for the error messages. The record's content
    checksum is checked (version 2 on), then the record as a checkpoint's metadata is, against
    its architecture too (built on the meta device).
    """
    if not isinstance(record, dict) or record.get("format") != EXPORT_FORMAT:
        raise OnnxModelError(f"{source} is not an ASL export record (no format {EXPORT_FORMAT!r})")
    version = record.get("format_version")
    if version not in READABLE_EXPORT_VERSIONS or isinstance(version, bool):
        raise OnnxModelError(
            f"{source} has export format version {version}; this version of asl_core reads "
            f"versions {', '.join(map(str, READABLE_EXPORT_VERSIONS))}"
        )
    _check_content(record, source)
    meta = meta_from_dict(record, source, error=OnnxModelError)
    check_architecture(meta, source, error=OnnxModelError)
    export = record.get("export") if isinstance(record.get("export"), dict) else {}
    meta.extra = {**meta.extra, "export": export}
    return meta, export


def _parse_record(text: str | bytes, source: str) -> Any:
    """The record's JSON, its size and nesting checked first."""
    return parse_json_bounded(text, source, error=OnnxModelError)


def read_sidecar(model_path: str | os.PathLike[str]) -> tuple[CheckpointMeta, dict[str, Any]]:
    """The record beside an exported file (cheap: for listing models without loading them)."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise OnnxModelError(f"{path} does not exist")
    if path.stat().st_size > MAX_META_BYTES:
        raise OnnxModelError(f"{path.name} is over {MAX_META_BYTES:,} bytes: not an export record")
    return meta_from_export_record(_parse_record(path.read_bytes(), path.name), path.name)


def _expected_input_shape(spec: InputSpec) -> tuple[int, ...]:
    """The shape of one sample (no batch axis) that the spec asks for."""
    return tuple(spec.example(1).shape[1:])


class OnnxModel:
    """An exported ONNX model that the Predictor calls like a PyTorch model.

    threads: onnxruntime's intra-op threads (None: its default, one per physical core).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        import onnxruntime as ort  # imported here: only callers with an ONNX model need it

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model at {self.path}")
        size = self.path.stat().st_size
        if size > MAX_WEIGHTS_BYTES + MAX_META_BYTES + MAX_HEADER_BYTES:
            raise OnnxModelError(
                f"{self.path.name} is {size / 1e9:.1f} GB; models of at most "
                f"{MAX_WEIGHTS_BYTES / 1e9:.1f} GB are loaded"
            )
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # onnxruntime's errors are pybind11 classes deriving straight from Exception (Fail,
        # InvalidProtobuf, InvalidGraph, ...); any of them means "not a usable model".
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise OnnxModelError(
                f"{self.path.name} is not a readable ONNX model ({error})"
            ) from None
        text = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if text is None:
            raise OnnxModelError(
                f"{self.path.name} carries no {METADATA_KEY!r} metadata: it was not exported by "
                "`python -m training.export`, so its classes and input are unknown"
            )
        source = f"{self.path.name} metadata {METADATA_KEY!r}"
        self.meta, self.export_info = meta_from_export_record(_parse_record(text, source), source)
        self.input_spec = self.meta.input_spec
        self._input_name = self._check_signature()
        check_inference(self, self.meta, self.path.name)  # NaN weights answer NaN: refused here

    def _check_signature(self) -> str:
        """The graph's input name, after checking its shapes agree with the metadata."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise OnnxModelError(
                f"{self.path.name} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "a classifier has one input and one output"
            )
        expected = _expected_input_shape(self.input_spec)
        declared = tuple(inputs[0].shape[1:])
        # Symbolic (str) or unknown (None) dimensions accept any size; fixed ones must agree.
        if len(declared) != len(expected) or any(
            isinstance(d, int) and d != e for d, e in zip(declared, expected, strict=True)
        ):
            raise OnnxModelError(
                f"{self.path.name} takes input of shape {declared}, but its metadata describes "
                f"{expected}"
            )
        width = outputs[0].shape[-1] if outputs[0].shape else None
        if isinstance(width, int) and width != self.meta.num_classes:
            raise OnnxModelError(
                f"{self.path.name} answers {width} classes but its metadata names "
                f"{self.meta.num_classes}"
            )
        return inputs[0].name

    def eval(self) -> OnnxModel:
        """Nothing to switch: an exported graph is always in inference mode."""
        return self

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits for a batch, as a CPU float tensor (what the PyTorch model returns)."""
        array = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        (logits,) = self.session.run(None, {self._input_name: array})[:1]
        return torch.from_numpy(np.asarray(logits, dtype=np.float32))

    def __repr__(self) -> str:
        quantization = self.export_info.get("quantization") or "fp32"
        return f"OnnxModel({self.path.name}, {self.meta.architecture}, {quantization})"
