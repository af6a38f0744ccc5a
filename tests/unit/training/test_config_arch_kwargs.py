"""arch_kwargs is checked against the architecture when the config is read, one line a key."""

from __future__ import annotations

import pytest

from asl_core.training.config import ConfigError, load_config
from training import run_command, train


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["arch_kwargs.hiden=[8]"], "unknown config key arch_kwargs.hiden (did you mean "
         "arch_kwargs.hidden?); landmark_mlp takes hidden, dropout"),
        (["arch_kwargs.hidden=abc"], "arch_kwargs.hidden: landmark_mlp cannot be built with 'abc'"),
        (["arch_kwargs.hidden=[8]", "arch_kwargs.dropout=5"],
         "arch_kwargs.dropout: landmark_mlp cannot be built with 5: dropout probability"),
        (["model=custom_cnn", "arch_kwargs.chanels=[8]"],
         "unknown config key arch_kwargs.chanels (did you mean arch_kwargs.channels?)"),
        (["arch_kwargs.num_classes=3"], "unknown config key arch_kwargs.num_classes"),
    ],
)  # fmt: skip
def test_bad_arch_kwargs_refused_naming_the_key(sets: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("landmark_mlp", sets)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_good_arch_kwargs_pass() -> None:
    config = load_config("landmark_mlp", ["arch_kwargs.hidden=[8]", "arch_kwargs.dropout=0.1"])
    assert config.arch_kwargs == {"hidden": [8], "dropout": 0.1}


def test_print_config_refuses_the_same(capsys) -> None:
    argv = ["--config", "landmark_mlp", "--set", "arch_kwargs.hiden=[8]", "--print-config"]
    assert run_command(train.main, train.get_args_parser(), argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: unknown config key arch_kwargs.hiden (did you mean")
    assert "arch_kwargs" not in captured.out
