"""Export a checkpoint for deployment: ONNX or TorchScript, optionally pruned and int8-quantised.

Seed 000, section 4.4.8 (model serialisation, optimised inference by quantisation and pruning).
`export_checkpoint(path, "onnx" | "torchscript", quantize=..., prune=...)` loads a safetensors
checkpoint, optionally prunes it, converts it, checks the result against PyTorch, and writes the
file with its metadata inside:

- ONNX: the record (architecture, class names, input specification, metrics, data, and how it
  was exported) is stored in `model.metadata_props["asl_checkpoint"]` and also written to
  `NAME.onnx.json` beside it. The Predictor, the CLI and the HTTP API load `.onnx` files
  (`asl_core.models.onnx_model.OnnxModel`): ONNX runs no Python code when loaded.
- TorchScript: the record is stored as the archive's extra file `asl_checkpoint.json`. A
  TorchScript archive contains code and pickled constants, so loading one is as trusting as
  unpickling: `load_torchscript` is for files this project exported itself (benchmarks, other
  PyTorch runtimes), and the app NEVER loads TorchScript, user-provided or not.

Quantisation (`--quantize`):
- `int8`: dynamic int8 (weights stored as int8, activations quantised on the fly). TorchScript:
  `torch.ao.quantization.quantize_dynamic` on Linear and LSTM. ONNX:
  `onnxruntime.quantization.quantize_dynamic` on MatMul, Gemm and LSTM. Convolutions stay fp32
  in both: onnxruntime's dynamic ConvInteger ran 3-7x SLOWER than fp32 here (MobileNetV2 and
  CustomCNN, 2 CPU threads), so dynamic int8 helps the fully connected layers only.
- `int8-static` (ONNX only): static int8 in QDQ form with per-channel weights, activation ranges
  calibrated on real photos fed through the Predictor's own input path. It quantises the
  convolutions too, which made CNNs about 4x smaller and 2-4x faster here, BUT it is not
  accurate enough for every CNN: on a MobileNetV2 crop model (ImageNet backbone, trained head)
  it kept the PyTorch top-1 on only 62-68% of real photos (MinMax, entropy and percentile
  calibration, conv-only and attention-excluded variants all tried: 52-62%). Post-training
  quantisation of depthwise convolutions is known to be fragile; measure with bench/export.py
  before shipping one (the export warns when its own check on the calibration photos agrees
  with PyTorch on fewer than 95%). On the landmark MLP it agreed on 99.6%.
Pruning (`--prune 0.3`): L1 unstructured pruning of every Conv2d and Linear weight, made
permanent (`torch.nn.utils.prune.remove`). The zeros are stored densely, so the file is no
smaller and inference no faster with dense kernels; it is here for the seed's comparison. It is
applied WITHOUT fine-tuning afterwards: the landmark MLP kept its top-1 on 97% of real photos,
the MobileNetV2 on about 2% (pruning a CNN needs retraining, which export does not do).

The ONNX export uses PyTorch's TorchScript-based exporter (`dynamo=False`): the newer exporter
needs the `onnxscript` package, which the lock does not include. Both produce standard ONNX.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asl_core.models.checkpoint import CheckpointMeta
from asl_core.models.onnx_model import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    sign_export_record,
)
from asl_core.vision.spec import InputSpec

FORMATS = ("onnx", "torchscript")


QUANTIZATIONS = ("int8", "int8-static")


QUANTIZATION_NAMES = {"int8": "int8-dynamic", "int8-static": "int8-static"}
"""How each --quantize choice is named in the record."""


ONNX_OPSET = 17


FP32_TOLERANCE = 1e-3
"""Largest |logit difference| accepted between an fp32 export and PyTorch (seen: about 1e-6)."""


CHECK_BATCH = 4
"""Random inputs used to check every export, batched so a batch size baked in is caught."""


CHECK_PHOTOS = 32


class ExportError(ValueError):
    """An export that cannot be made, with the reason."""


@dataclass
class ExportResult:
    path: Path
    record: dict[str, Any]
    size_bytes: int
    sidecar: Path | None = None

    @property
    def summary(self) -> str:
        export = self.record["export"]
        check = export["check"]
        parts = [
            f"{self.path} ({self.size_bytes / 1e6:.2f} MB)",
            f"format {export['format']}",
            f"quantization {export['quantization'] or 'none (fp32)'}",
        ]
        if export["pruning"]:
            parts.append(f"pruned {export['pruning']['sparsity']:.0%} of weights")
        parts.append(
            f"max |logit difference| from PyTorch {check['max_abs_logit_diff']:.2e} on "
            f"{check['inputs']}"
        )
        return "; ".join(parts)


@contextlib.contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Silence the deprecation notices of the APIs used here on purpose.

    torch 2.13 marks torch.jit, torch.ao.quantization and the TorchScript-based ONNX exporter as
    deprecated, yet they are what it offers for these jobs without extra packages; the tracer's
    and the LSTM exporter's warnings are covered by checking every export on a batch of inputs
    (see `_check`).
    """
    with warnings.catch_warnings():
        for pattern in (
            r".*is deprecated.*",
            r".*legacy TorchScript-based ONNX export.*",
            r".*will be removed.*",
            r".*torch\.quantize_per_tensor.*",
            # Said of every LSTM with a dynamic batch axis; `_check` runs a batch of 4.
            r".*batch_size other than 1.*LSTM.*",
        ):
            warnings.filterwarnings("ignore", message=pattern)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        yield


def _check_inputs(spec: InputSpec, batch: int = CHECK_BATCH) -> torch.Tensor:
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)  # the same inputs every time, without disturbing the caller's seed
    try:
        return spec.example(batch)
    finally:
        torch.random.set_rng_state(generator_state)


def _check(
    reference: nn.Module,
    exported: Any,
    spec: InputSpec,
    *,
    fp32: bool,
    photos: Sequence[torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Compare the export with PyTorch on a batch of inputs.

    `photos` (the calibration inputs, built from real photos) are used when given: random
    inputs lie outside the calibrated ranges of a static int8 model. Otherwise random inputs
    of the declared shape say whether the conversion is faithful; agreement on held-out REAL
    photos, which is what quantisation must keep, is measured by
    tests/unit/export/test_export.py and bench/export.py.
    """
    if photos:
        inputs = torch.stack(list(photos[:CHECK_PHOTOS]))
        described = f"{len(inputs)} calibration photos"
    else:
        inputs = _check_inputs(spec)
        described = f"{len(inputs)} random inputs of the declared shape"
    with torch.inference_mode():
        expected = reference(inputs).float()
        got = exported(inputs).float()
    if got.shape != expected.shape:
        raise ExportError(
            f"the export returns shape {tuple(got.shape)}, PyTorch {tuple(expected.shape)}"
        )
    difference = float((got - expected).abs().max())
    agreement = float((got.argmax(1) == expected.argmax(1)).float().mean())
    if fp32 and not difference < FP32_TOLERANCE:
        raise ExportError(
            f"the fp32 export differs from PyTorch by up to {difference:.2e} in the logits "
            f"(allowed {FP32_TOLERANCE:g}): the conversion is not faithful"
        )
    return {
        "inputs": described,
        "real_photos": bool(photos),
        "max_abs_logit_diff": difference,
        "top1_agreement": agreement,
        "tolerance": FP32_TOLERANCE if fp32 else None,
    }


def export_record(
    meta: CheckpointMeta,
    *,
    fmt: str,
    quantization: str | None,
    pruning: dict[str, Any] | None,
    source: Path,
    check: dict[str, Any],
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON stored inside the exported file: the checkpoint's own metadata plus how it was
    exported (so a model card or the app can tell an int8 file from its fp32 original), and
    its `content_sha256` (`asl_core.models.onnx_model.sign_export_record`)."""
    import onnx
    import onnxruntime

    extra = {k: v for k, v in meta.extra.items() if k not in ("weights_sha256", "export")}
    export: dict[str, Any] = {
        "format": fmt,
        "quantization": QUANTIZATION_NAMES.get(quantization) if quantization else None,
        "pruning": pruning,
        "source": {"checkpoint": source.name, "weights_sha256": meta.extra.get("weights_sha256")},
        "check": check,
        "torch": torch.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if fmt == "onnx":
        export.update(opset=ONNX_OPSET, onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)
    if calibration is not None:
        export["calibration"] = calibration
    return sign_export_record(
        {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "architecture": meta.architecture,
            "arch_kwargs": meta.arch_kwargs,
            "num_classes": meta.num_classes,
            "class_names": meta.class_names,
            "input_spec": meta.input_spec.to_dict(),
            "data": meta.data,
            "metrics": meta.metrics,
            "extra": extra,
            "export": export,
        }
    )


def _walk_dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk_dicts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk_dicts(child)


def unseen_signers(
    meta: CheckpointMeta, signers: Iterable[str], dataset: str = "massey36"
) -> set[str] | None:
    """The signers among `signers` (of `dataset`) that the model never learnt from.

    None means the checkpoint does not record it, and nothing may be claimed unseen. Read from
    `meta.data`: a split description with signers per side (`Split.describe`: validation
    signers count as seen, they steered training), or a leave-one-signer-out split's
    `test_signer`, or a dataset list without `dataset` (then every signer is unseen).
    """
    signers = set(signers)
    for entry in _walk_dicts(meta.data):
        sides = entry.get("signers")
        if isinstance(sides, dict) and isinstance(sides.get("train"), list):
            seen = set(sides.get("train") or []) | set(sides.get("val") or [])
            return signers - seen
    for entry in _walk_dicts(meta.data):
        params = entry.get("params")
        if entry.get("name") == "loso" and isinstance(params, dict) and params.get("test_signer"):
            return signers & {params["test_signer"]}
    trained = {Path(name).name for name in meta.dataset_names()} or None
    if trained is not None and dataset not in trained:
        return signers
    return None
