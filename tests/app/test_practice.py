"""The practice page's logic without a browser: a clip of real photos completes a word through
the live recogniser, snapshot photos are tries, no hand says why, the CSV has a row per target."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asl_core.app.live import LiveSession
from asl_core.app.practice import (
    PracticeRecognizer,
    classes_for,
    frame_reason,
    hand_out_of_frame,
    letter_frame,
    photo_reading,
    reference_skeleton,
    results_csv,
)
from asl_core.data.typical import typical_detection
from asl_core.inference.practice import Drill, Reading
from asl_core.inference.predictor import ModelNotAvailable, Prediction, Predictor
from asl_core.inference.stream import StreamSettings
from asl_core.io.images import load_image
from tests.helpers.clips import blank_frame, clip_frames, massey_finder, spelling_segments

CLIP_FPS = 15


@pytest.fixture(scope="module")
def session() -> LiveSession:
    try:
        predictor = Predictor()
    except ModelNotAvailable as error:
        pytest.skip(str(error))
    settings = StreamSettings(classes="letters")
    return LiveSession(predictor, recognizer=PracticeRecognizer(predictor, settings))


def recognizer_of(session: LiveSession) -> PracticeRecognizer:
    assert isinstance(session.recognizer, PracticeRecognizer)
    return session.recognizer


def test_a_clip_of_real_photos_completes_a_word(session: LiveSession, massey_root: Path) -> None:
    """CAB signed by a Massey signer, each letter held a second, read through the adapter's
    recogniser frame by frame: the drill completes the word, every letter right first try."""
    recognizer = recognizer_of(session)
    drill = Drill(["CAB"])
    recognizer.start(drill)
    segments = spelling_segments("CAB", massey_finder(massey_root), letter_s=1.0, lead_s=0.5)
    for frame in clip_frames(segments, fps=CLIP_FPS):
        recognizer.process(frame.rgb, timestamp=100.0 + frame.timestamp)
    assert drill.finished, drill.target_rows()
    (row,) = drill.target_rows()
    assert row["right_first_try"] == 3 and row["wrong_tries"] == 0 and row["done"]
    assert 0.2 < row["seconds_per_letter"] < 1.6


def test_no_hand_in_the_dark_says_too_dark(session: LiveSession) -> None:
    recognizer = recognizer_of(session)
    drill = Drill(["A"])
    recognizer.start(drill)
    dark = blank_frame(background=(8, 8, 8))
    for i in range(10):
        recognizer.process(dark, timestamp=200.0 + i / CLIP_FPS)
    feedback = drill.feedback(200.0 + 9 / CLIP_FPS)
    assert feedback.status == "no_hand" and "very dark" in feedback.message
    assert not drill.steps[0].wrong


def test_snapshot_photos_are_tries(session: LiveSession, massey_root: Path) -> None:
    recognizer = recognizer_of(session)
    find = massey_finder(massey_root)
    drill = Drill(["BC"], max_gap_s=None)
    recognizer.start(drill)
    snapshot, reading = photo_reading(recognizer, load_image(find("C")), "p1")
    assert reading.accepted and reading.letter == "C"
    assert drill.photo(reading, 1.0).status == "wrong"
    _, reading = photo_reading(recognizer, load_image(find("B")), "p2")
    assert drill.photo(reading, 2.0).status == "right" and drill.letter == "C"
    _, reading = photo_reading(recognizer, blank_frame(background=(90, 90, 90)), "p3")
    assert not reading.hand and drill.photo(reading, 3.0).status == "no_hand"
    _, reading = photo_reading(recognizer, load_image(find("C")), "p4")
    drill.photo(reading, 4.0)
    assert drill.finished
    assert snapshot.overlay.shape[2] == 3


def test_csv_has_one_row_per_target() -> None:
    drill = Drill(["HI", "A", "B"], max_gap_s=None)
    for t, letter in enumerate("HSIA"):
        drill.photo(Reading(letter, 0.9, True, True), float(t))
    drill.skip(5.0)
    table = pd.read_csv(io.BytesIO(results_csv(drill)))
    assert list(table["target"]) == ["HI", "A", "B"]
    assert list(table["right_first_try"]) == [1, 1, 0]
    assert list(table["skipped"]) == [0, 0, 1]
    assert table.loc[0, "read_instead"] == "S"
    assert list(letter_frame(drill)["letter"])[:2] == ["B", "I"]  # hardest first


def test_hand_out_of_frame_is_the_reason(session: LiveSession, massey_root: Path) -> None:
    photo = load_image(massey_finder(massey_root)("A"))
    prediction = session.recognizer.predictor.predict_image(photo)
    det = prediction.detection
    assert det is not None and not hand_out_of_frame(det)
    shifted = replace(det, landmarks=det.landmarks + np.array([0.6, 0.0, 0.0], np.float32))
    assert hand_out_of_frame(shifted)
    reason = frame_reason(photo, replace(prediction, detection=shifted))
    assert reason is not None and "outside the picture" in reason
    no_hand = Prediction(None, 0.0, False, False)
    reason = frame_reason(blank_frame(background=(5, 5, 5)), no_hand)
    assert reason is not None and "dark" in reason


@pytest.mark.parametrize(
    ("level", "chosen", "words", "expected"),
    [
        ("letters", "letters", (), "letters"),
        ("letters", "digits", (), "letters"),
        ("digits", "letters", (), "digits"),
        ("words", "all", (), "all"),
        ("custom", "letters", ("CAT", "R2D2"), "all"),
        ("custom", "letters", ("123",), "digits"),
        ("custom", "letters", ("CAT",), "letters"),
    ],
)
def test_classes_for_level(level: str, chosen: str, words: tuple[str, ...], expected: str) -> None:
    assert classes_for(level, chosen, words) == expected  # type: ignore[arg-type]


def test_reference_skeleton_is_drawn_from_landmarks(data_root: Path) -> None:
    detection = typical_detection("B", per_class=10)
    assert detection is not None
    plain = reference_skeleton(detection, mirrored=False, size=160)
    mirrored = reference_skeleton(detection, mirrored=True, size=160)
    assert plain.shape == (160, 160, 3) and plain.any()
    # The mirror image of the same drawing (as the mirrored preview shows the student's hand).
    flipped = plain[:, ::-1].astype(int)
    shown = mirrored.astype(int)
    assert np.abs(shown - flipped).mean() < 0.5 * np.abs(shown - plain.astype(int)).mean()
