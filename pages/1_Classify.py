"""Classify a photo: upload one or many (or take a snapshot) and see what the model reads.

Layout only: reading a file and answering it is `asl_core.app.classify.classify_file`, which never
raises; the batch table and CSV come from the same module, the chart from `asl_core.app.plots`.
"""

import html
import logging

import streamlit as st

st.set_page_config(page_title="Classify a photo", page_icon="🤟", layout="wide")
st.title("Classify a photo")

# Painted first: the imports below load PyTorch and MediaPipe (seconds on a first visit).
with st.spinner("Starting the recogniser…"):
    from asl_core.app import plots
    from asl_core.app.classify import (
        UPLOAD_MAX_MB,
        FileResult,
        Outcome,
        batch_summary,
        classify_file,
        results_csv,
        results_table,
    )
    from asl_core.app.model_catalog import ModelChoice, class_filter_problem, short_input
    from asl_core.app.state import (
        class_filter_radio,
        get_predictor,
        model_picker,
        threshold_slider,
    )
    from asl_core.inference.predictor import Predictor
    from asl_core.io.images import formats_sentence
    from asl_core.vision.overlay import ACCEPTED_COLOUR, UNSURE_COLOUR

logger = logging.getLogger(__name__)

SNAPSHOT_NAME = "camera snapshot"


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def sidebar() -> tuple[ModelChoice, float, bool, str]:
    with st.sidebar:
        st.header("Settings")
        # The Runs page hands a checkpoint over through the session; preselect it.
        choice = model_picker(
            help="The shipped default model, or a checkpoint written by a training run."
        )
        st.caption(choice.description)
        threshold = threshold_slider(
            choice, help="Below this confidence the answer is 'Unsure' (with the best guess)."
        )
        mirror = st.toggle(
            "Also read the mirrored hand",
            value=True,
            help="Reads the photo and its mirror image and keeps the more confident answer: "
            "for a left hand, or a selfie camera that mirrors the picture.",
        )
        classes = class_filter_radio("Answer with")
    return choice, threshold, mirror, classes


def load_predictor(choice: ModelChoice) -> Predictor:
    try:
        return get_predictor((str(choice.path),))
    except Exception as error:  # a broken checkpoint must not show a traceback
        logger.exception("could not load %s", choice.path)
        st.error(f"The model **{choice.name}** could not be loaded: {error}")
        st.stop()


@st.cache_data(max_entries=64, show_spinner=False)
def classify_cached(
    _predictor: Predictor,
    model_key: str,
    name: str,
    data: bytes,
    threshold: float,
    mirror: bool,
    classes: str,
) -> FileResult:
    # Any widget change reruns the page; without this every photo would be read again.
    # `model_key` stands for the unhashable predictor in the cache key.
    return classify_file(
        _predictor, name, data, threshold=threshold, mirror=mirror, classes=classes
    )


def big_answer(text: str, colour: str) -> None:
    st.markdown(
        f'<div class="asl-answer" style="font-size:5rem;font-weight:700;line-height:1.1;'
        f'color:{colour}">{html.escape(text)}</div>',
        unsafe_allow_html=True,
    )


def show_answer(result: FileResult) -> None:
    prediction = result.prediction
    if result.outcome == Outcome.ACCEPTED and prediction is not None:
        big_answer(prediction.label or "", hex_colour(ACCEPTED_COLOUR))
        st.caption(
            f"{prediction.confidence:.0%} confident (threshold {result.threshold:.0%})"
            + (" · read from the mirrored hand" if prediction.mirrored else "")
        )
    elif result.outcome == Outcome.UNSURE:
        big_answer("Unsure", hex_colour(UNSURE_COLOUR))
        st.warning(f"{result.message} {result.advice}".strip())
    else:
        st.warning(f"**{result.message}** {result.advice}")
    if result.note:
        st.info(result.note)


def show_hand_views(result: FileResult, reads: str) -> None:
    if result.crop is None or result.skeleton is None:
        return
    mirrored = " (mirrored)" if result.prediction and result.prediction.mirrored else ""
    crop_col, skeleton_col = st.columns(2)
    crop_col.image(result.crop, caption=f"Hand crop{mirrored}", width=160)
    skeleton_col.image(result.skeleton, caption=f"Landmarks{mirrored}", width=160)
    st.caption(f"This model reads the {reads}.")


def show_result(result: FileResult, index: int, reads: str) -> None:
    if not result.ok and result.outcome != Outcome.NO_HAND:
        st.error(f"**{result.name}**: {result.message}")
        if result.advice:
            st.caption(result.advice)
        return
    photo_col, answer_col = st.columns([3, 2], gap="large")
    with photo_col:
        if result.preview is not None:
            st.image(result.preview, caption=result.name, width="stretch")
        if result.image_size:
            width, height = result.image_size
            st.caption(f"{width}x{height} px · read in {1000 * result.seconds:.0f} ms")
    with answer_col:
        show_answer(result)
        show_hand_views(result, reads)
        if result.prediction is not None and result.prediction.top:
            st.plotly_chart(
                plots.topk_bar(result.prediction.top, result.threshold, title="Top 5"),
                key=f"top5-{index}",
            )


def show_batch(results: list[FileResult]) -> None:
    st.subheader(batch_summary(results))
    table = results_table(results)
    # Whole percents read better than the 2 decimals of the "percent" format; the CSV keeps 0-1.
    table["confidence"] = table["confidence"] * 100
    st.dataframe(
        table,
        hide_index=True,
        row_height=64,
        placeholder="",
        column_config={
            "thumbnail": st.column_config.ImageColumn("photo", width="small"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0, max_value=100, format="%.0f%%"
            ),
            "error": st.column_config.TextColumn("problem", width="large"),
        },
    )
    st.download_button(
        "Download the results (CSV)",
        results_csv(results),
        file_name="asl_predictions.csv",
        mime="text/csv",
        on_click="ignore",
    )


choice, threshold, mirror, classes = sidebar()
predictor = load_predictor(choice)
if problem := class_filter_problem(predictor.class_names, classes):
    st.sidebar.warning(problem)
    classes = "all"

upload_col, camera_col = st.columns([3, 2], gap="large")
with upload_col:
    # No `type=` filter: the uploader refused other files itself, with a red chip whose reason
    # showed only on mouse-over. Every file comes through and each refusal is said on the page
    # (what the file looks like, from its content, not its name). Its size limit is the
    # photo limit, which the uploader states in the page ("100MB per file").
    uploads = st.file_uploader(
        "Photos of a signed letter or digit",
        accept_multiple_files=True,
        max_upload_size=UPLOAD_MAX_MB,
        help="One or many photos; several give a results table you can download.",
    )
    st.caption(f"Photos as {formats_sentence()}, recognised by their content.")
with camera_col:
    # Off by default: the browser asks for the camera as soon as the widget is shown.
    snapshot = (
        st.camera_input("Take a snapshot")
        if st.toggle("Use the camera", help="Take a snapshot instead of uploading a photo.")
        else None
    )

files = [(upload.name, upload.getvalue()) for upload in uploads or []]
if snapshot is not None:
    files.append((SNAPSHOT_NAME, snapshot.getvalue()))

if not files:
    st.info(
        "Upload one or more photos of a hand signing a letter or a digit, or take a snapshot. "
        "Best results: a plain background, the whole hand in the frame, the palm facing the "
        "camera."
    )
    st.stop()

results: list[FileResult] = []
progress = st.progress(0.0, text="Reading the photos…") if len(files) > 2 else None
for number, (name, data) in enumerate(files, start=1):
    results.append(classify_cached(predictor, choice.key, name, data, threshold, mirror, classes))
    if progress is not None:
        progress.progress(number / len(files), text=f"Read {number} of {len(files)}")
if progress is not None:
    progress.empty()

reads = short_input(predictor.meta.input_spec)
if len(results) > 1:
    show_batch(results)
for index, result in enumerate(results):
    container = (
        st.expander(f"{result.name}: {result.answer or result.error}", expanded=index == 0)
        if len(results) > 1
        else st.container()
    )
    with container:
        try:
            show_result(result, index, reads)
        except Exception as error:  # drawing one result must not take the others down
            logger.exception("could not show %s", result.name)
            st.error(f"Could not show {result.name} ({type(error).__name__}).")
