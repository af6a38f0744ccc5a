"""Streamlit resources shared by every page: the loaded models and the list of models.

Every page imports these instead of building its own, so a model is loaded once per process
(not once per page, per session or per rerun).

`get_predictor` returns a `Predictor` in image mode, which is safe to share between sessions:
its MediaPipe detector serialises calls with a lock. A live stream needs its own video-mode
detector per session (tracking state is per stream); such a page reuses the predictor's models
through `Predictor.predict_detection` and keeps its own `HandDetector(mode="video")`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import streamlit as st

from asl_core.app.model_catalog import (
    ModelChoice,
    class_filter_problem,
    discover_models,
    select_model,
)
from asl_core.inference.predictor import Predictor, default_model_path
from asl_core.labels import CLASS_FILTER_NAMES, CLASS_FILTERS, DEFAULT_CLASS_FILTER, ClassFilter
from asl_core.settings import runs_dir

if TYPE_CHECKING:
    from asl_core.app.live import LiveSession
    from asl_core.inference.stream import StreamSettings

MODEL_LIST_TTL_S = 15
"""How long the model list is kept: a run that just finished appears within this time."""


PICKER_NAME_CHARS = 24
"""About what the sidebar's selectbox shows of a name at its default width; longer names are
also written out in full under it."""


# A few models at once at most: each holds its weights and a MediaPipe graph. An evicted one is
# not closed explicitly (another session may still be using it); it is freed with its last user.
@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def get_predictor(model_paths: tuple[str, ...] = ()) -> Predictor:
    """The predictor for these checkpoints (an ensemble when several); () is the default model.

    Pass explicit paths (`ModelChoice.path`) where you can: the key is the tuple itself, so
    `()` keeps whatever default was loaded first in this process. Raises `ModelNotAvailable` or
    `CheckpointError` (not cached, so a fixed file is picked up by the next rerun).
    """
    return Predictor(list(model_paths) or None)


def predictor_for(choices: Sequence[ModelChoice]) -> Predictor:
    """`get_predictor` for the models picked in a selectbox/multiselect."""
    return get_predictor(tuple(str(choice.path) for choice in choices))


def stream_session(
    choice: ModelChoice,
    settings: StreamSettings,
    key: str,
    make: Callable[[Predictor, StreamSettings], LiveSession],
) -> LiveSession:
    """This browser session's `LiveSession` (kept in `st.session_state[key]`), made by
    `make(predictor, settings)` before START, then given the picked model and the sidebar's
    settings on every rerun. A model that cannot be loaded stops the page with the reason;
    a class filter the model cannot answer falls back to all classes, with a warning."""
    try:
        predictor = predictor_for([choice])
    except Exception as error:  # a broken checkpoint must leave the page usable
        st.error(f"The model {choice.name} cannot be loaded: {error}")
        st.stop()
    problem = class_filter_problem(predictor.class_names, settings.classes)
    if problem:
        st.warning(problem)
        settings = replace(settings, classes="all")
    session: LiveSession | None = st.session_state.get(key)
    if session is None:
        with st.spinner("Starting the hand tracker…"):
            session = make(predictor, settings)
        st.session_state[key] = session
    session.use_model(predictor, choice.key)
    session.apply(settings)
    return session


@st.cache_data(ttl=MODEL_LIST_TTL_S, show_spinner=False)
def _discover(runs_root: str, default_model: str) -> list[ModelChoice]:
    return discover_models(runs_root, default_model)


def available_models() -> list[ModelChoice]:
    """The shipped default model first, then every checkpoint under `runs_dir()` by run name.

    Keyed on the folders (from the environment), so `ASL_RUNS_DIR` / `ASL_DEFAULT_MODEL` set
    by a test or a user are honoured.
    """
    return _discover(str(runs_dir()), os.fspath(default_model_path()))


def model_picker(help: str) -> ModelChoice:
    """The sidebar's model selectbox, shared by the pages that predict.

    Preselects the checkpoint another page handed over in `st.session_state
    ["selected_checkpoint"]` (the Runs and Capture pages do); stops the page with an
    explanation when there is no model at all.
    """
    selection = select_model(available_models(), st.session_state.get("selected_checkpoint"))
    if selection.problem:
        st.warning(selection.problem)
    if not selection.choices:
        st.error(
            "No model found: the shipped default model is missing and no training run has "
            "a checkpoint. Train one with `python -m training.train`."
        )
        st.stop()
    by_key = {choice.key: choice for choice in selection.choices}
    key = st.selectbox(
        "Model",
        list(by_key),
        index=selection.index,
        format_func=lambda k: by_key[k].name,
        help=help,
    )
    if len(by_key[key].name) > PICKER_NAME_CHARS:
        # A run's name (date, time, architecture, split) is cut short in the sidebar's
        # selectbox; it is written out in full under it, where it wraps.
        st.caption(f"**{by_key[key].name}**")
    return by_key[key]


def threshold_slider(choice: ModelChoice, help: str) -> float:
    """The sidebar's confidence threshold, starting at the chosen model's own
    (`ModelChoice.threshold`: its calibration, or the shipped model's default) and saying
    where that comes from under `help`. Keyed by the model: a slider's `value` applies only on
    its first run under a key, so a new key is what makes it follow a change of model."""
    return st.slider(
        "Confidence threshold",
        min_value=0.0,
        max_value=1.0,
        value=choice.threshold,
        step=0.05,
        key=f"threshold-{choice.key}",
        help=f"{help} Starts at {choice.threshold:.2f}: {choice.threshold_source}.",
    )


def class_filter_radio(label: str, help: str | None = None) -> ClassFilter:
    """The letters / digits / both switch, the same on every page that reads signs, starting
    at `DEFAULT_CLASS_FILTER`."""
    return st.radio(
        label,
        CLASS_FILTERS,
        index=CLASS_FILTERS.index(DEFAULT_CLASS_FILTER),
        format_func=CLASS_FILTER_NAMES.get,
        help=help
        or "O/0, V/2 and W/6 are the same handshape: letters only reads them as letters "
        "(spelling words), digits only as digits.",
    )


def secrets() -> dict:
    """`st.secrets` as a dict; no secrets file is the usual case, not an error."""
    try:
        return dict(st.secrets)
    except Exception:
        return {}


def refresh_models() -> None:
    """Forget the cached model list (after training a model, or for a Refresh button)."""
    _discover.clear()
