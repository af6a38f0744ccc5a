"""Export (ONNX, TorchScript), int8 quantisation and pruning, checked on REAL photos.

Allowed differences, on the 40 real Massey photos of `photo_views` (and their mirror images,
as the Predictor reads both), fed through the Predictor's own input path:
- fp32 ONNX and fp32 TorchScript: max |logit difference| from PyTorch < 1e-3, identical top-1;
- int8 dynamic (ONNX and TorchScript): top-1 agreement with PyTorch >= 95%; static int8 (ONNX)
  too for landmark models. Measured on the shipped placeholder landmark MLP: 100% for all three
  (run with -s to see the figures). Static int8 on CNNs is optional and only reported (see
  asl_core/export/ for what it did to a MobileNetV2).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from asl_core.export.checkpoint_export import export_checkpoint
from asl_core.export.common import ExportError, unseen_signers
from asl_core.export.quantize import calibration_inputs, prune_model
from asl_core.export.torchscript import load_torchscript
from asl_core.inference.predictor import ModelNotAvailable, Predictor, default_model_path
from asl_core.io.images import load_image
from asl_core.models.checkpoint import CheckpointError, load_checkpoint, read_meta, save_checkpoint
from asl_core.models.onnx_model import METADATA_KEY, OnnxModel, OnnxModelError, sidecar_path
from asl_core.models.registry import create_model, list_models
from asl_core.vision.hands import HandDetector
from asl_core.vision.spec import InputSpec
from asl_core.vision.tensors import detection_input
from asl_core.vision.views import mirror_detection, mirror_image
from tests.helpers.photos import massey_photo
from training.export import main as export_main

FP32_MAX_LOGIT_DIFF = 1e-3


INT8_MIN_TOP1_AGREEMENT = 0.95


NUM_PHOTOS = 40


SIGNERS = ("hand1", "hand2", "hand3", "hand4", "hand5")


CLASSES = [str(d) for d in range(10)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


@pytest.fixture(scope="module")
def detector() -> HandDetector:
    with HandDetector(mode="image") as shared:
        yield shared


@pytest.fixture(scope="module")
def photo_views(massey_root: Path, detector: HandDetector) -> list[tuple[np.ndarray, object]]:
    """(rgb, detection) for 40 real photos, every class and every signer, plus the mirror view
    of each (the Predictor reads both)."""
    views = []
    for i in range(NUM_PHOTOS):
        label = CLASSES[i % len(CLASSES)]
        rgb = load_image(massey_photo(massey_root, label, SIGNERS[i % len(SIGNERS)]))
        det = detector.detect(rgb)
        if det is not None:
            views += [(rgb, det), (mirror_image(rgb), mirror_detection(det))]
    assert len(views) >= 2 * (NUM_PHOTOS - 2), "MediaPipe found too few hands"
    return views


def batch_for(spec: InputSpec, views: list[tuple[np.ndarray, object]]) -> torch.Tensor:
    """The model inputs exactly as `Predictor.probabilities` builds them."""
    return torch.stack([detection_input(rgb, det, spec) for rgb, det in views])


def logits(model: object, batch: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(batch).float()  # type: ignore[operator]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model's checkpoint (exports are written beside it)."""
    folder = tmp_path_factory.mktemp("shipped")
    loaded = load_checkpoint(default_model_path())
    meta = loaded.meta
    save_checkpoint(
        folder / "model",
        loaded.model,
        meta.class_names,
        architecture=meta.architecture,
        arch_kwargs=meta.arch_kwargs,
        data=meta.data,
        metrics=meta.metrics,
    )
    return folder / "model.json"


@pytest.fixture(scope="module")
def reference(shipped: Path, photo_views: list) -> tuple[object, torch.Tensor, torch.Tensor]:
    """(PyTorch model, real-photo batch, its logits)."""
    model = load_checkpoint(shipped).model
    batch = batch_for(model.input_spec, photo_views)
    return model, batch, logits(model, batch)


@pytest.fixture(scope="module")
def calibration(massey_root: Path, detector: HandDetector, shipped: Path) -> list[torch.Tensor]:
    """Calibration inputs from OTHER photos than the ones compared (index 2 of each class)."""
    photos = [massey_photo(massey_root, label, "hand2", index=2) for label in CLASSES[::2]]
    return calibration_inputs(read_meta(shipped).input_spec, photos, limit=18, detector=detector)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    # Counted in Python, not as a float32 mean: 19/20 must compare equal to 0.95.
    return int((a.argmax(1) == b.argmax(1)).sum()) / len(a)


def test_fp32_onnx_gives_pytorch_logits_on_real_photos(
    shipped: Path, reference: tuple, tmp_path: Path
) -> None:
    _, batch, expected = reference
    result = export_checkpoint(shipped, "onnx", output=tmp_path / "m.onnx")
    got = logits(OnnxModel(result.path), batch)
    difference = float((got - expected).abs().max())
    assert difference < FP32_MAX_LOGIT_DIFF, f"max |Δlogit| {difference:.2e} on real photos"
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_fp32_torchscript_gives_pytorch_logits_on_real_photos(
    shipped: Path, reference: tuple, tmp_path: Path
) -> None:
    _, batch, expected = reference
    result = export_checkpoint(shipped, "torchscript", output=tmp_path / "m.torchscript.pt")
    got = logits(load_torchscript(result.path), batch)
    assert float((got - expected).abs().max()) < FP32_MAX_LOGIT_DIFF
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_image_model_exports_faithfully_on_real_hand_crops(
    photo_views: list, tmp_path: Path
) -> None:
    """A (small, untrained) CustomCNN: the crop input path, convolutions, attention, pooling."""
    torch.manual_seed(0)
    kwargs = {"channels": [8, 16, 32, 64], "hidden": 32, "image_size": 64}
    model = create_model("custom_cnn", len(CLASSES), **kwargs).eval()
    names = [c.upper() for c in CLASSES]
    save_checkpoint(tmp_path / "cnn", model, names, architecture="custom_cnn", arch_kwargs=kwargs)
    batch = batch_for(model.input_spec, photo_views[:20])
    expected = logits(model, batch)
    for fmt, load in (("onnx", OnnxModel), ("torchscript", load_torchscript)):
        result = export_checkpoint(tmp_path / "cnn.json", fmt)
        got = logits(load(result.path), batch)
        assert float((got - expected).abs().max()) < FP32_MAX_LOGIT_DIFF, fmt
        assert torch.equal(got.argmax(1), expected.argmax(1)), fmt


@pytest.mark.parametrize(
    ("fmt", "quantize"),
    [("onnx", "int8"), ("onnx", "int8-static"), ("torchscript", "int8")],
)
def test_int8_keeps_top1_on_real_photos(
    fmt: str,
    quantize: str,
    shipped: Path,
    reference: tuple,
    calibration: list[torch.Tensor],
    tmp_path: Path,
) -> None:
    _, batch, expected = reference
    output = tmp_path / ("m.onnx" if fmt == "onnx" else "m.torchscript.pt")
    result = export_checkpoint(
        shipped, fmt, output=output, quantize=quantize, calibration=calibration
    )
    model = OnnxModel(result.path) if fmt == "onnx" else load_torchscript(result.path)
    measured = agreement(logits(model, batch), expected)
    print(f"{fmt} {quantize}: top-1 agreement {measured:.1%} on {len(batch)} real views")
    assert result.record["export"]["quantization"].startswith("int8")
    if quantize == "int8-static" and model.input_spec.kind != "landmarks":
        # Static int8 is optional and measured, not promised, for CNNs: on a MobileNetV2 crop
        # model it kept the top-1 on only 62-68% of real photos (see asl_core/export/).
        pytest.skip(f"static int8 on an image model: top-1 agreement {measured:.1%} (no bar)")
    assert measured >= INT8_MIN_TOP1_AGREEMENT, f"{fmt} {quantize}: top-1 agreement {measured:.1%}"


def test_int8_onnx_is_smaller(shipped: Path, tmp_path: Path) -> None:
    fp32 = export_checkpoint(shipped, "onnx", output=tmp_path / "fp32.onnx")
    int8 = export_checkpoint(shipped, "onnx", output=tmp_path / "int8.onnx", quantize="int8")
    assert int8.size_bytes < 0.5 * fp32.size_bytes


def test_onnx_carries_checkpoint_metadata_inside_and_beside(shipped: Path, tmp_path: Path) -> None:
    result = export_checkpoint(shipped, "onnx", output=tmp_path / "m.onnx", quantize="int8")
    props = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    inside = json.loads(props[METADATA_KEY])
    meta = read_meta(shipped)
    assert inside["architecture"] == meta.architecture
    assert inside["class_names"] == meta.class_names
    assert InputSpec.from_dict(inside["input_spec"]) == meta.input_spec
    assert inside["metrics"] == meta.metrics
    assert inside["data"] == meta.data
    assert inside["export"]["quantization"] == "int8-dynamic"
    assert inside["export"]["source"]["weights_sha256"] == meta.extra["weights_sha256"]
    beside = json.loads(sidecar_path(result.path).read_text())
    file_info = beside.pop("file")
    assert beside == inside
    assert file_info["name"] == "m.onnx"
    assert file_info["bytes"] == result.path.stat().st_size
    loaded = OnnxModel(result.path)
    assert loaded.meta.class_names == meta.class_names
    assert loaded.input_spec == meta.input_spec


def test_torchscript_carries_metadata_as_extra_file(shipped: Path, tmp_path: Path) -> None:
    result = export_checkpoint(shipped, "torchscript", output=tmp_path / "m.torchscript.pt")
    loaded = load_torchscript(result.path)
    assert loaded.meta.class_names == read_meta(shipped).class_names
    assert loaded.export_info["format"] == "torchscript"


def test_predictor_runs_an_exported_onnx_like_its_checkpoint(
    shipped: Path, massey_root: Path, detector: HandDetector, tmp_path: Path
) -> None:
    exported = export_checkpoint(shipped, "onnx", output=tmp_path / "m.onnx").path
    with (
        Predictor([shipped], detector=detector) as original,
        Predictor([exported], detector=detector) as onnx_predictor,
    ):
        assert onnx_predictor.class_names == original.class_names
        assert onnx_predictor.name == "m"
        for label in ("b", "5", "y"):
            rgb = load_image(massey_photo(massey_root, label, "hand3"))
            a, b = original.predict_image(rgb), onnx_predictor.predict_image(rgb)
            assert (a.label, a.accepted, a.hand) == (b.label, b.accepted, b.hand)
            assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


def test_pruning_is_permanent_and_exported(shipped: Path, tmp_path: Path) -> None:
    model = load_checkpoint(shipped).model
    report = prune_model(model, 0.3)
    assert report["sparsity"] == pytest.approx(0.3, abs=0.01)
    assert not any(k.endswith(("_orig", "_mask")) for k in model.state_dict())
    result = export_checkpoint(shipped, "onnx", output=tmp_path / "p.onnx", prune=0.3)
    assert result.record["export"]["pruning"]["sparsity"] == pytest.approx(0.3, abs=0.01)
    # The export matches the PRUNED model (the check inside export_checkpoint compares them).
    assert result.record["export"]["check"]["max_abs_logit_diff"] < FP32_MAX_LOGIT_DIFF


def test_command_line_exports_and_names_the_file(
    shipped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_main(["--model", str(shipped), "--format", "onnx", "--quantize", "int8"]) == 0
    written = shipped.with_name("model.int8.onnx")
    assert written.is_file() and sidecar_path(written).is_file()
    assert "int8-dynamic" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "torchscript", "--quantize", "int8-static"], "ONNX only"),
        (["--prune", "1.5"], "between 0 and 1"),
        (["--model", "missing/nothing.json"], "does not exist"),
    ],
)
def test_command_line_refuses_clearly(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_main(argv) == 2
    assert message in capsys.readouterr().err


def test_refuses_to_export_an_export(shipped: Path, tmp_path: Path) -> None:
    exported = export_checkpoint(shipped, "onnx", output=tmp_path / "m.onnx").path
    with pytest.raises(ExportError, match="already an exported file"):
        export_checkpoint(exported, "torchscript")


def test_onnx_loader_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    not_onnx = tmp_path / "photo.onnx"
    not_onnx.write_text("hello")
    with pytest.raises(OnnxModelError, match="not a readable ONNX model"):
        OnnxModel(not_onnx)
    # A valid ONNX graph that was not exported here: no classes, no input specification.
    bare = tmp_path / "bare.onnx"
    model = torch.nn.Linear(63, 4).eval()
    torch.onnx.export(model, (torch.zeros(1, 63),), str(bare), dynamo=False)
    with pytest.raises(OnnxModelError, match=r"training\.export"):
        OnnxModel(bare)
    with pytest.raises(ModelNotAvailable):
        Predictor([tmp_path / "absent.onnx"])
    assert issubclass(OnnxModelError, CheckpointError)


def test_unseen_signers_only_when_the_checkpoint_says(shipped: Path) -> None:
    meta = read_meta(shipped)
    everyone = set(SIGNERS)
    split = {"name": "loso", "signers": {"train": ["hand1", "hand2", "hand3"], "val": ["hand4"]}}
    assert unseen_signers(replace(meta, data={"split": split}), everyone) == {"hand5"}
    loso = {"split": {"name": "loso", "params": {"test_signer": "hand5"}}}
    assert unseen_signers(replace(meta, data=loso), everyone) == {"hand5"}
    letters_only = {"datasets": ["grassknoted_letters"]}
    assert unseen_signers(replace(meta, data=letters_only), everyone) == everyone
    assert unseen_signers(replace(meta, data={"datasets": ["massey36"]}), everyone) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if n != "vgg16"])
def test_every_architecture_exports(name: str, tmp_path: Path) -> None:
    """vgg16 is left out only for its size (a 500 MB export); it has no unusual layer."""
    torch.manual_seed(0)
    model = create_model(name, 5).eval()
    save_checkpoint(tmp_path / name, model, list("ABCDE"), architecture=name)
    inputs = model.input_spec.example(3)
    expected = logits(model, inputs)
    for fmt, load in (("onnx", OnnxModel), ("torchscript", load_torchscript)):
        result = export_checkpoint(tmp_path / f"{name}.json", fmt)
        got = logits(load(result.path), inputs)
        assert float((got - expected).abs().max()) < FP32_MAX_LOGIT_DIFF, (name, fmt)
        quantized = export_checkpoint(tmp_path / f"{name}.json", fmt, quantize="int8")
        assert logits(load(quantized.path), inputs).shape == expected.shape
