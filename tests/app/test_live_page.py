"""The live page under Streamlit's AppTest: controls, text panel, snapshot mode.

AppTest cannot start a WebRTC stream (the browser test does that); with
`streamlit_webrtc.component.get_this_session_info` patched to None the page renders, never
playing. AppTest has no driver for `st.camera_input` in Streamlit 1.60 (it shows up as an
unknown element), so the snapshot reading itself is tested on `read_snapshot` in test_live.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from asl_core.app.live import LiveSession, signing_help
from asl_core.settings import REPO_ROOT

PAGE = str(REPO_ROOT / "pages" / "2_Live.py")


@pytest.fixture(scope="module")
def no_webrtc_session() -> Iterator[None]:
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


@pytest.fixture
def app(no_webrtc_session: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path / "no-runs"))  # the shipped model only
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def labels(elements: Any) -> list[str]:
    return [element.label for element in elements]


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def session_of(at: AppTest) -> LiveSession:
    return at.session_state["live_session"]


def test_page_shows_video_controls_and_text_panel(app: AppTest) -> None:
    assert app.title[0].value == "Live signing"
    assert len(app.get("component_instance")) == 1  # the webrtc player
    assert labels(app.sidebar.selectbox) == ["Model"]
    assert labels(app.sidebar.radio) == ["Signs to read"]
    assert app.sidebar.radio[0].value == "letters"
    assert labels(app.sidebar.slider) == [
        "Confidence threshold",
        "Smoothing window (seconds)",
        "Hold to type (seconds)",
    ]
    assert labels(app.sidebar.toggle) == [
        "Mirrored preview",
        "Left-handed signer",
        "Use snapshot mode",
    ]
    assert {"Clear", "Backspace"} <= set(labels(app.button))
    assert labels(app.get("download_button")) == ["Download"]
    assert labels(app.metric) == ["Current letter", "Frames per second"]
    assert app.expander[0].label == "Camera not starting?"


def test_camera_help_is_open_until_the_first_frame(app: AppTest) -> None:
    """The component reports a missing camera only inside itself, so the help stays open
    until a frame has come; after that it is out of the way."""
    assert app.expander[0].proto.expanded
    session_of(app).adapter.process_rgb(np.zeros((48, 64, 3), np.uint8))
    app.run()
    assert not app.expander[0].proto.expanded


def test_the_caption_says_how_to_sign_with_the_chosen_seconds(app: AppTest) -> None:
    captions = [caption.value for caption in app.caption]
    assert signing_help(session_of(app).recognizer.settings) in captions
    app.sidebar.slider[2].set_value(1.0)  # hold to type, seconds
    app.run()
    captions = [caption.value for caption in app.caption]
    assert any("about 1.1 s is enough" in caption for caption in captions)


def test_recogniser_is_made_before_start_and_kept_across_reruns(app: AppTest) -> None:
    session = session_of(app)
    assert session.recognizer.predictor.class_names  # the model is loaded already
    app.run()
    assert session_of(app) is session


def test_controls_update_the_running_recogniser(app: AppTest) -> None:
    session = session_of(app)
    app.sidebar.slider[0].set_value(0.8)
    app.sidebar.slider[1].set_value(0.5)
    app.sidebar.slider[2].set_value(1.0)
    app.sidebar.toggle[0].set_value(False)
    app.sidebar.toggle[1].set_value(True)
    app.sidebar.radio[0].set_value("all")
    app.run()
    settings = session_of(app).recognizer.settings
    assert session_of(app) is session  # same recogniser, new settings
    assert (settings.threshold, settings.window_s, settings.hold_s) == (0.8, 0.5, 1.0)
    assert not settings.mirror_preview and settings.left_handed and settings.classes == "all"
    assert session.recognizer.speller.window_s == 0.5


def test_text_panel_shows_clear_and_backspace(app: AppTest) -> None:
    session = session_of(app)
    session.recognizer.append("HI")
    app.run()
    assert app.code[0].value == "HI"
    button(app, "Backspace").click()
    app.run()
    assert app.code[0].value == "H"
    button(app, "Clear").click()
    app.run()
    assert session.recognizer.text == ""


def test_a_suggestion_click_replaces_the_word_being_spelled(app: AppTest) -> None:
    session = session_of(app)
    session.recognizer.clear()
    session.recognizer.append("HI HELO")
    app.run()
    suggestions = [b.label for b in app.button if b.key and b.key.startswith("live-suggest-")]
    assert "HELLO" in suggestions
    button(app, "HELLO").click()
    app.run()
    assert session.recognizer.text == "HI HELLO "
    assert app.code[0].value == "HI HELLO "


def test_snapshot_mode_offers_the_camera_button(app: AppTest) -> None:
    app.sidebar.toggle[2].set_value(True).run()
    assert not app.exception
    assert len(app.get("camera_input")) == 1
    assert not app.get("component_instance")  # no WebRTC player in snapshot mode
    assert "one reading" in app.info[0].value
    assert {"Clear", "Backspace"} <= set(labels(app.button))


def test_expander_button_switches_to_snapshot_mode(app: AppTest) -> None:
    button(app, "Use snapshot mode").click().run()
    assert len(app.get("camera_input")) == 1


def test_unreadable_ice_settings_are_reported_not_fatal(
    no_webrtc_session: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path / "no-runs"))
    monkeypatch.setenv("ASL_ICE_SERVERS", "[{not json")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("ICE server settings" in error.value for error in at.error)
    assert len(at.get("component_instance")) == 1  # the player is still there
