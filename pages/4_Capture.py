"""Capture your own signs and personalise the model, from the browser.

Layout only. Names, the folder layout and manifest, the folder lock, the free-space and
read-only checks, the live frame callback and its throttle live in `asl_core.capture`;
adapting the model and the before/after comparison in `asl_core.training.personalise`, run as a
background job (`asl_core.training.jobs`) that goes on when the page is left.
"""

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from asl_core.app.capture import (
    CaptureSession,
    job_status,
    keep_widgets,
    personalise_status,
    restore_widget,
    start_personalising,
)
from asl_core.app.classify import UPLOAD_MAX_MB
from asl_core.app.ice import (
    CAMERA_CONSTRAINTS,
    IceConfigError,
    insecure_context_warning,
    rtc_configuration,
)
from asl_core.app.state import available_models, refresh_models, secrets
from asl_core.capture.lock import HEARTBEAT_S
from asl_core.capture.names import (
    BUILTIN_CLASSES,
    CaptureError,
    class_name,
    signer_name,
)
from asl_core.capture.session import (
    DEFAULT_COUNT,
    DEFAULT_COUNTDOWN_S,
    DEFAULT_RATE_PER_S,
    MAX_COUNT,
    CapturePhase,
)
from asl_core.capture.store import SnapshotResult, capture_folder_problem, thumbnail
from asl_core.settings import OutsideRootsError, capture_dir, folder_within_roots
from asl_core.training.jobs import JobState
from asl_core.training.personalise import (
    PersonaliseConfig,
    PersonaliseError,
    PersonaliseResult,
)
from asl_core.vision.hands import HandDetector

SESSION_KEY = "capture_session"
MODES = ("Live camera", "Snapshot", "Upload photos")
NEW_SIGN = "A new sign"
KNOWN_SIGN = "A letter, a digit or one of my signs"
THUMBNAILS_SHOWN = 24
REFRESH_S = 0.5
JOB_REFRESH_S = 1.0

st.set_page_config(page_title="Capture your signs", page_icon="🤟", layout="wide")
st.title("Capture your own signs")
st.markdown(
    "Photograph your own hand signing, then **personalise** the model: it learns your way of "
    "signing, and new signs of your own. Photos stay on this machine, in the folder below."
)


@st.cache_resource(show_spinner="Loading the hand finder…")
def snapshot_detector() -> HandDetector:
    # Image mode, shared by every session: its calls are serialised by a lock.
    return HandDetector(mode="image")


@st.cache_data(max_entries=512, show_spinner=False)
def cached_thumbnail(path: str, mtime: float):
    return thumbnail(Path(path))


def sidebar() -> tuple[str, str | None]:
    with st.sidebar:
        st.header("Where and who")
        restored = restore_widget(st.session_state, "capture_folder")  # back from another page
        restore_widget(st.session_state, "capture_signer")
        folder = st.text_input(
            "Capture folder",
            value=None if restored else str(capture_dir()),
            key="capture_folder",
            help="Photos go to images/<sign>/ in this folder, listed in its MANIFEST.csv. It "
            "must lie inside the captures, runs or datasets folder (set ASL_CAPTURE_DIR to "
            "change the default), and be new, empty or made by this page.",
        )
        name = st.text_input(
            "Your name",
            key="capture_signer",
            help="Saved with every photo, so photos of different people can be told apart.",
        )
    keep_widgets(st.session_state, "capture_folder", "capture_signer")
    folder = folder or ""
    signer = None
    if name.strip():
        try:
            signer = signer_name(name)
        except CaptureError as error:
            st.sidebar.error(str(error))
    return folder.strip(), signer


def capture_session(folder: str, signer: str) -> CaptureSession:
    """This browser session's capture state; a new folder or name starts a new one."""
    session: CaptureSession | None = st.session_state.get(SESSION_KEY)
    if session is not None and session.matches(folder, signer):
        return session
    if session is not None:
        session.close()  # frees the old folder's lock
    session = CaptureSession(folder, signer)
    st.session_state[SESSION_KEY] = session
    return session


def pick_sign(session: CaptureSession) -> str | None:
    """The sign to capture: one of the 36 or an existing own sign, or a new name."""
    counts = session.store.counts()
    own = [label for label in counts if label not in BUILTIN_CLASSES]
    kind = st.radio("What will you sign?", (KNOWN_SIGN, NEW_SIGN), horizontal=True)
    if kind == KNOWN_SIGN:
        # Nothing chosen for the user: a preselected "0" saved uploads as 0 unasked.
        label = st.selectbox(
            "Sign",
            [*BUILTIN_CLASSES, *own],
            index=None,
            placeholder="Choose the sign first",
            key="capture_label",
        )
        if label is None:
            st.info("Choose the sign first: nothing is saved until then.")
            return None
    else:
        typed = st.text_input(
            "Name of the new sign",
            key="capture_new_label",
            placeholder="e.g. HELLO",
            help="Up to 32 letters, digits, spaces, '-' or '_'.",
        )
        if not typed.strip():
            st.info("Type a name for the new sign.")
            return None
        try:
            label = class_name(typed, counts)
        except CaptureError as error:
            st.error(str(error))
            return None
    return label


def show_count(counter: DeltaGenerator, session: CaptureSession, label: str) -> None:
    """The one-line count of photos of `label`, read from the store now (so, called again
    after a save, it counts the new photos). Always one line in its placeholder: an element
    appearing above the video player would make Streamlit mount the player anew, which stops
    the camera."""
    counter.caption(f"**{label}**: {session.store.counts().get(label, 0)} photos so far.")


def show_snapshot(result: SnapshotResult) -> None:
    if result.saved:
        st.success(result.message)
        if result.overlay is not None:
            st.image(result.overlay, caption="Saved, with the hand found", width=320)
    else:
        st.warning(result.message)


def snapshot_mode(session: CaptureSession, label: str) -> None:
    photo = st.camera_input(f"Sign **{label}** and take a photo", key="capture_camera")
    if photo is None:
        st.caption("Each photo with a hand in it is saved; photos without one are not.")
        return
    try:
        result, _ = session.handle_photo(
            f"camera:{photo.file_id}", photo.getvalue(), label, snapshot_detector()
        )
    except CaptureError as error:
        st.error(str(error))
        return
    show_snapshot(result)


def upload_mode(session: CaptureSession, label: str) -> None:
    uploads = st.file_uploader(
        f"Photos of your hand signing **{label}**",
        accept_multiple_files=True,
        max_upload_size=UPLOAD_MAX_MB,  # as on Classify: any file, judged by its content
        key="capture_uploads",
    )
    if not uploads:
        return
    saved, not_saved = 0, []
    progress = st.progress(0.0, text="Finding hands…") if len(uploads) > 3 else None
    for number, upload in enumerate(uploads, start=1):
        try:
            result, _ = session.handle_photo(
                f"upload:{upload.file_id}", upload.getvalue(), label, snapshot_detector()
            )
        except CaptureError as error:
            st.error(str(error))
            return
        if result.saved:
            saved += 1
        else:
            not_saved.append(f"{upload.name}: {result.message}")
        if progress is not None:
            progress.progress(number / len(uploads), text=f"{number} of {len(uploads)}")
    if progress is not None:
        progress.empty()
    if saved:
        st.success(f"Saved {saved} of {len(uploads)} photos as {label}.")
    for line in not_saved:
        st.warning(line)


def live_mode(session: CaptureSession, label: str, signer: str) -> None:
    rate_col, count_col, countdown_col = st.columns(3)
    rate = rate_col.slider("Photos per second", 1, 10, int(DEFAULT_RATE_PER_S))
    count = count_col.slider("Photos to take", 5, MAX_COUNT, DEFAULT_COUNT, 5)
    countdown = countdown_col.slider("Countdown (s)", 0, 10, int(DEFAULT_COUNTDOWN_S))
    try:
        configuration = rtc_configuration(st.context.url, secrets())
    except IceConfigError as error:
        st.error(f"The ICE server settings cannot be read: {error}")
        configuration = rtc_configuration(st.context.url, {}, {})
    with st.spinner("Starting the hand tracker…"):
        adapter = session.adapter()
    video, side = st.columns([3, 2], gap="large")
    with video:
        ctx = webrtc_streamer(
            key="capture",
            mode=WebRtcMode.SENDRECV,
            video_frame_callback=adapter,
            media_stream_constraints=CAMERA_CONSTRAINTS,
            rtc_configuration=configuration,
            async_processing=True,
        )
        st.caption(
            "Press START and allow the camera, then Start capturing. Only frames where your "
            "hand is found are saved. Move it a little between photos: varied photos teach more."
        )
    playing = bool(ctx.state.playing)
    with side:
        start, stop = st.columns(2)
        if start.button(
            f"Start capturing {label}", type="primary", disabled=not playing, width="stretch"
        ):
            try:
                adapter.start(label, signer, rate_per_s=rate, count=count, countdown_s=countdown)
                session.done_announced = False
            except CaptureError as error:
                st.error(str(error))
        stop.button("Stop", on_click=adapter.stop, width="stretch")
        if not playing:
            st.caption("Press START under the video first.")

        # Only this part refreshes while the video runs; the callback thread never calls st.*.
        @st.fragment(run_every=REFRESH_S if playing else None)
        def live_status() -> None:
            status = adapter.status()
            fraction = min(1.0, status.saved / max(1, status.target))
            st.progress(fraction, text=status.message)
            st.caption(
                f"Hand found in {status.hand_frames} of {status.frames} frames"
                if status.frames
                else "No video frames yet."
            )
            if status.phase is CapturePhase.FAILED:
                st.error(status.last_error or "The capture stopped.")
            if status.phase is CapturePhase.DONE and not session.done_announced:
                session.done_announced = True
                st.rerun(scope="app")  # refresh the counts and thumbnails below

        live_status()


def show_captures(session: CaptureSession) -> None:
    st.header("Your photos")
    captures = session.store.captures()
    if not captures:
        st.info(f"No photos yet in {session.folder}.")
        return
    counts = session.store.counts()
    table = pd.DataFrame(
        {
            "sign": list(counts),
            "photos": list(counts.values()),
            "kind": ["built-in" if c in BUILTIN_CLASSES else "your own" for c in counts],
            "signers": [
                ", ".join(sorted({c.signer for c in captures if c.label == label}))
                for label in counts
            ],
        }
    )
    st.dataframe(table, hide_index=True)
    st.caption(f"{len(captures)} photos in {session.folder}")
    for label in counts:
        mine = [c for c in captures if c.label == label]
        with st.expander(f"{label}: {len(mine)} photos"):
            shown = mine[-THUMBNAILS_SHOWN:]
            if len(mine) > len(shown):
                st.caption(f"The {len(shown)} newest of {len(mine)} photos.")
            columns = st.columns(6)
            for index, capture in enumerate(shown):
                path = session.store.path_of(capture)
                with columns[index % 6]:
                    image = (
                        cached_thumbnail(str(path), path.stat().st_mtime)
                        if path.is_file()
                        else None
                    )
                    if image is not None:
                        st.image(image, width="stretch")
                    else:
                        st.caption("(missing file)")
                    st.checkbox("delete", key=f"delete:{capture.path}")
            chosen = [c.path for c in mine if st.session_state.get(f"delete:{c.path}")]
            if st.button(
                f"Delete {len(chosen)} selected",
                key=f"delete-button:{label}",
                disabled=not chosen,
            ):
                try:
                    removed = session.store.delete(chosen)
                except CaptureError as error:
                    st.error(str(error))
                else:
                    for path in chosen:
                        st.session_state.pop(f"delete:{path}", None)
                    st.toast(f"Deleted {removed} photos of {label}.")
                    st.rerun()


def show_result(result: PersonaliseResult, *, selected: bool) -> None:
    st.success(result.sentence())
    st.table(pd.DataFrame(result.table()).set_index("Test"))
    st.markdown(result.verdict())
    with st.expander("Per sign, on your held-back photos"):
        st.dataframe(
            pd.DataFrame(
                [
                    {"sign": label, **row, "new": label in result.new_classes}
                    for label, row in result.per_class.items()
                ]
            ),
            hide_index=True,
        )
        st.caption("Held back: " + "; ".join(result.held_back_bursts) + ".")
    for note in result.notes:
        st.info(note)
    seconds = result.seconds
    where = "selected" if selected else "offered"
    st.caption(
        f"Took {seconds.get('total', 0):.0f} s (finding hands {seconds.get('features', 0):.0f} s, "
        f"training {seconds.get('training', 0):.0f} s). Run {result.run_dir.name}: it is on the "
        f"Runs page, and its model is {where} on the Classify and Live pages."
    )


@st.fragment(run_every=JOB_REFRESH_S)
def job_progress(folder: Path) -> None:
    """The running job's progress, refreshed every second; the whole page once it ends."""
    status = job_status(folder)
    if status is None or not status.running:
        st.rerun(scope="app")  # the result (or the error) replaces the bar
    st.progress(status.fraction, text=status.message)
    st.caption(
        f"Started at {status.started_at:%H:%M:%S}. It trains in the background: you can leave "
        "this page or close the tab and come back. The Runs page lists the run while it trains."
    )


def personalise_section(session: CaptureSession, signer: str) -> None:
    st.header("Personalise the model")
    status, finished_here = personalise_status(session.folder, st.session_state)
    if finished_here and status is not None and status.result is not None:
        refresh_models()
        # The Classify and Live pages preselect this checkpoint.
        st.session_state["selected_checkpoint"] = str(status.result.checkpoint)
    counts = session.store.counts()
    if not counts and status is None:
        st.info("Capture some photos first.")
        return
    st.markdown(
        "Trains a copy of the model on your photos, mixed with photos of other people so it "
        "does not forget them. To check it honestly, the later bursts of each sign (photos "
        "taken a minute or more after its first ones) are held back: capture each sign at "
        "least twice, a minute or more apart, in different light if you can."
    )
    choices = available_models()
    if not choices:
        st.error("No model to start from: the shipped model is missing.")
        return
    by_key = {choice.key: choice for choice in choices}
    key = st.selectbox(
        "Start from", list(by_key), format_func=lambda k: by_key[k].name, key="base_model"
    )
    with st.expander("Settings"):
        epochs = st.slider("Epochs", 5, 100, PersonaliseConfig.epochs, 5)
        replay = st.number_input(
            "Photos of other people per sign (against forgetting)",
            min_value=0,
            max_value=100,
            value=PersonaliseConfig.replay_per_class,
            step=5,
        )
    running = status is not None and status.running
    if st.button("Train on my captures", type="primary", disabled=running or not counts):
        config = PersonaliseConfig(
            base_model=str(by_key[key].path),
            epochs=int(epochs),
            replay_per_class=int(replay),
            signer=signer,
        )
        try:
            status = start_personalising(session.folder, config, st.session_state).status()
        except (PersonaliseError, ValueError) as error:  # JobBusyError: another tab started it
            st.error(str(error))
            return
    if status is None:
        return
    if status.running:
        job_progress(session.folder)
    elif status.state is JobState.FAILED:
        st.error(status.error or "The personalisation failed.")
    elif status.result is not None:
        selected = st.session_state.get("selected_checkpoint") == str(status.result.checkpoint)
        show_result(status.result, selected=selected)


def checked_folder(typed: str) -> str:
    """The typed folder, resolved, if this page may use it; otherwise say why and stop."""
    try:
        folder = folder_within_roots(typed)
    except OutsideRootsError as error:
        st.error(str(error))
        st.stop()
    if reason := capture_folder_problem(folder):  # a dataset or any other folder: never written
        st.error(reason)
        st.stop()
    return str(folder)


folder, signer = sidebar()
if not folder:
    st.error("Type a capture folder in the sidebar.")
    st.stop()
folder = checked_folder(folder)
if signer is None:
    st.info("Type your name in the sidebar to start: it is saved with every photo.")
    st.stop()
session = capture_session(folder, signer)
problem = session.problem()
if problem:
    st.error(problem)
else:
    st.header("Capture")
    label = pick_sign(session)
    if label is not None:
        counter = st.empty()
        show_count(counter, session, label)
        mode = st.radio("How", MODES, horizontal=True, key="capture_mode")
        if mode == "Live camera":
            if warning := insecure_context_warning(st.context.url):
                st.warning(warning)
            live_mode(session, label, signer)
        elif mode == "Snapshot":
            snapshot_mode(session, label)
        else:
            upload_mode(session, label)
        show_count(counter, session, label)  # with what this run saved
    if session.store.lock.held:
        # Below the video on purpose: an element appearing above it would restart the camera.
        st.button(
            "Done capturing: let other sessions save to this folder",
            on_click=session.store.release,
            help="This session keeps the folder locked while it captures; others wait.",
        )
try:
    show_captures(session)
    personalise_section(session, signer)
except CaptureError as error:  # an unreadable manifest: say so, never show it as empty
    st.error(str(error))


@st.fragment(run_every=HEARTBEAT_S)
def heartbeat() -> None:
    # The browser reruns this every few seconds while the tab is open: when it is closed or
    # reloaded, the folder is free for others (or this person in a new tab) within seconds.
    session.heartbeat()


heartbeat()
