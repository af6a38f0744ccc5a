"""The Capture page under Streamlit's AppTest, with real photos from ../shared/data.

- Uploads go through `st.file_uploader`, which AppTest drives.
- `st.camera_input`: AppTest in Streamlit 1.60 has no driver for it (element_tree.py maps no
  `camera_input` element; it shows up as an UnknownElement that cannot be given a value). The
  page's own snapshot path is driven instead by patching `st.camera_input` to return a real
  `UploadedFile` holding a real photo, exactly what the widget returns after a snapshot.
- The live camera cannot stream under AppTest (NOTES): with
  `streamlit_webrtc.component.get_this_session_info` patched to None the page renders, never
  playing; the frame callback itself is tested in test_capture.py.
- Personalisation starts from a small base (the shipped model cut down to four classes, through
  ASL_DEFAULT_MODEL) so that the replay and reference photos stay few.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import cv2
import numpy as np
import pytest
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

from asl_core.app.classify import UPLOAD_MAX_MB
from asl_core.capture.names import FolderLockedError
from asl_core.capture.store import NO_HAND_MESSAGE, CaptureStore
from asl_core.settings import REPO_ROOT
from asl_core.training.jobs import personalise_job
from tests.helpers.captures import capture_real_photos, cut_down_checkpoint
from tests.helpers.photos import massey_photo
from tests.helpers.training import HeldAfterFirstEpoch

PAGE = str(REPO_ROOT / "pages" / "4_Capture.py")


TIMEOUT_S = 120  # the first run imports torch, MediaPipe and streamlit-webrtc


@pytest.fixture(scope="module")
def no_webrtc_session() -> Iterator[None]:
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


@pytest.fixture(scope="module")
def small_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_down_checkpoint(tmp_path_factory.mktemp("page-base"), ["A", "B", "C", "L"])


@pytest.fixture
def folders(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    small_base: Path,
    no_webrtc_session: None,
) -> dict[str, Path]:
    paths = {"captures": tmp_path / "captures", "runs": tmp_path / "runs"}
    monkeypatch.setenv("ASL_CAPTURE_DIR", str(paths["captures"]))
    monkeypatch.setenv("ASL_RUNS_DIR", str(paths["runs"]))
    monkeypatch.setenv("ASL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "page-cache"))
    monkeypatch.setenv("ASL_DEFAULT_MODEL", str(small_base))
    # The run folder is what the app reads; W&B offline logging is tested with training.
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return paths


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(signer: str | None = "Ann", *, multipage: bool = False) -> AppTest:
    """The Capture page; `multipage` opens the app at Home and navigates there, so that the
    test can go on to other pages in the same session (from the page alone it cannot)."""
    if multipage:
        at = AppTest.from_file(str(REPO_ROOT / "Home.py"), default_timeout=TIMEOUT_S)
        at = ok(at.switch_page("pages/4_Capture.py").run())
    else:
        at = ok(AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run())
    if signer is not None:
        ok(at.sidebar.text_input(key="capture_signer").input(signer).run())
    return at


def by_label(elements: Any, label: str) -> Any:
    found = [element for element in elements if element.label == label]
    assert found, f"no element labelled {label!r} in {[e.label for e in elements]}"
    return found[0]


def texts(elements: Any) -> str:
    return "\n".join(str(element.value) for element in elements)


def manifest(folder: Path) -> list[dict[str, str]]:
    path = folder / "MANIFEST.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def choose(at: AppTest, mode: str, sign: str) -> AppTest:
    """The sign first (the ways to capture show once one is chosen), then the way."""
    ok(at.selectbox(key="capture_label").set_value(sign).run())
    return ok(at.radio(key="capture_mode").set_value(mode).run())


def test_the_page_asks_for_the_signers_name_first(folders: dict[str, Path]) -> None:
    at = open_page(signer=None)
    assert at.title[0].value == "Capture your own signs"
    assert "Type your name in the sidebar" in texts(at.info)
    assert not [radio for radio in at.radio if radio.label == "How"]
    ok(at.sidebar.text_input(key="capture_signer").input("me/you").run())
    assert "signer name" in texts(at.sidebar.error)


def test_uploaded_real_photos_are_saved_once_with_the_signer(
    folders: dict[str, Path], massey_root: Path
) -> None:
    at = choose(open_page(), "Upload photos", "B")
    grey = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    files = [
        ("b1.jpeg", massey_photo(massey_root, "b", "hand2").read_bytes(), "image/jpeg"),
        ("b2.jpeg", massey_photo(massey_root, "b", "hand3").read_bytes(), "image/jpeg"),
        ("wall.png", grey, "image/png"),
    ]
    ok(at.file_uploader(key="capture_uploads").set_value(files).run())
    assert "Saved 2 of 3 photos as B." in texts(at.success)
    assert f"wall.png: {NO_HAND_MESSAGE}" in texts(at.warning)
    rows = manifest(folders["captures"])
    assert [(row["label"], row["signer"]) for row in rows] == [("B", "Ann"), ("B", "Ann")]
    table = at.dataframe[0].value
    assert table.to_dict("records") == [
        {"sign": "B", "photos": 2, "kind": "built-in", "signers": "Ann"}
    ]
    ok(at.run())  # Streamlit hands the same uploads back on every rerun: not saved again
    assert len(manifest(folders["captures"])) == 2


def camera_photo(data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec("snap-1", "image.jpg", "image/jpeg", data), FileURLs())


def test_a_camera_snapshot_with_a_hand_is_saved_once(
    folders: dict[str, Path], massey_root: Path
) -> None:
    taken: list[UploadedFile] = []  # no photo until the sign is chosen, then one photo

    def camera(label: str, **kwargs: Any) -> UploadedFile | None:
        return taken[0] if taken else None

    with mock.patch("streamlit.camera_input", side_effect=camera) as widget:
        at = choose(open_page(), "Snapshot", "L")
        assert "Each photo with a hand in it is saved" in texts(at.caption)
        taken.append(camera_photo(massey_photo(massey_root, "l", "hand2").read_bytes()))
        ok(at.run())
        assert widget.call_args.args[0] == "Sign **L** and take a photo"
        assert "Saved as L" in texts(at.success)
        ok(at.run())  # the widget keeps returning the same photo on every rerun
    assert [row["label"] for row in manifest(folders["captures"])] == ["L"]


def test_a_snapshot_without_a_hand_is_not_saved(folders: dict[str, Path]) -> None:
    grey = cv2.imencode(".jpg", np.full((480, 640, 3), 90, np.uint8))[1].tobytes()
    with mock.patch("streamlit.camera_input", return_value=camera_photo(grey)):
        at = choose(open_page(), "Snapshot", "B")
    assert NO_HAND_MESSAGE in texts(at.warning)
    assert manifest(folders["captures"]) == []


def test_bad_sign_names_get_clear_messages(folders: dict[str, Path]) -> None:
    at = open_page()
    ok(by_label(at.radio, "What will you sign?").set_value("A new sign").run())
    name = at.text_input(key="capture_new_label")
    for typed, message in (
        ("../secret", "no dots or slashes"),
        ("x" * 40, "use at most 32"),
        ("  -- ", "at least one letter or digit"),
    ):
        ok(name.input(typed).run())
        assert message in texts(at.error), typed
        assert not [radio for radio in at.radio if radio.label == "How"]
    ok(name.input("hello sign").run())
    assert not at.error
    assert by_label(at.radio, "How").value == "Live camera"


def test_a_folder_that_cannot_be_written_gets_a_clear_message(folders: dict[str, Path]) -> None:
    folders["captures"].mkdir()
    (folders["captures"] / "file.txt").write_text("a file, not a folder")
    at = open_page()
    typed = str(folders["captures"] / "file.txt" / "x")
    ok(at.sidebar.text_input(key="capture_folder").input(typed).run())
    assert "cannot be written" in texts(at.error)
    assert not [radio for radio in at.radio if radio.label == "How"]


def test_a_folder_outside_the_configured_ones_is_refused(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    at = open_page()
    ok(at.sidebar.text_input(key="capture_folder").input(str(outside)).run())
    assert "outside the folders this app may use" in texts(at.error)
    assert not [radio for radio in at.radio if radio.label == "How"]
    assert not outside.exists()  # nothing made there


def test_a_dataset_folder_is_refused_and_left_alone(
    folders: dict[str, Path], tmp_path: Path, massey_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data" / "massey36"  # a copy of the real manifest and two of its photos
    rows = (massey_root / "MANIFEST.csv").read_text(encoding="utf-8").splitlines()[:3]
    for row in rows[1:]:
        photo = data / row.split(",")[0]
        photo.parent.mkdir(parents=True, exist_ok=True)
        photo.write_bytes((massey_root / row.split(",")[0]).read_bytes())
    (data / "MANIFEST.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = sorted((p, p.read_bytes()) for p in data.rglob("*") if p.is_file())
    monkeypatch.setenv("ASL_DATA_DIR", str(data.parent))
    at = open_page()
    ok(at.sidebar.text_input(key="capture_folder").input(str(data)).run())
    assert "was not made by the Capture page" in texts(at.error)
    assert not at.checkbox and not [radio for radio in at.radio if radio.label == "How"]
    assert sorted((p, p.read_bytes()) for p in data.rglob("*") if p.is_file()) == before


def test_a_folder_another_session_writes_to_is_refused(folders: dict[str, Path]) -> None:
    other = CaptureStore(folders["captures"], who="Bob")
    other.claim()  # what its first photo does: folder checked, claim taken
    at = open_page()
    assert "Another session (Bob) is saving photos" in texts(at.error)
    other.release()
    ok(at.run())
    assert not at.error


def test_the_same_person_in_a_new_tab_takes_over(
    folders: dict[str, Path], massey_root: Path
) -> None:
    old_tab = CaptureStore(folders["captures"], who="Ann")
    old_tab.claim()  # Ann's earlier tab, closed a moment ago: its claim is still fresh
    at = choose(open_page("Ann"), "Upload photos", "B")
    assert not at.error
    photo = ("b.jpeg", massey_photo(massey_root, "b", "hand2").read_bytes(), "image/jpeg")
    ok(at.file_uploader(key="capture_uploads").set_value([photo]).run())
    assert "Saved 1 of 1 photos as B." in texts(at.success)
    with pytest.raises(FolderLockedError, match=r"Another session \(Ann\)"):
        old_tab.claim()  # had the old tab been open after all, it now stops writing


def test_live_mode_shows_the_camera_and_waits_for_start(folders: dict[str, Path]) -> None:
    at = choose(open_page(), "Live camera", "B")
    assert len(at.get("component_instance")) == 1  # the webrtc player
    start = by_label(at.button, "Start capturing B")
    assert start.disabled  # the stream is not playing under AppTest
    assert "Press START under the video first." in texts(at.caption)
    labels = [slider.label for slider in at.slider]
    assert labels[:3] == ["Photos per second", "Photos to take", "Countdown (s)"]


def test_bad_captures_can_be_deleted_from_the_page(
    folders: dict[str, Path], massey_root: Path
) -> None:
    store = capture_real_photos(folders["captures"], massey_root, {"B": ("b", 2)})
    first, second = store.captures()
    at = open_page()
    assert by_label(at.expander, "B: 2 photos")
    ok(at.checkbox(key=f"delete:{first.path}").check().run())
    ok(by_label(at.button, "Delete 1 selected").click().run())
    assert [row["path"] for row in manifest(folders["captures"])] == [second.path]
    assert not (folders["captures"] / first.path).exists()


def training_bars(at: AppTest) -> list[str]:
    """The text of each personalisation progress bar on the page (AppTest has no accessor for
    st.progress; the live capture's bar is left out)."""
    texts = [bar.proto.text for bar in at.get("progress")]
    return [text for text in texts if text.startswith(("Training", "Finding hands", "Scoring"))]


def test_personalising_goes_on_after_the_page_is_left(
    folders: dict[str, Path], massey_root: Path
) -> None:
    """Train, leave for the Runs page while it trains (the run is listed running), look in from
    a second tab (the same progress), come back when it is done: the result, the run listed
    finished, and the new model preselected on the Classify page. The job is held after its
    first epoch until the test has looked, so that it is surely still running then."""
    plan = {"HELLO-SIGN": ("5", 8), "THANKS-SIGN": ("y", 8)}
    capture_real_photos(folders["captures"], massey_root, plan)
    held = HeldAfterFirstEpoch()
    with mock.patch("asl_core.training.jobs.personalise", held), held.releasing():
        at = open_page(multipage=True)
        assert by_label(at.selectbox, "Start from").value  # the (cut-down) shipped model
        ok(by_label(at.number_input, "Photos of other people per sign (against forgetting)")
           .set_value(3).run())  # fmt: skip
        ok(by_label(at.slider, "Epochs").set_value(10).run())
        ok(by_label(at.button, "Train on my captures").click().run())
        assert held.reached.wait(TIMEOUT_S)
        job = personalise_job(folders["captures"])
        assert job is not None and job.status().running
        ok(at.run())  # the page while it trains
        assert training_bars(at)[0].startswith("Training: epoch 1/10, held-back accuracy")
        assert "It trains in the background: you can leave this page" in texts(at.caption)
        assert by_label(at.button, "Train on my captures").disabled
        # Leave: the Runs page lists the run as running.
        ok(at.switch_page("pages/3_Runs.py").run())
        (run_dir,) = [p for p in folders["runs"].iterdir() if "personalise" in p.name]
        table = at.dataframe[0].value.set_index("name")
        assert table.loc[run_dir.name, "status"] == "running"
        # Another tab of the same folder sees the same job, and cannot start a second one.
        other = open_page("Ann")
        assert training_bars(other)[0].startswith("Training: epoch 1/10")
        assert by_label(other.button, "Train on my captures").disabled
        held.release()
        status = job.wait(TIMEOUT_S)
    assert status.state == "finished", status.error
    ok(at.run())  # still on the Runs page
    assert at.dataframe[0].value.set_index("name").loc[run_dir.name, "status"] == "finished"
    ok(at.switch_page("pages/4_Capture.py").run())  # back, with the name typed before
    assert at.sidebar.text_input(key="capture_signer").value == "Ann"
    success = texts(at.success)
    assert "Your signs: 0% → " in success and "(4 held-back photos in 2 later bursts)" in success
    assert "Other people's signs:" in success
    table = at.table[0].value
    assert list(table.columns) == ["Before", "After"]
    assert list(table.index) == [
        "Your signs (4 held-back photos in 2 later bursts)",
        "Other people's signs (20 photos of massey36 signer hand5)",  # 5 of each of 4 signs
    ]
    checkpoint = run_dir / "checkpoint.json"
    assert at.session_state["selected_checkpoint"] == str(checkpoint)
    assert "its model is selected on the Classify and Live pages" in texts(at.caption)
    assert not training_bars(at)
    # In the same session the Classify page now offers and preselects the new model.
    ok(at.switch_page("pages/1_Classify.py").run())
    assert at.title[0].value == "Classify a photo"
    assert by_label(at.sidebar.selectbox, "Model").value == str(checkpoint.resolve())
    assert "6 classes" in texts(at.sidebar.caption)  # 4 shipped + HELLO-SIGN + THANKS-SIGN


def test_a_personalisation_that_cannot_check_anything_says_what_to_capture(
    folders: dict[str, Path], massey_root: Path
) -> None:
    """Every sign in one burst: the job ends at once, and the page says why and what to do."""
    one_burst = ("hand1",)
    capture_real_photos(folders["captures"], massey_root, {"B": ("b", 3)}, massey_signers=one_burst)
    at = open_page()
    ok(by_label(at.button, "Train on my captures").click().run())
    job = personalise_job(folders["captures"])
    assert job is not None and job.wait(TIMEOUT_S).state == "failed"
    ok(at.run())
    assert "every sign was captured in one burst" in texts(at.error)
    assert not folders["runs"].exists()  # no half run


LIVE_PHOTO = ("L", "L1330.jpg")  # a grassknoted photo MediaPipe tracks in video mode (e2e live)


IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


@pytest.mark.e2e
@pytest.mark.slow
def test_live_capture_in_chromium_saves_hand_frames_at_the_rate(
    tmp_path: Path, letters_root: Path
) -> None:
    """START the webcam (Chromium's fake camera plays real photos of a hand), then Start
    capturing: 30 frames with a hand are saved, at most 3 a second, under a new sign's name."""
    from tests.helpers.browser import (
        assert_no_exception,
        free_port,
        launch_browser,
        require_chromium,
        start_app,
        wait_for_app,
    )
    from tests.helpers.clips import build_spelling_clip

    chromium = require_chromium()
    clip = tmp_path / "hand.mjpeg"
    letter, photo = LIVE_PHOTO
    build_spelling_clip(
        letter,
        path=clip,
        photo_for=lambda _: letters_root / "images" / letter / photo,
        letter_s=10.0,
        gap_s=0.0,
        lead_s=0.0,
        hand_fraction=0.8,
    )
    captures = tmp_path / "captures"
    env = {"ASL_CAPTURE_DIR": str(captures), "ASL_CACHE_DIR": str(tmp_path / "cache")}
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with (
        start_app(free_port(), env=env) as url,
        launch_browser(flags, executable=chromium) as browser,
    ):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Capture", wait_until="domcontentloaded")
        wait_for_app(page, timeout_s=90)
        name = page.get_by_role("textbox", name="Your name")
        name.fill("Ann")
        name.press("Enter")
        wait_for_app(page)
        page.get_by_text("A new sign").click()
        wait_for_app(page)
        sign = page.get_by_role("textbox", name="Name of the new sign")
        sign.fill("WAVE")
        sign.press("Enter")
        wait_for_app(page)
        page.frame_locator(IFRAME).get_by_role("button", name="START").click(timeout=60_000)
        start = page.get_by_role("button", name="Start capturing WAVE")
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some("
            "b => b.innerText.includes('Start capturing WAVE') && !b.disabled)",
            timeout=60_000,
        )
        start.click()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(manifest(captures)) < 30:
            page.wait_for_timeout(500)
        page.get_by_text("Done: saved 30 photos of WAVE.").wait_for(timeout=15_000)
        wait_for_app(page)  # the page reruns once when done, to list the new photos
        assert_no_exception(page)
        # ...and the camera is still on: the rerun must not remount the player.
        stop = page.frame_locator(IFRAME).get_by_role("button", name="STOP")
        assert stop.is_visible()
        page.get_by_text("WAVE: 30 photos").first.wait_for(timeout=15_000)
        page.screenshot(path=str(tmp_path / "capture.png"))
    rows = manifest(captures)
    assert len(rows) == 30
    assert {(row["label"], row["signer"]) for row in rows} == {("WAVE", "Ann")}
    per_second = Counter(row["time"] for row in rows)  # the time column has whole seconds
    assert max(per_second.values()) <= 4, per_second  # 3 a second (+1 straddling a second)
    assert all((captures / row["path"]).is_file() for row in rows)


def test_the_capture_uploader_has_the_classify_limit_and_judges_files_by_content(
    folders: dict[str, Path], massey_root: Path
) -> None:
    """Same uploader rule as Classify: 100 MB, no file-type filter; a text file comes through
    and is refused by its content, with the photo beside it saved."""
    at = choose(open_page(), "Upload photos", "B")
    uploader = at.file_uploader(key="capture_uploads")
    assert uploader.proto.max_upload_size_mb == UPLOAD_MAX_MB == 100
    assert list(uploader.proto.type) == []
    files = [
        ("notes.txt", b"my notes about signing\n", "text/plain"),
        ("b1.jpeg", massey_photo(massey_root, "b", "hand2").read_bytes(), "image/jpeg"),
    ]
    ok(uploader.set_value(files).run())
    assert "Saved 1 of 2 photos as B." in texts(at.success)
    assert "notes.txt: This file is not an image" in texts(at.warning)
    assert len(manifest(folders["captures"])) == 1


def test_no_sign_is_chosen_for_the_user_and_the_count_follows_the_uploads(
    folders: dict[str, Path], massey_root: Path
) -> None:
    at = open_page()
    sign = at.selectbox(key="capture_label")
    assert sign.value is None and sign.placeholder == "Choose the sign first"
    assert "Choose the sign first: nothing is saved until then." in texts(at.info)
    assert not at.file_uploader and not [radio for radio in at.radio if radio.label == "How"]
    at = choose(at, "Upload photos", "B")
    assert "**B**: 0 photos so far." in texts(at.caption)
    files = [
        ("b1.jpeg", massey_photo(massey_root, "b", "hand2").read_bytes(), "image/jpeg"),
        ("b2.jpeg", massey_photo(massey_root, "b", "hand3").read_bytes(), "image/jpeg"),
    ]
    ok(at.file_uploader(key="capture_uploads").set_value(files).run())
    assert "Saved 2 of 2 photos as B." in texts(at.success)
    assert "**B**: 2 photos so far." in texts(at.caption)
    assert [row["label"] for row in manifest(folders["captures"])] == ["B", "B"]
