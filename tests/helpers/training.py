"""Tiny real training runs for tests: a slice of massey36 (6 classes x 10 photos), on the CPU;
a personalisation held after its first epoch."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from asl_core.training.config import TrainConfig, config_from_dict


@contextlib.contextmanager
def training_environment(
    temporary_root: Path, cache: str = "asl-feature-cache", **variables: str
) -> Iterator[None]:
    """A training test module's environment while the block runs: the feature cache in
    `temporary_root`/`cache` (MediaPipe runs once per photo for the modules sharing it),
    W&B offline and silent, and any other `variables` (e.g. ASL_RUNS_DIR)."""
    import pytest

    patch = pytest.MonkeyPatch()
    patch.setenv("ASL_CACHE_DIR", str(temporary_root / cache))
    patch.setenv("WANDB_MODE", "offline")
    patch.setenv("WANDB_SILENT", "true")
    for name, value in variables.items():
        patch.setenv(name, value)
    try:
        yield
    finally:
        patch.undo()


SLICE = {"datasets": ["massey36"], "classes": ["B", "C", "L", "V", "W", "Y"], "limit_per_class": 10}


def tiny(tmp_path: Path, **changes: Any) -> TrainConfig:
    """A 3-epoch landmark MLP on SLICE writing under tmp_path/runs; `a__b=x` sets `a.b`."""
    data: dict[str, Any] = {
        **SLICE,
        "model": "landmark_mlp",
        "epochs": 3,
        "batch_size": 16,
        "runs_dir": str(tmp_path / "runs"),
        "extract_workers": 1,
        "progress": False,
        "wandb": False,
    }
    for key, value in changes.items():
        target = data
        parts = key.split("__")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return config_from_dict(data)


def slice_args() -> list[str]:
    """The command-line options that select SLICE, quietly and without W&B."""
    return [
        "--data",
        "massey36",
        "--set",
        "classes=[B,C,L,V,W,Y]",
        "--limit-per-class",
        "10",
        "--set",
        "progress=false",
        "--set",
        "wandb=false",
        "--set",
        "extract_workers=1",
    ]


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


class HeldAfterFirstEpoch:
    """Stands in for `personalise` in a job: runs the real one, but holds the job's thread
    after the first epoch (the run folder exists and says running) until `release()`, so a
    test surely sees the job running. `reached` is set when it holds."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._released = threading.Event()

    def __call__(self, folder: Path, config: Any, *, progress: Callable[[float, str], None]) -> Any:
        from asl_core.training.personalise import personalise

        def report(fraction: float, message: str) -> None:
            progress(fraction, message)
            if message.startswith("Training: epoch") and not self.reached.is_set():
                self.reached.set()
                if not self._released.wait(timeout=600):
                    raise TimeoutError("the test never released the job")

        return personalise(folder, config, progress=report)

    def release(self) -> None:
        self._released.set()

    @contextlib.contextmanager
    def releasing(self) -> Iterator[None]:
        """Release the job on the way out, also when the test fails."""
        try:
            yield
        finally:
            self.release()
