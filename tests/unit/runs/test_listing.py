"""Listing run folders: symbolic links (each run once, loops skipped), what listing does not
read, and the cache that makes a rerun of the Runs page cheap. Folders come from the real
writer (`tests.helpers.runs.write_run`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asl_core.io.files import atomic_write_bytes
from asl_core.runs import local
from asl_core.runs.local import LocalRunSource
from tests.helpers.runs import write_run


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    local.clear_cache()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_run(root / "20260101-100000-a")
    write_run(root / "20260102-100000-b")
    write_run(root / "grid" / "20260103-100000-c")
    return root


def listed(root: Path) -> list[str]:
    return sorted(run.id for run in LocalRunSource(root).list_runs())


def test_a_link_to_a_parent_folder_lists_each_run_once(runs_dir: Path) -> None:
    (runs_dir / "up").symlink_to(runs_dir)  # runs/up -> runs: a loop
    (runs_dir / "grid" / "back").symlink_to(runs_dir)  # runs/grid/back -> runs
    (runs_dir / "top").symlink_to(runs_dir.parent)  # an ancestor of the runs folder
    (runs_dir / "again").symlink_to(runs_dir / "grid")  # a folder listed anyway
    assert listed(runs_dir) == ["20260101-100000-a", "20260102-100000-b", "grid/20260103-100000-c"]


def test_runs_elsewhere_behind_links_are_listed_once(runs_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "old-disk"
    write_run(elsewhere / "20251201-100000-old")
    (elsewhere / "loop").symlink_to(elsewhere)
    (runs_dir / "archive").symlink_to(elsewhere)
    (runs_dir / "archive-too").symlink_to(elsewhere)
    ids = listed(runs_dir)
    assert ids.count("archive/20251201-100000-old") == 1
    assert not any(run_id.startswith("archive-too/") for run_id in ids)
    assert len(ids) == 4


def test_the_runs_folder_itself_through_a_link(runs_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "runs-link"
    link.symlink_to(runs_dir)
    assert listed(link) == listed(runs_dir)


def test_a_broken_link_is_skipped(runs_dir: Path) -> None:
    (runs_dir / "gone").symlink_to(runs_dir / "never-made")
    assert len(listed(runs_dir)) == 3


def test_listing_builds_no_history_and_reuses_unchanged_runs(runs_dir: Path) -> None:
    source = LocalRunSource(runs_dir)
    first = {run.id: run for run in source.list_runs()}
    assert all("history" not in vars(run) for run in first.values())
    assert first["20260101-100000-a"].epochs == 2
    assert first["20260101-100000-a"].best_val_acc == pytest.approx(0.6)
    again = {run.id: run for run in source.list_runs()}
    assert all(again[key] is first[key] for key in first)
    summary = runs_dir / "20260102-100000-b" / "summary.json"
    atomic_write_bytes(summary, summary.read_bytes())  # as the writer does: a rename
    third = {run.id: run for run in source.list_runs()}
    assert third["20260102-100000-b"] is not first["20260102-100000-b"]
    assert third["20260101-100000-a"] is first["20260101-100000-a"]


def test_a_file_edited_in_place_is_seen_at_the_next_full_check(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between full checks a listing stats each run folder once (its mtime changes when the
    # writer renames a file into it); an edit in place shows at the next full check.
    source = LocalRunSource(runs_dir)
    first = {run.id: run for run in source.list_runs()}  # the first listing is a full check
    summary = runs_dir / "20260101-100000-a" / "summary.json"
    folder_mtime = summary.parent.stat().st_mtime_ns
    summary.write_text(summary.read_text().replace('"finished"', '"crashed"'))  # in place
    os.utime(summary.parent, ns=(folder_mtime, folder_mtime))
    second = {run.id: run for run in source.list_runs()}
    assert second["20260101-100000-a"] is first["20260101-100000-a"]  # not seen yet
    monkeypatch.setattr(local, "FULL_CHECK_EVERY_S", 0.0)
    again = {run.id: run for run in source.list_runs()}
    assert again["20260101-100000-a"].status == "crashed"


def test_a_run_added_to_a_group_folder_is_listed_at_once(runs_dir: Path) -> None:
    source = LocalRunSource(runs_dir)
    assert len(source.list_runs()) == 3
    write_run(runs_dir / "grid" / "20260105-100000-d")
    write_run(runs_dir / "20260106-100000-e")
    assert len(source.list_runs()) == 5


def test_a_running_run_is_rebuilt_so_its_staleness_is_current(runs_dir: Path) -> None:
    folder = write_run(runs_dir / "20260104-100000-live", status="running")
    source = LocalRunSource(runs_dir)
    first = {run.id: run for run in source.list_runs()}
    assert first[folder.name].status == "running"
    again = {run.id: run for run in source.list_runs()}
    assert again[folder.name] is not first[folder.name]


def test_a_group_name_never_leaves_the_runs_folder(runs_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text('{"secret": 1}')
    source = LocalRunSource(runs_dir)
    assert source.group_info("..") is None
    (runs_dir / "grid" / "sweep.json").write_text('{"grid": [0.1]}')
    assert source.group_info("grid") == {"grid": [0.1]}
