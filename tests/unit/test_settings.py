"""Folders from the environment, and the rule for folders typed into a page: only inside the
configured runs, captures and datasets folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_core import settings
from asl_core.settings import OutsideRootsError, folder_within_roots


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("runs", "captures", "data")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.setenv("ASL_RUNS_DIR", str(paths["runs"]))
    monkeypatch.setenv("ASL_CAPTURE_DIR", str(paths["captures"]))
    monkeypatch.setenv("ASL_DATA_DIR", str(paths["data"]))
    return paths


def test_the_capture_folder_comes_from_the_environment(
    roots: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.capture_dir() == roots["captures"].resolve()
    monkeypatch.delenv("ASL_CAPTURE_DIR")
    assert settings.capture_dir() == settings.REPO_ROOT / "user_data" / "captures"
    assert settings.folder_roots()[1] == settings.capture_dir()


def test_folders_inside_the_roots_are_accepted(roots: dict[str, Path]) -> None:
    assert folder_within_roots(str(roots["runs"])) == roots["runs"].resolve()
    assert (
        folder_within_roots(roots["captures"] / "mine" / "new")
        == (roots["captures"] / "mine" / "new").resolve()
    )
    assert folder_within_roots(f"  {roots['data']}/massey36  ") == (roots["data"] / "massey36")


@pytest.mark.parametrize("typed", ["/etc", "/", "~", "{tmp}", "{runs}/../../", "{runs}-other"])
def test_folders_outside_the_roots_are_refused_with_the_allowed_ones(
    roots: dict[str, Path], typed: str
) -> None:
    text = typed.format(tmp=roots["runs"].parent, runs=roots["runs"])
    with pytest.raises(OutsideRootsError, match="outside the folders this app may use") as error:
        folder_within_roots(text)
    assert str(roots["captures"].resolve()) in str(error.value)
    assert "ASL_RUNS_DIR" in str(error.value)


def test_a_link_inside_a_root_that_leads_out_is_refused(roots: dict[str, Path]) -> None:
    (roots["runs"] / "escape").symlink_to("/etc")
    with pytest.raises(OutsideRootsError):
        folder_within_roots(roots["runs"] / "escape")


def test_an_empty_folder_box_is_refused(roots: dict[str, Path]) -> None:
    with pytest.raises(OutsideRootsError, match="Type a folder"):
        folder_within_roots("   ")
