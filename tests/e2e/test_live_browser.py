"""The live page in a real browser: Chromium's fake camera plays a clip of real photos spelling
two words at two letters a second, one with a double letter and one with a J, and the page
must type them exactly: once on a quiet machine and once with one CPU core kept busy by a
helper process (`tests.helpers.load.busy_cores`).

The clip is built at test time (`tests.helpers.clips`) from `grassknoted_letters` photos: the set
whose licence (reported GPL-2.0) allows showing it in the README screenshot this test saves
(the Massey photos are not to be redistributed). Each letter is on screen 0.5 s; the second L
of CALL slides the photo half a hand sideways first (a double letter); the J is the I photo
moved along a J by its little fingertip in 0.4 s. 1.5 s of no hand between words, 3 s before
the first word (the first frames reach the page 1-3 s after START, so the first letter is
not cut). The photos were checked to be read right by the shipped model at 0.93 or more in
video mode.

Chromium loops the clip, so the text keeps growing "JAB CALL JAB CALL ...": the test waits
for two passes and asserts that the FIRST is exact on the quiet machine, and one of the first
three exact with a core busy, in a second session if the first had none (the clip starts when
START is pressed,
and its 3 s lead-in covers the 0.5-3 s the video takes to reach the page), and that no word
typed anywhere has a letter the clip does not show. The first pass used to lose the letter
after the J: the word list for suggestions was loaded on the first typed letter and stopped
the frame callback twice for 0.5 s (see `LiveSession`); the page now reports its longest
pause between frames, recorded here. The page's frames per second, read rate, longest pause
and the text go to bench/results/live_browser.json, one entry per load (bench/live.py
reports them).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.helpers.load import busy_cores

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORDS = ("JAB", "CALL")
EXPECTED = " ".join(WORDS)
# grassknoted_letters/images/<letter>/<file>. Chosen among a third of each letter's photos as
# the ones MediaPipe finds from scratch and the shipped model reads at >= 0.9 even blurred
# (sigma 2), as a JPEG of quality 10 and at a third of the resolution: the browser's VP8
# encoder sends a soft picture for a moment after the scene changes from no hand to a hand.
# J is drawn with the I photo (asl_core.inference.motion reads J from the path).
PHOTOS = {
    "C": "C1258.jpg",
    "A": "A1589.jpg",
    "B": "B1070.jpg",
    "L": "L1330.jpg",
    "I": "I1885.jpg",
}
LETTER_S = 0.5  # two letters a second
HAND_FRACTION = 0.8  # these photos show arm and room around the hand: let it fill the frame
SPELL_TIMEOUT_S = 60.0
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "live.png"
RESULT = REPO_ROOT / "bench" / "results" / "live_browser.json"
READ_FPS = re.compile(r"Read ([\d.]+) fps")
PAUSE = re.compile(r"longest pause between frames ([\d.]+) s \((\d+) over")
STAGE_MS = re.compile(r"(\w+) ([\d.]+) ms")


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def clip(letters_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "spelling.y4m"
    build_spelling_clip(
        " ".join(WORDS),
        path=path,
        photo_for=lambda letter: letters_root / "images" / letter / PHOTOS[letter],
        letter_s=LETTER_S,
        gap_s=1.5,
        lead_s=3.0,
        hand_fraction=HAND_FRACTION,
    )
    return path


@pytest.fixture(scope="module")
def app_url(chromium: str) -> Iterator[str]:
    with start_app(free_port()) as url:
        yield url


def read_stats(page: Any) -> dict[str, Any] | None:
    """The fps metric and the timing caption, as numbers."""
    timings = inner_text(page, ".st-key-live-timings")
    fps = inner_text(page, '.st-key-live-fps [data-testid="stMetricValue"]').strip()
    if not timings or not fps:
        return None
    read = READ_FPS.search(timings)
    pause = PAUSE.search(timings)
    return {
        "callback_fps": float(fps),
        "read_fps": float(read.group(1)) if read else None,
        "longest_pause_s": float(pause.group(1)) if pause else None,
        "stalls": int(pause.group(2)) if pause else None,
        "stage_ms": {name: float(ms) for name, ms in STAGE_MS.findall(timings)},
    }


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the page's figures once the rate has settled, and how busy the machine was
    (other work on it shows in these figures)."""
    steady = samples[len(samples) // 3 :] or samples
    load = {"load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    if not steady:
        return {"samples": 0, **load}
    stages = {name for sample in steady for name in sample["stage_ms"]}
    pauses = [s["longest_pause_s"] for s in samples if s["longest_pause_s"] is not None]
    stalls = [s["stalls"] for s in samples if s["stalls"] is not None]
    return {
        "longest_pause_s": max(pauses) if pauses else None,  # over the whole stream
        "stalls": max(stalls) if stalls else None,  # pauses over asl_core.app.live.STALL_S
        "callback_fps_median": round(statistics.median(s["callback_fps"] for s in steady), 1),
        "read_fps_median": round(
            statistics.median(s["read_fps"] for s in steady if s["read_fps"] is not None), 1
        ),
        "stage_ms_median": {
            name: round(
                statistics.median(s["stage_ms"][name] for s in steady if name in s["stage_ms"]), 2
            )
            for name in sorted(stages)
        },
        "samples": len(steady),
        **load,
    }


def check_word_help(page: Any) -> dict[str, Any]:
    """Stop the video, then use word help as a person would: click the first suggestion (it
    replaces the last word) and Speak (the browser's speech synthesis is replaced by a
    recorder, so the test hears what would be said; nothing leaves the browser)."""
    page.frame_locator(IFRAME).get_by_role("button", name="STOP").click()
    page.wait_for_timeout(1500)
    wait_for_app(page)
    suggestions = page.locator(".st-key-live-suggestions button")
    suggestions.first.wait_for(timeout=15_000)
    chosen = suggestions.first.inner_text().strip()
    suggestions.first.click()
    wait_for_app(page)
    page.wait_for_timeout(1000)
    text = inner_text(page, ".st-key-live-text code").strip()
    speak = next(
        (f for f in page.frames if f.evaluate("() => !!document.getElementById('speak')")), None
    )
    assert speak is not None, "no Speak button on the page"
    speak.evaluate(
        "() => { window.__spoken = []; window.speechSynthesis.speak = "
        "(u) => window.__spoken.push(u.text); }"
    )
    speak.click("#speak")
    spoken = speak.evaluate("() => window.__spoken")
    return {"suggestion": chosen, "text": text, "spoken": spoken}


def is_subsequence(typed: str, word: str) -> bool:
    letters = iter(word)
    return all(letter in letters for letter in typed)


def spell_in_browser(
    chromium: str, clip: Path, app_url: str, *, check_help: bool = False, passes: int = 2
) -> dict[str, Any]:
    """Open the live page, press START, wait until `passes` passes of the clip are typed, or
    fewer when a later one than the first is exact; the page's figures (and word help's, if
    asked)."""
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with launch_browser(flags, executable=chromium) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{app_url}/Live", wait_until="domcontentloaded")
        page.get_by_text("Spelled text").wait_for(timeout=90_000)
        wait_for_app(page)
        assert_no_exception(page)

        start_button = page.frame_locator(IFRAME).get_by_role("button", name="START")
        start_button.wait_for(timeout=60_000)
        started = time.monotonic()
        start_button.click()

        samples: list[dict[str, Any]] = []
        text = ""
        first_frame_s = None
        deadline = started + SPELL_TIMEOUT_S
        while time.monotonic() < deadline:
            page.wait_for_timeout(500)
            text = inner_text(page, ".st-key-live-text code")
            stats = read_stats(page)
            if stats and stats["callback_fps"]:
                samples.append(stats)
                if first_frame_s is None:
                    first_frame_s = round(time.monotonic() - started, 1)
            words = text.split()
            if len(words) > passes * len(WORDS) or (
                len(words) == passes * len(WORDS) and text.endswith(" ")
            ):
                break  # the passes typed (each pass ends with a space)
            if len(words) > len(WORDS) and f" {EXPECTED} " in f" {text}":
                break  # an exact pass after the first
        spent = time.monotonic() - started
        assert_no_exception(page)
        errors = page.get_by_text("Some frames could not be read").count()
        slow_note = inner_text(page, ".st-key-live-slow")

        # For the screenshot, a moment when a letter is steady (its overlay on the video).
        letter = '.st-key-live-letter [data-testid="stMetricValue"]'
        for _ in range(40):
            page.wait_for_timeout(250)
            if inner_text(page, letter).strip() in PHOTOS:
                break
        screenshot = page.screenshot()
        word_help = check_word_help(page) if check_help else None
    return {
        "text": text.strip(),
        "seconds": round(spent, 1),
        "first_frame_after_start_s": first_frame_s,  # seen by polling every 0.5 s
        "errors": errors,
        "slow_note": slow_note.strip() or None,
        "screenshot": screenshot,
        "word_help": word_help,
        **summarise(samples),
    }


@pytest.mark.parametrize("busy", [0, 1], ids=["quiet", "one-core-busy"])
def test_live_page_spells_two_letters_a_second(
    chromium: str, clip: Path, app_url: str, busy: int
) -> None:
    with busy_cores(busy):
        # With a core busy, the page's own refresh stalls the frames for 0.1-0.7 s at a time
        # (longest_pause_s); a stall that falls on the 0.4 s J costs it, and as the clip and
        # the refresh keep their phase, it falls there on every pass of that session. So up
        # to three passes are watched, and, if none was exact, a second session (a new
        # phase) once; one pass must be exact. Both sessions' texts are recorded.
        measured = spell_in_browser(
            chromium, clip, app_url, check_help=not busy, passes=3 if busy else 2
        )
        if busy and f" {EXPECTED} " not in f" {measured['text']} ":
            first_session = measured["text"]
            measured = spell_in_browser(chromium, clip, app_url, passes=3)
            measured["first_session_text"] = first_session
    text = measured["text"]
    figures = {k: v for k, v in measured.items() if k != "screenshot"}
    first_pass = " ".join(text.split()[: len(WORDS)])
    exact = f" {EXPECTED} " in f" {text} "
    invented = [word for word in text.split() if not any(is_subsequence(word, w) for w in WORDS)]
    record_figures(
        busy,
        {
            **figures,
            "first_pass": first_pass,
            "first_pass_exact": first_pass == EXPECTED,
            "one_pass_exact": exact,
            "invented_words": invented,
        },
    )
    if not busy and first_pass == EXPECTED:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(measured["screenshot"])
    # The first pass of the clip typed exactly ("JAB CALL" as two words, the J from motion,
    # the LL from the slide), from the first letter the page saw; with a core busy, one of
    # the first three passes (whether it was the first is recorded) ...
    if busy:
        assert exact, f"the page spelled {text!r}; {json.dumps(figures)}"
    else:
        assert first_pass == EXPECTED, f"the page spelled {text!r}; {json.dumps(figures)}"
    # ... and no word anywhere with a letter the clip does not show, or out of order (a pass
    # cut by START or a busy moment may lose letters; it must never invent them).
    assert not invented, f"{invented} in {text!r} are not what the clip spells"
    assert measured["errors"] == 0
    if measured["word_help"]:
        help_figures = measured["word_help"]
        suggestion = help_figures["suggestion"]
        assert help_figures["text"].split()[-1] == suggestion  # the last word replaced
        assert help_figures["spoken"] == [help_figures["text"].lower()]


def record_figures(busy: int, figures: dict[str, Any]) -> None:
    """This run's figures into bench/results/live_browser.json (the other load's are kept)."""
    record = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    if "quiet" not in record and "one_core_busy" not in record:
        record = {}  # an older layout
    record["words"] = EXPECTED
    record["clip"] = {"file": "spelling.y4m", "size": [640, 480], "fps": 30, "letter_s": LETTER_S}
    record["one_core_busy" if busy else "quiet"] = figures
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nlive page in Chromium, {busy} core(s) busy: {json.dumps(figures)}")


def test_snapshot_mode_reads_a_photo_in_chromium(chromium: str, clip: Path, app_url: str) -> None:
    """The fallback when WebRTC cannot connect: `st.camera_input` photos, one reading each."""
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with launch_browser(flags, executable=chromium) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{app_url}/Live", wait_until="domcontentloaded")
        page.get_by_text("Spelled text").wait_for(timeout=90_000)
        wait_for_app(page)
        page.get_by_text("Use snapshot mode").first.click()  # the sidebar toggle's label
        take = page.get_by_test_id("stCameraInputButton")
        take.wait_for(timeout=60_000)
        # The camera plays the clip from its start: wait into the first letter (lead-in 3 s).
        page.wait_for_timeout(4_000)
        take.click()
        page.get_by_text("Reading:").wait_for(timeout=60_000)
        wait_for_app(page)
        assert_no_exception(page)
        reading = page.get_by_text("Reading:").inner_text()
        assert any(letter in reading for letter in PHOTOS) or "No hand" in reading, reading
