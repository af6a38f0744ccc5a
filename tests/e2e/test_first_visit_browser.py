"""The first visit after `make run`, in a real browser (issue 18).

- Time to first visible content on a cold start: a fresh Streamlit server (nothing imported,
  no model loaded), then the first page load, timed until the page's title is visible, and
  until the page is complete (model described, example skeletons drawn). The figures are
  printed, not asserted (run with `-s` to see them); the README quotes them.
- An upload the page cannot read is refused with its reason written on the page, where the
  uploader's own filter used to show a red chip with the reason only on mouse-over.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.browser import (
    assert_no_exception,
    free_port,
    launch_browser,
    require_chromium,
    start_app,
    wait_for_app,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VIEWPORT = {"width": 1400, "height": 900}
TITLE = '[data-testid="stMain"] h1'


def test_first_visit_paints_at_once(tmp_path: Path, data_root: Path) -> None:
    chromium = require_chromium()
    with start_app(free_port()) as url, launch_browser(executable=chromium) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.locator(TITLE).first.wait_for(state="visible", timeout=90_000)
        first_content_s = time.perf_counter() - start
        assert "ASL hand-sign recogniser" in page.locator(TITLE).first.inner_text()
        page.get_by_text("How to sign for best results").wait_for(timeout=5_000)
        page.screenshot(path=str(tmp_path / "home-first-paint.png"))
        page.get_by_text("How well it works").wait_for(timeout=90_000)
        page.locator('[data-testid="stImage"] img').nth(2).wait_for(timeout=90_000)
        complete_s = time.perf_counter() - start
        wait_for_app(page)
        assert_no_exception(page)
        print(
            f"\ncold start, first visit: first visible content {first_content_s:.2f} s, "
            f"page complete (model and skeletons) {complete_s:.2f} s"
        )


def test_a_refused_upload_says_why_on_the_page(tmp_path: Path) -> None:
    chromium = require_chromium()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    with start_app(free_port()) as url, launch_browser(executable=chromium) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/Classify", wait_until="domcontentloaded")
        uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
        uploader.wait_for(state="attached", timeout=90_000)
        wait_for_app(page)
        uploader.set_input_files(str(notes))
        reason = page.get_by_text("This file is not an image (it looks like a text file)")
        reason.wait_for(state="visible", timeout=60_000)  # in the page, not in a tooltip
        wait_for_app(page)
        assert_no_exception(page)
        page.screenshot(path=str(tmp_path / "classify-refusal.png"))
