"""Tiny real training runs for tests: a slice of massey36 (6 classes x 10 photos), on the CPU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asl_core.training.config import TrainConfig, config_from_dict

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
