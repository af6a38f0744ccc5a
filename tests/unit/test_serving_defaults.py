"""The app and the API listen on this machine only unless the user asks otherwise (#17 F13)."""

from __future__ import annotations

import subprocess
import tomllib

from asl_core.settings import REPO_ROOT


def _make_run_command(*variables: str) -> str:
    """The command `make run` would execute (dry run: nothing starts)."""
    out = subprocess.run(
        ["make", "-n", "run", *variables], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return next(line for line in out.splitlines() if "streamlit run" in line)


def test_make_run_binds_to_localhost_by_default() -> None:
    assert "--server.address 127.0.0.1" in _make_run_command()


def test_make_run_serves_the_network_only_when_asked() -> None:
    assert "--server.address 0.0.0.0" in _make_run_command("ADDRESS=0.0.0.0")


def test_streamlit_config_binds_to_localhost() -> None:
    """`streamlit run Home.py` without make reads .streamlit/config.toml."""
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
