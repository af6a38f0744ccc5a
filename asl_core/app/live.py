"""The live signing page's logic, testable without Streamlit or a browser.

- `rtc_configuration`: which ICE (STUN/TURN) servers the WebRTC connection uses, from the app's
  secrets or the environment; none at all on localhost, where an unreachable STUN host would
  only make ICE gathering wait.
- `LiveFrameAdapter`: the frame callback. av frames in and out around one session's
  `StreamRecognizer`, and the rule that keeps the video live on a slow machine: frames are read
  on a thread of their own, newest first; the callback never waits for a reading and shows
  each frame at once with the latest reading's overlay.
- `ConnectionWatch` and `connection_help`: notice that START was pressed but no video came,
  and say why in plain words, so that a demo never dead-ends.
- `read_snapshot`: snapshot mode, one `st.camera_input` photo through the same recogniser's
  model and settings.
- `word_suggestions` and `speak_html`: word help under the spelled text (offline word list)
  and a Speak button that uses the browser's own speech synthesis.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from asl_core.app.ice import ConnectionWatch
from asl_core.inference.predictor import Prediction, Predictor
from asl_core.inference.stream import FrameResult, RateWindow, StreamRecognizer, StreamSettings
from asl_core.inference.words import current_word, english_words
from asl_core.vision.overlay import overlay_text
from asl_core.vision.views import mirror_image

logger = logging.getLogger(__name__)


STALL_S = 0.2
"""A pause between two frames reaching the callback longer than this is a stall: 6 frames of
a 30 fps camera, half a letter signed at two letters a second, half a J drawn in 0.4 s."""

IDLE_STOP_S = 5.0
"""The reader thread ends after this long without frames (a stopped stream, a closed tab), so
a session that went away leaves no thread behind; the next frame starts a new one."""


@dataclass(frozen=True)
class LiveStats:
    """A snapshot for the page (the callback and reader threads keep updating the adapter)."""

    frames: int  # frames through the callback (each one shown, with the latest overlay)
    read: int  # frames the recogniser read
    skipped: int  # frames not read: a newer one replaced them while the reader was busy
    errors: int
    callback_fps: float  # frames shown per second, last 2 s (the video the user sees)
    read_fps: float  # frames read per second, last 2 s
    frame_size: tuple[int, int] | None  # (width, height) of the last frame: WebRTC may shrink it
    stage_ms: dict[str, float]  # detect / preprocess / model / overlay / callback, EMA
    first_frame_at: float | None
    last_frame_at: float | None
    last_error: str | None
    speed_note: str | None = None  # this machine reads too few frames to type well
    lite: bool = False  # the lighter hand model was chosen for a slow machine
    longest_pause_s: float = 0.0  # longest time between two frames reaching the callback
    stalls: int = 0  # pauses between frames longer than STALL_S


class LiveFrameAdapter:
    """`video_frame_callback` for one browser session: av frame in, av frame out, same size.

    The video never waits for the recogniser. Reading a frame (MediaPipe about 13-25 ms, more
    on a busy machine) happens on this adapter's own reader thread; the callback only hands
    the frame over and returns it at once with the latest reading's overlay drawn on it
    (1-3 ms). The hand-over is a one-frame mailbox: a frame that arrives while the reader is
    still busy replaces the one waiting, so the reader always takes the newest frame and
    can never fall behind; frames it had no time for are counted as skipped. A slow machine
    therefore costs readings per second, never video smoothness or delay.

    Timestamps for the speller are arrival times, not reading times. Thread-safe; `clock` is
    injectable for tests.
    """

    def __init__(
        self, recognizer: StreamRecognizer, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.recognizer = recognizer
        self.clock = clock
        self._lock = threading.Lock()  # guards everything below
        self._wake = threading.Condition(self._lock)
        self._pending: tuple[np.ndarray, float] | None = None
        self._reading = False
        self._reader: threading.Thread | None = None
        self._closed = False
        self._frames = self._read = self._skipped = self._errors = 0
        self._callback_rate = RateWindow()
        self._read_rate = RateWindow()
        self._callback_ms: float | None = None
        self._frame_size: tuple[int, int] | None = None
        self._first_frame_at: float | None = None
        self._last_frame_at: float | None = None
        self._last_error: str | None = None
        self._longest_pause_s = 0.0
        self._stalls = 0
        # MediaPipe's graph is freed with the session's adapter, not at interpreter exit.
        weakref.finalize(self, recognizer.close)

    # The av wrapper: the only part that knows about av.
    def __call__(self, frame: Any) -> Any:
        rgb = frame.to_ndarray(format="rgb24")
        out = to_video_frame(self.process_rgb(rgb))
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def process_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Hand the frame to the reader (replacing any frame still waiting) and return it with
        the latest reading's overlay. Never waits for a reading."""
        start = self.clock()
        with self._lock:
            self._frames += 1
            self._frame_size = (rgb.shape[1], rgb.shape[0])
            if self._first_frame_at is None:
                self._first_frame_at = start
            if self._last_frame_at is not None and start - self._last_frame_at < IDLE_STOP_S:
                # (a longer pause is a stopped stream, not a stall)
                pause = start - self._last_frame_at
                self._longest_pause_s = max(self._longest_pause_s, pause)
                self._stalls += pause > STALL_S
            self._last_frame_at = start
            self._callback_rate.tick(start)
            if self._pending is not None:
                self._skipped += 1  # the reader never got to it; this newer frame wins
            self._pending = (rgb, start)
            self._ensure_reader()
            self._wake.notify_all()  # the reader (a waiter in wait_idle may be woken too)
        shown = self.render_latest(rgb, start)
        elapsed_ms = 1000.0 * (self.clock() - start)
        with self._lock:
            old = self._callback_ms
            self._callback_ms = elapsed_ms if old is None else old + 0.1 * (elapsed_ms - old)
        return shown

    def _ensure_reader(self) -> None:
        # Called with the lock held.
        if not self._closed and (self._reader is None or not self._reader.is_alive()):
            self._reader = threading.Thread(
                target=self._read_frames, name="asl-live-reader", daemon=True
            )
            self._reader.start()

    def _read_frames(self) -> None:
        while True:
            with self._lock:
                if self._pending is None and not self._closed:
                    self._wake.wait(timeout=IDLE_STOP_S)
                if self._closed or self._pending is None:
                    self._reader = None
                    self._wake.notify_all()
                    return
                rgb, arrived = self._pending
                self._pending = None
                self._reading = True
                self._wake.notify_all()  # wait_taken
            try:
                self.recognizer.process(rgb, timestamp=arrived)
                with self._lock:
                    self._read += 1
                    self._read_rate.tick(self.clock())
            except Exception as error:  # a bad frame must not end the stream
                logger.exception("live frame failed")
                with self._lock:
                    self._errors += 1
                    self._last_error = f"{type(error).__name__}: {error}"
            finally:
                with self._lock:
                    self._reading = False
                    self._wake.notify_all()

    def render_latest(self, rgb: np.ndarray, arrived: float | None = None) -> np.ndarray:
        """The frame with the latest reading drawn on it (mirrored if the preview is);
        `arrived`: the frame's arrival time (the clock's), to draw a moving hand where it is
        now rather than where the reading found it (`StreamRecognizer.render`)."""
        settings = self.recognizer.settings
        last = self.recognizer.last
        det = last.prediction.detection if last is not None else None
        if last is None or (det is not None and det.image_size != (rgb.shape[1], rgb.shape[0])):
            return mirror_image(rgb) if settings.mirror_preview else rgb
        lead_s = 0.0
        if arrived is not None and last.timestamp is not None:
            lead_s = max(0.0, arrived - last.timestamp)
        try:
            return self.recognizer.render(rgb, last, lead_s)
        except Exception:  # the overlay is decoration; the video must go on
            return mirror_image(rgb) if settings.mirror_preview else rgb

    def wait_taken(self, timeout: float = 5.0) -> bool:
        """Wait until the reader has taken the frame handed over (it may still be reading it):
        a caller that hands the next frame then keeps the reader always busy, as a camera
        faster than the reader does (for benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(timeout=remaining)
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every frame handed over has been read (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending is not None or self._reading:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(timeout=remaining)
        return True

    def close(self) -> None:
        """Stop the reader thread (it also stops by itself when frames stop coming)."""
        with self._lock:
            self._closed = True
            self._pending = None
            self._wake.notify_all()
            reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5.0)

    def stats(self) -> LiveStats:
        stage_ms = dict(self.recognizer.timer.ms)
        speed_note = self.recognizer.speed_note()
        now = self.clock()
        with self._lock:
            if self._callback_ms is not None:
                stage_ms["callback"] = self._callback_ms
            return LiveStats(
                frames=self._frames,
                read=self._read,
                skipped=self._skipped,
                errors=self._errors,
                callback_fps=self._callback_rate.value(now),
                read_fps=self._read_rate.value(now),
                frame_size=self._frame_size,
                stage_ms=stage_ms,
                first_frame_at=self._first_frame_at,
                last_frame_at=self._last_frame_at,
                last_error=self._last_error,
                speed_note=speed_note,
                lite=self.recognizer.lite,
                longest_pause_s=self._longest_pause_s,
                stalls=self._stalls,
            )


def to_video_frame(rgb: np.ndarray) -> Any:
    """An av frame in yuv420p, the format the VP8 encoder wants: OpenCV converts in about
    0.5 ms where the encoder's own conversion from rgb24 (swscale) takes about 1.8 ms."""
    import av  # imported here so that the rest of the module needs no av

    height, width = rgb.shape[:2]
    if height % 2 or width % 2:  # I420 needs even sides; let av convert odd ones
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


class LiveSession:
    """What one browser session keeps in `st.session_state`: its recogniser (own MediaPipe
    video tracker and smoothing window), the frame adapter around it and the connection watch.
    The predictor (the models) is shared by all sessions.

    Everything the stream needs later is loaded here, before START (the page shows a spinner
    meanwhile): MediaPipe's graph, and with `word_help` the English word list behind the
    suggestions (`english_words`, 0.4-0.8 s, most of it one `json.loads` that holds the GIL).
    Loaded on the first typed letter instead, it stopped the frame callback for two spells of
    0.5 s right after the first letter, and the letters signed then were never read: the
    first pass of the real-browser test lost the A (or the B) after the J, later passes did
    not (frames recorded in Chromium, see tests/app/test_live.py).
    """

    def __init__(
        self,
        predictor: Predictor,
        settings: StreamSettings | None = None,
        *,
        model_key: str = "",
        recognizer: StreamRecognizer | None = None,
        word_help: bool = False,
    ) -> None:
        self.recognizer = recognizer or StreamRecognizer(predictor, settings)
        # MediaPipe builds its graph on the first frame (0.2-0.3 s): do it now, before START,
        # so the first frames of the stream are read at full speed.
        self.recognizer.detector.detect(np.zeros((480, 640, 3), np.uint8))
        if word_help:
            english_words()  # once per process (cached); see the class doc
        self.adapter = LiveFrameAdapter(self.recognizer)
        self.watch = ConnectionWatch()
        self.model_key = model_key
        self.snapshot: SnapshotReading | None = None

    def use_model(self, predictor: Predictor, model_key: str) -> None:
        """Swap the model under a running stream: the callback reads `predictor` per frame."""
        if model_key != self.model_key:
            self.recognizer.predictor = predictor
            self.model_key = model_key

    def apply(self, settings: StreamSettings) -> None:
        """New sidebar values reach the running recogniser without restarting the stream."""
        if settings != self.recognizer.settings:
            self.recognizer.update_settings(settings)


def word_suggestions(text: str, limit: int = 4) -> list[str]:
    """Words for the one being spelled (the text's last word), best first; none for none."""
    word = current_word(text)
    return english_words().suggest(word, limit) if word else []


TEXT_KEY = "live-text"
"""The key of the container that shows the spelled text (Streamlit gives it the CSS class
`st-key-live-text`); the Speak button reads the text from there."""


def speak_html(source: str = f".st-key-{TEXT_KEY} code", label: str = "Speak") -> str:
    """A tiny page for `st.iframe` (an HTML string): one button that reads aloud the text shown
    in the parent page's element `source` (a CSS selector) when it is clicked, with the
    browser's own speech synthesis (Web Speech API). Nothing is sent anywhere: no server
    audio, no network.

    The text is read from the page at the click, not embedded, so the button is drawn once and
    never redrawn by the side panel's refresh: an iframe embedding the text was a new document
    twice a second, and with one core busy that refresh stalled the video (frames reaching the
    server 0.15-0.3 s apart 8-14 times a minute, against 2 without it; one Chromium session
    each; the note on issue 15). Streamlit's iframes are same-origin, so the parent page is
    readable. The selector is embedded as a JSON string (escaped for a <script>).
    """
    selector, label_js = (json.dumps(v).replace("</", "<\\/") for v in (source, label))
    return f"""<style>body {{ margin: 0 }}</style>
<button id="speak" style="width:100%;padding:0.4rem 0.75rem;
border:1px solid rgba(49,51,63,0.2);border-radius:0.5rem;background:white;cursor:pointer;
font:400 1rem 'Source Sans Pro',sans-serif;color:rgb(49,51,63)">{label}</button>
<script>
const source = {selector};
const button = document.getElementById("speak");
function say(note) {{  // a short note on the button itself, then its label again
  button.textContent = note;
  setTimeout(() => {{ button.textContent = {label_js}; }}, 1500);
}}
button.addEventListener("click", () => {{
  if (!("speechSynthesis" in window)) {{ say("This browser cannot speak"); return; }}
  const shown = window.parent.document.querySelector(source);
  const text = shown ? shown.innerText.trim() : "";
  if (!text) {{ say("Nothing to speak yet"); return; }}
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text.toLowerCase()));
}});
</script>"""


def how_to_sign(settings: StreamSettings) -> str:
    """How to sign so that the speller's rules (`asl_core.inference.speller`, all in seconds)
    type each letter, with the sidebar's current seconds; the Live and Practice pages' help.

    A letter is typed once it has won the vote (about half the smoothing window) and stayed,
    hand still, for the hold: about 0.3 s with the defaults, so two letters a second work."""
    shown_s = settings.hold_s + settings.window_s / 2
    return (
        "Show each letter with your hand still for a moment "
        f"(about {shown_s:.1f} s is enough: two letters a second work). For a double letter "
        "(the LL of HELLO), bounce or slide your hand a little and hold it again. J and Z are "
        "drawn in the air: J with the little finger (the I handshape), Z with the index "
        "finger."
    )


def signing_help(settings: StreamSettings) -> str:
    """The caption under the live video: `how_to_sign`, and how to type a space."""
    return (
        f"Press START and allow the camera. {how_to_sign(settings)} Lower your hand for about "
        f"{settings.gap_s:g} s to type a space."
    )


def text_download_name() -> str:
    return f"asl-text-{time.strftime('%Y%m%d-%H%M%S')}.txt"


def format_stage_ms(stage_ms: Mapping[str, float]) -> str:
    """'detect 24.1 ms · model 0.4 ms · overlay 1.2 ms' in pipeline order."""
    order = ("detect", "preprocess", "model", "overlay", "callback")
    names = [name for name in order if name in stage_ms] + sorted(set(stage_ms) - set(order))
    return " · ".join(f"{name} {stage_ms[name]:.1f} ms" for name in names)


_frozen = False


def freeze_long_lived_objects() -> bool:
    """Hide everything alive now (modules, torch, MediaPipe, the loaded models) from Python's
    garbage collector, once per process; True the first time.

    Streamlit runs a full `gc.collect(2)` after every script run, and the live page's side
    panel reruns twice a second. With torch and MediaPipe loaded that is ~345,000 objects and
    about 185 ms per collection here, all of it holding the GIL, so the frame reader and
    aiortc's codecs stall for a third of the time. Frozen objects are skipped by later
    collections (then about 1 ms). They are long-lived anyway; the cost is that garbage alive
    at this one moment is never freed.
    """
    global _frozen
    if _frozen:
        return False
    gc.collect()
    gc.freeze()
    _frozen = True
    return True


@dataclass
class SnapshotReading:
    """One photo's reading: the letter a user may add to the text, and the picture to show."""

    prediction: Prediction
    overlay: np.ndarray
    threshold: float
    photo_id: str = ""
    added: bool = False

    @property
    def letter(self) -> str | None:
        """What "Add to text" adds: the reading when sure enough, else nothing."""
        return self.prediction.label if self.prediction.accepted else None

    @property
    def message(self) -> str:
        p = self.prediction
        if not p.hand:
            return "No hand found in this photo. Hold your hand in view, a little away from it."
        if not p.accepted:
            return (
                f"Unsure: perhaps **{p.label}** ({p.confidence:.0%}), below the "
                f"{self.threshold:.0%} threshold. Try again with the hand well lit and centred."
            )
        return f"**{p.label}** ({p.confidence:.0%})"


@dataclass(frozen=True)
class LetterReadout:
    """The side panel's "Current letter": `letter` as the video's overlay writes it, and
    `detail` (how sure, or why there is no letter)."""

    letter: str
    detail: str


def letter_readout(
    last: FrameResult | None, *, threshold: float, playing: bool = True
) -> LetterReadout:
    """What the panel says about the latest reading, in the overlay's own words.

    `StreamRecognizer.render` draws the steady letter as "B 93%" and, while a new letter
    settles or the frame is below the threshold, the frame's own reading as "B? 41%"; the
    panel shows the same letter text (`overlay_text`, "B" or "B?") and percentage, never a
    steadier answer than the video (issue 18: "B? 100%" on the video, "B 100% sure" in the
    panel). Without video (not started, connecting, stopped) there is no current letter.
    """
    if not playing:
        return LetterReadout("–", "no video" if last is None else "video stopped")
    if last is None or not last.prediction.hand:
        return LetterReadout("–", "no hand")
    if last.smoothed is not None:
        letter = overlay_text(last.smoothed, None, accepted=True)
        return LetterReadout(letter, f"{last.smoothed_confidence:.0%} sure")
    letter = overlay_text(last.reading, None, accepted=False)
    if last.doubt:  # typed never, however sure (the photo path answers it unsure too)
        return LetterReadout(letter, f"{last.reading_confidence:.0%}, unsure: {last.doubt}")
    state = "settling" if last.reading_confidence >= threshold else "below the threshold"
    return LetterReadout(letter, f"{last.reading_confidence:.0%}, {state}")


def read_snapshot(
    recognizer: StreamRecognizer, rgb: np.ndarray, photo_id: str = ""
) -> SnapshotReading:
    """One still photo through the live recogniser's model and settings.

    The photo goes to the predictor's image-mode detector (with its padded retry for close
    crops), not to the stream's video tracker: a photo is not the next frame of the stream.
    The overlay is the live view's (mirrored the same way, same colours).
    """
    settings = recognizer.settings
    prediction = recognizer.predictor.predict_image(
        rgb,
        threshold=settings.threshold,
        mirror=settings.mirror_tta,
        classes=settings.classes,
        force_mirror=settings.left_handed,
    )
    smoothed = prediction.label if prediction.accepted else None
    result = FrameResult(prediction, smoothed, prediction.confidence, None, recognizer.text)
    overlay = recognizer.render(rgb, result)
    return SnapshotReading(prediction, overlay, settings.threshold, photo_id)


def settings_from_controls(
    *,
    threshold: float,
    window_s: float,
    hold_s: float,
    mirror_preview: bool,
    left_handed: bool,
    classes: str,
    base: StreamSettings | None = None,
) -> StreamSettings:
    """The sidebar's values as `StreamSettings` (other fields kept from `base`)."""
    return replace(
        base or StreamSettings(),
        threshold=float(threshold),
        window_s=float(window_s),
        hold_s=float(hold_s),
        mirror_preview=bool(mirror_preview),
        left_handed=bool(left_handed),
        classes=classes,  # type: ignore[arg-type]
    )
