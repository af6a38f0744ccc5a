"""The training configuration: schema, YAML files with `defaults:`, `--set` overrides, grids.

pydantic (v2) declares the schema: types, coercion of YAML and `--set` text (`1e-3` is text to
PyYAML), nested sections, unknown keys (an error naming the key, with a "did you mean"), and
the rules between keys (`TrainConfig._applies`: an impossible combination is an error, and so
is a key the chosen mode never reads when the user set it). Kept by hand, because pydantic
validates a mapping but neither reads files nor parses command lines: the YAML `defaults:`
chain (`load_config_file`), `--set a.b=c` strings (`parse_overrides`) and grid expansion
(`iter_grid`).

Who set a key decides whether an unread key is an error (`load_config`): a key of the config
file (its `defaults:` chain included, training/configs/defaults.yaml excepted) is refused when
the file's own settings never read it, whatever its value; a key given on the command line
(`--set`, `--data` ...) when the final config never reads it. A command-line switch that turns
a mode off (`--set early_stopping.enabled=false` under a file's `patience`) leaves the file's
keys of that mode unread, not wrong.

A run's config.json is `TrainConfig.to_dict()` plus what the run measured; `config_from_dict(...,
recorded=True)` reads it back for `--resume`, ignoring the measured keys and skipping the
rules between keys (a run is resumed as it was started, even if the rules changed since).
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from asl_core.data.augment import AugmentConfig
from asl_core.data.splits import SPLITTERS
from asl_core.models.registry import check_arch_kwargs, model_info
from asl_core.runs.format import CHECKPOINT_META_FILE, CONFIG_FILE
from asl_core.settings import REPO_ROOT
from asl_core.vision.spec import IMAGE_REPRESENTATIONS, Representation

CONFIG_DIR = REPO_ROOT / "training" / "configs"


RESUMABLE_KEYS = ("epochs", "stage_epochs", "progress", "threads", "num_workers", "extract_workers")
"""What `--resume` may change: how far to train and how to run. Everything else is fixed by the
weights, optimiser state, data order and split saved with the run (a new lr, for one, would be
overwritten by the saved optimiser state), so changing it is refused."""


class ConfigError(ValueError):
    """A config that cannot run as written; the message names the key and says why."""


class ResumeError(ValueError):
    """A run folder that cannot be resumed as asked; the message says what to do."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, validate_assignment=True)


class SplitConfig(_Section):
    """Which split (asl_core.data.splits documents each) and its parameters."""

    name: str = "random"  # one of asl_core.data.splits.SPLIT_NAMES
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    folds: int = 5
    fold: int = 0
    test_signer: str | None = None
    val_signer: str | None = None
    test_dataset: str = "grassknoted_letters"
    random_state: int = 42

    @field_validator("name")
    @classmethod
    def _known_split(cls, name: str) -> str:
        if name not in SPLITTERS:
            raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLITTERS)}")
        return name


class EarlyStoppingConfig(_Section):
    """Stop a phase after `patience` epochs without improving `monitor` by `min_delta`."""

    enabled: bool = False
    monitor: Literal["val_loss", "val_acc"] = "val_loss"
    patience: int = Field(3, ge=1)
    min_delta: float = 0.0


class TrainConfig(_Section):
    """Everything a run needs; `training/configs/defaults.yaml` lists the same keys."""

    # model
    model: str = "landmark_mlp"
    arch_kwargs: dict[str, Any] = Field(default_factory=dict)
    representation: Representation | None = None
    pretrained: bool = False
    weights_path: str | None = None  # a local ImageNet weights file (not stored in checkpoints)
    init_checkpoint: str | None = None  # a checkpoint of this project to start from
    freeze: Literal["none", "head"] = "none"
    stages: list[str] = Field(default_factory=list)
    stage_epochs: int = Field(5, ge=1)
    finetune_lr: float = Field(1e-4, gt=0)
    stage_head_lr: float | None = Field(None, gt=0)
    backbone_lr: float | None = Field(None, gt=0)
    # data
    datasets: list[str] = Field(default_factory=lambda: ["massey36"], min_length=1)
    classes: str | list[str] = "all"
    limit_per_class: int | None = Field(None, ge=1)
    dataset_limits: dict[str, int] = Field(default_factory=dict)  # per-class cap per dataset
    verify_datasets: bool = True
    split: SplitConfig = Field(default_factory=SplitConfig)
    cache_size: int = Field(224, ge=16)
    extract_workers: int = Field(2, ge=1)
    num_workers: int = Field(0, ge=0)
    # optimisation
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = 0.9
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(100, ge=1)
    epochs: int = 10  # at least 1; 0 with stages skips the head-only phase (_epochs_start)
    scheduler: Literal["none", "step", "cosine"] = "none"
    step_size: int = Field(3, ge=1)
    gamma: float = 0.1
    min_lr: float = 0.0
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    keep: Literal["best", "last"] = "best"  # which weights the checkpoint holds
    augmentation: AugmentConfig = Field(default_factory=AugmentConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    # run
    seed: int = 42
    device: str = "auto"
    threads: int | None = Field(None, ge=1)
    project: str = "asl-signs"
    group: str | None = None
    job_type: str = "train"
    run_name: str | None = None
    name_suffix: str | None = None
    runs_dir: str | None = None
    wandb: bool = True
    progress: bool = True

    @field_validator("datasets", "stages", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("run_name", "group")
    @classmethod
    def _one_folder(cls, name: str | None, info: ValidationInfo) -> str | None:
        """A run name, and a group name (training.kfold and sweep make runs_dir/<group>), is
        one folder directly under the runs folder: no way out of it, no nesting, and nothing
        `str.isprintable` refuses (a newline or other control character breaks the result
        line and the Runs page)."""
        if name is not None and (
            not name or "/" in name or "\\" in name or ".." in name or name.startswith(".")
            or not name.isprintable()
        ):  # fmt: skip
            what = "run name" if info.field_name == "run_name" else "group name"
            raise ValueError(
                f"a {what} is one folder name inside the runs folder: no / or \\, no .., "
                "not starting with ., no control characters"
            )
        return name

    @field_validator("epochs")
    @classmethod
    def _epochs_start(cls, epochs: int, info: ValidationInfo) -> int:
        """One message for 0 and -1; with stages, 0 head-only epochs is a plan."""
        if info.data.get("stages"):
            if epochs < 0:
                raise ValueError("must be at least 0 with stages (0: no head-only phase)")
        elif epochs < 1:
            raise ValueError("must be at least 1")
        return epochs

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        model_info(name)  # raises with the known names
        return name

    @model_validator(mode="after")
    def _applies(self, info: ValidationInfo) -> TrainConfig:
        context = info.context or {}
        if not context.get("rules", True):
            return self  # a run's own record: resumed as it ran
        given = context.get("given")
        given = self._keys_in_data() if given is None else given
        problems = self._impossible()
        problems += [f"{key} {why}" for key, why in self.unread_keys().items() if key in given]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _keys_in_data(self) -> set[str]:
        """The dotted keys present in the mapping this config was validated from."""
        keys = set(self.model_fields_set)
        for name in ("split", "early_stopping"):
            keys |= {f"{name}.{key}" for key in getattr(self, name).model_fields_set}
        return keys

    def _impossible(self) -> list[str]:
        """Combinations that cannot train, with the reason."""
        problems = []
        if self.stages and self.freeze != "head":
            problems.append("stages need freeze: head (stages unfreeze a frozen backbone)")
        if self.freeze == "head" and not (self.pretrained or self.init_checkpoint):
            problems.append(
                "freeze: head trains only the classifier on a frozen backbone, and with "
                "pretrained: false and no init_checkpoint that backbone is random: the head "
                "would learn on random features. Set pretrained: true, give init_checkpoint, "
                "or use freeze: none"
            )
        if self.pretrained and self.init_checkpoint:
            problems.append(
                "init_checkpoint replaces every weight, ImageNet's too: set pretrained: false"
            )
        info = model_info(self.model)
        problems.extend(check_arch_kwargs(self.model, self.arch_kwargs))
        if self.pretrained and not info.supports_pretrained:
            problems.append(f"pretrained: {self.model} has no ImageNet weights")
        reads_landmarks = info.input_spec.kind == "landmarks"
        if reads_landmarks and self.representation in IMAGE_REPRESENTATIONS:
            problems.append(
                f"representation: {self.model} reads landmark vectors, not {self.representation}"
            )
        return problems

    def unread_keys(self) -> dict[str, str]:
        """{dotted key: why} for every key of a rule that the chosen mode never reads."""
        split_keys = set(inspect.signature(SPLITTERS[self.split.name]).parameters)
        rules: list[tuple[BaseModel, str, bool, str]] = [
            (self, "backbone_lr", self.freeze == "none",
             "applies with freeze: none; under freeze: head the backbone trains only in "
             "stages, at finetune_lr"),
            (self, "weights_path", self.pretrained,
             "is the ImageNet weights file of pretrained: true, and pretrained is false"),
            *[(self, key, bool(self.stages), "applies to stages, and this config has none")
              for key in ("stage_epochs", "finetune_lr", "stage_head_lr")],
            (self, "momentum", self.optimizer == "sgd", "applies to optimizer: sgd only"),
            *[(self, key, self.scheduler == "step", "applies to scheduler: step only")
              for key in ("step_size", "gamma")],
            (self, "min_lr", self.scheduler == "cosine", "applies to scheduler: cosine only"),
            (self.early_stopping, "patience", self.early_stopping.enabled or bool(self.stages),
             "applies when early_stopping.enabled is true or there are stages"),
            *[(self.split, key, key in split_keys,
               f"is not read by the {self.split.name} split (it reads "
               f"{', '.join(k for k in SPLIT_KEY_ORDER if k in split_keys)})")
              for key in SPLIT_KEY_ORDER],
        ]  # fmt: skip
        unread = {}
        for section, key, applies, why in rules:
            if not applies:
                where = "split." if section is self.split else ""
                where = "early_stopping." if section is self.early_stopping else where
                unread[f"{where}{key}"] = why
        return unread

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


SPLIT_KEY_ORDER = tuple(k for k in SplitConfig.model_fields if k != "name")


SECTIONS: dict[str, Any] = {
    "": TrainConfig.model_fields,
    "split": SplitConfig.model_fields,
    "early_stopping": EarlyStoppingConfig.model_fields,
    "augmentation": AugmentConfig.__dataclass_fields__,
}
"""The keys of each section, for "did you mean"."""


def _describe(error: ValidationError) -> str:
    """pydantic's errors as one line each, naming the dotted key."""
    lines = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        key = ".".join(loc)
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            known = list(SECTIONS.get(".".join(loc[:-1]), ()))
            close = difflib.get_close_matches(loc[-1], known, n=1)
            hint = f" (did you mean {'.'.join([*loc[:-1], close[0]])}?)" if close else ""
            lines.append(f"unknown config key {key}{hint}")
            continue
        message = item["msg"].removeprefix("Value error, ")
        if not key:  # a rule between keys: the message names them
            lines.extend(message.split("\n"))
        else:
            lines.append(f"{key}: {message} (got {item['input']!r})")
    return "\n".join(lines)


def _known_only(data: dict[str, Any], section: type[BaseModel]) -> dict[str, Any]:
    """The keys of `data` that `section` declares (a run's config.json has more)."""
    fields = section.model_fields
    kept = {key: value for key, value in data.items() if key in fields}
    for key, model in (("split", SplitConfig), ("early_stopping", EarlyStoppingConfig)):
        if section is TrainConfig and isinstance(kept.get(key), dict):
            kept[key] = _known_only(kept[key], model)
    augmentation = kept.get("augmentation")
    if section is TrainConfig and isinstance(augmentation, dict):
        names = AugmentConfig.__dataclass_fields__
        kept["augmentation"] = {k: v for k, v in augmentation.items() if k in names}
    return kept


def config_from_dict(data: dict[str, Any], *, recorded: bool = False) -> TrainConfig:
    """A checked TrainConfig from a (merged) YAML mapping; raises ConfigError naming the keys.

    `recorded=True` reads a run's config.json back: its extra keys (counts, versions ...) are
    ignored, its `split` is the described split (`name`, `params`, counts ...) of which `name`
    and `params` rebuild the SplitConfig, and the rules between keys are not applied.
    """
    data = _split_as_section(data)
    if recorded:
        data = _known_only(data, TrainConfig)
    return _validate(data, rules=not recorded)


def _split_as_section(data: dict[str, Any]) -> dict[str, Any]:
    """`split: kfold` and a recorded split (`name`, `params`, counts ...) as a split mapping."""
    data = dict(data)
    split = data.get("split")
    if isinstance(split, str):
        data["split"] = {"name": split}
    elif isinstance(split, dict) and "params" in split:
        data["split"] = {"name": split.get("name", "random"), **(split["params"] or {})}
    return data


def _validate(
    data: dict[str, Any], *, rules: bool = True, given: set[str] | None = None
) -> TrainConfig:
    """Checked config; `given`: the dotted keys the user set (None: every key of `data`),
    the only ones refused where the mode never reads them. `rules=False` skips the rules."""
    try:
        return TrainConfig.model_validate(data, context={"rules": rules, "given": given})
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def _dotted_keys(data: dict[str, Any]) -> set[str]:
    """{"lr": 1, "split": {"name": "loso"}} -> {"lr", "split.name"} (sections only nest)."""
    keys = set()
    for key, value in data.items():
        if key in SECTIONS and key and isinstance(value, dict):
            keys |= {f"{key}.{inner}" for inner in value}
        else:
            keys.add(key)
    return keys


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; nested mappings merge, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


DEFAULTS_FILE = CONFIG_DIR / "defaults.yaml"
"""Every key at its schema default (a test keeps the two equal): none of its keys is one the
user set."""


def load_config_file(
    path: str | Path, _seen: tuple[Path, ...] = (), *, with_defaults: bool = True
) -> dict[str, Any]:
    """A YAML config with its `defaults:` merged in.

    `defaults: [defaults]` (or a single name) lists files in the same folder, `.yaml`
    optional, merged in order, then the file's own keys on top. Nested mappings merge key by
    key. Returns the merged mapping (not yet checked: see `config_from_dict`);
    `with_defaults=False` leaves DEFAULTS_FILE out of it: only the keys the user's files set.
    """
    path = Path(path)
    if not path.is_file() and not path.suffix:
        path = path.with_suffix(".yaml")
    if not path.is_file() and (CONFIG_DIR / path.name).is_file():
        path = CONFIG_DIR / path.name
    if not path.is_file():
        raise ConfigError(f"config file {path} not found (configs: {CONFIG_DIR})")
    path = path.resolve()
    if path in _seen:
        raise ConfigError(f"config defaults loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    if not with_defaults and path == DEFAULTS_FILE.resolve():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys")
    bases = raw.pop("defaults", []) or []
    if isinstance(bases, str):
        bases = [bases]
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = path.parent / str(base)
        if not base_path.suffix:
            base_path = base_path.with_suffix(".yaml")
        base_data = load_config_file(base_path, (*_seen, path), with_defaults=with_defaults)
        merged = deep_merge(merged, base_data)
    return deep_merge(merged, raw)


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """{"split.name": "loso"} -> {"split": {"name": "loso"}}."""
    result: dict[str, Any] = {}
    for key, value in dotted.items():
        target = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{key}: {part} is set to a value and used as a section")
        target[parts[-1]] = value
    return result


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`["lr=0.01", "split.name=loso", "stages=[layer4]"]` to a nested mapping (YAML values)."""
    dotted = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        try:
            dotted[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise ConfigError(
                f"--set {key}: {text!r} is not a value ({problem}); quote text, e.g. "
                f"--set '{key}=\"...\"'"
            ) from None
    return _nested(dotted)


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), **updates: Any
) -> TrainConfig:
    """Config file + `--set` overrides + keyword updates (the command line), checked; the
    module doc says which unread keys are refused. A grid config is refused: it is many runs,
    which `training.sweep` runs."""
    if path and "grid" in (data := load_config_file(path)):
        raise ConfigError(
            f"{path} is a grid of {len(list(iter_grid(data['grid'])))} runs: run it with "
            f"python -m training.sweep --config {path}"
        )
    return load_grid_config(path, overrides, **updates)[0]


def load_grid_config(
    path: str | Path | None, overrides: Sequence[str] = (), **updates: Any
) -> tuple[TrainConfig, Any]:
    """As `load_config`, for a file that may hold a `grid:`: (the config without it, the
    grid or None)."""
    data = _split_as_section(load_config_file(path)) if path else {}
    grid = data.pop("grid", None)
    own = _dotted_keys(load_config_file(path, with_defaults=False)) - {"grid"} if path else set()
    line = deep_merge(
        parse_overrides(overrides), {k: v for k, v in updates.items() if v is not None}
    )
    try:  # the file's own settings decide which of its keys it may set
        unread_in_file = set(_validate(data, rules=False).unread_keys())
    except ConfigError:  # the command line repairs the file: judge its keys on the result
        unread_in_file = own
    given = _dotted_keys(_split_as_section(line)) | (own & unread_in_file)
    return _validate(deep_merge(data, _split_as_section(line)), given=given), grid


def split_params(config: TrainConfig) -> dict[str, Any]:
    return config.split.model_dump(exclude={"name"})


def default_suffix(config: TrainConfig) -> str | None:
    if config.name_suffix:
        return config.name_suffix
    split = config.split
    if split.name == "loso":
        return split.test_signer
    if split.name in ("kfold", "lopo"):
        return f"fold{split.fold}"
    if split.name == "lodo":
        return f"test-{split.test_dataset}"
    return None


def _changed(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(dict.fromkeys([*old, *new]))
        return [k for key in keys for k in _changed(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def resume_config(
    run_dir: str | Path, overrides: Sequence[str] = (), **updates: Any
) -> TrainConfig:
    """The config of an existing run (its config.json), with `--set` overrides on top.

    Only RESUMABLE_KEYS may change; any other override that changes a value raises
    ResumeError naming it (setting a key to the value it has is fine).
    """
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ResumeError(f"{run_dir} is not a run folder (it has no {CONFIG_FILE})")
    data = json.loads(path.read_text(encoding="utf-8"))
    split = data.get("split")
    if isinstance(split, dict) and split.get("name") not in SPLITTERS:
        raise ResumeError(
            f"{run_dir.name} trained on a {split.get('name')!r} split assembled by its caller "
            "(a personalisation): it cannot be resumed; run it again"
        )
    data["run_name"] = run_dir.name
    recorded = config_from_dict(data, recorded=True)
    given = {k: v for k, v in updates.items() if v is not None}
    asked = deep_merge(parse_overrides(overrides), given)
    if not asked:
        return recorded
    config = _validate(deep_merge(recorded.to_dict(), asked), rules=False)
    refused = [key for key in _changed(recorded.to_dict(), config.to_dict())
               if key not in RESUMABLE_KEYS]  # fmt: skip
    if refused:
        checkpoint = run_dir / CHECKPOINT_META_FILE
        new_run = (
            f"start a new run for the rest, e.g. with --init-checkpoint {checkpoint}"
            if checkpoint.exists()
            else "resume it without changes first; then a new run can start from its "
            f"checkpoint with --init-checkpoint {checkpoint}"
        )
        raise ResumeError(
            f"cannot change {', '.join(refused)} when resuming {run_dir.name}: the run goes on "
            "with the weights, optimiser state, data and split it saved; only "
            f"{', '.join(RESUMABLE_KEYS)} can change ({new_run})"
        )
    return config


def iter_grid(grid: dict[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of a grid, in the order its keys are written (seed 004)."""
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("grid: expected a mapping of config keys to lists of values")
    keys = list(grid)
    values = [v if isinstance(v, list | tuple) else [v] for v in grid.values()]
    for combination in itertools.product(*values):
        yield dict(zip(keys, combination, strict=True))


def apply_updates(config: TrainConfig, updates: dict[str, Any]) -> TrainConfig:
    """A copy of the config with (dotted) keys replaced, checked like a command line: an
    update is refused where the result never reads it; the config's other keys are not judged
    again (training.kfold may switch a random-split config's split)."""
    changes = _split_as_section(_nested(updates))
    return _validate(deep_merge(config.to_dict(), changes), given=_dotted_keys(changes))
