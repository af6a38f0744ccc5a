"""The package's rooms: what each may import (asl_core/__init__ and each subpackage's
docstring). Importing capture or the run writer and readers loads neither torch nor streamlit,
only `asl_core.app` imports streamlit, plotly or av, and only `asl_core.serve` imports fastapi."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asl_core.settings import PACKAGE_DIR, REPO_ROOT

LIGHT_MODULES = (
    "asl_core.capture",
    "asl_core.capture.lock",
    "asl_core.capture.store",
    "asl_core.runs",
    "asl_core.runs.format",
    "asl_core.runs.writer",
    "asl_core.runs.local",
)


def test_capture_and_runs_load_neither_torch_nor_streamlit() -> None:
    code = (
        "import json, sys\n"
        f"import {', '.join(LIGHT_MODULES)}\n"
        "print(json.dumps(sorted(m for m in ('torch', 'streamlit') if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, at any depth (lazy imports too)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


UI_LIBRARIES = ("streamlit", "plotly", "av")


def is_ui(name: str) -> bool:
    return name in UI_LIBRARIES or name.startswith("streamlit_")


MODULES = sorted(PACKAGE_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE_DIR)))
def test_ui_libraries_only_in_app_and_fastapi_only_in_serve(path: Path) -> None:
    room = path.relative_to(PACKAGE_DIR).parts[0]
    roots = imported_roots(path)
    if room != "app":
        assert not {name for name in roots if is_ui(name)}, f"{path.name} imports a UI library"
    if room != "serve":
        assert "fastapi" not in roots and "starlette" not in roots, f"{path.name}: fastapi"


def test_the_import_reader_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    import streamlit as st\n    from plotly import express\n")
    assert imported_roots(module) == {"streamlit", "plotly"}


def run_folder_names() -> set[str]:
    """Every file name the run-folder format defines (asl_core.runs.format's *_FILE)."""
    from asl_core.runs import format as run_format

    return {
        value
        for name, value in vars(run_format).items()
        if name.endswith("_FILE") and isinstance(value, str)
    }


def spelled_out(path: Path, names: set[str]) -> list[str]:
    """`line: name` for every string literal in `path` that is one of `names`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_run_folder_file_names_come_from_the_format_module() -> None:
    names = run_folder_names()
    assert {"config.json", "metrics.jsonl", "checkpoint.json", "state.safetensors"} <= names
    found = {}
    for folder in ("asl_core", "training", "bench", "pages"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if relative == "asl_core/runs/format.py":
                continue
            if hits := spelled_out(path, names):
                found[relative] = hits
    assert not found, f"use asl_core.runs.format's constants instead of: {found}"


SHARED = {"labels", "settings"}
"""`asl_core.labels` and `asl_core.settings`: shared by every subpackage (asl_core/__init__)."""


def declared_imports(room: str) -> set[str] | None:
    """The asl_core subpackages a subpackage's `__init__` docstring says it may import (the
    `asl_core.X` names of its "May import" sentence, up to "Never"; "and what it imports" adds
    theirs); None when it declares no list (app: the top, may use everything)."""
    init = PACKAGE_DIR / room / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    match = re.search(r"May import:?(.*?)(?:Never|\n\n|$)", doc, re.S)
    if match is None:
        return None
    allowed = {name.split(".")[0] for name in re.findall(r"`asl_core\.([\w.]+)`", match[1])}
    if "what it imports" in match[1]:
        for name in list(allowed):
            allowed |= declared_imports(name) or set()
    return allowed


def asl_core_imports(path: Path) -> set[str]:
    """The asl_core subpackages (and top modules) `path` imports, lazily or not."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        names |= {m.split(".")[1] for m in modules if m.startswith("asl_core.")}
    return names


ROOMS = sorted(init.parent.name for init in PACKAGE_DIR.glob("*/__init__.py"))


@pytest.mark.parametrize("room", [room for room in ROOMS if declared_imports(room) is not None])
def test_each_subpackage_imports_only_what_its_docstring_allows(room: str) -> None:
    allowed = (declared_imports(room) or set()) | SHARED | {room}
    found = {
        path.relative_to(PACKAGE_DIR).as_posix(): sorted(asl_core_imports(path) - allowed)
        for path in sorted((PACKAGE_DIR / room).rglob("*.py"))
    }
    assert not {k: v for k, v in found.items() if v}, (
        f"asl_core.{room} may import {sorted(allowed)} (its __init__ docstring)"
    )


def test_the_declared_imports_are_read_from_the_docstrings() -> None:
    assert declared_imports("training") >= {"io", "models", "data", "runs"}
    assert "models" not in declared_imports("vision")  # "Never `asl_core.models`"
    assert declared_imports("serve") >= {"inference", "models"}  # and what inference imports
    assert declared_imports("app") is None
