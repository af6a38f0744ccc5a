"""The training configuration: schema, YAML files with `base:`, `--set` overrides, grids."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from asl_core.data.augment import AugmentConfig
from asl_core.models.registry import model_info
from asl_core.settings import REPO_ROOT

OPTIMIZERS = ("adam", "adamw", "sgd")


SCHEDULERS = ("none", "step", "cosine")


MONITORS = ("val_loss", "val_acc")


FREEZE_MODES = ("none", "head")


CONFIG_DIR = REPO_ROOT / "training" / "configs"


@dataclass
class SplitConfig:
    """Which split (asl_core.data documents each) and its parameters."""

    name: str = "random"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    folds: int = 5
    fold: int = 0
    test_signer: str | None = None
    val_signer: str | None = None
    test_dataset: str = "grassknoted_letters"
    random_state: int = 42


@dataclass
class EarlyStoppingConfig:
    """Stop a phase after `patience` epochs without improving `monitor` by `min_delta`."""

    enabled: bool = False
    monitor: str = "val_loss"
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class TrainConfig:
    """Everything a run needs; `training/configs/defaults.yaml` lists the same keys."""

    # model
    model: str = "landmark_mlp"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    representation: str | None = None  # crop | skeleton for image models; None: the model's
    pretrained: bool = False
    weights_path: str | None = None  # a local ImageNet weights file (not stored in checkpoints)
    freeze: str = "none"  # none | head
    stages: list[str] = field(default_factory=list)
    stage_epochs: int = 5
    finetune_lr: float = 1e-4
    stage_head_lr: float | None = None
    backbone_lr: float | None = None
    # data
    datasets: list[str] = field(default_factory=lambda: ["massey36"])
    classes: str | list[str] = "all"
    limit_per_class: int | None = None
    verify_datasets: bool = True
    split: SplitConfig = field(default_factory=SplitConfig)
    cache_size: int = 224
    extract_workers: int = 2
    num_workers: int = 0
    # optimisation
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 100
    epochs: int = 10
    scheduler: str = "none"
    step_size: int = 3
    gamma: float = 0.1
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    # run
    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    project: str = "asl-signs"
    group: str | None = None
    job_type: str = "train"
    run_name: str | None = None
    name_suffix: str | None = None
    runs_dir: str | None = None
    wandb: bool = True
    progress: bool = True

    def validate(self) -> None:
        model_info(self.model)  # raises with the known names
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}"),
            (self.freeze in FREEZE_MODES, f"freeze must be one of {FREEZE_MODES}"),
            (self.early_stopping.monitor in MONITORS, f"monitor must be one of {MONITORS}"),
            (not self.stages or self.freeze == "head", "stages need freeze: head"),
            (self.epochs >= 1 or bool(self.stages), "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr > 0, "lr must be positive"),
            (self.representation in (None, "crop", "skeleton", "landmarks"),
             "representation must be crop, skeleton or landmarks"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """YAML and --set values to the declared type (PyYAML reads `1e-3` as a string)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise ValueError(f"{where}: {value!r} fits none of {hint} ({'; '.join(errors)})")
    if is_dataclass(hint):
        return _dataclass_from_dict(hint, value or {}, where)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int | str):
            return int(value)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, list | dict):
            raise ValueError(f"{where}: expected text, got {value!r}")
        return str(value)
    if origin is list:
        items = value if isinstance(value, list | tuple) else [value]
        return [_coerce(item, args[0] if args else Any, where) for item in items]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(item, args[0] if args else Any, where) for item in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def _dataclass_from_dict(cls: Any, data: dict[str, Any], where: str = "", strict: bool = True):
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = [key for key in data if key not in names]
    if unknown and strict:
        hints_text = []
        for key in unknown:
            close = difflib.get_close_matches(key, names, n=1)
            hints_text.append(f"{key}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"unknown config keys in {where or 'config'}: {', '.join(hints_text)}")
    values = {}
    for name in names:
        if name in data:
            values[name] = _coerce(data[name], hints[name], f"{where}{name}")
    return cls(**values)


def config_from_dict(data: dict[str, Any], *, strict: bool = True) -> TrainConfig:
    """A TrainConfig from a (merged) YAML mapping; unknown keys are errors when strict.

    Also reads a run's config.json back (strict=False): its `split` is the described split
    (`name`, `params`, counts ...), of which `name` and `params` rebuild the SplitConfig.
    """
    data = dict(data)
    split = data.get("split")
    if isinstance(split, str):
        data["split"] = {"name": split}
    elif isinstance(split, dict) and "params" in split:
        data["split"] = {"name": split.get("name", "random"), **split["params"]}
    augmentation = data.get("augmentation")
    if isinstance(augmentation, dict) and not strict:
        names = {f.name for f in fields(AugmentConfig)}
        data["augmentation"] = {k: v for k, v in augmentation.items() if k in names}
    config = _dataclass_from_dict(TrainConfig, data, "", strict=strict)
    config.validate()
    return config


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; nested mappings merge, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML config with its `defaults:` merged in.

    `defaults: [defaults]` (or a single name) lists files in the same folder, `.yaml`
    optional, merged in order, then the file's own keys on top. Nested mappings merge key by
    key. Returns the merged mapping (not yet checked: see `config_from_dict`).
    """
    path = Path(path)
    if not path.is_file() and not path.suffix:
        path = path.with_suffix(".yaml")
    if not path.is_file() and (CONFIG_DIR / path.name).is_file():
        path = CONFIG_DIR / path.name
    path = path.resolve()
    if path in _seen:
        raise ValueError(f"config defaults loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of config keys")
    bases = raw.pop("defaults", []) or []
    if isinstance(bases, str):
        bases = [bases]
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = path.parent / str(base)
        if not base_path.suffix:
            base_path = base_path.with_suffix(".yaml")
        merged = deep_merge(merged, load_config_file(base_path, (*_seen, path)))
    return deep_merge(merged, raw)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`["lr=0.01", "split.name=loso", "stages=[layer4]"]` to a nested mapping (YAML values)."""
    result: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        value = yaml.safe_load(text) if text.strip() else None
        target = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), **updates: Any
) -> TrainConfig:
    """Config file + `--set` overrides + keyword updates, checked."""
    data = load_config_file(path) if path else {}
    data.pop("grid", None)  # a sweep's grid: read by training.sweep
    data = deep_merge(data, parse_overrides(overrides))
    data = deep_merge(data, {k: v for k, v in updates.items() if v is not None})
    return config_from_dict(data)


def split_params(config: TrainConfig) -> dict[str, Any]:
    params = asdict(config.split)
    params.pop("name")
    return params


def default_suffix(config: TrainConfig) -> str | None:
    if config.name_suffix:
        return config.name_suffix
    split = config.split
    if split.name == "loso":
        return split.test_signer
    if split.name == "kfold":
        return f"fold{split.fold}"
    if split.name == "lodo":
        return f"test-{split.test_dataset}"
    return None


def resume_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The config of an existing run (its config.json), with `--set` overrides on top."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a run folder")
    data = json.loads(path.read_text(encoding="utf-8"))
    config = config_from_dict(deep_merge(data, parse_overrides(overrides)), strict=False)
    config.run_name = run_dir.name
    return config


def iter_grid(grid: dict[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of a grid, in the order its keys are written (seed 004)."""
    import itertools

    keys = list(grid)
    values = [v if isinstance(v, list | tuple) else [v] for v in grid.values()]
    for combination in itertools.product(*values):
        yield dict(zip(keys, combination, strict=True))


def apply_updates(config: TrainConfig, updates: dict[str, Any]) -> TrainConfig:
    """A copy of the config with (dotted) keys replaced, checked like a config file."""
    data = config.to_dict()
    nested: dict[str, Any] = {}
    for key, value in updates.items():
        target = nested
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return config_from_dict(deep_merge(data, nested))
