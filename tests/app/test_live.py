"""The live page's logic without a browser: ICE servers, the frame callback, the connection
watch and its explanations, snapshot mode, and the fake-webcam clip files."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from asl_core.app.ice import (
    NO_CAMERA_HELP,
    PERMISSION_HELP,
    SNAPSHOT_HELP,
    TURN_HELP,
    ConnectionStatus,
    ConnectionWatch,
    IceConfigError,
    configured_ice_servers,
    connection_help,
    insecure_context_warning,
    is_local_host,
    rtc_configuration,
)
from asl_core.app.live import (
    LetterReadout,
    LiveFrameAdapter,
    LiveSession,
    format_stage_ms,
    letter_readout,
    read_snapshot,
    signing_help,
)
from asl_core.inference.predictor import ModelNotAvailable, Prediction, Predictor
from asl_core.inference.stream import FrameResult, StageTimer, StreamRecognizer, StreamSettings
from asl_core.inference.words import english_words
from asl_core.io.images import load_image
from asl_core.vision.overlay import overlay_text
from asl_core.vision.views import mirror_image
from tests.helpers.clips import (
    DOUBLE_SLIDE_S,
    J_PATH,
    Z_PATH,
    Segment,
    blank_frame,
    clip_frames,
    letterbox,
    massey_finder,
    read_mjpeg_frames,
    read_y4m_info,
    spelling_segments,
    write_clip,
)

TURN = {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}


def test_localhost_uses_no_ice_servers() -> None:
    for url in ("http://localhost:8501/Live", "http://127.0.0.1:8501", None):
        assert rtc_configuration(url, {}, {}) == {"iceServers": []}


def test_remote_host_without_settings_leaves_the_choice_to_streamlit_webrtc() -> None:
    assert rtc_configuration("https://asl.example.org/Live", {}, {}) is None


def test_secrets_win_over_the_environment() -> None:
    env = {"ASL_ICE_SERVERS": json.dumps([{"urls": "stun:other.example.org"}])}
    config = rtc_configuration("http://localhost:8501", {"ice_servers": [TURN]}, env)
    assert config == {"iceServers": [TURN]}


def test_ice_servers_from_json_environment() -> None:
    env = {"ASL_ICE_SERVERS": json.dumps({"iceServers": [TURN]})}
    assert rtc_configuration("https://asl.example.org", {}, env) == {"iceServers": [TURN]}


def test_turn_server_from_three_variables() -> None:
    env = {
        "ASL_TURN_URL": "turn:turn.example.org:3478, turns:turn.example.org:5349",
        "ASL_TURN_USERNAME": "user",
        "ASL_TURN_CREDENTIAL": "secret",
    }
    assert configured_ice_servers(None, env) == [
        {
            "urls": ["turn:turn.example.org:3478", "turns:turn.example.org:5349"],
            "username": "user",
            "credential": "secret",
        }
    ]


@pytest.mark.parametrize(
    "value", ["[{not json", json.dumps([{"username": "no urls"}]), json.dumps(42)]
)
def test_bad_ice_settings_are_reported(value: str) -> None:
    with pytest.raises(IceConfigError):
        configured_ice_servers({}, {"ASL_ICE_SERVERS": value})


def test_which_addresses_need_https() -> None:
    assert is_local_host("localhost:8501") and is_local_host("http://[::1]:8501/")
    assert not is_local_host("http://192.168.1.20:8501")
    assert insecure_context_warning("http://localhost:8501/Live") is None
    assert insecure_context_warning("https://asl.example.org/Live") is None
    warning = insecure_context_warning("http://192.168.1.20:8501/Live")
    assert warning and "HTTPS" in warning and "localhost" in warning


class SlowRecognizer:
    """Stands in for StreamRecognizer: each reading takes `seconds`; records what it read."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.settings = StreamSettings(mirror_preview=False)
        self.last: FrameResult | None = None
        self.timer = StageTimer()
        self.read_frames: list[int] = []
        self.timestamps: list[float] = []
        self.lite = False

    def speed_note(self) -> str | None:
        return None

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        time.sleep(self.seconds)
        self.read_frames.append(int(rgb[0, 0, 0]))  # frames are numbered in their first pixel
        self.timestamps.append(timestamp or 0.0)

    def render(self, rgb: np.ndarray, result: FrameResult, lead_s: float = 0.0) -> np.ndarray:
        return rgb

    def close(self) -> None:
        pass


def numbered_frame(number: int) -> np.ndarray:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[0, 0, 0] = number
    return frame


def mean_difference(video: av.VideoFrame, rgb: np.ndarray) -> float:
    """Mean absolute difference after sending `rgb` through the same I420 conversion."""
    expected = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    a = video.to_ndarray(format="rgb24").astype(int)
    return float(np.abs(a - expected.to_ndarray(format="rgb24").astype(int)).mean())


def test_adapter_returns_a_video_frame_of_the_same_size(massey_root: Path) -> None:
    try:
        predictor = Predictor()
    except ModelNotAvailable as error:
        pytest.skip(str(error))
    photo = load_image(massey_finder(massey_root)("L"))
    frame = av.VideoFrame.from_ndarray(letterbox(photo), format="rgb24").reformat(
        format="yuv420p"  # what aiortc's decoder hands over
    )
    frame.pts = 3000
    frame.time_base = Fraction(1, 90000)  # RTP video clock, as aiortc sets it
    adapter = LiveFrameAdapter(StreamRecognizer(predictor))
    try:
        first = adapter(frame)  # shown at once; read on the reader thread
        assert adapter.wait_idle(timeout=10)
        reading = adapter.recognizer.last
        out = adapter(frame)  # the next frame carries the first one's reading
        assert adapter.wait_idle(timeout=10)
    finally:
        adapter.close()
    for video in (first, out):
        assert isinstance(video, av.VideoFrame)
        assert (video.width, video.height) == (640, 480)
        assert video.format.name == "yuv420p"  # what the VP8 encoder takes without converting
        assert video.pts == frame.pts and video.time_base == frame.time_base
    # What comes back is the recogniser's picture: the mirrored frame with the overlay.
    assert reading is not None and reading.prediction.label == "L"
    shown = adapter.recognizer.render(frame.to_ndarray(format="rgb24"), reading)
    plain = mirror_image(frame.to_ndarray(format="rgb24"))
    assert mean_difference(out, shown) < 2  # (I420 halves colour resolution: not exact)
    assert mean_difference(first, plain) < 2  # the first frame, before any reading: no overlay
    assert mean_difference(out, plain) > 2 * mean_difference(out, shown)
    stats = adapter.stats()
    assert stats.frames == stats.read == 2 and stats.skipped == 0
    assert {"detect", "model", "overlay", "callback"} <= set(stats.stage_ms)


def test_a_slow_recogniser_never_holds_up_the_video() -> None:
    """A 30 fps camera, a recogniser that needs 200 ms a frame: every frame is returned at
    once, and the recogniser reads the newest frame each time it is free."""
    slow = SlowRecognizer(0.2)
    adapter = LiveFrameAdapter(slow)
    callback_s = []
    try:
        start = time.perf_counter()
        for number in range(60):  # two seconds of video
            due = start + number / 30
            time.sleep(max(0.0, due - time.perf_counter()))
            begin = time.perf_counter()
            shown = adapter.process_rgb(numbered_frame(number))
            callback_s.append(time.perf_counter() - begin)
            assert shown[0, 0, 0] == number  # this frame, not an older one
        assert adapter.wait_idle(timeout=5)
    finally:
        adapter.close()
    assert max(callback_s) < 0.1  # the video never waited for a 200 ms reading
    stats = adapter.stats()
    assert 6 <= stats.read <= 14  # about 2 s / 0.2 s readings
    assert stats.read + stats.skipped == stats.frames == 60
    # Each reading took the newest frame: readings are in order and never more than a couple
    # of frames old when taken (frames 0, ~6, ~12, ...).
    read = slow.read_frames
    assert read == sorted(read) and read[0] == 0 and read[-1] == 59
    assert all(b - a <= 8 for a, b in pairwise(read))


def test_frames_handed_over_as_the_reader_takes_them_are_all_read() -> None:
    """bench/live.py's "frames always waiting": `wait_taken` returns once the reader has taken
    the frame, while it is still reading it, so the next one waits in the mailbox and none is
    skipped."""
    slow = SlowRecognizer(0.05)
    adapter = LiveFrameAdapter(slow)
    try:
        for number in range(10):
            adapter.process_rgb(numbered_frame(number))
            assert adapter.wait_taken(timeout=5)
        taken_while_reading = adapter.stats().read < 10
        assert adapter.wait_idle(timeout=5)
    finally:
        adapter.close()
    assert taken_while_reading  # wait_taken did not wait for the reading itself
    assert slow.read_frames == list(range(10)) and adapter.stats().skipped == 0


def test_the_overlay_is_drawn_with_the_age_of_the_reading() -> None:
    """The callback draws the latest reading on the frame that just arrived and tells the
    recogniser how much newer that frame is (it moves a moving hand's overlay ahead)."""

    class Recorder(SlowRecognizer):
        def render(self, rgb: np.ndarray, result: FrameResult, lead_s: float = 0.0) -> np.ndarray:
            self.leads.append(lead_s)
            return rgb

    recorder = Recorder(0.0)
    recorder.leads = []
    recorder.last = FrameResult(Prediction(None, 0.0, False, False), None, 0.0, None, "")
    recorder.last.timestamp = 10.0  # the reading's frame arrived at 10.0
    adapter = LiveFrameAdapter(recorder, clock=lambda: 10.05)
    try:
        adapter.process_rgb(numbered_frame(1))
    finally:
        adapter.close()
    assert recorder.leads == [pytest.approx(0.05)]


def test_timestamps_are_arrival_times_not_reading_times() -> None:
    clock_values = iter([10.0, 10.0, 10.5, 10.5] + [11.0] * 20)
    slow = SlowRecognizer(0.0)
    adapter = LiveFrameAdapter(slow, clock=lambda: next(clock_values))
    try:
        adapter.process_rgb(numbered_frame(1))
        assert adapter.wait_idle()
        adapter.process_rgb(numbered_frame(2))
        assert adapter.wait_idle()
    finally:
        adapter.close()
    assert slow.timestamps == [10.0, 10.5]


def test_a_failing_frame_does_not_end_the_stream() -> None:
    class Broken(SlowRecognizer):
        def process(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
            raise ValueError("this model has no digits to answer")

    adapter = LiveFrameAdapter(Broken(0.0))
    frame = numbered_frame(1)
    try:
        assert adapter.process_rgb(frame).shape == frame.shape
        assert adapter.wait_idle()
        assert adapter.process_rgb(frame).shape == frame.shape  # still going
        assert adapter.wait_idle()
    finally:
        adapter.close()
    stats = adapter.stats()
    assert stats.errors == 2 and "no digits" in (stats.last_error or "")


def test_the_reader_thread_stops_when_frames_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    import asl_core.app.live as live

    monkeypatch.setattr(live, "IDLE_STOP_S", 0.2)
    adapter = LiveFrameAdapter(SlowRecognizer(0.0))
    adapter.process_rgb(numbered_frame(1))
    reader = adapter._reader
    assert reader is not None
    reader.join(timeout=3)
    assert not reader.is_alive()  # a closed tab leaves no thread behind
    adapter.process_rgb(numbered_frame(2))  # and a new frame starts a new one
    assert adapter.wait_idle() and adapter.stats().read == 2
    adapter.close()


def test_the_longest_pause_between_frames_is_measured() -> None:
    """A stall of the server (the GIL held elsewhere) shows as a pause between frames reaching
    the callback; a new stream after a stop is not a pause."""
    now = [10.0]
    adapter = LiveFrameAdapter(SlowRecognizer(0.0), clock=lambda: now[0])
    try:
        for moment in (10.0, 10.033, 10.6, 10.633, 10.8, 30.0, 30.033):
            now[0] = moment
            adapter.process_rgb(numbered_frame(1))
            assert adapter.wait_idle()
    finally:
        adapter.close()
    stats = adapter.stats()
    assert stats.longest_pause_s == pytest.approx(0.567)
    assert stats.stalls == 1  # the 0.567 s pause; 33 ms and 0.167 s are none


def test_stage_timings_read_in_pipeline_order() -> None:
    text = format_stage_ms({"overlay": 1.0, "detect": 24.26, "model": 0.4})
    assert text == "detect 24.3 ms · model 0.4 ms · overlay 1.0 ms"


def test_start_without_video_times_out() -> None:
    watch = ConnectionWatch(timeout_s=8.0)
    assert watch.status(None, now=0.0) is ConnectionStatus.IDLE
    watch.observe(playing=False, signalling=True, now=10.0)  # START pressed
    assert watch.status(None, now=15.0) is ConnectionStatus.CONNECTING
    assert watch.status(None, now=18.5) is ConnectionStatus.NO_VIDEO
    watch.observe(playing=True, signalling=True, now=19.0)  # a later rerun keeps the start
    assert watch.waited_s(now=19.0) == 9.0
    assert watch.status(last_frame_at=19.5, now=20.0) is ConnectionStatus.LIVE
    assert watch.status(last_frame_at=19.5, now=30.0) is ConnectionStatus.STOPPED
    watch.observe(playing=False, signalling=False, now=31.0)  # STOP
    assert watch.status(last_frame_at=19.5, now=31.0) is ConnectionStatus.IDLE


def test_frames_from_an_earlier_stream_do_not_count() -> None:
    watch = ConnectionWatch(timeout_s=8.0)
    watch.observe(playing=False, signalling=True, now=50.0)
    assert watch.status(last_frame_at=40.0, now=60.0) is ConnectionStatus.NO_VIDEO


def test_explanations_fit_where_the_app_runs() -> None:
    local = connection_help(
        ConnectionStatus.NO_VIDEO, url="http://localhost:8501", ice_configured=False, waited_s=9
    )
    assert "9 seconds" in local[0]
    assert PERMISSION_HELP in local and SNAPSHOT_HELP in local and TURN_HELP not in local
    assert NO_CAMERA_HELP in local  # the component's NotFoundError, named in plain words
    remote = connection_help(
        ConnectionStatus.NO_VIDEO, url="https://asl.example.org", ice_configured=False
    )
    assert TURN_HELP in remote and SNAPSHOT_HELP in remote
    plain_http = connection_help(
        ConnectionStatus.NO_VIDEO, url="http://10.0.0.5:8501", ice_configured=True
    )
    assert any("HTTPS" in line for line in plain_http)
    for status in (ConnectionStatus.IDLE, ConnectionStatus.CONNECTING, ConnectionStatus.LIVE):
        assert connection_help(status, url="http://localhost:8501", ice_configured=False) == []


@pytest.fixture(scope="module")
def live_session() -> LiveSession:
    try:
        predictor = Predictor()
    except ModelNotAvailable as error:
        pytest.skip(str(error))
    return LiveSession(predictor, StreamSettings(classes="letters"))


def test_the_word_list_is_loaded_before_start(live_session: LiveSession) -> None:
    """Loaded on the first typed letter, the word list (one json.loads holding the GIL for
    0.4-0.8 s) stopped the frame callback twice for 0.5 s right after the first letter: in
    Chromium the first pass of the clip lost the letter after the J (frames recorded at the
    callback: reads at 3.30 s, then 3.81 s, 3.89 s, then 4.40 s). The page's session loads it
    before START; the practice page, which has no word help, does not pay for it."""
    predictor = live_session.recognizer.predictor
    english_words.cache_clear()
    for word_help in (False, True):
        session = LiveSession(predictor, StreamSettings(classes="letters"), word_help=word_help)
        session.recognizer.close()
        assert english_words.cache_info().currsize == int(word_help)


def test_snapshot_reads_a_real_photo_and_adds_its_letter(
    live_session: LiveSession, massey_root: Path
) -> None:
    recognizer = live_session.recognizer
    recognizer.clear()
    photo = load_image(massey_finder(massey_root)("B"))  # a raw 400x400 Massey crop
    reading = read_snapshot(recognizer, photo, "photo-1")
    assert reading.letter == "B" and reading.prediction.confidence >= 0.6
    assert reading.overlay.shape == photo.shape
    assert "B" in reading.message
    recognizer.append(reading.letter or "")
    assert recognizer.text == "B"
    assert recognizer.last is None  # a snapshot is not a frame of the stream


def test_model_and_settings_change_without_a_new_recogniser(live_session: LiveSession) -> None:
    recognizer, original = live_session.recognizer, live_session.recognizer.predictor
    other = object()
    live_session.use_model(other, "other-model")  # type: ignore[arg-type]
    assert live_session.recognizer is recognizer and recognizer.predictor is other
    live_session.use_model(original, "default")
    live_session.apply(StreamSettings(threshold=0.9, window_s=0.5, classes="letters"))
    assert recognizer.settings.threshold == 0.9 and recognizer.speller.window_s == 0.5
    live_session.apply(StreamSettings(classes="letters"))


def test_snapshot_without_a_hand_says_so(live_session: LiveSession) -> None:
    reading = read_snapshot(live_session.recognizer, blank_frame(background=(90, 90, 90)))
    assert reading.letter is None and not reading.prediction.hand
    assert "No hand" in reading.message


def two_letter_clip() -> list:
    red = np.zeros((100, 80, 3), np.uint8)
    red[..., 0] = 200
    segments = [Segment(None, 0.5), Segment("A", 1.0, red), Segment(None, 0.2)]
    return list(clip_frames(segments, fps=30))


def test_y4m_clip_is_valid(tmp_path: Path) -> None:
    frames = two_letter_clip()
    path = tmp_path / "clip.y4m"
    assert write_clip(frames, path) == len(frames) == 51
    header = path.read_bytes().split(b"\n", 1)[0]
    assert header == b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg"
    info = read_y4m_info(path)
    assert (info.width, info.height, info.fps, info.frames) == (640, 480, 30.0, 51)
    assert info.colour_space == "420jpeg"


def test_mjpeg_clip_is_valid(tmp_path: Path) -> None:
    frames = two_letter_clip()
    path = tmp_path / "clip.mjpeg"
    assert write_clip(frames, path) == 51
    decoded = read_mjpeg_frames(path)
    assert len(decoded) == 51 and decoded[0].shape == (480, 640, 3)
    middle = decoded[30]  # the red photo, letterboxed in the centre on black
    assert middle[240, 320, 0] > 150 and middle[240, 320, 1] < 60
    assert middle[5, 5].max() < 20


def test_letterbox_keeps_the_aspect_and_centres() -> None:
    photo = np.full((400, 200, 3), 255, np.uint8)
    framed = letterbox(photo, (640, 480), hand_fraction=0.5)
    rows, cols = np.nonzero(framed[..., 0])
    assert framed.shape == (480, 640, 3)
    assert rows.max() - rows.min() + 1 == 240 and cols.max() - cols.min() + 1 == 120
    assert abs((cols.min() + cols.max()) / 2 - 319.5) <= 1


def test_spelling_segments_hold_letters_and_gap_words() -> None:
    photo = np.zeros((10, 10, 3), np.uint8)
    segments = spelling_segments(
        "hi ab", lambda _letter: photo, letter_s=1.0, gap_s=1.5, lead_s=0.5
    )
    assert [s.label for s in segments] == [None, "H", "I", None, "A", "B", None]
    assert [s.seconds for s in segments] == [0.5, 1.0, 1.0, 1.5, 1.0, 1.0, 1.5]
    assert all(s.path is None for s in segments)


def test_spelling_segments_move_for_double_and_motion_letters() -> None:
    photos = {letter: np.full((10, 10, 3), i, np.uint8) for i, letter in enumerate("HELOID")}
    segments = spelling_segments("hello jiz", photos.__getitem__, letter_s=0.5, lead_s=0)
    letters = [s for s in segments if s.label]
    assert [s.label for s in letters] == list("HELLOJIZ")
    first_l, second_l = letters[2], letters[3]
    assert first_l.path is None and second_l.path is not None  # the second L slides
    assert second_l.move_s == DOUBLE_SLIDE_S and not second_l.centre_path
    j, z = letters[5], letters[7]
    assert j.image is photos["I"] and np.array_equal(j.path, J_PATH)  # a J is an I, moving
    assert z.image is photos["D"] and np.array_equal(z.path, Z_PATH)
    assert j.move_s == pytest.approx(0.4)  # drawn in 0.8 of its 0.5 s by default


def test_word_suggestions_for_the_word_being_spelled() -> None:
    from asl_core.app.live import word_suggestions

    assert "HELLO" in word_suggestions("HI HELO")  # a double letter typed once
    assert "THANK" in word_suggestions("TAANK ")  # a fist letter misread (A for H)
    assert word_suggestions("") == [] and word_suggestions("   ") == []
    assert "CAB" not in word_suggestions("CAB")  # never the word itself


def test_speak_button_reads_the_text_in_the_browser() -> None:
    from asl_core.app.live import speak_html

    html = speak_html()
    # It reads the text the page shows (the container the page draws the text in) at the
    # click; the real-browser test clicks it and hears that text.
    assert 'const source = ".st-key-live-text code";' in html
    assert "speechSynthesis.speak" in html and "fetch(" not in html
    assert 'const source = "x<\\/script>";' in speak_html("x</script>")  # cannot close it
    assert "Nothing to speak yet" in html  # an empty text says so on the button


@pytest.mark.parametrize(
    ("state", "letter", "detail"),
    [
        ("steady", "B", "93% sure"),
        ("settling", "B?", "100%, settling"),
        ("unsure", "B?", "41%, below the threshold"),
    ],
)
def test_the_panel_says_what_the_video_overlay_says(
    live_session: LiveSession,
    massey_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
    letter: str,
    detail: str,
) -> None:
    """Issue 18: the overlay read "B? 100%" while the panel read "B 100% sure"."""
    recognizer = live_session.recognizer
    photo = load_image(massey_finder(massey_root)("B"))
    prediction = recognizer.predictor.predict_image(photo, classes="letters")
    assert prediction.label == "B"
    confidence = {"steady": 1.0, "settling": 1.0, "unsure": 0.41}[state]
    smoothed = ("B", 0.93) if state == "steady" else (None, 0.0)
    result = FrameResult(prediction, *smoothed, None, "", "B", confidence)
    drawn: list[str] = []

    def capture(rgb, det, label=None, confidence=None, *, accepted=True):
        drawn.append(overlay_text(label, confidence, accepted))
        return rgb

    monkeypatch.setattr("asl_core.inference.stream.draw_overlay", capture)
    recognizer.render(photo, result)
    readout = letter_readout(result, threshold=recognizer.settings.threshold)
    assert (readout.letter, readout.detail) == (letter, detail)
    percent = detail.split()[0].rstrip(",")
    assert drawn == [f"{readout.letter} {percent}"]  # the video shows the same letter and %


def test_a_hand_too_small_to_trust_is_unsure_in_the_panel() -> None:
    prediction = Prediction(label="A", confidence=0.99, accepted=False, hand=True)
    doubt = "the hand is small (50 px, reliable from 64 px)"
    last = FrameResult(prediction, None, 0.0, None, "", "A", 0.99, doubt=doubt)
    assert letter_readout(last, threshold=0.72) == LetterReadout("A?", f"99%, unsure: {doubt}")


def test_signing_help_follows_the_speller_settings() -> None:
    """The caption under the video says what the time-based rules do: letters at two a
    second, double letters by a bounce, J and Z by motion, the space after gap_s."""
    default = signing_help(StreamSettings())
    assert "about 0.3 s" in default and "two letters a second" in default
    assert "double letter" in default and "bounce" in default
    assert "J and Z are drawn in the air" in default
    assert "about 1 s to type a space" in default
    assert "about a second;" not in default  # the old frame-count advice
    slow = signing_help(StreamSettings(hold_s=1.0, window_s=0.5, gap_s=2.0))
    assert "about 1.2 s" in slow and "about 2 s to type a space" in slow


def test_readouts_say_the_video_stopped_instead_of_freezing() -> None:
    """Issue 18: after STOP the letter and speed stayed at their last values."""
    assert letter_readout(None, threshold=0.6, playing=False) == LetterReadout("–", "no video")
    prediction = Prediction(label="A", confidence=0.9, accepted=True, hand=True)
    last = FrameResult(prediction, "A", 0.9, None, "A", "A", 0.9)
    assert letter_readout(last, threshold=0.6) == LetterReadout("A", "90% sure")
    stopped = letter_readout(last, threshold=0.6, playing=False)
    assert stopped == LetterReadout("–", "video stopped")
    no_hand = FrameResult(Prediction(None, 0.0, False, False), None, 0.0, None, "")
    assert letter_readout(no_hand, threshold=0.6) == LetterReadout("–", "no hand")
