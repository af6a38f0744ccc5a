"""Home and Classify pages under Streamlit's AppTest: real photos in, right answers out.

AppTest (streamlit 1.60) drives `st.file_uploader` through `FileUploader.upload(name, data,
mime)` / `set_value([...])`; it cannot drive `st.camera_input`, which goes through the same
`classify_file` as an upload and is left to the browser test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from asl_core.app.classify import NO_HAND_ADVICE
from asl_core.app.model_catalog import DEFAULT_MODEL_NAME
from asl_core.inference.predictor import DEFAULT_THRESHOLD, default_model_path
from tests.helpers.files import (
    NON_IMAGE,
    grey_photo,
    huge_png,
    side_by_side,
    tiny_checkpoint,
    truncated_jpeg,
    two_hand_photos,
)
from tests.helpers.photos import massey_photo

CLASSIFY_PAGE = "pages/1_Classify.py"


# The first run imports torch and MediaPipe and loads the model (a few seconds on 2 cores).
TIMEOUT_S = 90


pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture
def classify_page() -> Iterator[AppTest]:
    app = AppTest.from_file("Home.py", default_timeout=TIMEOUT_S)
    app.switch_page(CLASSIFY_PAGE).run()
    assert not app.exception
    yield app


def upload(app: AppTest, *files: tuple[str, bytes]) -> AppTest:
    app.file_uploader[0].set_value([(name, data, "image/jpeg") for name, data in files])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def big_answers(app: AppTest) -> list[str]:
    """The letters shown in large type (the page's `asl-answer` blocks)."""
    marker = 'class="asl-answer"'
    texts = [md.value for md in app.markdown if marker in md.value]
    return [text.split(">", 1)[1].split("<", 1)[0] for text in texts]


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def test_home_renders_with_the_model(data_root: Path) -> None:
    app = AppTest.from_file("Home.py", default_timeout=TIMEOUT_S).run()
    assert not app.exception
    page = texts(app.markdown)
    assert DEFAULT_MODEL_NAME in page and "handframe_mlp" in page
    assert "36 classes: digits 0-9 and letters A-Z" in page
    assert "face your palm to the camera" in page.lower()
    # The shipped model card's accuracy table, people it never saw before the random split.
    card = texts(app.markdown)
    assert "Letters, by people it never saw" in card and "random split: optimistic" in card
    assert card.index("people it never saw") < card.index("random split")
    links = [link.proto.page for link in app.get("page_link")]
    assert "Classify" in links
    # The skeletons of A, S and L, drawn from the dataset at runtime.
    assert len(app.image) >= 3


def test_classify_page_without_files_explains(classify_page: AppTest) -> None:
    assert "Upload one or more photos" in texts(classify_page.info)
    assert classify_page.sidebar.selectbox[0].value.endswith("model.json")


@pytest.mark.parametrize(("label", "signer"), [("v", "hand1"), ("a", "hand5")])
def test_real_photo_shows_the_right_letter(
    classify_page: AppTest, massey_root: Path, label: str, signer: str
) -> None:
    photo = massey_photo(massey_root, label, signer)
    upload(classify_page, (photo.name, photo.read_bytes()))
    assert big_answers(classify_page) == [label.upper()]
    assert f"confident (threshold {DEFAULT_THRESHOLD:.0%})" in texts(classify_page.caption)
    assert len(classify_page.get("plotly_chart")) == 1
    assert not classify_page.error


def test_threshold_slider_turns_the_answer_unsure(classify_page: AppTest, massey_root) -> None:
    photo = massey_photo(massey_root, "v", "hand1")
    upload(classify_page, (photo.name, photo.read_bytes()))
    classify_page.sidebar.slider[0].set_value(1.0).run()
    assert big_answers(classify_page) == ["Unsure"]
    assert "best guess V" in texts(classify_page.warning)


@pytest.mark.parametrize(
    ("make", "element", "words"),
    [
        (lambda root: NON_IMAGE, "error", "This file is not an image (it looks like a PDF)"),
        (lambda root: truncated_jpeg(massey_photo(root, "a")), "error", "The image is truncated"),
        (lambda root: huge_png(), "error", "The image is 56.0 megapixels (8000x7000)"),
        (lambda root: grey_photo(), "warning", "No hand found."),
    ],
    ids=["non-image", "truncated", "56-megapixel", "no-hand"],
)
def test_bad_input_gets_its_message(classify_page, massey_root, make, element, words) -> None:
    upload(classify_page, ("upload.jpg", make(massey_root)))
    assert words in texts(getattr(classify_page, element))
    assert big_answers(classify_page) == []
    if words == "No hand found.":
        assert NO_HAND_ADVICE in texts(classify_page.warning)


def test_two_hands_are_announced(classify_page: AppTest, massey_root: Path) -> None:
    upload(classify_page, ("two.png", side_by_side(*two_hand_photos(massey_root))))
    assert "2 hands seen: reading the larger one." in texts(classify_page.info)
    assert big_answers(classify_page) == ["A"]


def test_batch_gives_a_table_and_keeps_going_after_a_bad_file(
    classify_page: AppTest, massey_root: Path
) -> None:
    good = massey_photo(massey_root, "b", "hand1")
    upload(
        classify_page,
        ("notes.jpg", NON_IMAGE),
        (good.name, good.read_bytes()),
        ("grey.png", grey_photo()),
    )
    table = classify_page.dataframe[0].value
    assert table["file"].tolist() == ["notes.jpg", good.name, "grey.png"]
    assert table["answer"].tolist() == ["", "B", "no hand"]
    assert table["hand found"].tolist() == [False, True, False]
    assert len(classify_page.get("download_button")) == 1
    assert big_answers(classify_page) == ["B"]  # the good file after the bad one
    assert "This file is not an image" in texts(classify_page.error)


def test_checkpoint_from_the_runs_page_is_preselected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    meta = tiny_checkpoint(runs / "my-run" / "checkpoint")
    monkeypatch.setenv("ASL_RUNS_DIR", str(runs))
    app = AppTest.from_file("Home.py", default_timeout=TIMEOUT_S)
    app.session_state["selected_checkpoint"] = str(meta.with_suffix(".safetensors"))
    app.switch_page(CLASSIFY_PAGE).run()
    assert not app.exception
    model = app.sidebar.selectbox[0]
    assert model.value == str(meta.resolve())
    assert "my-run" in model.options and DEFAULT_MODEL_NAME in model.options


def test_home_shows_the_model_card_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in (".json", ".safetensors"):
        shutil.copy(default_model_path().with_suffix(suffix), tmp_path / f"model{suffix}")
    (tmp_path / "MODEL_CARD.md").write_text(
        "# Model card\n\nKey numbers:\n\n"
        "| evaluation | accuracy |\n|---|---:|\n"
        "| unseen signers (leave one signer out) | 81.0% |\n| random split | 99.0% |\n"
    )
    monkeypatch.setenv("ASL_DEFAULT_MODEL", str(tmp_path / "model.json"))
    app = AppTest.from_file("Home.py", default_timeout=TIMEOUT_S).run()
    assert not app.exception
    page = texts(app.markdown)
    assert "| unseen signers (leave one signer out) | 81.0% |" in page
    assert "MODEL_CARD.md" not in texts(app.warning)


def test_pages_without_any_model_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASL_DEFAULT_MODEL", str(tmp_path / "missing" / "model.json"))
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path / "no-runs"))
    app = AppTest.from_file("Home.py", default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert "default model is missing" in texts(app.error)
    app.switch_page(CLASSIFY_PAGE).run()
    assert not app.exception
    assert "No model found" in texts(app.error)


def test_refusals_are_said_on_the_page_not_in_a_tooltip(classify_page: AppTest) -> None:
    """Issue 18: the uploader's own type filter refused a file with a red chip whose reason
    showed only on mouse-over. It has no filter now; the content decides, and says why."""
    uploader = classify_page.file_uploader[0]
    assert list(uploader.proto.type) == []  # what the browser would enforce: nothing
    assert uploader.proto.max_upload_size_mb == 100  # the photo limit, stated by the uploader
    upload(classify_page, ("notes.pdf", NON_IMAGE), ("list.txt", b"A\nB\nC\n"))
    errors = texts(classify_page.error)
    assert "**notes.pdf**: This file is not an image (it looks like a PDF)" in errors
    assert "**list.txt**: This file is not an image (it looks like a text file)" in errors
