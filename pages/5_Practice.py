"""Practice: the app asks for a letter, a digit or a word, watches the student sign it, and says
what to fix.

Layout only. The drill's rules live in `asl_core.inference.practice`; the recogniser that feeds
it, snapshot photos, the reference drawing and the score tables in `asl_core.app.practice`.
"""

import time

import streamlit as st

st.set_page_config(page_title="Practice", page_icon="🎯", layout="wide")
st.title("Practice")

# Painted first: the imports below load PyTorch and MediaPipe (seconds on a first visit).
with st.spinner("Starting the recogniser…"):
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from asl_core.app.ice import (
        CAMERA_CONSTRAINTS,
        IceConfigError,
        insecure_context_warning,
        rtc_configuration,
    )
    from asl_core.app.live import (
        LiveSession,
        freeze_long_lived_objects,
        how_to_sign,
        settings_from_controls,
    )
    from asl_core.app.model_catalog import ModelChoice
    from asl_core.app.practice import (
        PracticeRecognizer,
        classes_for,
        letter_frame,
        photo_reading,
        reference_skeleton,
        results_csv,
        results_download_name,
        target_rows_frame,
    )
    from asl_core.app.state import class_filter_radio, model_picker, secrets, stream_session
    from asl_core.data.sources import DatasetError
    from asl_core.data.typical import typical_detection
    from asl_core.inference.motion import MOTION_LETTERS
    from asl_core.inference.practice import (
        LEVEL_NAMES,
        LEVELS,
        MAX_GAP_S,
        Drill,
        WordListError,
        make_targets,
        parse_word_list,
    )
    from asl_core.inference.stream import StreamSettings
    from asl_core.io.images import ImageError, load_image
    from asl_core.vision.hands import HandDetection

SESSION_KEY = "practice_session"
ROUND_KEY = "practice_round"
SNAPSHOT_TOGGLE = "practice_snapshot_mode"
PHOTO_KEY = "practice_last_photo"
OVERLAY_KEY = "practice_last_overlay"
REFRESH_S = 0.5
REFERENCE_SIDE = 220


def sidebar() -> tuple[ModelChoice, StreamSettings, str, tuple[str, ...] | None, bool]:
    """The level (and a teacher's list), the model and the reading settings."""
    with st.sidebar:
        st.header("Practice")
        level = st.radio("Level", LEVELS, format_func=LEVEL_NAMES.get, key="practice_level")
        words: tuple[str, ...] | None = ()
        if level == "custom":
            text = st.text_area(
                "Word list",
                key="practice_words",
                placeholder="CAT\nDOG\nHELLO",
                help="Words separated by new lines, spaces or commas; letters A-Z and digits.",
            )
            try:
                words = tuple(parse_word_list(text))
            except WordListError as error:
                words = None
                if text.strip():
                    st.error(str(error))
        st.button("New round", key="practice_new_round", width="stretch")
        st.header("Settings")
        choice = model_picker(help="The model that reads the signs.")
        chosen = class_filter_radio("Signs to read")
        mirror = st.toggle("Mirrored preview", value=True, help="Show the video like a mirror.")
        left = st.toggle(
            "Left-handed signer",
            value=False,
            help="The models learned right hands; a left hand is mirrored before reading.",
        )
        snapshot = st.toggle(
            "Use snapshot mode",
            key=SNAPSHOT_TOGGLE,
            help="One photo per try instead of live video: works without WebRTC.",
        )
    settings = settings_from_controls(
        threshold=choice.threshold,  # the model's calibrated threshold, else the shipped one
        window_s=StreamSettings().window_s,
        hold_s=StreamSettings().hold_s,
        mirror_preview=mirror,
        left_handed=left,
        classes=classes_for(level, chosen, words or ()),
    )
    return choice, settings, level, words, snapshot


def practice_session(choice: ModelChoice, settings: StreamSettings) -> LiveSession:
    """This browser session's recogniser (a PracticeRecognizer), made before START."""
    return stream_session(
        choice,
        settings,
        SESSION_KEY,
        lambda predictor, ready: LiveSession(
            predictor,
            ready,
            model_key=choice.key,
            recognizer=PracticeRecognizer(predictor, ready),
        ),
    )


def recognizer_of(session: LiveSession) -> PracticeRecognizer:
    recognizer = session.recognizer
    assert isinstance(recognizer, PracticeRecognizer)
    return recognizer


def ensure_round(
    recognizer: PracticeRecognizer, level: str, words: tuple[str, ...], snapshot: bool
) -> None:
    """A new drill when the level, the list or the mode changed, or on "New round"."""
    key = (level, words, snapshot)
    new_round = st.session_state.get("practice_new_round")
    if st.session_state.get(ROUND_KEY) == key and not new_round and recognizer.drill is not None:
        return
    try:
        targets = make_targets(level, words=words, still_only=snapshot)  # type: ignore[arg-type]
    except WordListError as error:
        st.error(str(error))
        st.stop()
    recognizer.start(Drill(targets, max_gap_s=None if snapshot else MAX_GAP_S))
    st.session_state[ROUND_KEY] = key
    st.session_state.pop(PHOTO_KEY, None)
    st.session_state.pop(OVERLAY_KEY, None)


@st.cache_resource(show_spinner="Finding a typical photo of the sign…", max_entries=64)
def reference_detection(label: str) -> tuple[HandDetection | None, str | None]:
    """The landmarks of the sign's most typical training photo, or why there are none."""
    try:
        detection = typical_detection(label)
    except DatasetError as error:
        return None, f"No reference picture: the training photos are not here ({error})."
    if detection is None:
        return None, f"No reference picture: no training photo of {label} has a hand found."
    return detection, None


def skip(recognizer: PracticeRecognizer) -> None:
    with recognizer.drill_lock:
        if recognizer.drill is not None:
            recognizer.drill.skip(time.monotonic())


def target_markdown(target: str, position: int) -> str:
    """The word with the letters done in green and the one asked for in bold."""
    done = f":green[{target[:position]}]" if position else ""
    rest = f":gray[{target[position + 1 :]}]" if position + 1 < len(target) else ""
    return f"# {done}**:blue[{target[position]}]**{rest}"


FEEDBACK_BOX = {"right": st.success, "wrong": st.warning, "finished": st.success}


def drill_panel(recognizer: PracticeRecognizer, mirrored: bool) -> None:
    """The target, its reference drawing, the feedback, Skip, and the score."""
    drill = recognizer.drill
    if drill is None:
        return
    with recognizer.drill_lock:
        feedback = drill.feedback(time.monotonic())
        summary = drill.summary()
        targets, letters = target_rows_frame(drill), letter_frame(drill)
        csv = results_csv(drill)
    target_column, picture = st.columns([3, 2])
    with target_column, st.container(key="practice-target"):
        if feedback.target is not None:
            st.markdown(target_markdown(feedback.target, feedback.position))
            st.caption(f"Target {len(targets)} of {len(drill.targets)}")
        box = FEEDBACK_BOX.get(feedback.status, st.info)
        box(feedback.message)
        if feedback.hint:
            st.markdown(f"**Hint:** {feedback.hint}")
        st.button(
            "Skip this letter",
            on_click=skip,
            args=(recognizer,),
            disabled=feedback.status == "finished",
            key="practice-skip",
        )
    with picture, st.container(key="practice-reference"):
        letter = feedback.letter
        if letter is not None:
            detection, problem = reference_detection(letter)
            if detection is not None:
                st.image(
                    reference_skeleton(detection, mirrored=mirrored, size=REFERENCE_SIDE),
                    caption=f"{letter}: the hand of a typical training photo (landmarks only)",
                    width=REFERENCE_SIDE,
                )
            else:
                st.caption(problem)
            if letter in MOTION_LETTERS:
                finger = "little finger" if MOTION_LETTERS[letter] == "pinky" else "index finger"
                st.caption(
                    f"{letter} is signed with motion: draw a {letter} in the air with the "
                    f"{finger}. The drawing is one still photo of it."
                )
    right, speed, streak = st.columns(3)
    right.metric("Right first try", f"{summary['right_first_try']} of {summary['letters']}")
    speed.metric("Seconds per letter", f"{summary['seconds_per_letter']:.1f}")
    streak.metric(
        "Streak",
        summary["streak"],
        f"best {summary['best_streak']}",
        delta_color="off",
        delta_arrow="off",
    )
    with st.expander("Score by target and by letter", expanded=feedback.status == "finished"):
        st.dataframe(targets, hide_index=True, key="practice-targets")
        st.caption("Letters, hardest first")
        st.dataframe(letters, hide_index=True, key="practice-letters")
        st.download_button(
            "Download the score (CSV)",
            data=csv,
            file_name=results_download_name(),
            mime="text/csv",
            on_click="ignore",
        )


def live_mode(recognizer: PracticeRecognizer, session: LiveSession, mirrored: bool) -> None:
    url = st.context.url
    try:
        configuration = rtc_configuration(url, secrets())
    except IceConfigError as error:
        st.error(f"The ICE server settings cannot be read: {error}")
        configuration = rtc_configuration(url, {}, {})
    panel, video = st.columns([3, 2], gap="large")
    with video:
        ctx = webrtc_streamer(
            key="practice",
            mode=WebRtcMode.SENDRECV,
            video_frame_callback=session.adapter,
            media_stream_constraints=CAMERA_CONSTRAINTS,
            rtc_configuration=configuration,
            async_processing=True,
        )
        st.caption(
            f"Press START and allow the camera. {how_to_sign(recognizer.settings)} "
            "No camera? Turn on snapshot mode in the sidebar."
        )
    active = ctx.state.playing or ctx.state.signalling

    # Only this part refreshes while the video runs; the callback thread never touches st.*.
    @st.fragment(run_every=REFRESH_S if active else None)
    def refreshed() -> None:
        drill_panel(recognizer, mirrored)

    with panel:
        refreshed()


def snapshot_mode(recognizer: PracticeRecognizer, mirrored: bool) -> None:
    panel, camera = st.columns([3, 2], gap="large")
    with camera:
        photo = st.camera_input("Sign the letter and take a photo", key="practice_photo")
        if photo is not None and st.session_state.get(PHOTO_KEY) != photo.file_id:
            st.session_state[PHOTO_KEY] = photo.file_id
            try:
                snapshot, reading = photo_reading(recognizer, load_image(photo), photo.file_id)
            except ImageError as error:
                st.error(str(error))
            else:
                with recognizer.drill_lock:
                    if recognizer.drill is not None:
                        recognizer.drill.photo(reading, time.monotonic())
                st.session_state[OVERLAY_KEY] = snapshot.overlay
        if photo is not None and st.session_state.get(OVERLAY_KEY) is not None:
            st.image(st.session_state[OVERLAY_KEY], caption="What the model read", width="stretch")
    with panel:
        drill_panel(recognizer, mirrored)


choice, settings, level, words, snapshot = sidebar()
session = practice_session(choice, settings)
freeze_long_lived_objects()  # after the model and MediaPipe are loaded; see its doc
recognizer = recognizer_of(session)
warning = insecure_context_warning(st.context.url)
if warning and not snapshot:
    st.warning(warning)
if words is None:
    st.info("Paste a word list in the sidebar (letters A-Z and digits, one word per line).")
    st.stop()
ensure_round(recognizer, level, words, snapshot)
if snapshot:
    snapshot_mode(recognizer, settings.mirror_preview)
else:
    live_mode(recognizer, session, settings.mirror_preview)
