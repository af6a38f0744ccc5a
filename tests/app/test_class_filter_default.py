"""One default class filter on every page that reads signs (issue 18: Classify answered letters
and digits while Live read letters only, so a V photo was "unsure: best guess 2" on one page and
V on the other). The default is `asl_core.labels.DEFAULT_CLASS_FILTER`, set in one place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from asl_core.labels import CLASS_FILTERS, DEFAULT_CLASS_FILTER
from asl_core.settings import REPO_ROOT

PAGES = {"Classify": "pages/1_Classify.py", "Live": "pages/2_Live.py"}


@pytest.fixture(scope="module")
def no_webrtc_session() -> Iterator[None]:
    # AppTest cannot host a WebRTC stream; without a session the live page renders, never playing.
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_starts_with_letters_from_one_place(
    page: str, no_webrtc_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path / "no-runs"))
    app = AppTest.from_file(str(REPO_ROOT / PAGES[page]), default_timeout=90).run()
    assert not app.exception, app.exception
    (switch,) = app.sidebar.radio
    assert DEFAULT_CLASS_FILTER == "letters"
    assert switch.value == DEFAULT_CLASS_FILTER
    assert list(switch.options) == ["Letters only", "Digits only", "Letters and digits"]
    assert len(switch.options) == len(CLASS_FILTERS)
