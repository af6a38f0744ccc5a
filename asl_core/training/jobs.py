"""Personalisation as a background job: training that outlives the page that started it.

A Streamlit page's script is stopped whenever its user leaves the page, reloads it or clicks
anything (Streamlit raises StopException or RerunException in the script's thread at its next
Streamlit call). Training that ran inside the script died there, at the next progress-bar
update, and its run folder said "crashed". A job runs `personalise` on a thread of the server
process instead, which no script run owns: it goes on whatever the pages do. Its progress and
result are kept here, where every session reads them by capture folder (the user back on the
page, another tab, another person): `personalise_job(folder)`. One job per capture folder at a
time (`JobBusyError`).

The run folder is written as by any training (`fit`): summary.json says "running" from the
first epoch, with the epochs done, then "finished", so the Runs page shows the run as it goes.
The threads are daemons: when the server process stops, a job stops with it, and the Runs page
lists its run as incomplete (summary says running, process gone).

Jobs live in this process only: a second server process (another `streamlit run`) neither sees
nor counts them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from asl_core.training.personalise import (
    PersonaliseConfig,
    PersonaliseError,
    PersonaliseResult,
    personalise,
)

__all__ = [
    "JobBusyError",
    "JobState",
    "JobStatus",
    "PersonaliseJob",
    "personalise_job",
    "start_personalise",
]

logger = logging.getLogger(__name__)

Runner = Callable[..., PersonaliseResult]
"""`personalise(folder, config, progress=...)`, or a stand-in with its signature."""


class JobBusyError(PersonaliseError):
    """A personalisation of this capture folder is running already."""


class JobState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job, safe to read from any thread.

    `fraction` (0-1) and `message` are the latest progress `personalise` reported ("Training:
    epoch 3/30, ..."); `result` is set when FINISHED, `error` (a sentence for the user) when
    FAILED. Times are local and timezone-aware."""

    job_id: str
    folder: Path
    state: JobState
    fraction: float
    message: str
    started_at: datetime
    finished_at: datetime | None = None
    result: PersonaliseResult | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING


class PersonaliseJob:
    """One personalisation of one capture folder, on its own daemon thread.

    Made and started by `start_personalise`; `status()` reads it, `wait()` waits for it."""

    def __init__(
        self, folder: Path, config: PersonaliseConfig, *, runner: Runner | None = None
    ) -> None:
        self.folder = folder
        self.config = config
        self.runner = runner
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._status = JobStatus(
            job_id=uuid.uuid4().hex[:12],
            folder=folder,
            state=JobState.RUNNING,
            fraction=0.0,
            message="Starting…",
            started_at=datetime.now().astimezone(),
        )
        self._thread = threading.Thread(
            target=self._run, name=f"personalise:{folder.name}", daemon=True
        )

    @property
    def job_id(self) -> str:
        return self._status.job_id

    def start(self) -> None:
        self._thread.start()

    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    def wait(self, timeout: float | None = None) -> JobStatus:
        """The status once the job has ended, or as it is after `timeout` seconds."""
        self._done.wait(timeout)
        return self.status()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _progress(self, fraction: float, message: str) -> None:
        self._update(fraction=min(1.0, max(0.0, float(fraction))), message=message)

    def _run(self) -> None:
        state, result, error = JobState.FAILED, None, "The personalisation stopped unexpectedly."
        try:
            runner = self.runner or personalise  # looked up now: tests may stand in for it
            result = runner(self.folder, self.config, progress=self._progress)
            state, error = JobState.FINISHED, None
        except PersonaliseError as problem:
            error = str(problem)
        except Exception as problem:  # a thread's exception would otherwise go unseen
            logger.exception("personalisation of %s failed", self.folder)
            error = f"Personalisation failed: {type(problem).__name__}: {problem}"
        finally:
            self._update(
                state=state,
                result=result,
                error=error,
                fraction=1.0 if state is JobState.FINISHED else self.status().fraction,
                message=result.sentence() if result is not None else (error or ""),
                finished_at=datetime.now().astimezone(),
            )
            self._done.set()


_jobs: dict[Path, PersonaliseJob] = {}
_jobs_lock = threading.Lock()


def _key(folder: str | Path) -> Path:
    return Path(folder).expanduser().resolve()


def personalise_job(folder: str | Path) -> PersonaliseJob | None:
    """The latest job of this capture folder in this process (running or ended), or None."""
    with _jobs_lock:
        return _jobs.get(_key(folder))


def start_personalise(
    folder: str | Path, config: PersonaliseConfig, *, runner: Runner | None = None
) -> PersonaliseJob:
    """Start personalising on the captures in `folder`, in the background; the job.

    `config` is checked here (ValueError with the reason). JobBusyError when a job of the same
    folder is still running; the message says since when and how far it got. Everything else
    (no photos, too few, no burst to check on) ends the job FAILED with the sentence for the
    user in `status().error`."""
    config.validate()
    key = _key(folder)
    with _jobs_lock:
        current = _jobs.get(key)
        if current is not None and current.status().running:
            status = current.status()
            raise JobBusyError(
                f"The model is being personalised on the photos in {key} already (started "
                f"{status.started_at:%H:%M:%S}; {status.message}). Wait for it to finish."
            )
        job = PersonaliseJob(key, config, runner=runner)
        _jobs[key] = job
        job.start()
    return job
