"""A key the chosen mode never reads is refused when the user set it (in a config file or with
`--set`), whatever its value; a command-line switch that turns a feature off does not turn the
config file's keys of that feature into errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asl_core.settings import REPO_ROOT
from asl_core.training.config import (
    ConfigError,
    apply_updates,
    load_config,
    load_config_file,
    load_grid_config,
)
from training import run_command, train

CONFIGS = REPO_ROOT / "training" / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_switching_early_stopping_off_on_the_command_line_works(capsys) -> None:
    """landmark_mlp.yaml sets early_stopping.patience: 8 with enabled: true."""
    config = load_config("landmark_mlp", ["early_stopping.enabled=false"])
    assert config.early_stopping.enabled is False and config.early_stopping.patience == 8
    argv = ["--config", "landmark_mlp", "--set", "early_stopping.enabled=false", "--print-config"]
    assert run_command(train.main, train.get_args_parser(), argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["early_stopping"]["enabled"] is False


def test_a_key_given_on_the_command_line_where_it_does_not_apply_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"early_stopping\.patience applies when"):
        load_config("landmark_mlp", ["early_stopping.enabled=false", "early_stopping.patience=5"])
    # At its default value too: the user asked for it.
    with pytest.raises(ConfigError, match="momentum applies to optimizer: sgd only"):
        load_config("landmark_mlp", ["momentum=0.9"])


def test_a_config_file_key_at_its_default_value_is_refused_where_it_does_not_apply(
    tmp_path: Path,
) -> None:
    """split.test_fraction: 0.15 (its default) used to pass under kfold, 0.2 was refused."""
    for value in ("0.15", "0.2"):
        path = write(tmp_path, f"split:\n  name: kfold\n  test_fraction: {value}\n")
        with pytest.raises(ConfigError, match=r"split\.test_fraction is not read by the kfold"):
            load_config(path)


def test_a_file_key_made_applicable_on_the_command_line_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "momentum: 0.5\n")
    with pytest.raises(ConfigError, match="momentum applies to optimizer: sgd only"):
        load_config(path)
    assert load_config(path, ["optimizer=sgd"]).momentum == 0.5


def test_a_group_command_may_switch_the_split_of_a_file(tmp_path: Path) -> None:
    """training.kfold switches a random-split file to kfold: the file's test_fraction stays
    unread, not an error; a split key given with the switch is judged."""
    base = load_config(write(tmp_path, "split:\n  name: random\n  test_fraction: 0.2\n"))
    assert apply_updates(base, {"split.name": "kfold", "split.fold": 1}).split.fold == 1
    with pytest.raises(ConfigError, match=r"split\.test_signer is not read by the kfold"):
        apply_updates(base, {"split.name": "kfold", "split.test_signer": "hand1"})


def test_keys_of_defaults_yaml_are_not_set_by_the_user() -> None:
    assert load_config(CONFIGS / "defaults.yaml", ["early_stopping.enabled=false"]).epochs == 10
    base, grid = load_grid_config(CONFIGS / "seed004_grid.yaml", ["epochs=1"])
    assert base.epochs == 1 and grid == load_config_file(CONFIGS / "seed004_grid.yaml")["grid"]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CONFIGS.glob("*.yaml") if p.stem != "seed004_grid"),
    ids=lambda p: p.stem,
)
def test_every_shipped_config_sets_only_keys_its_mode_reads(path: Path) -> None:
    load_config(path)
