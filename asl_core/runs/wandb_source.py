"""Runs from a W&B project through the online API (`wandb.Api()`), as `Run` records."""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from asl_core.runs.format import REPORT_FILE
from asl_core.runs.records import (
    Confusion,
    Run,
    RunSourceError,
    T,
    _describe,
    _epoch_key,
    _epoch_order,
    _model_name,
    _number,
    _parse_time,
    _split_name,
    confusion_from_wandb_table,
    report_frame,
    wandb_confusion_tables,
)
from asl_core.runs.tables import sort_runs

WANDB_LOGIN_HELP = (
    "Browsing a W&B project needs a W&B account and an API key on this machine: run "
    "`wandb login` in a terminal, or start the app with `WANDB_API_KEY=<your key>` "
    "(https://wandb.ai/authorize shows the key). Local runs need neither."
)


# W&B run states (wandb.apis.public.Run.state) as ours.
WANDB_STATES: dict[str, str] = {
    "running": "running",
    "pending": "running",
    "preempting": "running",
    "finished": "finished",
    "crashed": "crashed",
    "failed": "crashed",
    "killed": "incomplete",
    "preempted": "incomplete",
}


def wandb_credentials_available() -> bool:
    """Whether `wandb.Api()` can authenticate without prompting (key in env or netrc)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    try:
        from wandb.sdk.lib.wbauth.wbnetrc import read_netrc_auth

        return bool(read_netrc_auth(host=host))
    except Exception:  # wandb internals move between versions: read the netrc ourselves
        netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
        hostname = re.sub(r"^https?://", "", host).split("/")[0].split(":")[0]
        try:
            return hostname in netrc_path.read_text()
        except OSError:
            return False


_NETWORK_WORDS = (
    "connect",
    "max retries",
    "timed out",
    "timeout",
    "name or service",
    "resolve",
    "network",
    "unreachable",
    "ssl",
    "did not respond",
)


_AUTH_WORDS = ("401", "403", "unauthorized", "permission", "api key", "authentic")


_NOT_FOUND_WORDS = ("404", "not found", "could not find", "does not exist")


def _error_chain_text(error: BaseException) -> str:
    """The messages of an error and its causes (wandb wraps a timeout in an auth error)."""
    parts, seen, current = [], set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(parts).lower()


def friendly_wandb_error(error: BaseException, path: str) -> str:
    """A sentence for the user instead of a traceback."""
    text = _error_chain_text(error)
    # Network first: wandb reports an unreachable server as "error verifying the API key".
    if any(word in text for word in _NETWORK_WORDS):
        return (
            "Could not reach the W&B server: check the internet connection (or WANDB_BASE_URL). "
            "Local runs still work offline."
        )
    if any(word in text for word in _AUTH_WORDS):
        return f"W&B refused the credentials while reading {path}. {WANDB_LOGIN_HELP}"
    if any(word in text for word in _NOT_FOUND_WORDS):
        return (
            f"W&B has no project {path!r} visible to this account: check the entity (user or "
            "team name) and the project name."
        )
    return f"W&B could not list the runs of {path}: {_describe(error)}"


def normalise_metric_name(name: str) -> str:
    """`val/accuracy`, `Validation Accuracy`, `learning_rate` -> `val_acc`, `lr`."""
    key = re.sub(r"[/\s\-.]+", "_", name.strip()).lower()
    key = re.sub(r"^validation_", "val_", key)
    key = re.sub(r"accuracy$", "acc", key)
    return {"learning_rate": "lr", "epoch_time": "epoch_time_s", "f1_score": "f1"}.get(key, key)


def _is_media(value: Any) -> bool:
    return isinstance(value, dict) and "_type" in value


def wandb_history_rows(raw: Any) -> list[dict[str, Any]]:
    """A W&B history (DataFrame or records with `_step`) as one row per epoch, keyed like
    metrics.jsonl (`Run.metrics`)."""
    frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame.from_records(list(raw or []))
    if frame.empty:
        return []
    media = [c for c in frame.columns if frame[c].map(_is_media).any()]
    internal = [c for c in frame.columns if str(c).startswith("_") and c != "_step"]
    frame = frame.drop(columns=media + internal)
    frame = frame.rename(columns=lambda c: c if c == "_step" else normalise_metric_name(str(c)))
    frame = frame.loc[:, ~frame.columns.duplicated()]
    metrics = [c for c in frame.columns if c not in ("_step", "epoch")]
    frame = frame.dropna(how="all", subset=metrics) if metrics else frame
    if "epoch" in frame.columns and frame["epoch"].notna().any():
        # Train and validation may be logged in separate calls: one row per epoch, last value.
        frame = frame[frame["epoch"].notna()].groupby("epoch", as_index=False, sort=True).last()
    else:
        frame = frame.sort_values("_step") if "_step" in frame.columns else frame
        frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame.to_dict("records")


def wandb_summary_dict(summary: Any) -> dict[str, Any]:
    """The plain values of a W&B run summary (`HTTPSummary._json_dict`), media left out.

    Keys logged as `test/acc` are also given under our local name (`test_acc`), so the same
    code reads both sources; an existing key of that name wins.
    """
    raw = getattr(summary, "_json_dict", None)
    if not isinstance(raw, Mapping):
        raw = dict(summary or {})
    plain = {str(k): v for k, v in raw.items() if not _is_media(v)}
    for key, value in list(plain.items()):
        if not key.startswith("_"):
            plain.setdefault(normalise_metric_name(key), value)
    return plain


def map_wandb_state(state: str | None, summary: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Our status for a W&B run state; our own summary status refines "finished"."""
    ours = WANDB_STATES.get(str(state).lower()) if state else None
    if ours is None:
        return "incomplete", [f"W&B reports an unknown run state {state!r}"]
    own = summary.get("status")
    if ours == "finished" and own in ("stopped_early", "crashed"):
        ours = str(own)
    if state in ("crashed", "failed", "killed", "preempted"):
        return ours, [f"W&B reports the run as {state}"]
    if ours == "crashed":
        return ours, ["training crashed (summary status)"]
    return ours, []


def _attempt(problems: list[str], what: str, read: Callable[[], T], default: T) -> T:
    try:
        value = read()
    except Exception as error:  # why: one broken run never breaks the list
        problems.append(f"could not read {what} from W&B: {_describe(error)}")
        return default
    return default if value is None else value


def run_from_wandb(api_run: Any) -> Run:
    """A `wandb.apis.public.Run` (or the same shape) as a Run; never raises."""
    problems: list[str] = []
    run_id = str(_attempt(problems, "the run id", lambda: api_run.id, "?"))
    name = str(_attempt(problems, "the run name", lambda: api_run.name, "") or run_id)
    config = _attempt(problems, "the config", lambda: dict(api_run.config), {})
    config = {k: v for k, v in config.items() if not str(k).startswith("_")}
    summary = _attempt(problems, "the summary", lambda: wandb_summary_dict(api_run.summary), {})
    metrics = _attempt(problems, "the history", lambda: _wandb_history(api_run), [])
    state = _attempt(problems, "the state", lambda: api_run.state, None)
    status, state_problems = map_wandb_state(state, summary)
    group = getattr(api_run, "group", None) or config.get("group")
    started = _parse_wandb_time(getattr(api_run, "created_at", None)) or _parse_time(
        config.get("started_at")
    )
    duration = _number(summary.get("duration_s"))
    if duration is None:
        duration = _number(summary.get("_runtime"))
    return Run(
        id=run_id,
        name=name,
        source="wandb",
        config=config,
        metrics=metrics,
        summary=summary,
        status=status,
        problems=problems + state_problems,
        group=str(group) if group else None,
        model=_model_name(config),
        split=_split_name(config),
        started_at=started,
        duration_s=duration,
        details=WandbRunDetails(api_run),
    )


def _wandb_history(api_run: Any) -> list[dict[str, Any]]:
    try:
        raw = api_run.history(samples=100_000, pandas=True)
    except Exception:
        raw = list(itertools.islice(api_run.scan_history(), 100_000))
    return wandb_history_rows(raw)


def _parse_wandb_time(value: Any) -> datetime | None:
    # W&B's createdAt is UTC without a zone suffix.
    if isinstance(value, str) and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip()):
        value = value.strip() + "+00:00"
    return _parse_time(value)


class WandbRunDetails:
    """Confusion tables and report of a W&B run, downloaded on demand into a temp folder."""

    def __init__(self, api_run: Any) -> None:
        self.api_run = api_run
        self._files: dict[str, Any] | None = None
        self._downloaded: dict[str, Any] = {}
        self._folder = Path(tempfile.gettempdir()) / "asl-wandb-files"

    def _all_files(self) -> dict[str, Any]:
        if self._files is None:
            self._files = {str(f.name): f for f in self.api_run.files()}
        return self._files

    def _json(self, name: str) -> Any:
        if name not in self._downloaded:
            folder = self._folder / re.sub(r"[^\w.-]", "_", str(self.api_run.id))
            file = self._all_files()[name]
            file.download(root=str(folder), replace=True)
            self._downloaded[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        return self._downloaded[name]

    def confusion_epochs(self) -> list[int | str]:
        return _epoch_order(wandb_confusion_tables(self._all_files()))

    def confusion(self, epoch: int | str) -> Confusion | None:
        name = wandb_confusion_tables({n: n for n in self._all_files()}).get(_epoch_key(epoch))
        return confusion_from_wandb_table(self._json(name)) if name else None

    def report(self) -> pd.DataFrame | None:
        name = next((n for n in self._all_files() if n.rsplit("/", 1)[-1] == REPORT_FILE), None)
        return report_frame(self._json(name)) if name else None

    def checkpoint_architecture(self) -> str | None:
        return None  # a W&B run's checkpoint is not read from here


class WandbRunSource:
    """The runs of a W&B project, read through `wandb.Api()` (online, needs an API key)."""

    def __init__(
        self, entity: str | None, project: str, api: Any = None, *, limit: int = 500
    ) -> None:
        self.entity = (entity or "").strip()
        self.project = project.strip()
        self.api = api
        self.limit = limit

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}" if self.entity else self.project

    def _connect(self) -> Any:
        if self.api is not None:
            return self.api
        if not wandb_credentials_available():
            raise RunSourceError(f"No W&B API key found. {WANDB_LOGIN_HELP}")
        try:
            import wandb

            self.api = wandb.Api(timeout=20)
        except Exception as error:
            raise RunSourceError(friendly_wandb_error(error, self.path)) from None
        return self.api

    def list_runs(self) -> list[Run]:
        """Every run of the project (up to `limit`), newest first.

        Raises RunSourceError with a sentence for the user when W&B cannot be read at all.
        """
        if not self.project:
            raise RunSourceError("Enter a W&B project name.")
        api = self._connect()
        try:
            api_runs = list(itertools.islice(iter(api.runs(self.path)), self.limit))
        except Exception as error:
            raise RunSourceError(friendly_wandb_error(error, self.path)) from None
        return sort_runs(run_from_wandb(api_run) for api_run in api_runs)
