"""An exported ONNX model's metadata gets the checks a checkpoint's gets (issue 17, F4-F8):
each test tampers with an export of the shipped default model written in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from asl_core.export.checkpoint_export import export_checkpoint
from asl_core.models.checkpoint import MAX_JSON_DEPTH, NonFiniteWeightsError
from asl_core.models.onnx_model import (
    METADATA_KEY,
    OnnxModel,
    OnnxModelError,
    read_sidecar,
    sidecar_path,
)
from tests.helpers.checkpoints import copy_shipped


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    return export_checkpoint(copy_shipped(folder), "onnx", output=folder / "m.onnx").path


def rewrite(exported: Path, target: Path, change: Callable[[onnx.ModelProto], None]) -> Path:
    model = onnx.load(str(exported))
    change(model)
    onnx.save(model, str(target))
    return target


def edit_record(change: Callable[[dict[str, Any]], Any]) -> Callable[[onnx.ModelProto], None]:
    """An ONNX edit that changes the record inside (or replaces its text with what `change`
    returns, when it returns a string)."""

    def apply(model: onnx.ModelProto) -> None:
        for prop in model.metadata_props:
            if prop.key == METADATA_KEY:
                record = json.loads(prop.value)
                replaced = change(record)
                prop.value = replaced if isinstance(replaced, str) else json.dumps(record)

    return apply


def test_the_untouched_export_loads(exported: Path) -> None:
    assert OnnxModel(exported).meta.num_classes == 36


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_are_refused(exported: Path, tmp_path: Path, value: float) -> None:
    def poison(model: onnx.ModelProto) -> None:
        first = model.graph.initializer[0]
        array = numpy_helper.to_array(first).copy()
        array.flat[0] = value
        first.CopyFrom(numpy_helper.from_array(array, first.name))

    bad = rewrite(exported, tmp_path / "nan.onnx", poison)
    with pytest.raises(NonFiniteWeightsError, match=r"nan\.onnx answers NaN or infinity"):
        OnnxModel(bad)


def test_an_input_spec_that_contradicts_the_architecture_is_refused(
    exported: Path, tmp_path: Path
) -> None:
    change = edit_record(lambda record: record["input_spec"].update(representation="crop"))
    bad = rewrite(exported, tmp_path / "spec.onnx", change)
    with pytest.raises(OnnxModelError, match="input_spec contradicts landmark_mlp: repr"):
        OnnxModel(bad)


def test_deeply_nested_metadata_is_refused(exported: Path, tmp_path: Path) -> None:
    nested = "[" * 200_000 + "]" * 200_000
    bad = rewrite(exported, tmp_path / "deep.onnx", edit_record(lambda _: nested))
    with pytest.raises(OnnxModelError, match=f"nests lists or objects more than {MAX_JSON_DEPTH}"):
        OnnxModel(bad)


def test_huge_sizes_are_refused_before_anything_is_built(exported: Path, tmp_path: Path) -> None:
    change = edit_record(lambda record: record["arch_kwargs"].update(hidden=[20000, 20000]))
    bad = rewrite(exported, tmp_path / "huge.onnx", change)
    with pytest.raises(OnnxModelError, match=r"describes a landmark_mlp of 1\.6 GB"):
        OnnxModel(bad)


def test_the_sidecar_gets_the_same_checks(exported: Path, tmp_path: Path) -> None:
    meta, _ = read_sidecar(exported)
    assert meta.class_names[10] == "A"
    copy = tmp_path / "m.onnx"
    copy.write_bytes(exported.read_bytes())
    text = sidecar_path(exported).read_text()
    sidecar_path(copy).write_text(text.replace('"data": {', '"x": ' + "[" * 100 + "]" * 100
                                                + ', "data": {', 1))  # fmt: skip
    with pytest.raises(OnnxModelError, match="nests lists or objects"):
        read_sidecar(copy)
    sidecar_path(copy).write_text(" " * (2 << 20))
    with pytest.raises(OnnxModelError, match="over 1,048,576 bytes"):
        read_sidecar(copy)
