"""The capture page's per-browser-session state, its WebRTC frame callback, and what each
session knows of the folder's background personalisation (`asl_core.training.jobs`)."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from asl_core.capture.names import CaptureError, class_name, signer_name
from asl_core.capture.session import (
    DEFAULT_COUNT,
    DEFAULT_COUNTDOWN_S,
    DEFAULT_RATE_PER_S,
    CapturePhase,
    CaptureStatus,
    CaptureThrottle,
)
from asl_core.capture.store import (
    Capture,
    CaptureStore,
    SnapshotResult,
    capture_folder_problem,
    check_disk_space,
    check_writable,
    save_snapshot,
)
from asl_core.vision.hands import HandDetection, HandDetector

if TYPE_CHECKING:  # imported when used: they load torch
    from asl_core.training.jobs import JobStatus, PersonaliseJob
    from asl_core.training.personalise import PersonaliseConfig

WATCHED_JOBS_KEY = "personalise_jobs_watched"
"""Session-state key: the ids of the personalisation jobs this session started or saw running."""


HANDLED_JOBS_KEY = "personalise_jobs_handled"
"""Session-state key: the ids of the watched jobs whose end this session has acted on."""


class CaptureFrameAdapter:
    """`video_frame_callback` of one session's capture stream.

    Each session owns its video-mode HandDetector (MediaPipe tracks one hand from frame to
    frame; sharing it between streams would mix two people's hands). Every frame is searched
    for a hand so the preview shows whether it is found; while armed, frames with a hand are
    saved through the throttle. The callback thread never touches Streamlit: the page polls
    `status()`.
    """

    def __init__(
        self,
        store: CaptureStore,
        *,
        detector: HandDetector | None = None,
        clock: Callable[[], float] = time.monotonic,
        mirror_preview: bool = True,
    ) -> None:
        self.store = store
        self.detector = detector or HandDetector(mode="video", max_num_hands=1)
        self.clock = clock
        self.mirror_preview = mirror_preview
        self.throttle = CaptureThrottle()
        self.label: str | None = None
        self.signer: str | None = None
        self._lock = threading.Lock()
        self._frames = 0
        self._hand_frames = 0
        self._last_error: str | None = None
        self._failed = False
        self.saved: list[Capture] = []
        if detector is None:
            weakref.finalize(self, self.detector.close)

    def start(
        self,
        label: str,
        signer: str,
        *,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        count: int = DEFAULT_COUNT,
        countdown_s: float = DEFAULT_COUNTDOWN_S,
    ) -> None:
        """Arm the capture (names are checked now, so a bad one never reaches the thread)."""
        label = class_name(label, self.store.labels())
        signer = signer_name(signer)
        throttle = CaptureThrottle(rate_per_s, count, countdown_s)
        throttle.start(self.clock())
        with self._lock:
            self.label, self.signer = label, signer
            self.throttle = throttle
            self._last_error = None
            self._failed = False
            self.saved = []

    def stop(self) -> None:
        with self._lock:
            self.throttle.stop()

    def status(self) -> CaptureStatus:
        now = self.clock()
        with self._lock:
            phase = CapturePhase.FAILED if self._failed else self.throttle.phase(now)
            return CaptureStatus(
                phase=phase,
                label=self.label,
                saved=self.throttle.saved,
                target=self.throttle.count,
                countdown_left=self.throttle.countdown_left(now),
                frames=self._frames,
                hand_frames=self._hand_frames,
                last_error=self._last_error,
            )

    def __call__(self, frame: Any) -> Any:
        from asl_core.app.live import to_video_frame

        shown = self.process_rgb(frame.to_ndarray(format="rgb24"))
        out = to_video_frame(shown)
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def process_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Find the hand, save the frame if the throttle says so; the frame to show."""
        detection = self.detector.detect(rgb)
        now = self.clock()
        with self._lock:
            self._frames += 1
            self._hand_frames += detection is not None
            save = not self._failed and self.throttle.should_save(now, detection is not None)
            label, signer = self.label, self.signer
        if save and label and signer:
            try:
                capture = self.store.save(rgb, label, signer, detection=detection)
            except CaptureError as error:
                with self._lock:
                    self._failed = True
                    self._last_error = str(error)
                    self.throttle.stop()
            else:
                with self._lock:
                    self.throttle.record(now)
                    self.saved.append(capture)
        return self.render(rgb, detection, self.status())

    def render(
        self, rgb: np.ndarray, detection: HandDetection | None, status: CaptureStatus
    ) -> np.ndarray:
        """The preview: the hand's skeleton, and the countdown or the count."""
        from asl_core.vision.overlay import draw_overlay
        from asl_core.vision.views import mirror_detection, mirror_image

        shown, det = rgb, detection
        if self.mirror_preview:
            shown = mirror_image(rgb)
            det = mirror_detection(detection) if detection is not None else None
        shown = draw_overlay(shown, det) if det is not None else shown.copy()
        if status.phase is CapturePhase.COUNTDOWN:
            text = f"{max(1, int(np.ceil(status.countdown_left)))}"
            _put_text(shown, text, scale=4.0, centre=True)
        elif status.phase is CapturePhase.CAPTURING:
            _put_text(shown, f"{status.label}  {status.saved}/{status.target}")
        elif status.phase is CapturePhase.DONE:
            _put_text(shown, f"done: {status.saved} saved")
        if det is None:
            _put_text(shown, "no hand", bottom=True)
        return shown


class CaptureSession:
    """What one browser session of the Capture page keeps: its store (and folder lock), its
    live adapter (its own video-mode MediaPipe, made on first use) and which snapshots and
    uploads it has saved already: Streamlit hands the same photo back on every rerun."""

    def __init__(self, folder: str | os.PathLike[str], signer: str) -> None:
        self.signer = signer_name(signer)
        self.store = CaptureStore(folder, who=self.signer)
        self._adapter: CaptureFrameAdapter | None = None
        self.handled: dict[str, SnapshotResult] = {}
        self.done_announced = False

    @property
    def folder(self) -> Path:
        return self.store.root

    def matches(self, folder: str | os.PathLike[str], signer: str) -> bool:
        return Path(folder).expanduser() == self.store.root and signer == self.signer

    def adapter(self) -> CaptureFrameAdapter:
        if self._adapter is None:
            self._adapter = CaptureFrameAdapter(self.store)
        return self._adapter

    def handle_photo(
        self, photo_id: str, data: bytes, label: str, detector: HandDetector
    ) -> tuple[SnapshotResult, bool]:
        """(result, new): a photo id seen before returns its earlier result, saved once."""
        if photo_id in self.handled:
            return self.handled[photo_id], False
        result = save_snapshot(self.store, data, label, self.signer, detector)
        # Only the newest result keeps its picture: a batch of uploads would otherwise hold
        # a full-size overlay per photo in the session for as long as it lives.
        for key, earlier in self.handled.items():
            if earlier.overlay is not None:
                self.handled[key] = replace(earlier, overlay=None)
        self.handled[photo_id] = result
        return result, True

    def problem(self) -> str | None:
        """Why this folder cannot take photos now (not a capture folder, read-only, disk full,
        held by another person), or None."""
        if reason := capture_folder_problem(self.store.root):
            return reason
        try:
            check_writable(self.store.root)
            check_disk_space(
                self.store.root, self.store.min_free_bytes, disk_usage=self.store.disk_usage
            )
        except CaptureError as error:
            return str(error)
        lock = self.store.lock
        info = lock.holder()
        if info is not None and info.owner != lock.owner and lock.stale_reason(info) is None:
            return str(lock.locked_error(info))
        return None

    def heartbeat(self) -> bool:
        """This session's tab is open: keep its claim on the folder fresh (the page calls this
        every few seconds from a fragment the browser reruns); whether it holds the folder."""
        lock = self.store.lock
        if not lock.path.exists():
            return False
        try:
            return lock.heartbeat()
        except CaptureError:
            return False

    def close(self) -> None:
        """Stop capturing and free the folder (changing folder or signer)."""
        if self._adapter is not None:
            self._adapter.stop()
            self._adapter.detector.close()
            self._adapter = None
        self.store.release()


KEPT_PREFIX = "kept:"
"""Session-state keys under which `keep_widgets` keeps widget values between pages."""


def restore_widget(state: MutableMapping[str, Any], key: str) -> bool:
    """Before the widget `key` is drawn: give it back the value it had when this session last
    drew it; whether it did. Streamlit drops a widget's value after a run of another page that
    does not draw it, so the name and folder typed on the Capture page were gone when the user
    came back from the Runs page, and the folder's running personalisation with them."""
    kept = KEPT_PREFIX + key
    if key not in state and kept in state:
        state[key] = state[kept]
        return True
    return key in state


def keep_widgets(state: MutableMapping[str, Any], *keys: str) -> None:
    """After the widgets are drawn: keep their values for `restore_widget` (plain session-state
    keys, which Streamlit keeps on every page)."""
    for key in keys:
        if key in state:
            state[KEPT_PREFIX + key] = state[key]


def start_personalising(
    folder: str | os.PathLike[str], config: PersonaliseConfig, state: MutableMapping[str, Any]
) -> PersonaliseJob:
    """Start the folder's personalisation in the background (`jobs.start_personalise`: the
    JobBusyError or ValueError that says why not); this session (`state`, its session state)
    watches it."""
    from asl_core.training.jobs import start_personalise

    job = start_personalise(Path(folder), config)
    state.setdefault(WATCHED_JOBS_KEY, set()).add(job.job_id)
    return job


def job_status(folder: str | os.PathLike[str]) -> JobStatus | None:
    """The status of the folder's latest personalisation in this server process, or None."""
    from asl_core.training.jobs import personalise_job

    job = personalise_job(Path(folder))
    return job.status() if job is not None else None


def personalise_status(
    folder: str | os.PathLike[str], state: MutableMapping[str, Any]
) -> tuple[JobStatus | None, bool]:
    """(status of the folder's latest personalisation or None, whether this session should act
    on its end now). True once per job, after it finished, in a session that started it or saw
    it running (left the page and came back included): that session then selects the new
    model. A session that only finds it finished shows the result and selects nothing."""
    status = job_status(folder)
    if status is None:
        return None, False
    watched: set[str] = state.setdefault(WATCHED_JOBS_KEY, set())
    handled: set[str] = state.setdefault(HANDLED_JOBS_KEY, set())
    if status.running:
        watched.add(status.job_id)
        return status, False
    act = status.result is not None and status.job_id in watched and status.job_id not in handled
    if act:
        handled.add(status.job_id)
    return status, act


def _put_text(
    canvas: np.ndarray,
    text: str,
    *,
    scale: float = 1.0,
    centre: bool = False,
    bottom: bool = False,
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(2, round(scale * 2))
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    rows, cols = canvas.shape[:2]
    if centre:
        origin = ((cols - width) // 2, (rows + height) // 2)
    elif bottom:
        origin = (10, rows - 12)
    else:
        origin = (10, 10 + height)
    cv2.putText(canvas, text, origin, font, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
