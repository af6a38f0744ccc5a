"""One checkpoint format for everything the project saves and ships.

A checkpoint is two files side by side:
- `NAME.safetensors`: the weights (safetensors never runs code, unlike a pickle);
- `NAME.json`: the architecture and its arguments, class names, input specification, the data
  it was trained on, its metrics, and two checksums: `weights_sha256` (of the weights file)
  and `content_sha256` (of the fields that change what an answer means, see `SIGNED_KEYS`,
  `weights_sha256` among them, so it covers the weights too).

Loading checks all of it before building anything and refuses a problem with a message naming
it: the size and nesting of the JSON, the sizes it asks for, both checksums (required), the
input specification against the one the architecture declares, the tensor names and shapes in
the weights file's header, and that every weight is a finite number. Saving refuses non-finite
weights (a diverged training run), so such a checkpoint is never written.

The checksums catch corruption and hand edits (class names swapped in the JSON); they are not a
signature: anyone can recompute them. Version 1 files (before `content_sha256`) still load, with
their `weights_sha256` required; their metadata cannot be checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from asl_core.io.files import atomic_write_json, sha256_file
from asl_core.models.registry import AslModel, create_model, create_model_for_weights, list_models
from asl_core.vision.spec import InputSpec, Representation

FORMAT = "asl-checkpoint"


FORMAT_VERSION = 2
"""2 adds `content_sha256` and requires both checksums; 1 (weights checksum only) still loads."""


READABLE_VERSIONS = (1, FORMAT_VERSION)


WEIGHTS_SUFFIX = ".safetensors"


META_SUFFIX = ".json"


SIGNED_KEYS: tuple[str, ...] = (
    "format",
    "format_version",
    "architecture",
    "arch_kwargs",
    "num_classes",
    "class_names",
    "input_spec",
    "weights_sha256",
)
"""What `content_sha256` covers: everything that changes what the model's answer means. The
data, metrics and notes (`data`, `metrics`, `extra`) are left out: they describe the model, and
`training.model_card --ship` adds numbers to them."""


MAX_META_BYTES = 1 << 20
"""Largest metadata JSON read (1 MiB; the shipped model's is about 5 KB)."""


MAX_JSON_DEPTH = 32
"""Deepest nesting of lists and objects accepted in metadata (the shipped model's is 5)."""


MAX_CLASSES = 1000
"""Most classes a checkpoint may name (the project's models answer 36, plus a user's own)."""


MAX_CLASS_NAME_CHARS = 64


MAX_ARCH_KWARGS_CHARS = 4096
"""Longest `arch_kwargs` (as JSON): an architecture's arguments are a few numbers."""


MAX_WEIGHTS_BYTES = 1 << 30
"""Largest model accepted (1 GiB of weights; VGG16, the largest here, needs 0.55 GB)."""


MAX_HEADER_BYTES = 1 << 20
"""Allowance for the safetensors header (tensor names, shapes, offsets) beside the data."""


_RESERVED_KWARGS = ("num_classes", "pretrained", "weights_path")
"""Arguments `arch_kwargs` may not set: the loader decides them (and never reads another file)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason."""


class FolderWithoutModel(CheckpointError):
    """A folder given as a model holds no checkpoint: a run with none yet (interrupted, crashed,
    still running) or a group of runs. `folder` is that folder; `asl_core.runs.model_folder`
    says which (this package may not read run folders)."""

    def __init__(self, folder: Path, message: str) -> None:
        super().__init__(message)
        self.folder = folder


class NonFiniteWeightsError(CheckpointError):
    """Weights holding NaN or infinity: every answer of such a model would be NaN."""


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
        """The metadata file's content, both checksums included."""
        record = {
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
        # Through JSON first, so the checksum is of exactly what a reader will parse.
        record = json.loads(json.dumps(record))
        record["content_sha256"] = content_sha256(record)
        return record


def content_sha256(record: Mapping[str, Any], keys: Sequence[str] = SIGNED_KEYS) -> str:
    """sha256 (hex) of the `keys` of a metadata record (a checkpoint's: `SIGNED_KEYS`; an
    export's: `asl_core.models.onnx_model.EXPORT_SIGNED_KEYS`), as canonical JSON (sorted keys,
    no spaces, ASCII). Raises CheckpointError when they hold something JSON cannot write."""
    signed = {key: record.get(key) for key in keys}
    try:
        text = json.dumps(signed, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"the metadata cannot be checksummed ({error})") from None
    return hashlib.sha256(text.encode("ascii")).hexdigest()


RUN_CHECKPOINT = "checkpoint"
"""Stem of the checkpoint a training run folder holds (`runs/<run>/checkpoint.json`)."""


WHAT_TO_PASS = "pass a checkpoint .json (runs/<run>/checkpoint.json) or an exported .onnx"


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(weights, meta) for a checkpoint given as either file, as the common stem, or as a
    training run folder (its `checkpoint.json`). The one place model paths are resolved: the
    command line, the HTTP API and `training.evaluate` all load through here."""
    path = Path(path)
    if path.is_dir():
        path = path / RUN_CHECKPOINT
    if path.suffix in (WEIGHTS_SUFFIX, META_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + META_SUFFIX)


def refuse_non_checkpoint(path: str | os.PathLike[str]) -> None:
    """Raise CheckpointError for an existing file that cannot be a checkpoint (a photo, a
    .txt): its name would otherwise become the stem of a missing `<name>.json`."""
    path = Path(path)
    if path.is_file() and path.suffix not in (WEIGHTS_SUFFIX, META_SUFFIX):
        raise CheckpointError(f"{path} is not a checkpoint; {WHAT_TO_PASS}")


def non_finite_tensors(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinity (integer counters skipped)."""
    return [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]


def require_finite(state: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise NonFiniteWeightsError naming the tensors of `state` that hold NaN or infinity.

    `where` starts the message ("the model's weights"). Used at save, at load and after every
    training epoch, so a diverged run stops at its first NaN epoch."""
    names = non_finite_tensors(state)
    if not names:
        return
    listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise NonFiniteWeightsError(
        f"{where} hold NaN or infinite values in {len(names)} tensors ({listed}): every answer "
        "would be NaN. Training diverged; lower the learning rate and train again."
    )


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
    """Save weights and metadata atomically; returns the metadata path.

    Raises NonFiniteWeightsError (and writes nothing) when a weight is NaN or infinite.
    """
    weights_path, meta_path = checkpoint_paths(path)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    require_finite(state, "the model's weights")
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


def _nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_bounded(
    text: str | bytes, source: str, *, error: type[CheckpointError] = CheckpointError
) -> Any:
    """Parse metadata JSON after checking its size (`MAX_META_BYTES`), then its nesting depth
    (`MAX_JSON_DEPTH`), so a hostile file costs neither memory nor a RecursionError later."""
    if len(text) > MAX_META_BYTES:
        raise error(
            f"{source} is {len(text):,} bytes; model metadata is at most {MAX_META_BYTES:,}"
        )
    too_deep = (
        f"{source} nests lists or objects more than {MAX_JSON_DEPTH} deep; model metadata "
        "never does (the file is corrupted or not model metadata)"
    )
    try:
        value = json.loads(text)
    except RecursionError:  # raised cleanly by the C parser past Python's recursion limit
        raise error(too_deep) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise error(f"{source} is not valid JSON ({problem}); the file is corrupted or was "
                    "not fully written") from None  # fmt: skip
    if _nesting_depth(value) > MAX_JSON_DEPTH:
        raise error(too_deep)
    return value


def read_meta(path: str | os.PathLike[str]) -> CheckpointMeta:
    """Read and validate the metadata file only, checksum included (cheap: for listing models;
    the architecture is checked by `load_checkpoint`)."""
    refuse_non_checkpoint(path)
    _, meta_path = checkpoint_paths(path)
    if not meta_path.is_file() and Path(path).is_dir():
        raise FolderWithoutModel(
            Path(path),
            f"{path} holds no {meta_path.name}: a training run with no model yet (interrupted, "
            "crashed or still running) or a group of runs; pass one finished run's folder",
        )
    if not meta_path.is_file() and not Path(path).exists() and Path(path) != meta_path:
        raise CheckpointError(  # a run folder or stem given: name the path as the user gave it
            f"{path} does not exist (no such run folder, and no {meta_path.name} beside it); "
            f"{WHAT_TO_PASS}"
        )
    if not meta_path.is_file():
        raise CheckpointError(f"checkpoint metadata {meta_path} does not exist; {WHAT_TO_PASS}")
    size = meta_path.stat().st_size
    if size > MAX_META_BYTES:
        raise CheckpointError(
            f"{meta_path.name} is {size:,} bytes; checkpoint metadata is at most "
            f"{MAX_META_BYTES:,} (is it a checkpoint's .json?)"
        )
    raw = parse_json_bounded(meta_path.read_bytes(), meta_path.name)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path.name} is not an ASL checkpoint (no format {FORMAT!r})")
    version = raw.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise CheckpointError(
            f"{meta_path.name} has format version {version}; this version of asl_core reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    _check_checksum_fields(raw, meta_path.name)
    return meta_from_dict(raw, meta_path.name)


def _check_checksum_fields(raw: dict[str, Any], source: str) -> None:
    """Both checksums present (only the weights' in version 1), the content one matching."""
    required = ["weights_sha256"] + (["content_sha256"] if raw["format_version"] >= 2 else [])
    for key in required:
        value = raw.get(key)
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
            raise CheckpointError(
                f"{source} lacks a valid {key}: the checksum is required, so a checkpoint "
                "cannot be used unchecked. Save it again with asl_core, or restore the file."
            )
    if "content_sha256" in required and content_sha256(raw) != raw["content_sha256"]:
        covered = ", ".join(key for key in SIGNED_KEYS if key not in ("format", "weights_sha256"))
        raise CheckpointError(
            f"{source} was changed after it was saved: its {covered} do not match its "
            "content_sha256. A hand-edited class list or input specification would make the "
            "model answer wrongly; restore the file or save the checkpoint again."
        )


def meta_from_dict(
    raw: dict[str, Any], source: str, *, error: type[CheckpointError] = CheckpointError
) -> CheckpointMeta:
    """Validate the fields every saved model carries (a checkpoint's JSON or an export's
    record), sizes included; `source` names the file in the messages."""
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
    if len(class_names) > MAX_CLASSES:
        raise error(f"{source} names {len(class_names):,} classes; at most {MAX_CLASSES} allowed")
    if any(not name.strip() or len(name) > MAX_CLASS_NAME_CHARS for name in class_names):
        raise error(f"{source}: every class name must be 1 to {MAX_CLASS_NAME_CHARS} characters")
    if len(set(class_names)) != len(class_names):
        raise error(f"{source}: class_names has duplicates")
    if raw.get("num_classes", len(class_names)) != len(class_names):
        raise error(f"{source} says {raw['num_classes']} classes but names {len(class_names)}")
    for key in ("arch_kwargs", "data", "metrics", "extra"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise error(f"{source}: {key} must be an object, not {type(raw[key]).__name__}")
    arch_kwargs = dict(raw.get("arch_kwargs") or {})
    if len(json.dumps(arch_kwargs)) > MAX_ARCH_KWARGS_CHARS:
        raise error(
            f"{source}: arch_kwargs is over {MAX_ARCH_KWARGS_CHARS} characters; an "
            "architecture's arguments are a few numbers"
        )
    if reserved := [key for key in _RESERVED_KWARGS if key in arch_kwargs]:
        raise error(f"{source}: arch_kwargs may not set {', '.join(reserved)}")
    if not isinstance(raw["input_spec"], dict):
        raise error(f"{source}: input_spec must be an object")
    try:
        input_spec = InputSpec.from_dict(raw["input_spec"])
    except (TypeError, AttributeError, ValueError) as problem:
        raise error(f"{source}: bad input_spec ({problem})") from None
    return CheckpointMeta(
        architecture=raw["architecture"],
        class_names=list(class_names),
        input_spec=input_spec,
        arch_kwargs=arch_kwargs,
        data=dict(raw.get("data") or {}),
        metrics=dict(raw.get("metrics") or {}),
        extra={**dict(raw.get("extra") or {}), "weights_sha256": raw.get("weights_sha256")},
    )


def _spec_differences(declared: InputSpec, recorded: InputSpec) -> list[str]:
    def show(value: Any) -> str:
        return repr(str(value)) if isinstance(value, str) else repr(value)  # an enum's value

    return [
        f"{f.name} {show(getattr(recorded, f.name))} (the architecture reads "
        f"{show(getattr(declared, f.name))})"
        for f in fields(InputSpec)
        if getattr(declared, f.name) != getattr(recorded, f.name)
    ]


def check_architecture(
    meta: CheckpointMeta,
    source: str,
    *,
    weight_names: list[str] | None = None,
    error: type[CheckpointError] = CheckpointError,
) -> tuple[dict[str, torch.Size], dict[str, Any]]:
    """Build the architecture on PyTorch's meta device (no memory, no initialisation) and check
    the metadata against it: its size (at most `MAX_WEIGHTS_BYTES`) and its input specification
    (the image view, crop or skeleton, is the one thing training chooses beside the
    architecture). Returns the tensor shapes the weights must have and the arguments that build
    it (a layout from before an architecture's fix when `weight_names` need it)."""
    try:
        with torch.device("meta"):
            if weight_names is None:
                model = create_model(meta.architecture, meta.num_classes, **meta.arch_kwargs)
                kwargs = dict(meta.arch_kwargs)
            else:
                model, kwargs = create_model_for_weights(
                    meta.architecture, meta.num_classes, weight_names, **meta.arch_kwargs
                )
    except (TypeError, ValueError, RuntimeError, OverflowError) as problem:
        raise error(f"cannot rebuild {meta.architecture} from {source}: {problem}") from None
    shapes = {name: tensor.shape for name, tensor in model.state_dict().items()}
    needed = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if needed > MAX_WEIGHTS_BYTES:
        raise error(
            f"{source} describes a {meta.architecture} of {needed / 1e9:.1f} GB; models of at "
            f"most {MAX_WEIGHTS_BYTES / 1e9:.1f} GB are loaded (check its arch_kwargs and classes)"
        )
    declared, recorded = model.input_spec, meta.input_spec
    if declared.kind != "landmarks" and recorded.kind == declared.kind:
        declared = replace(declared, representation=recorded.representation)
        if recorded.representation == Representation.LANDMARKS:
            # an image is never a vector
            declared = replace(declared, representation=Representation.CROP)
    if differences := _spec_differences(declared, recorded):
        raise error(
            f"{source}: input_spec contradicts {meta.architecture}: "
            + "; ".join(differences)
            + ". Every prediction would fail; restore the file or save the checkpoint again."
        )
    return shapes, kwargs


def _read_header(weights_path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from the safetensors header (the data is not read)."""
    try:
        with safe_open(str(weights_path), framework="pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{weights_path.name} is not a readable safetensors file ({error})"
        ) from None


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
    """Rebuild the model and load its weights, checking everything first; never unpickles.

    Order: metadata (size, nesting, fields, checksum) -> the architecture built on the meta
    device (its size and input specification) -> the weights file's size and checksum -> its
    header (tensor names and shapes) -> the weights (finite) -> the real model. Raises
    CheckpointError (NonFiniteWeightsError for NaN or infinite weights) naming the problem.
    """
    refuse_non_checkpoint(path)
    weights_path, meta_path = checkpoint_paths(path)
    meta = read_meta(path)  # the path as given: a folder without a model is named as one
    if expected_num_classes is not None and meta.num_classes != expected_num_classes:
        raise CheckpointError(
            f"{meta_path.name} has {meta.num_classes} classes but {expected_num_classes} were "
            "expected"
        )
    if not weights_path.is_file():
        raise CheckpointError(f"weights file {weights_path} is missing")
    check_architecture(meta, meta_path.name)  # before reading a byte of a possibly huge file
    size = weights_path.stat().st_size
    if size > MAX_WEIGHTS_BYTES + MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{weights_path.name} is {size / 1e9:.1f} GB; models of at most "
            f"{MAX_WEIGHTS_BYTES / 1e9:.1f} GB are loaded"
        )
    if sha256_file(weights_path) != meta.extra["weights_sha256"]:
        raise CheckpointError(
            f"{weights_path.name} does not match the checksum in {meta_path.name}: the weights "
            "are corrupted, truncated or belong to another checkpoint"
        )
    header = _read_header(weights_path)
    # A checkpoint saved before its architecture's fix gets the old layout, and its
    # arch_kwargs say so from here on (personalising it rebuilds the same layout).
    expected, meta.arch_kwargs = check_architecture(meta, meta_path.name, weight_names=list(header))
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_path.name} does not fit {meta.architecture}: "
            f"{len(missing)} missing tensors {missing[:3]}, {len(unexpected)} unexpected "
            f"{unexpected[:3]}"
        )
    for key, shape in header.items():
        if shape != tuple(expected[key]):
            raise CheckpointError(
                f"{weights_path.name}: tensor {key} has shape {shape}, "
                f"{meta.architecture} with {meta.num_classes} classes needs "
                f"{tuple(expected[key])}"
            )
    try:
        state = load_file(str(weights_path), device=map_location)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights_path.name} is not a readable safetensors file ({error})"
        ) from None
    require_finite(state, f"the weights in {weights_path.name}")
    model = create_model(meta.architecture, meta.num_classes, pretrained=False, **meta.arch_kwargs)
    model.input_spec = meta.input_spec
    model.load_state_dict(state)
    model.eval()
    return LoadedCheckpoint(model=model, meta=meta, path=meta_path)


@torch.inference_mode()
def check_inference(model: Any, meta: CheckpointMeta, source: str) -> None:
    """Run one real inference (an all-zero input of the declared shape) and check the answer:
    one finite logit per class. `model` is a loaded checkpoint's model or an `OnnxModel`.
    Raises CheckpointError (NonFiniteWeightsError for NaN or infinite logits)."""
    try:
        logits = model(torch.zeros_like(meta.input_spec.example(1)))
    except Exception as problem:  # whatever the model raises, it cannot answer
        raise CheckpointError(
            f"{source} cannot answer an input of its declared shape "
            f"({type(problem).__name__}: {problem})"
        ) from None
    if tuple(logits.shape) != (1, meta.num_classes):
        raise CheckpointError(
            f"{source} answers a tensor of shape {tuple(logits.shape)}; its metadata names "
            f"{meta.num_classes} classes"
        )
    if not bool(torch.isfinite(logits).all()):
        raise NonFiniteWeightsError(
            f"{source} answers NaN or infinity: its weights are not finite numbers"
        )
