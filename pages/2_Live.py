"""Live signing: spell words with the webcam, letter by letter.

Layout only. The frame callback, the connection watch, ICE servers and snapshot mode live in
`asl_core.app.live`; spelling (smoothing, hold to type, spaces) in `asl_core.inference.stream`.
"""

import time

import streamlit as st

st.set_page_config(page_title="Live signing", page_icon="🤟", layout="wide")
st.title("Live signing")

# Painted first: the imports below load PyTorch and MediaPipe (seconds on a first visit).
with st.spinner("Starting the recogniser…"):
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from asl_core.app.ice import (
        CAMERA_CONSTRAINTS,
        ConnectionStatus,
        IceConfigError,
        configured_ice_servers,
        connection_help,
        insecure_context_warning,
        rtc_configuration,
    )
    from asl_core.app.live import (
        STALL_S,
        TEXT_KEY,
        LiveSession,
        format_stage_ms,
        freeze_long_lived_objects,
        letter_readout,
        read_snapshot,
        settings_from_controls,
        signing_help,
        text_download_name,
    )
    from asl_core.app.model_catalog import ModelChoice
    from asl_core.app.state import (
        class_filter_radio,
        model_picker,
        secrets,
        stream_session,
        threshold_slider,
    )
    from asl_core.inference.stream import StreamSettings
    from asl_core.io.images import ImageError, load_image

SESSION_KEY = "live_session"
SNAPSHOT_TOGGLE = "live_snapshot_mode"
REFRESH_S = 0.5


def sidebar() -> tuple[ModelChoice, StreamSettings]:
    defaults = StreamSettings()
    with st.sidebar:
        st.header("Settings")
        choice = model_picker(help="Changing it takes effect on the running video.")
        classes = class_filter_radio("Signs to read")
        threshold = threshold_slider(
            choice,
            help="Readings below it count as 'no letter' and never type anything (so do hands "
            "too small to read reliably, under 64 pixels: come closer).",
        )
        window_s = st.slider(
            "Smoothing window (seconds)",
            0.1,
            1.0,
            defaults.window_s,
            0.05,
            help="The letter shown is the one that held most of this much recent video (sure "
            "readings count more): shorter reacts faster, longer flickers less. The same at "
            "any frame rate.",
        )
        hold_s = st.slider(
            "Hold to type (seconds)",
            0.1,
            2.0,
            defaults.hold_s,
            0.05,
            help="How long a letter must stay steady, hand still, before it is typed (0.2 s: "
            "two letters a second work). For a double letter (the LL of HELLO) bounce or "
            "slide the hand a little, or drop it briefly, and hold again. J and Z are typed "
            "from the motion of drawing them, not from a hold.",
        )
        mirror = st.toggle(
            "Mirrored preview", value=defaults.mirror_preview, help="Show the video like a mirror."
        )
        left = st.toggle(
            "Left-handed signer",
            value=defaults.left_handed,
            help="The models learned right hands; a left hand is mirrored before reading.",
        )
        st.toggle(
            "Use snapshot mode",
            key=SNAPSHOT_TOGGLE,
            help="One photo at a time instead of live video: works without WebRTC.",
        )
    settings = settings_from_controls(
        threshold=threshold,
        window_s=window_s,
        hold_s=hold_s,
        mirror_preview=mirror,
        left_handed=left,
        classes=classes,
    )
    return choice, settings


def live_session(choice: ModelChoice, settings: StreamSettings) -> LiveSession:
    """This browser session's recogniser, created (and its model loaded) before START."""
    return stream_session(
        choice,
        settings,
        SESSION_KEY,
        lambda predictor, ready: LiveSession(
            predictor, ready, model_key=choice.key, word_help=True
        ),
    )


def switch_to_snapshot() -> None:
    st.session_state[SNAPSHOT_TOGGLE] = True


def text_panel(session: LiveSession) -> None:
    """The spelled text with Clear, Backspace, Copy (st.code's button) and Download."""
    recognizer = session.recognizer
    text = recognizer.text
    st.subheader("Spelled text")
    with st.container(key=TEXT_KEY):
        st.code(text if text.strip() else " ", language=None, wrap_lines=True)
    clear, back, download = st.columns(3)
    clear.button("Clear", on_click=recognizer.clear, width="stretch")
    back.button("Backspace", on_click=recognizer.backspace, width="stretch")
    download.download_button(
        "Download",
        data=lambda: recognizer.text,  # made at the click: nothing re-sent on each refresh
        disabled=not text.strip(),
        file_name=text_download_name(),
        mime="text/plain",
        on_click="ignore",
        width="stretch",
    )
    word_help(session, text)


def word_help(session: LiveSession, text: str) -> None:
    """Suggestions for the word being spelled (a click puts one in its place)."""
    from asl_core.app.live import word_suggestions

    suggestions = word_suggestions(text)
    with st.container(key="live-suggestions"):
        if suggestions:
            st.caption("Did you mean (click to use)")
            for column, word in zip(st.columns(len(suggestions)), suggestions, strict=True):
                column.button(
                    word,
                    key=f"live-suggest-{word}",
                    on_click=session.recognizer.replace_word,
                    args=(word,),
                    width="stretch",
                )


def speak_button() -> None:
    """Speak reads the shown text at the click: drawn once, outside the refreshing panel
    (a redrawn iframe stalled the video; see `speak_html`)."""
    from asl_core.app.live import speak_html

    st.iframe(speak_html(label="Speak the text"), height=46)


def live_status(session: LiveSession, url: str | None, ice_configured: bool, playing: bool) -> None:
    """Current letter, speed, and what to do when the video does not come. With the video
    stopped the readouts say so instead of keeping the last values."""
    stats = session.adapter.stats()
    now = time.monotonic()
    status = session.watch.status(stats.last_frame_at, now)
    help_lines = connection_help(
        status, url=url, ice_configured=ice_configured, waited_s=session.watch.waited_s(now)
    )
    if help_lines:
        with st.container(border=True):
            for line in help_lines:
                st.markdown(line)
            if st.button("Switch to snapshot mode", on_click=switch_to_snapshot, type="primary"):
                st.rerun(scope="app")
    elif status is ConnectionStatus.CONNECTING:
        st.info("Connecting to the camera…")
    recognizer = session.recognizer
    readout = letter_readout(
        recognizer.last, threshold=recognizer.settings.threshold, playing=playing
    )
    letter, seen = st.columns(2)
    with letter, st.container(key="live-letter"):
        st.metric(
            "Current letter",
            readout.letter,
            readout.detail,
            delta_color="off",
            delta_arrow="off",
        )
    with seen, st.container(key="live-fps"):
        st.metric("Frames per second", f"{stats.callback_fps if playing else 0.0:.1f}")
    size = f"{stats.frame_size[0]}x{stats.frame_size[1]} · " if stats.frame_size else ""
    with st.container(key="live-timings"):
        if playing:
            st.caption(
                f"{size}Read {stats.read_fps:.1f} fps · "
                f"{format_stage_ms(stats.stage_ms) or 'no frames yet'}"
                f" · {stats.skipped} of {stats.frames} frames not read (a newer one came first)"
                f" · longest pause between frames {stats.longest_pause_s:.2f} s"
                f" ({stats.stalls} over {STALL_S:g} s)"
            )
        elif stats.frames:
            st.caption(
                f"Video stopped after {stats.frames} frames ({stats.read} read). "
                "Press START to sign again."
            )
    if stats.speed_note and status is ConnectionStatus.LIVE:
        with st.container(key="live-slow"):
            st.warning(stats.speed_note)
    if stats.last_error:
        st.error(f"Some frames could not be read: {stats.last_error}")


def live_mode(session: LiveSession, url: str | None) -> None:
    try:
        ice_configured = configured_ice_servers(secrets()) is not None
        configuration = rtc_configuration(url, secrets())
    except IceConfigError as error:
        st.error(f"The ICE server settings cannot be read: {error}")
        ice_configured, configuration = False, rtc_configuration(url, {}, {})
    video, side = st.columns([3, 2], gap="large")
    with video:
        ctx = webrtc_streamer(
            key="live",
            mode=WebRtcMode.SENDRECV,
            video_frame_callback=session.adapter,
            media_stream_constraints=CAMERA_CONSTRAINTS,
            rtc_configuration=configuration,
            async_processing=True,
        )
        st.caption(signing_help(session.recognizer.settings))
    session.watch.observe(
        playing=ctx.state.playing, signalling=ctx.state.signalling, now=time.monotonic()
    )
    active = ctx.state.playing or ctx.state.signalling

    # Only this part refreshes while the video runs; the callback thread never touches st.*.
    @st.fragment(run_every=REFRESH_S if active else None)
    def side_panel() -> None:
        text_panel(session)
        live_status(session, url, ice_configured, playing=bool(ctx.state.playing))

    with side:
        side_panel()
        speak_button()
    # Open until this session's first frame: a missing or blocked camera is reported only
    # inside the video component ("NotFoundError"), which never tells the page.
    no_video_yet = session.adapter.stats().first_frame_at is None
    with st.expander("Camera not starting?", expanded=no_video_yet):
        for line in connection_help(
            ConnectionStatus.NO_VIDEO, url=url, ice_configured=ice_configured
        )[1:]:
            st.markdown(line)
        st.button("Use snapshot mode", on_click=switch_to_snapshot, key="expander_snapshot")


def add_snapshot_letter(session: LiveSession) -> None:
    reading = session.snapshot
    if reading is not None and reading.letter and not reading.added:
        session.recognizer.append(reading.letter)
        reading.added = True  # one photo, one letter: a double click does not type it twice


def snapshot_mode(session: LiveSession) -> None:
    photo_column, side = st.columns([3, 2], gap="large")
    with photo_column:
        photo = st.camera_input("Show one sign and take a photo", key="live_snapshot_photo")
        is_new = photo is not None and (
            session.snapshot is None or session.snapshot.photo_id != photo.file_id
        )
        if is_new:
            try:
                session.snapshot = read_snapshot(
                    session.recognizer, load_image(photo), photo.file_id
                )
            except ImageError as error:
                st.error(str(error))
                session.snapshot = None
        reading = session.snapshot
        if photo is not None and reading is not None:
            st.image(reading.overlay, caption="What the model read", width="stretch")
    with side:
        if photo is not None and reading is not None:
            st.markdown(f"Reading: {reading.message}")
            add, space = st.columns(2)
            add.button(
                f"Add {reading.letter} to the text" if reading.letter else "Add to the text",
                on_click=add_snapshot_letter,
                args=(session,),
                disabled=reading.letter is None or reading.added,
                type="primary",
                width="stretch",
            )
            space.button(
                "Add a space", on_click=session.recognizer.append, args=(" ",), width="stretch"
            )
        else:
            st.info("Snapshot mode: take a photo of one sign; each photo is one reading.")
        text_panel(session)
        speak_button()


choice, settings = sidebar()
session = live_session(choice, settings)
freeze_long_lived_objects()  # after the model and MediaPipe are loaded; see its doc
url = st.context.url
warning = insecure_context_warning(url)
if warning:
    st.warning(warning)
if st.session_state.get(SNAPSHOT_TOGGLE):
    snapshot_mode(session)
else:
    live_mode(session, url)
