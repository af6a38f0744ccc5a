"""StreamRecognizer on clips made of real Massey photos, as the live page's callback sees them.

The clips come from `tests.helpers.clips`, which also makes the browser test's fake-camera
clips: each letter is one real photo held 1 s at 30 fps, with 1.5 s of no hand between words.
The letters were chosen after checking that the shipped default model reads each one at 0.9 or
more on signers 4 and 5 (with classes="letters", so O/0, V/2 and W/6 cannot mix).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_core.inference.predictor import ModelNotAvailable, Predictor
from asl_core.inference.stream import StreamRecognizer, StreamSettings
from asl_core.vision.views import mirror_image
from tests.helpers.clips import ClipFrame, blank_frame, build_spelling_clip

WORDS = "CAB HI"


WORD = "CAB"


FPS = 30


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    try:
        return Predictor()
    except ModelNotAvailable as error:
        pytest.skip(f"the shipped default model is missing: {error}")


@pytest.fixture(scope="module")
def clip(massey_root: Path) -> list[ClipFrame]:
    return build_spelling_clip(WORDS, massey_root)


@pytest.fixture(scope="module")
def short_clip(massey_root: Path) -> list[ClipFrame]:
    """One word, for the tests that replay it under other settings (keeps them quick)."""
    return build_spelling_clip(WORD, massey_root)


def play(recognizer: StreamRecognizer, frames: list[ClipFrame]) -> list[tuple[ClipFrame, str]]:
    """Feed every frame with its 30 fps timestamp; (frame, what was committed) per commit."""
    commits = []
    for frame in frames:
        result = recognizer.process(frame.rgb, frame.timestamp)
        if result.committed:
            commits.append((frame, result.committed))
    return commits


def test_clip_spells_the_words(predictor: Predictor, clip: list[ClipFrame]) -> None:
    recognizer = StreamRecognizer(predictor, StreamSettings(classes="letters"))
    try:
        commits = play(recognizer, clip)
    finally:
        recognizer.close()
    assert recognizer.text == WORDS + " "  # the clip ends with no hand: a space
    # Every letter is typed while its own photo is on screen, a space only while none is.
    for frame, committed in commits:
        assert frame.label == (None if committed == " " else committed)
    assert "".join(committed for _, committed in commits) == WORDS + " "


def test_left_handed_signer_spells_the_same(
    predictor: Predictor, short_clip: list[ClipFrame]
) -> None:
    """A left hand is the mirror image of a right one; the setting mirrors it back."""
    mirrored = [ClipFrame(f.timestamp, mirror_image(f.rgb), f.label) for f in short_clip]
    recognizer = StreamRecognizer(predictor, StreamSettings(left_handed=True))
    try:
        play(recognizer, mirrored)
    finally:
        recognizer.close()
    assert recognizer.text.strip() == WORD


def test_nothing_is_typed_without_a_hand(predictor: Predictor) -> None:
    recognizer = StreamRecognizer(predictor)
    blank = blank_frame()
    try:
        results = [recognizer.process(blank, i / FPS) for i in range(3 * FPS)]
    finally:
        recognizer.close()
    assert recognizer.text == ""
    assert all(r.committed is None and r.smoothed is None for r in results)
    assert not any(r.prediction.hand for r in results)


def test_overlay_frames_and_stage_timings(predictor: Predictor, clip: list[ClipFrame]) -> None:
    recognizer = StreamRecognizer(predictor, StreamSettings(mirror_preview=True))
    try:
        shown = [recognizer.process_and_render(f.rgb, f.timestamp) for f in clip[: FPS + 15]]
    finally:
        recognizer.close()
    for frame, image in zip(clip, shown, strict=False):
        assert image.shape == (480, 640, 3) and image.dtype == np.uint8
        if frame.label is None:  # no hand: the mirrored frame, nothing drawn
            assert np.array_equal(image, mirror_image(frame.rgb))
    # A hand in view gets its box, skeleton and letter drawn on the mirrored frame.
    assert clip[FPS + 14].label is not None
    assert not np.array_equal(shown[FPS + 14], mirror_image(clip[FPS + 14].rgb))
    assert {"detect", "preprocess", "model", "overlay"} <= set(recognizer.timer.ms)
    assert all(value >= 0 for value in recognizer.timer.ms.values())
    assert recognizer.timer.frames == FPS + 15
    assert recognizer.timer.fps == pytest.approx(FPS, rel=0.01)  # from the clip's timestamps


def test_settings_change_mid_stream(predictor: Predictor, short_clip: list[ClipFrame]) -> None:
    """A threshold above every confidence stops typing at once, without a new recogniser."""
    recognizer = StreamRecognizer(predictor)
    after_c = next(i for i, f in enumerate(short_clip) if f.label == "A")  # C typed by then
    try:
        play(recognizer, short_clip[:after_c])
        typed = recognizer.text
        recognizer.update_settings(StreamSettings(threshold=1.01))
        play(recognizer, short_clip[after_c:])
    finally:
        recognizer.close()
    assert typed == "C"
    assert recognizer.text == "C "  # no more letters; the hand's "absence" still types a space
