"""The classify page's logic without Streamlit: one file -> result, batch table/CSV, models.

The sample builders at the top (`non_image_bytes`, `truncated_jpeg`, `huge_png`, ...) are
reused by the page tests in test_app_pages.py through tests/helpers/files.py.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from asl_core.app.classify import (
    CSV_COLUMNS,
    TABLE_COLUMNS,
    FileResult,
    Outcome,
    batch_summary,
    classify_file,
    results_csv,
    results_table,
    thumbnail_data_uri,
)
from asl_core.app.examples import example_photos
from asl_core.app.model_catalog import (
    DEFAULT_MODEL_NAME,
    checkpoint_key,
    class_filter_problem,
    describe_checkpoint,
    describe_classes,
    discover_models,
    first_markdown_table,
    headline_metrics,
    select_model,
)
from asl_core.inference.predictor import Predictor, default_model_path
from asl_core.models.checkpoint import read_meta
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

# Pillow warns about the 50 MP header before asl_core.io.images refuses it: expected here.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def classify(predictor: Predictor, name: str, data: bytes, **options) -> FileResult:
    return classify_file(predictor, name, data, threshold=options.pop("threshold", 0.6), **options)


def test_real_photo_is_answered_with_pictures(predictor: Predictor, massey_root: Path) -> None:
    photo = massey_photo(massey_root, "v", "hand1")
    result = classify(predictor, photo.name, photo.read_bytes())
    assert result.outcome == Outcome.ACCEPTED
    assert result.prediction.label == "V"
    assert result.message.startswith("V (")
    assert result.answer == "V"
    assert result.error == ""
    assert result.image_size == (400, 400)
    assert result.preview.shape == (400, 400, 3)
    assert result.crop.shape == result.skeleton.shape == (224, 224, 3)
    assert result.thumbnail.startswith("data:image/jpeg;base64,")
    assert result.note == ""
    assert {"decode", "detect", "model"} <= set(result.timings_ms)


def test_below_threshold_is_unsure_with_best_guess(predictor: Predictor, massey_root) -> None:
    photo = massey_photo(massey_root, "v", "hand3")
    result = classify(predictor, photo.name, photo.read_bytes(), threshold=0.99)
    confidence = result.prediction.confidence
    assert result.prediction.label == "V" and 0.5 < confidence < 0.99
    assert result.outcome == Outcome.UNSURE
    assert result.ok
    assert f"best guess V ({confidence:.0%})" in result.message
    assert "below the 99% threshold" in result.message
    assert result.answer == "unsure (V?)"


def test_two_hands_reads_the_larger_one(predictor: Predictor, massey_root: Path) -> None:
    result = classify(predictor, "two.png", side_by_side(*two_hand_photos(massey_root)))
    assert result.prediction.num_hands == 2
    assert result.note == "2 hands seen: reading the larger one."
    assert result.prediction.label == "A"  # the hand on the left is the larger one


def test_no_hand_gives_advice(predictor: Predictor) -> None:
    result = classify(predictor, "grey.png", grey_photo())
    assert result.outcome == Outcome.NO_HAND
    assert result.message == "No hand found."
    assert "plain background" in result.advice and "more light" in result.advice
    assert result.preview is not None and result.crop is None
    assert result.answer == "no hand"


@pytest.mark.parametrize(
    ("make", "outcome", "words"),
    [
        (lambda root: NON_IMAGE, Outcome.NOT_AN_IMAGE, "not an image (it looks like a PDF)"),
        (lambda root: b"", Outcome.NOT_AN_IMAGE, "empty"),
        (lambda root: truncated_jpeg(massey_photo(root, "a")), Outcome.TRUNCATED, "truncated"),
        (lambda root: huge_png(), Outcome.TOO_LARGE, "56.0 megapixels (8000x7000)"),
        (lambda root: grey_photo(20, 20), Outcome.TOO_SMALL, "too small"),
    ],
    ids=["non-image", "empty", "truncated", "50-megapixel", "tiny"],
)
def test_each_bad_file_has_its_own_message(predictor, massey_root, make, outcome, words) -> None:
    result = classify(predictor, "upload.jpg", make(massey_root))
    assert result.outcome == outcome
    assert words in result.message
    assert result.error == result.message
    assert result.prediction is None and result.preview is None and result.thumbnail is None


def test_unexpected_failure_is_generic_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenPredictor:
        def predict_image(self, rgb, **options):
            raise RuntimeError("mediapipe graph died")

    with caplog.at_level(logging.ERROR, logger="asl_core.app.classify"):
        result = classify(BrokenPredictor(), "photo.png", grey_photo())
    assert result.outcome == Outcome.FAILED
    assert result.message == "Could not read this file (RuntimeError)."
    assert "mediapipe graph died" not in result.message
    assert "photo.png" in caplog.text and "mediapipe graph died" in caplog.text


@pytest.mark.slow
def test_one_megapixel_photo_is_answered_well_under_a_second(
    predictor: Predictor, massey_root: Path
) -> None:
    image = Image.open(massey_photo(massey_root, "l", "hand5")).convert("RGB")
    buffer = io.BytesIO()
    image.resize((1000, 1000), Image.Resampling.BICUBIC).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    classify(predictor, "warm-up.jpg", data)
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        result = classify(predictor, "1mp.jpg", data)
        seconds.append(time.perf_counter() - start)
    assert result.prediction.label == "L"
    # About 0.04-0.07 s on 2 shared cores; a second would be a regression, not noise.
    assert statistics.median(seconds) < 0.5, seconds


def test_batch_table_and_csv(predictor: Predictor, massey_root: Path) -> None:
    good = massey_photo(massey_root, "a", "hand5")
    results = [
        classify(predictor, "a.jpeg", good.read_bytes()),
        classify(predictor, "notes.jpg", NON_IMAGE),
        classify(predictor, "grey.png", grey_photo()),
    ]
    table = results_table(results)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["file"].tolist() == ["a.jpeg", "notes.jpg", "grey.png"]
    assert table["answer"].tolist() == ["A", "", "no hand"]
    assert table["accepted"].tolist() == [True, False, False]
    assert table["hand found"].tolist() == [True, False, False]
    assert table["hands"].tolist() == [1, 0, 0]
    assert table["confidence"][0] > 0.6 and table["confidence"][1:].isna().all()
    assert table["error"][0] == ""
    assert table["error"][1].startswith("This file is not an image")
    assert table["error"][2] == "No hand found"
    thumbnails = table["thumbnail"].tolist()
    assert thumbnails[0].startswith("data:image/jpeg;base64,") and thumbnails[2].startswith("data:")
    assert pd.isna(thumbnails[1])

    assert batch_summary(results) == "3 files: 1 answered, 1 without a hand, 1 unreadable"

    csv = pd.read_csv(io.BytesIO(results_csv(results)), keep_default_na=False)
    assert list(csv.columns) == list(CSV_COLUMNS)
    assert "thumbnail" not in csv.columns
    assert csv["file"].tolist() == ["a.jpeg", "notes.jpg", "grey.png"]
    assert csv["answer"].tolist() == ["A", "", "no hand"]
    assert csv["best_guess"].tolist() == ["A", "", ""]
    assert csv["hand_found"].tolist() == [True, False, False]
    assert csv["top5"][0].startswith("A:0.")
    assert len(csv["top5"][0].split()) == 5
    assert csv["error"][1].startswith("This file is not an image")


def test_thumbnail_is_small() -> None:
    uri = thumbnail_data_uri(np.zeros((3000, 4000, 3), dtype=np.uint8))
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.size == (96, 72)


def test_discovery_lists_the_default_first_then_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    older = tiny_checkpoint(runs / "20250101-mlp" / "checkpoint")
    newer = tiny_checkpoint(runs / "grid" / "lr0.01" / "checkpoint")
    os.utime(older, (1_000_000_000, 1_000_000_000))
    # Not runs of their own, or unusable: all left out.
    tiny_checkpoint(runs / "20250101-mlp" / "wandb" / "offline-run-x" / "checkpoint")
    (runs / "broken").mkdir()
    (runs / "broken" / "checkpoint.json").write_text("{not json")
    no_weights = tiny_checkpoint(runs / "no-weights" / "checkpoint")
    no_weights.with_suffix(".safetensors").unlink()

    choices = discover_models(runs, default_model_path())
    assert [choice.name for choice in choices] == [
        DEFAULT_MODEL_NAME,
        "grid/lr0.01",
        "20250101-mlp",
    ]
    assert choices[0].is_default and not choices[1].is_default
    assert choices[0].path == default_model_path()
    assert choices[1].path == newer and choices[2].path == older
    assert choices[1].description == (
        "landmark_mlp · landmarks · 3 classes · accuracy on unseen signers 50.0%"
    )


def test_discovery_without_runs_or_default(tmp_path: Path) -> None:
    assert [c.name for c in discover_models(tmp_path / "absent", default_model_path())] == [
        DEFAULT_MODEL_NAME
    ]
    assert discover_models(tmp_path, tmp_path / "missing.json") == []


def test_selected_checkpoint_from_the_runs_page_is_preselected(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    meta = tiny_checkpoint(runs / "run-b" / "checkpoint")
    choices = discover_models(runs, default_model_path())
    assert select_model(choices, None).index == 0
    # The Runs page hands over the weights file; discovery lists the .json.
    selection = select_model(choices, str(meta.with_suffix(".safetensors")))
    assert selection.choices[selection.index].path == meta and selection.problem is None
    assert checkpoint_key(meta.with_suffix("")) == checkpoint_key(meta)

    outside = tiny_checkpoint(tmp_path / "elsewhere" / "my-run" / "checkpoint")
    selection = select_model(choices, outside)
    assert len(selection.choices) == len(choices) + 1
    assert selection.choices[selection.index].name == "my-run"

    selection = select_model(choices, tmp_path / "gone" / "checkpoint.safetensors")
    assert selection.index == 0 and "cannot be used" in selection.problem


def test_headline_metrics_put_unseen_signers_first() -> None:
    numbers = headline_metrics(
        {
            "random_split_acc": 0.991,
            "loso_mean_acc": 0.8123,
            "val_loss": 0.3,
            "epochs": 30,
            "per_signer": {"hand1": 0.8},
        }
    )
    assert [n.label for n in numbers[:2]] == [
        "Accuracy on unseen signers",
        "Accuracy on a random split",
    ]
    assert numbers[0].value == "81.2%" and numbers[1].value == "99.1%"
    assert {n.label for n in numbers[2:]} == {"val loss", "epochs"}
    assert "loso_mean_acc" in numbers[0].help


def test_descriptions() -> None:
    meta = read_meta(default_model_path())
    assert describe_classes(meta.class_names) == "36 classes: digits 0-9 and letters A-Z"
    assert describe_classes(["A", "B", "hello"]) == "3 classes: letters A, B and other signs hello"
    assert describe_checkpoint(meta).startswith("handframe_mlp · ")
    assert " · 36 classes · " in describe_checkpoint(meta)
    assert class_filter_problem(["A", "B"], "digits") is not None
    assert class_filter_problem(["A", "1"], "digits") is None


def test_first_markdown_table() -> None:
    card = "# Card\n\nSome words.\n\n| split | acc |\n|---|---:|\n| unseen | 81% |\n\nMore.\n"
    assert first_markdown_table(card) == "| split | acc |\n|---|---:|\n| unseen | 81% |"
    assert first_markdown_table("no table | here") is None


def test_example_photos_are_found_in_place(data_root: Path) -> None:
    photos = example_photos(data_root)
    assert [label for label, _ in photos] == ["A", "S", "L"]
    assert all(path.is_file() and data_root in path.parents for _, path in photos)
    assert example_photos(data_root / "absent") == []


def test_the_page_says_an_unsure_greyscale_photo_would_read_better_in_colour(
    data_root: Path,
) -> None:
    """A real aslhg P as a greyscale copy (0.99 in colour, 0.52 grey): 'Unsure', the best
    guess and the colour advice in the page's warning."""
    from streamlit.testing.v1 import AppTest

    from asl_core.inference.predictor import GREYSCALE_UNSURE_HINT

    buffer = io.BytesIO()
    with Image.open(data_root / "aslhg" / "images/P/P6_P_582.jpg") as img:
        img.convert("L").convert("RGB").save(buffer, "PNG")
    app = AppTest.from_file("Home.py", default_timeout=90)
    app.switch_page("pages/1_Classify.py").run()
    app.file_uploader[0].set_value([("grey.png", buffer.getvalue(), "image/png")])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    warnings = [str(element.value) for element in app.warning]
    assert any("best guess" in w and w.endswith(GREYSCALE_UNSURE_HINT) for w in warnings), warnings
