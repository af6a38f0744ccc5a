"""Export a checkpoint for deployment: ONNX or TorchScript, optionally pruned and int8-quantised.

Seed 000, section 4.4.8 (model serialisation, optimised inference by quantisation and pruning).
`export_checkpoint(path, "onnx" | "torchscript", quantize=..., prune=...)` loads a safetensors
checkpoint, optionally prunes it, converts it, checks the result against PyTorch, and writes the
file with its metadata inside:

- ONNX: the record (architecture, class names, input specification, metrics, data, and how it
  was exported) is stored in `model.metadata_props["asl_checkpoint"]` and also written to
  `NAME.onnx.json` beside it. The Predictor, the CLI and the HTTP API load `.onnx` files
  (`asl_core.onnx_model.OnnxModel`): ONNX runs no Python code when loaded.
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
import copy
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from asl_core.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    atomic_write_bytes,
    atomic_write_json,
    load_checkpoint,
    sha256_file,
)
from asl_core.models import InputSpec
from asl_core.onnx_model import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    METADATA_KEY,
    ONNX_SUFFIX,
    OnnxModel,
    meta_from_export_record,
    sidecar_path,
)

FORMATS = ("onnx", "torchscript")
QUANTIZATIONS = ("int8", "int8-static")
QUANTIZATION_NAMES = {"int8": "int8-dynamic", "int8-static": "int8-static"}
"""How each --quantize choice is named in the record."""
ONNX_OPSET = 17
TORCHSCRIPT_SUFFIX = ".torchscript.pt"
TORCHSCRIPT_EXTRA_FILE = f"{METADATA_KEY}.json"
FP32_TOLERANCE = 1e-3
"""Largest |logit difference| accepted between an fp32 export and PyTorch (seen: about 1e-6)."""
CHECK_BATCH = 4
"""Random inputs used to check every export, batched so a batch size baked in is caught."""
CHECK_PHOTOS = 32
ONNX_DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM")
TORCH_DYNAMIC_MODULES: set[type[nn.Module]] = {nn.Linear, nn.LSTM}
PRUNABLE_MODULES = (nn.Conv2d, nn.Linear)


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


# --- pruning and quantisation --------------------------------------------------------------


def prune_model(model: nn.Module, amount: float) -> dict[str, Any]:
    """Zero the `amount` smallest-magnitude weights of every Conv2d and Linear, permanently.

    Per layer (not global) so no layer is emptied. Returns what was done, for the record.
    """
    from torch.nn.utils import prune

    if not 0.0 < amount < 1.0:
        raise ExportError(f"prune amount must be between 0 and 1 (a fraction), got {amount}")
    layers = [m for m in model.modules() if isinstance(m, PRUNABLE_MODULES)]
    if not layers:
        raise ExportError(f"{type(model).__name__} has no Conv2d or Linear layer to prune")
    for layer in layers:
        prune.l1_unstructured(layer, name="weight", amount=amount)
        prune.remove(layer, "weight")  # fold the mask into the weight: a plain model again
    total = sum(layer.weight.numel() for layer in layers)
    zeros = sum(int((layer.weight == 0).sum()) for layer in layers)
    return {
        "method": "l1_unstructured",
        "amount": amount,
        "layers": len(layers),
        "sparsity": zeros / total,
        "modules": sorted({type(layer).__name__ for layer in layers}),
    }


def quantize_dynamic_torch(model: nn.Module) -> nn.Module:
    """Dynamic int8 for Linear and LSTM layers (a quantised copy; the model is untouched)."""
    with _quiet_deprecations():
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), TORCH_DYNAMIC_MODULES, dtype=torch.qint8
        )


# --- checks --------------------------------------------------------------------------------


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
    photos, which is what quantisation must keep, is measured by tests/test_export.py and
    bench/export.py.
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


# --- the record ----------------------------------------------------------------------------


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
    exported (so a model card or the app can tell an int8 file from its fp32 original)."""
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
    return {
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


# --- ONNX ----------------------------------------------------------------------------------


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


def _preprocess_for_quantization(source: Path, target: Path) -> Path:
    """onnxruntime's recommended pre-pass (shape inference, graph clean-up); the unprocessed
    graph is quantised when the pre-pass cannot handle a model."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(source), str(target))
    except Exception:  # the pre-pass is an optimisation; quantising without it still works
        return source
    return target


def _quantize_onnx(
    fp32_path: Path,
    out_path: Path,
    quantize: str,
    calibration: Sequence[torch.Tensor] | None,
) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    prepared = _preprocess_for_quantization(fp32_path, fp32_path.with_suffix(".pre.onnx"))
    if quantize == "int8":
        quantize_dynamic(
            str(prepared),
            str(out_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(ONNX_DYNAMIC_OPS),
        )
        return
    if not calibration:
        raise ExportError("static int8 needs calibration inputs (real photos)")

    class PhotoReader(CalibrationDataReader):
        """Feeds the calibration inputs to the quantiser one photo at a time."""

        def __init__(self) -> None:
            self._feeds = iter([{"input": x.unsqueeze(0).numpy()} for x in calibration])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    quantize_static(
        str(prepared),
        str(out_path),
        PhotoReader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
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


# --- TorchScript ---------------------------------------------------------------------------


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


# --- from a checkpoint ---------------------------------------------------------------------


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


# --- which photos a model has seen, and calibration inputs ---------------------------------


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


def calibration_inputs(
    spec: InputSpec, photos: Iterable[Path], *, limit: int, detector: Any | None = None
) -> list[torch.Tensor]:
    """Model inputs built from real photos exactly as the Predictor builds them."""
    from asl_core.hands import HandDetector
    from asl_core.images import load_image
    from asl_core.inputs import detection_input

    own = detector is None
    detector = detector or HandDetector(mode="image")
    inputs: list[torch.Tensor] = []
    try:
        for path in photos:
            rgb = load_image(path)
            det = detector.detect(rgb)
            if det is not None:
                inputs.append(detection_input(rgb, det, spec))
            if len(inputs) >= limit:
                break
    finally:
        if own:
            detector.close()
    if not inputs:
        raise ExportError("no hand was found in any calibration photo")
    return inputs


def calibration_photos(
    meta: CheckpointMeta, root: Path, *, count: int, seed: int = 0
) -> tuple[list[Path], dict[str, Any]]:
    """A class-balanced random choice of photos from a dataset folder, leaving out signers the
    model never saw (so calibrating never touches a held-out signer). Returns the paths and a
    description for the record."""
    from asl_core.data import load_folder

    samples = load_folder(root)
    unseen = unseen_signers(meta, {s.signer for s in samples if s.signer}, root.name) or set()
    # A folder of photos the model never saw at all is fine to calibrate on: only leave unseen
    # signers out when others remain.
    pool = [s for s in samples if s.signer not in unseen and s.path is not None] or samples
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    # Round-robin over classes in the shuffled order: every class gets its share.
    by_class: dict[str, list[Path]] = {}
    for index in order:
        by_class.setdefault(pool[index].label, []).append(pool[index].path)  # type: ignore[arg-type]
    chosen: list[Path] = []
    while len(chosen) < count and any(by_class.values()):
        for paths in by_class.values():
            if paths and len(chosen) < count:
                chosen.append(paths.pop())
    info = {
        "dataset": root.name,
        "photos": len(chosen),
        "seed": seed,
        "excluded_signers": sorted(unseen),
    }
    return chosen, info


__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "ExportError",
    "ExportResult",
    "TorchScriptModel",
    "calibration_inputs",
    "calibration_photos",
    "default_output_path",
    "export_checkpoint",
    "export_onnx",
    "export_record",
    "export_torchscript",
    "load_torchscript",
    "prune_model",
    "quantize_dynamic_torch",
    "unseen_signers",
]
