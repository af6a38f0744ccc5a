"""Personalisation as a background job (asl_core.training.jobs): it outlives the thread that
started it, one job per capture folder, its end and its reason readable by anyone.

The real personalisation runs in the first test (a small real capture, 5 epochs: about 40 s
here, so slow; tests/app/test_capture_page.py drives a real job from the page in the default
suite); the rules of the registry are checked with stand-ins for `personalise` that block or
fail on demand.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from asl_core.runs.local import load_local_run
from asl_core.training.jobs import (
    JobBusyError,
    JobState,
    personalise_job,
    start_personalise,
)
from asl_core.training.personalise import PersonaliseConfig, PersonaliseError
from tests.helpers.captures import capture_real_photos, cut_down_checkpoint
from tests.helpers.training import HeldAfterFirstEpoch

WAIT_S = 600  # the real one trains on a shared 2-core machine


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("ASL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "jobs-cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")


def config(tmp_path: Path, **changes: object) -> PersonaliseConfig:
    return PersonaliseConfig(runs_dir=str(tmp_path / "runs"), wandb=False, **changes)  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_job_outlives_the_thread_that_started_it(
    tmp_path: Path, massey_root: Path, quiet: None
) -> None:
    """Started from a thread that then ends (as a page's script run ends when the user leaves
    it), the job trains on, its run folder says running, then finished."""
    base = cut_down_checkpoint(tmp_path, ["A", "B", "C", "L"])
    plan = {"HELLO-SIGN": ("5", 8), "B": ("b", 4)}
    store = capture_real_photos(tmp_path / "captures", massey_root, plan)
    held = HeldAfterFirstEpoch()
    settings = config(tmp_path, base_model=str(base), epochs=5, replay_per_class=2,
                      reference_per_class=2)  # fmt: skip
    jobs = []
    script = threading.Thread(
        target=lambda: jobs.append(start_personalise(store.root, settings, runner=held))
    )
    with held.releasing():
        script.start()
        script.join()
        assert not script.is_alive() and held.reached.wait(WAIT_S)
        (job,) = jobs
        running = personalise_job(store.root)
        assert running is job and running.status().running
        assert running.status().message.startswith("Training: epoch 1/5")
        (run_dir,) = (tmp_path / "runs").iterdir()
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "running" and summary["epochs_done"] == 1
    status = job.wait(WAIT_S)
    assert status.state is JobState.FINISHED, status.error
    assert status.result is not None and status.result.run_dir == run_dir
    assert status.fraction == 1.0 and status.message == status.result.sentence()
    assert status.finished_at is not None and status.finished_at >= status.started_at
    run = load_local_run(run_dir, tmp_path / "runs")
    assert run.status == "finished" and run.split == "personalise"


def test_a_job_that_cannot_run_ends_failed_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "no photos yet"
    job = start_personalise(folder, config(tmp_path))
    status = job.wait(60)
    assert status.state is JobState.FAILED and not status.running
    assert status.error == f"No captured photos in {folder}: capture some signs first."
    assert status.result is None and status.message == status.error
    assert personalise_job(folder) is job  # any session finds it, with its reason
    assert not (tmp_path / "runs").exists()


def test_one_job_per_capture_folder(tmp_path: Path) -> None:
    started, stop = threading.Event(), threading.Event()

    def blocking(folder: Path, settings: PersonaliseConfig, *, progress) -> None:
        progress(0.6, "Training: epoch 2/30, held-back accuracy 50%")
        started.set()
        stop.wait(60)
        raise PersonaliseError("stopped by the test")

    first = start_personalise(tmp_path / "a", config(tmp_path), runner=blocking)
    assert started.wait(60)
    with pytest.raises(JobBusyError, match=r"being personalised on the photos in .*a already "
                       r"\(started \d\d:\d\d:\d\d; Training: epoch 2/30"):  # fmt: skip
        start_personalise(tmp_path / "a" / ".." / "a", config(tmp_path), runner=blocking)
    assert personalise_job(tmp_path / "a") is first
    other = start_personalise(tmp_path / "b", config(tmp_path), runner=blocking)  # another one
    stop.set()
    assert first.wait(60).error == "stopped by the test"
    assert other.wait(60).state is JobState.FAILED
    again = start_personalise(tmp_path / "a", config(tmp_path), runner=blocking)  # ended: free
    assert personalise_job(tmp_path / "a") is again and again.job_id != first.job_id
    assert again.wait(60).state is JobState.FAILED


def test_an_unexpected_error_is_reported_not_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(folder: Path, settings: PersonaliseConfig, *, progress) -> None:
        raise RuntimeError("disk on fire")

    status = start_personalise(tmp_path, config(tmp_path), runner=broken).wait(60)
    assert status.state is JobState.FAILED
    assert status.error == "Personalisation failed: RuntimeError: disk on fire"
    assert "personalisation of" in caplog.text and "disk on fire" in caplog.text


def test_bad_settings_are_refused_before_any_job(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        start_personalise(tmp_path / "c", config(tmp_path, epochs=0))
    assert personalise_job(tmp_path / "c") is None
