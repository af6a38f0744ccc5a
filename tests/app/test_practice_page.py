"""The practice page under Streamlit's AppTest: levels, a teacher's list, the target and its
reference drawing, feedback, Skip, the score and snapshot mode.

As for the live page (tests/app/test_live_page.py), AppTest cannot start a WebRTC stream:
`streamlit_webrtc.component.get_this_session_info` is patched to None so that the page renders,
never playing; readings are fed to the session's drill directly, as the frame thread would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from asl_core.app.practice import PracticeRecognizer
from asl_core.inference.practice import WORDS, Drill, Reading
from asl_core.settings import REPO_ROOT

PAGE = str(REPO_ROOT / "pages" / "5_Practice.py")


@pytest.fixture(scope="module")
def no_webrtc_session() -> Iterator[None]:
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


@pytest.fixture
def app(no_webrtc_session: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path / "no-runs"))  # the shipped model only
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    assert not at.exception, at.exception
    return at


def recognizer_of(at: AppTest) -> PracticeRecognizer:
    recognizer = at.session_state["practice_session"].recognizer
    assert isinstance(recognizer, PracticeRecognizer)
    return recognizer


def drill_of(at: AppTest) -> Drill:
    drill = recognizer_of(at).drill
    assert drill is not None
    return drill


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.info, at.warning, at.success, at.error) for e in kind]
    return "\n".join(str(p) for p in parts)


def test_page_shows_a_letter_target_with_its_reference_and_the_camera(app: AppTest) -> None:
    assert app.title[0].value == "Practice"
    assert app.sidebar.radio[0].label == "Level" and app.sidebar.radio[0].value == "letters"
    assert len(app.get("component_instance")) == 1  # the webrtc player
    drill = drill_of(app)
    assert len(drill.targets) == 10 and all(len(t) == 1 for t in drill.targets)
    assert recognizer_of(app).settings.classes == "letters"
    assert f"**:blue[{drill.letter}]**" in texts(app)
    assert [m.label for m in app.metric] == ["Right first try", "Seconds per letter", "Streak"]
    assert [d.label for d in app.get("download_button")] == ["Download the score (CSV)"]


def test_the_camera_help_gives_the_live_pages_timing_rules(app: AppTest) -> None:
    """A letter counts when the speller types it, so the help under the video says what the
    Live page says: how long to hold, doubles, J and Z (was "hold each letter steady")."""
    from asl_core.app.live import how_to_sign

    assert how_to_sign(recognizer_of(app).settings) in texts(app)
    assert "about 0.3 s" in texts(app) and "J and Z are drawn in the air" in texts(app)


def test_the_reference_drawing_of_the_letter_asked_for(app: AppTest, data_root: Any) -> None:
    (image,) = app.get("image")  # drawn from the landmarks of a real training photo
    caption = image.proto.imgs[0].caption
    assert caption.startswith(f"{drill_of(app).letter}: the hand of a typical training photo")


def test_the_round_is_kept_across_reruns_and_new_round_makes_another(app: AppTest) -> None:
    drill = drill_of(app)
    app.run()
    assert drill_of(app) is drill
    button(app, "New round").click().run()
    assert drill_of(app) is not drill


def test_digits_level_reads_digits(app: AppTest) -> None:
    app.sidebar.radio[0].set_value("digits").run()
    assert not app.exception
    assert recognizer_of(app).settings.classes == "digits"
    assert sorted(drill_of(app).targets) == list("0123456789")


def test_words_level_advances_letter_by_letter(app: AppTest) -> None:
    app.sidebar.radio[0].set_value("words").run()
    drill = drill_of(app)
    word = drill.targets[0]
    assert set(drill.targets) <= set(WORDS)
    with recognizer_of(app).drill_lock:
        drill.feed(Reading(word[0], 0.9, True, True), time.monotonic(), word[0])
    app.run()
    assert f":green[{word[0]}]**:blue[{word[1]}]**" in texts(app)
    assert "Right" in texts(app)


def test_a_teachers_list_is_checked_then_used_in_order(app: AppTest) -> None:
    app.sidebar.radio[0].set_value("custom").run()
    assert "Paste a word list" in texts(app)
    app.sidebar.text_area[0].input("cat\ncafé\nit's").run()
    assert any("'café'" in e.value and "'it's'" in e.value for e in app.sidebar.error)
    app.sidebar.text_area[0].input("hi, cab\nR2D2").run()
    assert not app.exception
    assert drill_of(app).targets == ["HI", "CAB", "R2D2"]
    assert recognizer_of(app).settings.classes == "all"  # the list mixes letters and digits


def test_wrong_for_a_while_shows_what_was_read_and_a_hint(app: AppTest) -> None:
    recognizer = recognizer_of(app)
    drill = Drill(["M"])
    recognizer.start(drill)
    start = time.monotonic() - 3.0
    with recognizer.drill_lock:
        for i in range(46):
            drill.feed(Reading("N", 0.9, True, True), start + i / 15)
    app.run()
    assert drill_of(app) is drill
    assert any("reads as **N**" in w.value for w in app.warning)
    assert "two fingers" in texts(app) and "three fingers" in texts(app)


def test_skip_moves_on_and_the_score_counts_it(app: AppTest) -> None:
    drill = drill_of(app)
    first = drill.letter
    button(app, "Skip this letter").click().run()
    assert drill.letter != first and drill.summary()["skipped"] == 1
    frame = app.dataframe[0].value
    assert list(frame["target"])[:1] == [first] and list(frame["skipped"])[:1] == [1]


def test_snapshot_mode_offers_the_camera_and_no_motion_letters(app: AppTest) -> None:
    app.sidebar.toggle[2].set_value(True).run()
    assert not app.exception
    assert len(app.get("camera_input")) == 1
    assert not app.get("component_instance")
    drill = drill_of(app)
    assert drill.max_gap_s is None and not {"J", "Z"} & set(drill.targets)


def test_a_motion_letter_says_how_to_draw_it(app: AppTest) -> None:
    recognizer_of(app).start(Drill(["J"]))
    app.run()
    assert "draw a J in the air with the little finger" in texts(app)
