"""An exported ONNX model's metadata gets the checks a checkpoint's gets (issue 17, F4-F8):
each test tampers with an export of the shipped default model written in tmp_path."""

from __future__ import annotations

import json
import re
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
    sign_export_record,
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


def edit_record(
    change: Callable[[dict[str, Any]], Any], *, resign: bool = True
) -> Callable[[onnx.ModelProto], None]:
    """An ONNX edit that changes the record inside (or replaces its text with what `change`
    returns, when it returns a string). `resign`: recompute its content_sha256, as a file
    exported that way would carry it, so the test reaches the check after the checksum;
    without it the edit is a hand edit."""

    def apply(model: onnx.ModelProto) -> None:
        for prop in model.metadata_props:
            if prop.key == METADATA_KEY:
                record = json.loads(prop.value)
                replaced = change(record)
                if resign and not isinstance(replaced, str):
                    record = sign_export_record(record)
                prop.value = replaced if isinstance(replaced, str) else json.dumps(record)

    return apply


def swap_first_two_classes(record: dict[str, Any]) -> None:
    names = record["class_names"]
    names[0], names[1] = names[1], names[0]


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
    architecture = OnnxModel(exported).meta.architecture  # the shipped model's
    with pytest.raises(OnnxModelError, match=f"input_spec contradicts {architecture}: repr"):
        OnnxModel(bad)


def test_deeply_nested_metadata_is_refused(exported: Path, tmp_path: Path) -> None:
    nested = "[" * 200_000 + "]" * 200_000
    bad = rewrite(exported, tmp_path / "deep.onnx", edit_record(lambda _: nested))
    with pytest.raises(OnnxModelError, match=f"nests lists or objects more than {MAX_JSON_DEPTH}"):
        OnnxModel(bad)


def test_huge_sizes_are_refused_before_anything_is_built(exported: Path, tmp_path: Path) -> None:
    change = edit_record(lambda record: record["arch_kwargs"].update(hidden=[20000, 20000]))
    bad = rewrite(exported, tmp_path / "huge.onnx", change)
    architecture = OnnxModel(exported).meta.architecture
    with pytest.raises(OnnxModelError, match=rf"describes a {architecture} of 1\.6 GB"):
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


def test_the_export_record_carries_a_content_checksum(exported: Path) -> None:
    model = onnx.load(str(exported))
    embedded = next(prop.value for prop in model.metadata_props if prop.key == METADATA_KEY)
    for record in (json.loads(embedded), json.loads(sidecar_path(exported).read_text())):
        assert record["format_version"] == 2
        assert re.fullmatch(r"[0-9a-f]{64}", record["content_sha256"])


def test_swapped_class_names_are_refused(exported: Path, tmp_path: Path) -> None:
    change = edit_record(swap_first_two_classes, resign=False)
    bad = rewrite(exported, tmp_path / "swapped.onnx", change)
    with pytest.raises(OnnxModelError, match=r"swapped\.onnx .* was changed after it was exported"):
        OnnxModel(bad)
    copy = tmp_path / "sidecar.onnx"
    copy.write_bytes(exported.read_bytes())
    sidecar = json.loads(sidecar_path(exported).read_text())
    swap_first_two_classes(sidecar)
    sidecar_path(copy).write_text(json.dumps(sidecar))
    with pytest.raises(OnnxModelError, match="class_names, input_spec do not match"):
        read_sidecar(copy)


def test_a_version_1_record_without_the_checksum_still_loads(
    exported: Path, tmp_path: Path
) -> None:
    """Exports made before version 2 carry no content_sha256 (as version 1 checkpoints)."""

    def downgrade(record: dict[str, Any]) -> None:
        record["format_version"] = 1
        record.pop("content_sha256")

    old = rewrite(exported, tmp_path / "v1.onnx", edit_record(downgrade, resign=False))
    assert OnnxModel(old).meta.class_names == OnnxModel(exported).meta.class_names

    def unsign(record: dict[str, Any]) -> None:
        del record["content_sha256"]

    unsigned = rewrite(exported, tmp_path / "unsigned.onnx", edit_record(unsign, resign=False))
    with pytest.raises(OnnxModelError, match="lacks a valid content_sha256"):
        OnnxModel(unsigned)
