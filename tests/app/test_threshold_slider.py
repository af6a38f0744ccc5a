"""The pages' confidence threshold starts at the chosen model's own (its recorded calibration,
else the shipped model's 0.72), says where it comes from, and follows a change of model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from asl_core.app.model_catalog import DEFAULT_MODEL_NAME, discover_models
from asl_core.inference.predictor import default_model_path
from tests.helpers.checkpoints import copy_shipped, edit_meta
from tests.helpers.photos import massey_photo

TIMEOUT_S = 90

STRICT_FITTED_ON = "3 people it never trained on, P1, P2, P3: 480 validation photos"

NOTE = "its validation photos are of 5 people it also trained on (random split)"


def calibrated_like(extra: dict[str, Any], **changes: Any) -> None:
    extra["calibration"] = {**extra["calibration"], **changes}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs: one recording a threshold of 0.9475 (answered at 0.95), one recording none
    (with the reason its run gave), and one whose record is damaged (left out of the list)."""
    root = tmp_path_factory.mktemp("runs")
    strict = copy_shipped(root / "strict-run", "checkpoint")
    edit_meta(
        strict,
        lambda raw: calibrated_like(raw["extra"], threshold=0.9475, fitted_on=STRICT_FITTED_ON),
    )
    plain = copy_shipped(root / "plain-run", "checkpoint")

    def none(raw: dict[str, Any]) -> None:
        raw["extra"].pop("calibration")
        raw["extra"]["calibration_note"] = NOTE

    edit_meta(plain, none)
    damaged = copy_shipped(root / "damaged-run", "checkpoint")
    edit_meta(damaged, lambda raw: calibrated_like(raw["extra"], threshold=float("nan")))
    return root


def key(runs: Path, run: str) -> str:
    return str((runs / run / "checkpoint.json").resolve())


@pytest.fixture
def no_webrtc_session() -> Iterator[None]:
    # AppTest cannot host a WebRTC stream; without a session the live page renders, never playing.
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


def open_page(page: str, runs: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ASL_RUNS_DIR", str(runs))
    app = AppTest.from_file(page, default_timeout=TIMEOUT_S).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def threshold_slider(app: AppTest) -> Any:
    (slider,) = [s for s in app.sidebar.slider if s.label == "Confidence threshold"]
    return slider


def test_a_damaged_record_keeps_a_run_out_of_the_list(runs: Path) -> None:
    listed = {choice.name: choice for choice in discover_models(runs, default_model_path())}
    assert set(listed) == {DEFAULT_MODEL_NAME, "strict-run", "plain-run"}
    assert (listed["strict-run"].threshold, listed["plain-run"].threshold) == (0.95, 0.72)
    assert listed[DEFAULT_MODEL_NAME].threshold == 0.72


def test_classify_starts_at_the_chosen_models_threshold_and_follows_a_change(
    runs: Path, monkeypatch: pytest.MonkeyPatch, massey_root: Path
) -> None:
    app = open_page("pages/1_Classify.py", runs, monkeypatch)
    slider = threshold_slider(app)
    assert slider.value == 0.72
    assert slider.help.endswith(
        "Starts at 0.72: this model's calibration (leave people out: 5 folds, 12 people): "
        "answers at or above it were 95% right, 81% of photos answered."
    )
    app.sidebar.selectbox[0].set_value(key(runs, "strict-run")).run()
    assert not app.exception
    slider = threshold_slider(app)
    assert slider.value == 0.95
    assert slider.help == (
        "Below this confidence the answer is 'Unsure' (with the best guess). Starts at 0.95: "
        f"this model's calibration ({STRICT_FITTED_ON}): answers at or above it were 95% right, "
        "81% of photos answered."
    )
    # The page answers at it: a V read 88% sure is unsure at 0.95, sure at the shipped 0.72.
    photo = massey_photo(massey_root, "v", "hand2").read_bytes()
    app.file_uploader[0].set_value([("v.jpg", photo, "image/jpeg")]).run()
    assert not app.exception
    assert "confident (threshold" not in " ".join(c.value for c in app.caption)
    assert any("Unsure" in md.value for md in app.markdown if "asl-answer" in md.value)
    threshold_slider(app).set_value(0.7).run()
    assert any(">V<" in md.value for md in app.markdown if "asl-answer" in md.value)
    # Moved by hand, then another model: its own threshold again, and its reason.
    app.sidebar.selectbox[0].set_value(key(runs, "plain-run")).run()
    slider = threshold_slider(app)
    assert slider.value == 0.72
    assert slider.help.endswith(
        f"Starts at 0.72: the shipped model's default (0.72): this model records no "
        f"calibration ({NOTE})."
    )


def test_live_starts_at_the_chosen_models_threshold(
    runs: Path, monkeypatch: pytest.MonkeyPatch, no_webrtc_session: None
) -> None:
    app = open_page("pages/2_Live.py", runs, monkeypatch)
    assert threshold_slider(app).value == 0.72
    app.sidebar.selectbox[0].set_value(key(runs, "strict-run")).run()
    assert not app.exception
    slider = threshold_slider(app)
    assert slider.value == 0.95 and "Starts at 0.95: this model's calibration (3 people" in (
        slider.help
    )


def test_practice_reads_at_the_chosen_models_threshold(
    runs: Path, monkeypatch: pytest.MonkeyPatch, no_webrtc_session: None
) -> None:
    """Practice has no slider: its recogniser reads at the chosen model's threshold."""
    app = open_page("pages/5_Practice.py", runs, monkeypatch)

    def threshold() -> float:
        return app.session_state["practice_session"].recognizer.settings.threshold

    assert threshold() == 0.72
    (model,) = [box for box in app.sidebar.selectbox if box.label == "Model"]
    model.set_value(key(runs, "strict-run")).run()
    assert not app.exception
    assert threshold() == 0.95
