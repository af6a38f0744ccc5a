"""The README's "Command line" section: every `python -m training.X` line it shows is accepted
by that command's own argument parser, and it shows how to fit from a checkpoint."""

from __future__ import annotations

import importlib
import re
import shlex

from asl_core.settings import REPO_ROOT


def command_lines() -> list[list[str]]:
    """The `.venv/bin/python -m training.X ...` commands of the section, as argv lists (the
    module first), comments dropped."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        if not line.startswith(".venv/bin/python -m training."):
            continue
        words = shlex.split(line, comments=True)
        commands.append(words[2:])  # ["training.train", "--config", ...]
    return commands


def test_every_training_command_in_the_readme_parses() -> None:
    commands = command_lines()
    assert {command[0] for command in commands} >= {"training.train", "training.export"}
    for module, *args in commands:
        parser = importlib.import_module(module).get_args_parser()
        parser.parse_args(args)  # argparse exits (SystemExit) on an unknown or bad option


def test_the_readme_shows_fitting_from_a_checkpoint() -> None:
    starts = [
        args
        for module, *args in command_lines()
        if module == "training.train" and "--init-checkpoint" in args
    ]
    assert starts, "no `training.train --init-checkpoint CHECKPOINT` line in Command line"
    assert all(re.search(r"checkpoint\.json$", args[args.index("--init-checkpoint") + 1])
               for args in starts)  # fmt: skip
