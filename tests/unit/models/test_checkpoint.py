"""What loading and saving a checkpoint refuse (issue 17, F4-F8), each with its breaking input:
tampered copies of the shipped default model written in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from asl_core.inference.predictor import DEFAULT_MODEL, Predictor
from asl_core.models import checkpoint as checkpoint_module
from asl_core.models.checkpoint import (
    FORMAT_VERSION,
    MAX_JSON_DEPTH,
    MAX_META_BYTES,
    CheckpointError,
    NonFiniteWeightsError,
    check_inference,
    checkpoint_paths,
    content_sha256,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from asl_core.models.registry import create_model
from tests.helpers.checkpoints import copy_shipped, edit_meta, resign


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    return copy_shipped(tmp_path)


def poison_weights(meta_path: Path, value: float) -> None:
    """One weight of the copy set to `value` (NaN or infinity), checksums recomputed."""
    weights, _ = checkpoint_paths(meta_path)
    state = load_file(str(weights))
    state["classifier.weight"][3, 7] = value
    save_file(state, str(weights))
    resign(meta_path)


# -- F4: non-finite weights --


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused_at_load(shipped: Path, value: float) -> None:
    poison_weights(shipped, value)
    with pytest.raises(NonFiniteWeightsError, match=r"NaN or infinite values in 1 tensors \("
                       r"classifier\.weight\).*lower the learning rate"):  # fmt: skip
        load_checkpoint(shipped)
    # The Predictor (CLI, API, pages) gets the same refusal instead of NaN answers later.
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        Predictor([shipped])


def test_non_finite_weights_are_never_saved(tmp_path: Path) -> None:
    model = create_model("landmark_mlp", 3)
    with torch.no_grad():
        model.hidden[0].weight[0, 0] = float("nan")  # what a diverged training run leaves
    with pytest.raises(NonFiniteWeightsError, match=r"hidden\.0\.weight"):
        save_checkpoint(tmp_path / "run" / "checkpoint", model, ["A", "B", "C"],
                        architecture="landmark_mlp")  # fmt: skip
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


# -- F5: metadata that contradicts the architecture --


@pytest.mark.parametrize(
    ("spec_change", "named"),
    [
        ({"dim": 64}, "dim 64 (the architecture reads {dim})"),
        ({"kind": "image", "size": 224}, "kind 'image' (the architecture reads 'landmarks')"),
        ({"representation": "skeleton"}, "representation 'skeleton'"),
    ],
)
def test_an_input_spec_that_contradicts_the_architecture_is_refused(
    shipped: Path, spec_change: dict[str, Any], named: str
) -> None:
    meta = read_meta(shipped)
    named = named.format(dim=meta.input_spec.dim)
    edit_meta(shipped, lambda raw: raw["input_spec"].update(spec_change))
    resign(shipped)  # a consistent-looking file: only the architecture can tell
    with pytest.raises(CheckpointError, match=f"input_spec contradicts {meta.architecture}: .*"
                       + named.replace("(", r"\(").replace(")", r"\)")):  # fmt: skip
        load_checkpoint(shipped)


def test_an_image_model_keeps_the_view_it_was_trained_on(tmp_path: Path) -> None:
    """The one field training chooses beside the architecture: crop or skeleton."""
    model = create_model("scratch_mlp", 3, representation="skeleton")
    saved = save_checkpoint(tmp_path / "m", model, ["A", "B", "C"], architecture="scratch_mlp")
    assert load_checkpoint(saved).model.input_spec.representation == "skeleton"
    edit_meta(saved, lambda raw: raw["input_spec"].update(representation="landmarks"))
    resign(saved)
    with pytest.raises(CheckpointError, match="representation 'landmarks'"):
        load_checkpoint(saved)


def test_a_loaded_model_answers_one_finite_logit_per_class(shipped: Path) -> None:
    loaded = load_checkpoint(shipped)
    check_inference(loaded.model, loaded.meta, shipped.name)  # what GET /health runs
    with torch.no_grad():
        loaded.model.classifier.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteWeightsError, match="answers NaN"):
        check_inference(loaded.model, loaded.meta, shipped.name)


# -- F6: checksums required and covering the meaning --


@pytest.mark.parametrize("key", ["weights_sha256", "content_sha256"])
def test_a_checkpoint_without_its_checksum_is_refused(shipped: Path, key: str) -> None:
    edit_meta(shipped, lambda raw: raw.pop(key))
    with pytest.raises(CheckpointError, match=f"lacks a valid {key}: the checksum is required"):
        read_meta(shipped)


def swap_a_and_b(raw: dict[str, Any]) -> None:
    names = raw["class_names"]
    a, b = names.index("A"), names.index("B")
    names[a], names[b] = names[b], names[a]


@pytest.mark.parametrize(
    "change",
    [
        swap_a_and_b,
        lambda raw: raw["input_spec"].update(dim=64),
        lambda raw: raw["arch_kwargs"].update(hidden=[256, 64]),
        lambda raw: raw.update(architecture="scratch_mlp"),
        lambda raw: raw.update(weights_sha256="0" * 64),
    ],
    ids=["class names swapped", "input spec", "arch kwargs", "architecture", "weights hash"],
)
def test_hand_edits_that_change_the_meaning_are_refused(shipped: Path, change: Any) -> None:
    edit_meta(shipped, change)
    with pytest.raises(CheckpointError, match="was changed after it was saved"):
        load_checkpoint(shipped)


def test_a_swap_of_class_names_would_otherwise_answer_b_for_a(shipped: Path) -> None:
    """Why the class names are covered: a re-signed swap loads and answers the other letter."""
    original = load_checkpoint(shipped)
    edit_meta(shipped, swap_a_and_b)
    resign(shipped)
    swapped = load_checkpoint(shipped)
    x = original.model.input_spec.example(4)
    assert torch.equal(original.model.eval()(x), swapped.model.eval()(x))
    assert original.meta.class_names != swapped.meta.class_names


def test_notes_outside_the_checksum_may_change(shipped: Path) -> None:
    """`training.model_card --ship` adds numbers to `metrics` and `extra` after training."""
    edit_meta(shipped, lambda raw: raw["metrics"].update(loso_mean_acc=0.5))
    assert load_checkpoint(shipped).meta.metrics["loso_mean_acc"] == 0.5


def test_the_shipped_model_carries_the_current_format() -> None:
    raw = json.loads(DEFAULT_MODEL.read_text())
    assert raw["format_version"] == FORMAT_VERSION == 2
    assert raw["content_sha256"] == content_sha256(raw)
    assert load_checkpoint(DEFAULT_MODEL).meta.num_classes == 36


def test_version_1_checkpoints_still_load_with_their_weights_checksum(shipped: Path) -> None:
    """Runs trained before version 2 wrote no content_sha256."""

    def version_1(raw: dict[str, Any]) -> None:
        raw["format_version"] = 1
        raw.pop("content_sha256")

    edit_meta(shipped, version_1)
    assert load_checkpoint(shipped).meta.class_names[10] == "A"
    edit_meta(shipped, lambda raw: raw.pop("weights_sha256"))
    with pytest.raises(CheckpointError, match="lacks a valid weights_sha256"):
        load_checkpoint(shipped)


def test_an_unknown_format_version_is_named(shipped: Path) -> None:
    edit_meta(shipped, lambda raw: raw.update(format_version=3))
    with pytest.raises(CheckpointError, match=r"has format version 3; .* reads versions 1, 2"):
        read_meta(shipped)


# -- F7: deep nesting and big files --


@pytest.mark.parametrize("depth", [200_000, MAX_JSON_DEPTH + 1])
def test_deeply_nested_metadata_is_refused_without_a_recursion_error(
    shipped: Path, depth: int
) -> None:
    text = shipped.read_text()
    nested = "[" * depth + "]" * depth
    shipped.write_text(text.replace('"data": {', f'"junk": {nested}, "data": {{', 1))
    with pytest.raises(CheckpointError, match=f"nests lists or objects more than {MAX_JSON_DEPTH}"):
        load_checkpoint(shipped)


def test_oversized_metadata_is_refused_before_it_is_read(shipped: Path) -> None:
    edit_meta(shipped, lambda raw: raw["extra"].update(padding="x" * MAX_META_BYTES))
    with pytest.raises(CheckpointError, match=r"bytes; checkpoint metadata is at most 1,048,576"):
        read_meta(shipped)


# -- F8: sizes checked before anything is built --


def test_huge_sizes_are_refused_before_the_model_is_built(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hidden=[20000, 20000] is a 1.6 GB landmark MLP (the issue's input): only built on the
    meta device (no memory), then refused."""
    edit_meta(shipped, lambda raw: raw["arch_kwargs"].update(hidden=[20000, 20000]))
    resign(shipped)
    devices: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        devices.append(torch.empty(0).device.type)  # the default device where it is built
        return create_model(*args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "create_model", spy)
    architecture = read_meta(shipped).architecture
    with pytest.raises(CheckpointError, match=rf"describes a {architecture} of 1\.6 GB"):
        load_checkpoint(shipped)
    assert devices == ["meta"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.update(class_names=[f"c{i}" for i in range(5000)], num_classes=5000),
         "names 5,000 classes; at most 1000"),
        (lambda raw: raw["arch_kwargs"].update(hidden=[8] * 2000), "arch_kwargs is over 4096"),
        (lambda raw: raw["arch_kwargs"].update(weights_path="/etc/passwd"),
         "arch_kwargs may not set weights_path"),
        (lambda raw: raw.update(arch_kwargs=[256, 128]), "arch_kwargs must be an object"),
    ],
    ids=["5000 classes", "2000 layers", "a file to read", "not an object"],
)  # fmt: skip
def test_absurd_metadata_is_refused_by_its_sizes(shipped: Path, change: Any, message: str) -> None:
    edit_meta(shipped, change)
    resign(shipped)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(shipped)


def test_a_huge_weights_file_is_refused_before_it_is_read(shipped: Path) -> None:
    weights, _ = checkpoint_paths(shipped)
    with weights.open("r+b") as handle:
        handle.truncate(3 << 30)  # sparse: 3 GiB on paper, nothing on disk
    with pytest.raises(CheckpointError, match=r"is 3\.2 GB; models of at most 1\.1 GB"):
        load_checkpoint(shipped)
