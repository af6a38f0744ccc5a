"""Smaller models: dynamic and static int8 quantisation, pruning, calibration photos."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from asl_core.export.common import ExportError, _quiet_deprecations, unseen_signers
from asl_core.models.checkpoint import CheckpointMeta
from asl_core.vision.spec import InputSpec

ONNX_DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM")


TORCH_DYNAMIC_MODULES: set[type[nn.Module]] = {nn.Linear, nn.LSTM}


PRUNABLE_MODULES = (nn.Conv2d, nn.Linear)


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


def calibration_inputs(
    spec: InputSpec, photos: Iterable[Path], *, limit: int, detector: Any | None = None
) -> list[torch.Tensor]:
    """Model inputs built from real photos exactly as the Predictor builds them."""
    from asl_core.io.images import load_image
    from asl_core.vision.hands import HandDetector
    from asl_core.vision.tensors import detection_input

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
    from asl_core.data.sources import load_folder

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
