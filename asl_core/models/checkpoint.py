"""One checkpoint format for everything the project saves and ships.

A checkpoint is two files side by side:
- `NAME.safetensors`: the weights (safetensors never runs code, unlike a pickle);
- `NAME.json`: the architecture and its arguments, class names, input specification, the data
  it was trained on, its metrics, and the sha256 of the weights file.

Loading checks all of it and refuses a mismatch with a message naming the problem.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from asl_core.io.files import atomic_write_json, sha256_file
from asl_core.models.registry import AslModel, create_model, list_models
from asl_core.vision.spec import InputSpec

FORMAT = "asl-checkpoint"


FORMAT_VERSION = 1


WEIGHTS_SUFFIX = ".safetensors"


META_SUFFIX = ".json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason."""


@dataclass
class CheckpointMeta:
    architecture: str
    class_names: list[str]
    input_spec: InputSpec
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def dataset_names(self) -> list[str]:
        """Names of the datasets the model was trained on, as `data` records them (entries are
        names, or records with a "name" from training); empty when not recorded."""
        listed = self.data.get("datasets")
        names = []
        for entry in listed if isinstance(listed, list) else []:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str):
                names.append(name)
        return list(dict.fromkeys(names))

    def to_dict(self, weights_sha256: str) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "architecture": self.architecture,
            "arch_kwargs": self.arch_kwargs,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "input_spec": self.input_spec.to_dict(),
            "data": self.data,
            "metrics": self.metrics,
            "extra": self.extra,
            "weights_sha256": weights_sha256,
        }


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(weights, meta) for a checkpoint given as either file or as the common stem."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, META_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + META_SUFFIX)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: AslModel,
    class_names: list[str],
    *,
    architecture: str,
    arch_kwargs: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save weights and metadata atomically; returns the metadata path."""
    weights_path, meta_path = checkpoint_paths(path)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=weights_path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": FORMAT, "architecture": architecture})
        os.replace(tmp, weights_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = CheckpointMeta(
        architecture=architecture,
        class_names=list(class_names),
        input_spec=model.input_spec,
        arch_kwargs=dict(arch_kwargs or {}),
        data=dict(data or {}),
        metrics=dict(metrics or {}),
        extra=dict(extra or {}),
    )
    atomic_write_json(meta_path, meta.to_dict(sha256_file(weights_path)))
    return meta_path


def read_meta(path: str | os.PathLike[str]) -> CheckpointMeta:
    """Read and validate the metadata file only (cheap: for listing models)."""
    _, meta_path = checkpoint_paths(path)
    if not meta_path.is_file():
        raise CheckpointError(f"checkpoint metadata {meta_path} does not exist")
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{meta_path.name} is not valid JSON ({error}); the file is "
                              "corrupted or was not fully written") from None  # fmt: skip
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path.name} is not an ASL checkpoint (no format {FORMAT!r})")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path.name} has format version {raw.get('format_version')}; this version of "
            f"asl_core reads version {FORMAT_VERSION}"
        )
    return meta_from_dict(raw, meta_path.name)


def meta_from_dict(
    raw: dict[str, Any], source: str, *, error: type[CheckpointError] = CheckpointError
) -> CheckpointMeta:
    """Validate the fields every saved model carries (a checkpoint's JSON or an export's
    record); `source` names the file in the messages."""
    missing = [key for key in ("architecture", "class_names", "input_spec") if key not in raw]
    if missing:
        raise error(f"{source} lacks {', '.join(missing)}")
    if raw["architecture"] not in list_models():
        raise error(
            f"{source} names unknown architecture {raw['architecture']!r}; "
            f"known: {', '.join(list_models())}"
        )
    class_names = raw["class_names"]
    if (
        not isinstance(class_names, list)
        or len(class_names) < 2
        or not all(isinstance(c, str) for c in class_names)
    ):
        raise error(f"{source}: class_names must be a list of at least two strings")
    if len(set(class_names)) != len(class_names):
        raise error(f"{source}: class_names has duplicates")
    if raw.get("num_classes", len(class_names)) != len(class_names):
        raise error(f"{source} says {raw['num_classes']} classes but names {len(class_names)}")
    try:
        input_spec = InputSpec.from_dict(raw["input_spec"])
    except (TypeError, AttributeError) as problem:
        raise error(f"{source}: bad input_spec ({problem})") from None
    return CheckpointMeta(
        architecture=raw["architecture"],
        class_names=list(class_names),
        input_spec=input_spec,
        arch_kwargs=dict(raw.get("arch_kwargs") or {}),
        data=dict(raw.get("data") or {}),
        metrics=dict(raw.get("metrics") or {}),
        extra={**dict(raw.get("extra") or {}), "weights_sha256": raw.get("weights_sha256")},
    )


@dataclass
class LoadedCheckpoint:
    model: AslModel
    meta: CheckpointMeta
    path: Path


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    expected_num_classes: int | None = None,
    map_location: str = "cpu",
) -> LoadedCheckpoint:
    """Rebuild the model and load its weights, checking everything; never unpickles."""
    weights_path, meta_path = checkpoint_paths(path)
    meta = read_meta(meta_path)
    if expected_num_classes is not None and meta.num_classes != expected_num_classes:
        raise CheckpointError(
            f"{meta_path.name} has {meta.num_classes} classes but {expected_num_classes} were "
            "expected"
        )
    if not weights_path.is_file():
        raise CheckpointError(f"weights file {weights_path} is missing")
    expected_sha = meta.extra.get("weights_sha256")
    if expected_sha and sha256_file(weights_path) != expected_sha:
        raise CheckpointError(
            f"{weights_path.name} does not match the checksum in {meta_path.name}: the weights "
            "are corrupted, truncated or belong to another checkpoint"
        )
    try:
        state = load_file(str(weights_path), device=map_location)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights_path.name} is not a readable safetensors file ({error})"
        ) from None
    try:
        model = create_model(
            meta.architecture, num_classes=meta.num_classes, pretrained=False, **meta.arch_kwargs
        )
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"cannot rebuild {meta.architecture} from {meta_path.name}: {error}"
        ) from None
    model.input_spec = meta.input_spec
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_path.name} does not fit {meta.architecture}: "
            f"{len(missing)} missing tensors {missing[:3]}, {len(unexpected)} unexpected "
            f"{unexpected[:3]}"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{weights_path.name}: tensor {key} has shape {tuple(tensor.shape)}, "
                f"{meta.architecture} with {meta.num_classes} classes needs "
                f"{tuple(expected[key].shape)}"
            )
    model.load_state_dict(state)
    model.eval()
    return LoadedCheckpoint(model=model, meta=meta, path=meta_path)
