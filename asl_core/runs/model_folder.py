"""Why a folder given where a model is expected (`--model runs/X`) holds no checkpoint: a run
with no model yet (read with the run reader `local.load_local_run`: interrupted, crashed, still
running) or a group of runs (k-fold, sweep). `asl_core.models` cannot read run folders, so its
`FolderWithoutModel` error carries the folder and the command lines ask here."""

from __future__ import annotations

import shlex
from pathlib import Path

from asl_core.runs.format import CHECKPOINT_META_FILE, RunStatus, is_run_folder
from asl_core.runs.local import discover_run_folders, load_local_run

_WHY = {
    RunStatus.INTERRUPTED: "was interrupted",
    RunStatus.CRASHED: "crashed",
    RunStatus.RUNNING: "is still running",
}


def why_no_model(folder: str | Path) -> str | None:
    """One line for a folder without CHECKPOINT_META_FILE: what it is and what to do instead
    (the resume command of an interrupted run; two runs of a group, or two model folders, to
    pick from). None when it is none of these: the caller's own message stands."""
    folder = Path(folder)
    if is_run_folder(folder):
        run = load_local_run(folder)
        why = _WHY.get(RunStatus(run.status), "did not finish")
        command = run.summary.get("resume_command")
        if isinstance(command, str) and " --resume " in command:
            # the folder as it is now (the run may have been copied or moved since)
            command = f"{command.rsplit(' --resume ', 1)[0]} --resume {shlex.quote(str(folder))}"
        then = f"continue it with: {command}" if command else "train it again"
        return (
            f"{folder} is a training run that {why} and has no model yet (no "
            f"{CHECKPOINT_META_FILE}): {then}"
        )
    runs = [run for run in discover_run_folders(folder) if run != folder] or sorted(
        child.parent for child in folder.glob(f"*/{CHECKPOINT_META_FILE}")
    )
    if not runs:
        return None
    named = " or ".join(f"--model {run}" for run in runs[:2])
    what = "runs" if len(runs) > 1 else "run"
    return f"{folder} holds {len(runs)} {what}, not one model: pick one, e.g. {named}"
