"""The training config schema: types, unknown and inapplicable keys, impossible combinations,
and the one-line errors of the training commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asl_core.data.augment import AugmentConfig, ImageEvalPreset, describe, train_preset
from asl_core.models.registry import model_info
from asl_core.settings import REPO_ROOT
from asl_core.training.config import (
    ConfigError,
    TrainConfig,
    apply_updates,
    config_from_dict,
    load_config,
    load_config_file,
    parse_overrides,
)
from asl_core.vision.spec import Representation
from training import kfold, run_command, sweep, train

CONFIGS = REPO_ROOT / "training" / "configs"


def test_defaults_yaml_lists_every_key_of_the_schema() -> None:
    assert set(load_config_file(CONFIGS / "defaults.yaml")) == set(TrainConfig.model_fields)
    assert load_config(CONFIGS / "defaults.yaml") == TrainConfig()


def test_yaml_and_set_text_is_coerced_to_the_declared_types() -> None:
    config = load_config(
        None, ["lr=1e-3", "epochs=4.0", "wandb=no", "datasets=massey36", "run_name=7"]
    )
    assert (config.lr, config.epochs, config.wandb) == (1e-3, 4, False)
    assert config.datasets == ["massey36"] and config.run_name == "7"
    with pytest.raises(ConfigError, match=r"epochs: .*integer.*\(got 2\.5\)"):
        load_config(None, ["epochs=2.5"])
    with pytest.raises(ConfigError, match="optimizer: Input should be 'adam', 'adamw' or 'sgd'"):
        load_config(None, ["optimizer=rmsprop"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lrr": 0.1}, r"unknown config key lrr \(did you mean lr\?\)"),
        ({"split": {"nmae": "loso"}}, r"unknown config key split\.nmae \(did you mean split\.name"),
        ({"augmentation": {"rotatoin": 5}}, r"augmentation\.rotatoin \(did you mean augmentati"),
        ({"early_stopping": {"patients": 2}}, r"early_stopping\.patients \(did you mean early"),
        ({"grid": {"lr": [0.1]}}, "unknown config key grid"),
    ],
)
def test_unknown_keys_are_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


RESNET_HEAD = {"model": "resnet18", "pretrained": True, "freeze": "head"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**RESNET_HEAD, "backbone_lr": 1e-4}, "backbone_lr applies with freeze: none"),
        ({"weights_path": "/models/resnet18-f37072fd.pth"}, "weights_path is the ImageNet weights"),
        ({"split": {"name": "kfold", "test_fraction": 0.2}},
         r"split\.test_fraction is not read by the kfold split \(it reads val_fraction, folds"),
        ({"split": {"test_signer": "hand3"}}, "split.test_signer is not read by the random split"),
        ({"stage_epochs": 3}, "stage_epochs applies to stages, and this config has none"),
        ({**RESNET_HEAD, "finetune_lr": 1e-3}, "finetune_lr applies to stages"),
        ({"stage_head_lr": 1e-3}, "stage_head_lr applies to stages"),
        ({"momentum": 0.5}, "momentum applies to optimizer: sgd only"),
        ({"gamma": 0.5, "scheduler": "cosine"}, "gamma applies to scheduler: step only"),
        ({"early_stopping": {"patience": 5}}, "early_stopping.patience applies when"),
    ],
)  # fmt: skip
def test_keys_the_chosen_mode_never_reads_are_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_the_same_keys_where_they_apply_are_accepted() -> None:
    config_from_dict({**RESNET_HEAD, "stages": ["layer4"], "finetune_lr": 1e-3})
    config_from_dict({"model": "resnet18", "backbone_lr": 1e-4})
    config_from_dict({"split": {"name": "kfold", "folds": 3, "fold": 2}})
    config_from_dict({"optimizer": "sgd", "momentum": 0.5})
    config_from_dict({"model": "mobilenet_v2", "pretrained": True, "weights_path": "/w.pth"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": "resnet18", "freeze": "head"},
         "pretrained: false and no init_checkpoint that backbone is random"),
        ({"model": "resnet18", "stages": ["layer4"]}, "stages need freeze: head"),
        ({"pretrained": True}, "pretrained: landmark_mlp has no ImageNet weights"),
        ({"model": "mobilenet_v2", "pretrained": True, "init_checkpoint": "runs/a/checkpoint"},
         "init_checkpoint replaces every weight"),
        ({"representation": "crop"}, "landmark_mlp reads landmark vectors, not crop"),
    ],
)  # fmt: skip
def test_impossible_combinations_are_refused_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_head_only_training_from_a_checkpoint_of_this_project_is_accepted() -> None:
    """A checkpoint's backbone is trained: head-only training from it is personalisation."""
    config_from_dict({"model": "resnet18", "freeze": "head", "init_checkpoint": "c.json"})


@pytest.mark.parametrize("command", [train, kfold], ids=["train", "kfold"])
def test_a_grid_config_is_refused_by_train_and_points_to_sweep(command, tmp_path, capsys) -> None:
    args = ["--config", "seed004_grid", "--set", "epochs=1", "--runs-dir", str(tmp_path)]
    code = run_command(command.main, command.get_args_parser(), args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "is a grid of 8 runs: run it with python -m training.sweep" in lines[0]
    assert not list(tmp_path.iterdir())  # not one model trained


def test_a_sweep_checks_every_grid_point_before_training(tmp_path: Path, capsys) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("defaults: [landmark_mlp]\ngrid:\n  lr: [1.0e-3]\n  batch_sise: [16, 32]\n")
    args = ["--config", str(grid), "--runs-dir", str(tmp_path / "runs")]
    assert run_command(sweep.main, sweep.get_args_parser(), args) == 2
    assert "unknown config key batch_sise (did you mean batch_size?)" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing trained


@pytest.mark.parametrize(
    ("config", "overrides", "way_out"),
    [
        # head-only: pretrained: false is refused there, so the line names a checkpoint instead
        ("seed003_resnet18_staged", [], "--set init_checkpoint=runs/RUN/checkpoint.json"),
        ("seed000_resnet18", ["--set", "pretrained=true"], "`--set pretrained=false`."),
    ],
)
def test_missing_imagenet_weights_are_one_line(
    config: str, overrides: list[str], way_out: str,
    massey_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
) -> None:  # fmt: skip
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    args = ["--config", config, "--limit-per-class", "2", "--runs-dir", str(tmp_path / "runs"),
            *overrides]  # fmt: skip
    assert run_command(train.main, train.get_args_parser(), args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "resnet18-f37072fd.pth not found" in lines[0], lines
    assert "weights_path=" in lines[0] and lines[0].endswith(way_out)
    head_only = load_config(CONFIGS / f"{config}.yaml").freeze == "head"
    assert ("train from random weights" in lines[0]) is not head_only
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [kfold, sweep], ids=["kfold", "sweep"])
def test_a_group_without_imagenet_weights_stops_before_its_first_run(
    command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Seed 003's staged recipe is run with training.kfold: one line, not a fold header and
    then the error; a sweep does not record every trial as crashed and exit 0."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    config = CONFIGS / "seed003_resnet18_staged.yaml"
    if command is sweep:
        config = tmp_path / "grid.yaml"
        config.write_text("defaults: [seed003_resnet18_staged]\ngrid:\n  lr: [1.0e-3, 1.0e-4]\n")
    args = ["--config", str(config), "--runs-dir", str(tmp_path / "runs")]
    assert run_command(command.main, command.get_args_parser(), args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ImageNet weights resnet18-"), lines
    assert not (tmp_path / "runs").exists()


def test_recorded_augmentation_says_colour_jitter_is_off_at_zero_strength() -> None:
    spec = model_info("small_cnn").input_spec
    assert describe(AugmentConfig(), spec, "crop")["colour_jitter"] is True
    off = describe(AugmentConfig(brightness=0.0, contrast=0.0), spec, "crop")
    assert off["colour_jitter"] is False and "brightness" not in off
    assert describe(AugmentConfig(), spec, "skeleton")["colour_jitter"] is False


@pytest.mark.parametrize("strengths", [(0.0, 0.0), (0.2, 0.0), (0.0, 0.3), (0.2, 0.2)])
@pytest.mark.parametrize("representation", [Representation.CROP, Representation.SKELETON])
def test_recorded_colour_jitter_is_what_the_training_transform_applies(
    strengths: tuple[float, float], representation: Representation
) -> None:
    """config.json's `augmentation_applied` (describe) and the transform training uses
    (train_preset) decide colour jitter alike, and a jittered photo really changes colour."""
    brightness, contrast = strengths
    config = AugmentConfig(rotation=0.0, scale=(1.0, 1.0), translate=0.0,
                           brightness=brightness, contrast=contrast)  # fmt: skip
    spec = model_info("small_cnn").input_spec
    preset = train_preset(spec, config, representation)
    recorded = describe(config, spec, representation)["colour_jitter"]
    assert recorded is preset.colour
    assert recorded == (representation == Representation.CROP and any(strengths))
    photo = np.tile(np.linspace(40, 200, spec.size, dtype=np.uint8)[:, None, None],
                    (1, spec.size, 3))  # fmt: skip
    torch.manual_seed(0)
    changed = [not torch.equal(preset(photo), ImageEvalPreset(spec)(photo)) for _ in range(4)]
    assert any(changed) == recorded


def test_updates_are_checked_like_a_config_file() -> None:
    base = config_from_dict({"model": "resnet18"})
    assert apply_updates(base, {"split.name": "loso", "split.test_signer": "hand2"}).split.name
    with pytest.raises(ConfigError, match=r"unknown config key split\.fols"):
        apply_updates(base, {"split.fols": 3})


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_too_few_epochs_get_one_message(epochs: str, tmp_path: Path, capsys) -> None:
    """epochs=0 said 'epochs must be at least 1', epochs=-1 'Input should be greater than or
    equal to 0'."""
    argv = ["--config", "landmark_mlp", "--set", f"epochs={epochs}", "--runs-dir", str(tmp_path)]
    assert run_command(train.main, train.get_args_parser(), argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: epochs: must be at least 1 (got {epochs})"]
    assert list(tmp_path.iterdir()) == []


def test_stages_may_skip_the_head_only_phase_but_not_go_below_zero() -> None:
    staged = {**RESNET_HEAD, "stages": ["layer4"], "weights_path": "/w.pth"}
    assert config_from_dict({**staged, "epochs": 0}).epochs == 0
    with pytest.raises(ConfigError, match=r"epochs: must be at least 0 with stages .*got -1"):
        config_from_dict({**staged, "epochs": -1})


@pytest.mark.parametrize("value", ["g\tx", "[1", "{a: b"])
def test_a_set_value_that_is_not_yaml_is_one_line(value: str) -> None:
    """--set group=<tab> or lr=[1 was a yaml.ScannerError traceback."""
    with pytest.raises(ConfigError, match=r"--set key: .* is not a value \(.*\); quote text"):
        parse_overrides([f"key={value}"])
