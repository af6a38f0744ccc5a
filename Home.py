"""ASL hand-sign recogniser: the home page (what the app does, which model, how to sign).

Layout only; describing models and reading the model card live in `asl_core.app.model_catalog`.

The page paints before anything heavy happens (issue 18: the first visit after `make run` was a
blank page for 7-9 s): the title, the links and the tips come first and need nothing but
Streamlit; the model's description (which imports torch) and the example skeletons (which load
MediaPipe and the model) fill their places afterwards, each behind a spinner. That is also why
the asl_core imports sit inside the functions below.
"""

import logging
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from asl_core.app.model_catalog import ModelChoice

logger = logging.getLogger(__name__)

PAGES = (
    ("pages/1_Classify.py", "Classify a photo", "📷", "Upload photos or take a snapshot."),
    ("pages/2_Live.py", "Sign live", "🎥", "Sign in front of your webcam and spell words."),
    ("pages/5_Practice.py", "Practice", "🎯", "Sign the letter or word asked for; get hints."),
    ("pages/3_Runs.py", "Training runs", "📈", "Browse, plot and compare training runs."),
    (
        "pages/4_Capture.py",
        "Capture your signs",
        "✋",
        "Photograph your own signs and personalise the model.",
    ),
)


@st.cache_data(show_spinner=False)
def skeleton_examples(data_root: str, model_path: str) -> list:
    # Computed from the dataset photos at runtime and never stored: only the landmarks are
    # drawn, so no photo of a person is shown or committed. Borrowing the model's detector
    # also loads the model for the classify page.
    from asl_core.app.examples import example_photos, example_skeletons
    from asl_core.app.state import get_predictor

    photos = example_photos(data_root)
    if not photos:
        return []
    detector = get_predictor((model_path,)).detector
    return example_skeletons(detector, photos, size=200)


def show_pipeline_picture(model_path: str) -> None:
    from asl_core.settings import data_dir

    try:
        examples = skeleton_examples(str(data_dir()), model_path)
    except Exception:  # the picture is decoration: never let it break the page
        logger.exception("could not draw the example skeletons")
        return
    if not examples:
        return
    columns = st.columns(len(examples) + 2)
    for column, (label, skeleton) in zip(columns, examples, strict=False):
        column.image(skeleton, caption=f"“{label}”", width=160)
    st.caption(
        "What the model reads: the 21 hand landmarks (one colour per finger) found in real "
        "photos of the signs A, S and L, drawn when this page loads."
    )


def show_links() -> None:
    st.subheader("Start")
    columns = st.columns(len(PAGES))
    for column, (path, label, icon, what) in zip(columns, PAGES, strict=True):
        with column:
            st.page_link(path, label=label, icon=icon)
            st.caption(what)


def show_model(choice: "ModelChoice") -> None:
    from asl_core.app.model_catalog import describe_classes, describe_input
    from asl_core.models.checkpoint import read_meta
    from asl_core.models.registry import model_info

    meta = read_meta(choice.path)
    st.subheader("The model")
    try:
        architecture = f"`{meta.architecture}`: {model_info(meta.architecture).description}"
    except ValueError:
        architecture = f"`{meta.architecture}`"
    datasets = ", ".join(meta.dataset_names()) or "not recorded"
    st.markdown(
        f"- **Name:** {choice.name} (`{choice.path.parent.name}/{choice.path.name}`)\n"
        f"- **Architecture:** {architecture}\n"
        f"- **Reads:** {describe_input(meta.input_spec)}\n"
        f"- **Answers:** {describe_classes(meta.class_names)}\n"
        f"- **Trained on:** {datasets}"
    )
    if meta.data.get("note") == "placeholder":
        st.info("This is a placeholder model; the final trained model will replace it.")
    st.caption("Other models (your own training runs) can be picked on the classify page.")
    # Full width: the card's table has long cells that a half-width column clipped.
    show_numbers(choice, meta.metrics)


def show_numbers(choice: "ModelChoice", metrics: dict) -> None:
    from asl_core.app.model_catalog import (
        first_markdown_table,
        headline_metrics,
        model_card_path,
        read_model_card,
    )

    st.markdown("**How well it works**")
    card = read_model_card(choice.path)
    if card is not None:
        table = first_markdown_table(card)
        if table:
            st.markdown(table)
        with st.expander("Model card"):
            st.markdown(card)
        return
    st.warning(
        f"The model card (`{model_card_path(choice.path).name}`) is missing; the numbers "
        "below come from the checkpoint's own metadata."
    )
    numbers = headline_metrics(metrics)
    if not numbers:
        st.caption("The checkpoint records no metrics.")
        return
    for column, metric in zip(st.columns(min(len(numbers), 3)), numbers[:3], strict=False):
        column.metric(metric.label, metric.value, help=metric.help)
    st.caption(
        "Accuracy on signers the model never saw is what to expect on your own hand; a random "
        "split mixes the same people into training and test, and reads higher."
    )


def default_model() -> "ModelChoice | None":
    """The shipped model's entry in the model list (None when it is missing)."""
    from asl_core.app.state import available_models

    return next((choice for choice in available_models() if choice.is_default), None)


def show_model_section(default: "ModelChoice | None") -> None:
    if default is None:
        st.error(
            "The shipped default model is missing (`asl_core/default_model/model.json`). "
            "Restore it from git, or train one with `python -m training.train`."
        )
        return
    try:
        show_model(default)
    except Exception as error:  # a damaged checkpoint: say so, keep the rest of the page
        logger.exception("could not describe %s", default.path)
        st.error(f"The default model could not be read: {error}")


def show_tips() -> None:
    st.subheader("How to sign for best results")
    st.markdown(
        "- A **plain background** and good light; the **whole hand** in the frame.\n"
        "- **Face your palm to the camera** where the sign allows: the hand finder sees a hand "
        "turned edge-on less well.\n"
        "- **Either hand**: the shipped model reads left and right hands alike (for other "
        "models, switch on *left-handed*).\n"
        "- Live: **show each letter with the hand still for a moment** (two letters a second "
        "work); bounce the hand a little for a double letter; draw J and Z in the air.\n"
        "- **O/0, V/2 and W/6 are the same handshape**: choose letters only or digits only "
        "when you know which you are signing."
    )


st.set_page_config(page_title="ASL recogniser", page_icon="🤟", layout="wide")
st.title("🤟 ASL hand-sign recogniser")
st.markdown(
    "Recognises the American Sign Language fingerspelling alphabet, the letters **A-Z** and "
    "the digits **0-9**, from a photo or from your webcam. "
    "[MediaPipe](https://ai.google.dev/edge/mediapipe/solutions/vision/hand_landmarker) finds "
    "the hand and its 21 landmarks, a small neural network reads the handshape, and when it "
    "is not confident enough the app says **unsure** instead of guessing."
)
# Painted at once, in page order; the slots are filled below, slowest last.
picture_slot = st.container()
show_links()
model_slot = st.container()
show_tips()
with model_slot, st.spinner("Loading the model…"):
    default = default_model()
    show_model_section(default)
if default is not None:
    with picture_slot, st.spinner("Drawing the hands the model reads…"):
        show_pipeline_picture(str(default.path))
