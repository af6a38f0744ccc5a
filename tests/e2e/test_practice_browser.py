"""The practice page in a real browser: a teacher's list of one word, CAB, and Chromium's fake
camera playing a clip of real photos that signs it; the drill must complete the word.

The clip is built at test time (`tests.helpers.clips`) from the grassknoted_letters photos that
tests/e2e/test_live_browser.py chose (read right by the shipped model in video mode, and
licensed to be shown in the README screenshot this test saves): each letter on screen 1 s,
1.5 s without a hand between passes, 3 s before the first (the first frames reach the page
1-3 s after START). Chromium loops the clip, so a pass cut short by START is followed by a
whole one. The screenshot is taken once the first letter is done (the word half green, the
reference drawing of the next letter beside it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.browser import (
    REPO_ROOT,
    assert_no_exception,
    free_port,
    inner_text,
    launch_browser,
    require_chromium,
    start_app,
    wait_for_app,
)
from tests.helpers.clips import build_spelling_clip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORD = "CAB"
# The same grassknoted_letters photos as tests/e2e/test_live_browser.py (see its comment).
PHOTOS = {"C": "C1258.jpg", "A": "A1589.jpg", "B": "B1070.jpg"}
HAND_FRACTION = 0.8
DONE_TIMEOUT_S = 60.0
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "practice.png"


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def clip(letters_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "practice.y4m"
    build_spelling_clip(
        WORD,
        path=path,
        photo_for=lambda letter: letters_root / "images" / letter / PHOTOS[letter],
        letter_s=1.0,
        gap_s=1.5,
        lead_s=3.0,
        hand_fraction=HAND_FRACTION,
    )
    return path


@pytest.fixture(scope="module")
def app_url(chromium: str) -> Iterator[str]:
    with start_app(free_port()) as url:
        yield url


def test_practice_page_completes_a_word_from_a_clip_of_real_photos(
    chromium: str, clip: Path, app_url: str
) -> None:
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with launch_browser(flags, executable=chromium) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{app_url}/Practice", wait_until="domcontentloaded")
        page.get_by_text("Teacher's word list").wait_for(timeout=90_000)
        wait_for_app(page)
        page.get_by_text("Teacher's word list").click()
        wait_for_app(page)
        box = page.get_by_role("textbox", name="Word list")
        box.fill(WORD.lower())
        box.press("Control+Enter")
        page.get_by_text(f"letter 1 of {WORD}").first.wait_for(timeout=30_000)
        wait_for_app(page)
        assert_no_exception(page)

        start_button = page.frame_locator(IFRAME).get_by_role("button", name="START")
        start_button.wait_for(timeout=60_000)
        start_button.click()
        started = time.monotonic()
        screenshot = None
        target = ""
        while time.monotonic() - started < DONE_TIMEOUT_S:
            page.wait_for_timeout(250)
            target = inner_text(page, ".st-key-practice-target")
            if screenshot is None and f"letter 2 of {WORD}" in target:
                page.wait_for_timeout(300)
                screenshot = page.screenshot()
            if "Done:" in target:
                break
        assert_no_exception(page)
        assert "Done:" in target, f"the drill did not finish: {target!r}"
        download = page.get_by_role("button", name="Download the score (CSV)").last
        with page.expect_download(timeout=15_000) as downloading:
            download.click()
        table = pd.read_csv(downloading.value.path())
    # The word done, and the score says so: three letters, none skipped; one row per target.
    assert "of 3 letters right first try, 0 skipped" in target
    assert list(table["target"]) == [WORD]
    assert bool(table.loc[0, "done"]) and table.loc[0, "skipped"] == 0
    if screenshot is not None:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(screenshot)
