"""The registry: every architecture builds, runs forward and backward, and saves and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file
from torch import nn

from asl_core.models.blocks import ChannelAttention
from asl_core.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    meta_from_dict,
    read_meta,
    save_checkpoint,
)
from asl_core.models.registry import (
    AslModel,
    ModelInfo,
    PretrainedWeightsMissing,
    create_model,
    list_models,
    model_info,
)
from asl_core.settings import REPO_ROOT
from asl_core.training.config import config_from_dict
from asl_core.training.optim import param_groups, set_phase_trainable
from asl_core.vision.spec import InputSpec, Representation
from tests.helpers.checkpoints import resign

NUM_CLASSES = 5


CLASSES = ["A", "B", "C", "D", "E"]


REQUIRED = {"custom_cnn", "custom_mobilenet_v2", "custom_resnet18", "mobilenet_v2", "resnet18",
            "small_cnn", "scratch_mlp", "baseline_cnn", "enhanced_cnn", "cnn_lstm",
            "landmark_mlp", "vgg16"}  # fmt: skip


WITH_ATTENTION = {"custom_cnn", "custom_mobilenet_v2", "custom_resnet18"}
"""Seed 000's Custom* models: the only write-up with channel attention."""


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
    assert isinstance(model.input_spec, InputSpec)
    assert isinstance(model.input_spec.representation, Representation)
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


def test_the_input_spec_is_declared_once_by_the_model() -> None:
    # The registry keeps no spec of its own: it reports what the default model declares, and a
    # model built with other arguments declares its own.
    assert "input_spec" not in {f.name for f in ModelInfo.__dataclass_fields__.values()}
    assert model_info("custom_cnn").input_spec.size == 128
    assert create_model("custom_cnn", NUM_CLASSES, image_size=64).input_spec.size == 64
    lstm = create_model("cnn_lstm", NUM_CLASSES, image_size=32, sequence_length=3).input_spec
    assert (lstm.kind, lstm.size, lstm.sequence_length) == ("sequence", 32, 3)
    skeleton = create_model("small_cnn", NUM_CLASSES, representation="skeleton").input_spec
    assert skeleton.representation is Representation.SKELETON
    with pytest.raises(ValueError, match="crop, skeleton, landmarks, handframe-v1, not 'sketch'"):
        create_model("small_cnn", NUM_CLASSES, representation="sketch")
    with pytest.raises(ValueError, match="reads landmark vectors"):
        create_model("landmark_mlp", NUM_CLASSES, representation="crop")


def test_representation_is_one_enum_equal_to_the_stored_strings() -> None:
    assert [str(r) for r in Representation] == ["crop", "skeleton", "landmarks", "handframe-v1"]
    assert Representation.CROP == "crop" and Representation.SKELETON == "skeleton"
    old = {"kind": "image", "size": 32, "representation": "skeleton", "mean": [0.5], "std": [1]}
    spec = InputSpec.from_dict(old)
    assert spec.representation is Representation.SKELETON
    written = spec.to_dict()
    assert type(written["representation"]) is str  # plain JSON and YAML, no enum tag
    assert yaml.safe_load(yaml.safe_dump(written)) == {**old, "channels": 3, "dim": 0,
                                                       "sequence_length": 0}  # fmt: skip
    with pytest.raises(ValueError, match="representation must be one of crop, skeleton"):
        InputSpec.from_dict({**old, "representation": "depth"})


def test_the_shipped_model_still_loads_with_its_stored_representation() -> None:
    shipped = REPO_ROOT / "asl_core" / "default_model" / "model.json"
    stored = json.loads(shipped.read_text())
    assert stored["architecture"] == "handframe_mlp"
    assert stored["input_spec"]["representation"] == "handframe-v1"
    loaded = load_checkpoint(shipped)
    assert loaded.meta.architecture == "handframe_mlp"
    assert loaded.meta.input_spec.representation is Representation(
        stored["input_spec"]["representation"]
    )
    assert loaded.model.input_spec == model_info("handframe_mlp").input_spec


def test_an_unknown_representation_in_a_checkpoint_is_named() -> None:
    raw = {"architecture": "small_cnn", "class_names": CLASSES,
           "input_spec": {"kind": "image", "size": 32, "representation": "depth"}}  # fmt: skip
    with pytest.raises(CheckpointError, match=r"bad input_spec.*not 'depth'"):
        meta_from_dict(raw, "m.json")


def attention_modules(model: nn.Module) -> list[ChannelAttention]:
    return [m for m in model.modules() if isinstance(m, ChannelAttention)]


def test_attention_only_where_the_write_up_has_it() -> None:
    # Seed 000's Custom* models have it; seed 003's ResNet18, seed 002, 004 and ours do not.
    small = {"image_size": 32}
    built = {name: create_model(name, NUM_CLASSES, **(small if "net" in name else {}))
             for name in list_models()}  # fmt: skip
    assert {name for name, model in built.items() if attention_modules(model)} == WITH_ATTENTION
    assert len(attention_modules(built["custom_resnet18"])) == 2  # after layer3 and layer4
    assert len(attention_modules(built["custom_mobilenet_v2"])) == 4
    assert len(attention_modules(built["custom_cnn"])) == 4  # one per conv block


@pytest.mark.parametrize(
    "name", sorted(n for n in WITH_ATTENTION if model_info(n).supports_pretrained)
)
def test_attention_trains_with_the_head_in_the_head_only_phase(name: str) -> None:
    # Head-only training needs a pretrained backbone (the config refuses a random one); the
    # ImageNet weights do not matter to what trains, so the model here is built without them.
    model = create_model(name, NUM_CLASSES, image_size=32)
    config = config_from_dict({"model": name, "freeze": "head", "lr": 0.002, "pretrained": True})
    set_phase_trainable(model, "head", [])
    attention = {id(p) for m in attention_modules(model) for p in m.parameters()}
    assert attention and all(p.requires_grad for m in attention_modules(model)
                             for p in m.parameters())  # fmt: skip
    (group,) = param_groups(model, config, "head")
    assert (group["name"], group["lr"]) == ("head", 0.002)
    assert attention <= {id(p) for p in group["params"]}
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert frozen and not attention & {id(p) for p in frozen}
    # One head-only step moves the attention and leaves every frozen backbone weight.
    before = {id(p): p.detach().clone() for p in model.parameters()}
    optimizer = torch.optim.Adam(group["params"], lr=group["lr"])
    model.train()
    model(model.input_spec.example(batch=4)).logsumexp(dim=1).sum().backward()
    optimizer.step()
    moved = {id(p) for p in model.parameters() if not torch.equal(p, before[id(p)])}
    assert attention <= moved
    assert not moved & {id(p) for p in frozen}


def test_custom_resnet18_head_phase_trains_fc_and_attention_then_stages() -> None:
    model = create_model("custom_resnet18", NUM_CLASSES, image_size=32)
    model.freeze_backbone()
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.2", "layer3.1.fc1", "layer3.1.fc2", "layer4.1.fc1", "layer4.1.fc2"}
    model.unfreeze_stage("layer4")
    assert all(p.requires_grad for p in model.layer4.parameters())
    assert not any(p.requires_grad for p in model.layer3[0].parameters())


def test_enhanced_cnn_has_batch_norm_only_on_the_512_unit_layer() -> None:
    # Seed 004 appendix G: relu(fc1) -> BatchNorm1d(512) -> Dropout(0.2) -> fc2; the conv
    # layers are the baseline's, without batch norm.
    enhanced = create_model("enhanced_cnn", NUM_CLASSES)
    norms = [m for m in enhanced.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 1 and isinstance(norms[0], nn.BatchNorm1d)
    assert norms[0].num_features == 512
    head = list(enhanced.classifier)
    kinds = [type(m) for m in head]
    assert kinds == [nn.Flatten, nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout, nn.Linear]
    assert head[1].out_features == 512 and head[4].p == 0.2
    baseline = create_model("baseline_cnn", NUM_CLASSES)
    assert not [m for m in baseline.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # Same conv layers in both.
    assert [tuple(p.shape) for p in enhanced.encoder.parameters()] == [
        tuple(p.shape) for p in baseline.encoder.parameters()
    ]


@pytest.mark.parametrize(
    "name", [n for n in list_models() if model_info(n).legacy_kwargs]
)  # fmt: skip
def test_checkpoints_saved_before_a_models_fix_still_load(name: str, tmp_path: Path) -> None:
    # As the code before the fix saved them: the old layout under the same name, arch_kwargs
    # without the argument that now selects it.
    legacy = model_info(name).legacy_kwargs
    old = create_model(name, NUM_CLASSES, image_size=32, **legacy).eval()
    current = create_model(name, NUM_CLASSES, image_size=32)
    assert set(old.state_dict()) != set(current.state_dict())
    save_checkpoint(tmp_path / "old", old, CLASSES, architecture=name,
                    arch_kwargs={"image_size": 32})  # fmt: skip
    loaded = load_checkpoint(tmp_path / "old")
    assert loaded.meta.arch_kwargs == {**legacy, "image_size": 32}
    x = old.input_spec.example(batch=2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), old(x), rtol=0, atol=0)
    # A checkpoint of the current layout loads as the current layout.
    save_checkpoint(tmp_path / "new", current, CLASSES, architecture=name,
                    arch_kwargs={"image_size": 32})  # fmt: skip
    assert load_checkpoint(tmp_path / "new").meta.arch_kwargs == {"image_size": 32}


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


def test_garbage_weights_are_refused(saved: Path) -> None:
    saved.with_suffix(".safetensors").write_bytes(b"\x80\x04not a safetensors file")
    resign(saved)  # checksums that match the garbage: the reader itself must refuse it
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
    resign(saved)
    with pytest.raises(CheckpointError, match="unknown architecture 'alexnet'"):
        load_checkpoint(saved)


def test_wrong_class_count_is_refused(saved: Path) -> None:
    with pytest.raises(CheckpointError, match="has 5 classes but 36 were expected"):
        load_checkpoint(saved, expected_num_classes=36)
    meta = json.loads(saved.read_text())
    meta["class_names"] = [*CLASSES, "F"]
    meta["num_classes"] = 6
    saved.write_text(json.dumps(meta))
    resign(saved)
    with pytest.raises(
        CheckpointError, match=r"tensor classifier\.(weight|bias) has shape \(5,?.*needs \(6"
    ):
        load_checkpoint(saved)


def test_weights_of_another_architecture_are_refused(saved: Path) -> None:
    other = create_model("scratch_mlp", NUM_CLASSES)
    save_file(other.state_dict(), str(saved.with_suffix(".safetensors")))
    resign(saved)
    with pytest.raises(CheckpointError, match="does not fit landmark_mlp"):
        load_checkpoint(saved)


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    torch.save({"x": torch.zeros(1)}, tmp_path / "evil.safetensors")
    (tmp_path / "evil.json").write_text(json.dumps({
        "format": "asl-checkpoint", "format_version": 2, "architecture": "landmark_mlp",
        "class_names": CLASSES, "input_spec": {
            "kind": "landmarks", "dim": 63, "representation": "landmarks"}}))  # fmt: skip
    resign(tmp_path / "evil.json")  # checksums that match: the reader itself must refuse it
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "evil")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.json")
