"""The registry: every architecture builds, runs forward and backward, and saves and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from asl_core.models.blocks import ChannelAttention
from asl_core.models.checkpoint import CheckpointError, load_checkpoint, read_meta, save_checkpoint
from asl_core.models.registry import (
    AslModel,
    PretrainedWeightsMissing,
    create_model,
    list_models,
    model_info,
)

NUM_CLASSES = 5


CLASSES = ["A", "B", "C", "D", "E"]


REQUIRED = {"custom_cnn", "mobilenet_v2", "resnet18", "small_cnn", "scratch_mlp",
            "baseline_cnn", "enhanced_cnn", "cnn_lstm", "landmark_mlp", "vgg16"}  # fmt: skip


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def build(name: str) -> AslModel:
    return create_model(name, num_classes=NUM_CLASSES)


def test_registry_holds_every_reference_architecture() -> None:
    assert set(list_models()) >= REQUIRED


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_matches_declared_input(name: str) -> None:
    model = build(name).eval()
    assert model.input_spec == model_info(name).input_spec
    with torch.no_grad():
        out = model(model.input_spec.example(batch=3))
    assert out.shape == (3, NUM_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
def test_backward_reaches_every_trainable_parameter(name: str) -> None:
    model = build(name).train()
    model(model.input_spec.example(batch=4)).logsumexp(dim=1).sum().backward()
    without = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert without == []
    zero = [n for n, p in model.named_parameters() if p.grad is not None and not p.grad.any()]
    assert zero == []


@pytest.mark.parametrize("name", list_models())
def test_checkpoint_round_trip_gives_identical_outputs(name: str, tmp_path: Path) -> None:
    model = build(name).eval()
    x = model.input_spec.example(batch=2)
    save_checkpoint(tmp_path / "ckpt", model, CLASSES, architecture=name, metrics={"acc": 0.5})
    loaded = load_checkpoint(tmp_path / "ckpt.json")
    assert loaded.meta.class_names == CLASSES
    assert loaded.meta.input_spec == model.input_spec
    assert loaded.meta.metrics == {"acc": 0.5}
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", list_models())
def test_freezing_leaves_frozen_parameters_without_gradients(name: str) -> None:
    model = build(name).train()
    model.freeze_backbone()
    model(model.input_spec.example(batch=4)).sum().backward()
    head = {id(p) for p in model.head_parameters()}
    for parameter in model.parameters():
        if id(parameter) in head:
            assert parameter.requires_grad and parameter.grad is not None
        else:
            assert not parameter.requires_grad and parameter.grad is None


def test_resnet_staged_unfreezing_follows_seed_003() -> None:
    model = create_model("resnet18", num_classes=NUM_CLASSES)
    model.freeze_backbone()
    model.unfreeze_stage("layer4")
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc", "layer4"}
    model.unfreeze_stage("layer3")
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc", "layer4", "layer3"}
    with pytest.raises(ValueError, match="no stage 'layer9'"):
        model.unfreeze_stage("layer9")


def test_channel_attention_reweights_channels_by_sigmoid_of_pooled_features() -> None:
    attention = ChannelAttention(256, reduction=16)
    assert attention.fc1.out_channels == 16
    x = torch.randn(2, 256, 7, 7)
    z = attention.weights(x)
    assert z.shape == (2, 256, 1, 1) and (z > 0).all() and (z < 1).all()
    torch.testing.assert_close(attention(x), x * z)
    # The weights depend only on each channel's global average.
    shuffled = x.flatten(2)[:, :, torch.randperm(49)].view_as(x)
    torch.testing.assert_close(attention.weights(shuffled), z)


def test_cnn_lstm_really_uses_the_lstm_and_frame_order() -> None:
    model = create_model("cnn_lstm", num_classes=NUM_CLASSES).eval()
    x = model.input_spec.example(batch=1)
    with torch.no_grad():
        forward, backward = model(x), model(x.flip(1))
    assert not torch.allclose(forward, backward), "reversing frames must change the output"


def test_mobilenet_pretrained_loads_imagenet_weights_offline() -> None:
    from torchvision.models import mobilenet_v2

    try:
        model = create_model("mobilenet_v2", num_classes=NUM_CLASSES, pretrained=True)
    except PretrainedWeightsMissing as error:
        pytest.skip(f"ImageNet MobileNetV2 weights not installed ({error}); run `make setup`")
    reference = mobilenet_v2(weights=None).state_dict()
    assert model.pretrained_loaded
    # Pretrained conv weights are not the random initialisation.
    assert not torch.allclose(model.stem[0][0].weight, reference["features.0.0.weight"])


def test_pretrained_without_a_weights_file_says_how_to_provide_one(tmp_path: Path) -> None:
    with pytest.raises(PretrainedWeightsMissing, match="weights_path"):
        create_model("resnet18", NUM_CLASSES, pretrained=True, weights_path=tmp_path / "no.pth")


def test_resnet_pretrained_from_a_given_file(tmp_path: Path) -> None:
    from torchvision.models import resnet18

    reference = resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = create_model(
        "resnet18", NUM_CLASSES, pretrained=True, weights_path=tmp_path / "r18.pth"
    )
    torch.testing.assert_close(model.stem[0].weight, reference.conv1.weight)


def test_unknown_architecture_and_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        create_model("nope", NUM_CLASSES)
    with pytest.raises(ValueError, match="no pretrained weights"):
        create_model("small_cnn", NUM_CLASSES, pretrained=True)
    with pytest.raises(ValueError, match="at least 2"):
        create_model("landmark_mlp", 1)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = create_model("landmark_mlp", NUM_CLASSES)
    return save_checkpoint(tmp_path / "m", model, CLASSES, architecture="landmark_mlp")


def test_truncated_weights_are_refused(saved: Path) -> None:
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupted, truncated"):
        load_checkpoint(saved)


def test_garbage_weights_without_checksum_are_refused(saved: Path) -> None:
    meta = json.loads(saved.read_text())
    meta.pop("weights_sha256")
    saved.write_text(json.dumps(meta))
    saved.with_suffix(".safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(saved)


def test_truncated_metadata_is_refused(saved: Path) -> None:
    saved.write_text(saved.read_text()[:40])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_meta(saved)


def test_unknown_architecture_in_metadata_is_refused(saved: Path) -> None:
    meta = json.loads(saved.read_text())
    meta["architecture"] = "alexnet"
    saved.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="unknown architecture 'alexnet'"):
        load_checkpoint(saved)


def test_wrong_class_count_is_refused(saved: Path) -> None:
    with pytest.raises(CheckpointError, match="has 5 classes but 36 were expected"):
        load_checkpoint(saved, expected_num_classes=36)
    meta = json.loads(saved.read_text())
    meta["class_names"] = [*CLASSES, "F"]
    meta["num_classes"] = 6
    meta.pop("weights_sha256")
    saved.write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match=r"tensor classifier\.(weight|bias) has shape \(5,?.*needs \(6"
    ):
        load_checkpoint(saved)


def test_weights_of_another_architecture_are_refused(saved: Path) -> None:
    other = create_model("scratch_mlp", NUM_CLASSES)
    save_file(other.state_dict(), str(saved.with_suffix(".safetensors")))
    meta = json.loads(saved.read_text())
    meta.pop("weights_sha256")
    saved.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit landmark_mlp"):
        load_checkpoint(saved)


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    torch.save({"x": torch.zeros(1)}, tmp_path / "evil.safetensors")
    (tmp_path / "evil.json").write_text(json.dumps({
        "format": "asl-checkpoint", "format_version": 1, "architecture": "landmark_mlp",
        "class_names": CLASSES, "input_spec": {"kind": "landmarks", "dim": 63}}))  # fmt: skip
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "evil")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.json")
