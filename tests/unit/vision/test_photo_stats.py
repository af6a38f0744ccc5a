"""No-hand advice from measured photo statistics, on real photos of people in ordinary rooms."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_core.io.images import load_image
from asl_core.vision.hands import HandDetector
from asl_core.vision.photo_stats import no_hand_hints, skin_mask


def _photos(root: Path, count: int) -> list[np.ndarray]:
    with (root / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    step = len(rows) // count
    return [load_image(root / row["path"]) for row in rows[::step][:count]]


def _codes(rgb: np.ndarray) -> list[str]:
    return [hint.code for hint in no_hand_hints(rgb)]


@pytest.fixture(scope="module")
def room_photos(letters_root: Path) -> list[np.ndarray]:
    """Eight grassknoted photos: one person, one room, the hand well inside the frame."""
    return _photos(letters_root, 8)


@pytest.fixture(scope="module")
def detector() -> Iterator[HandDetector]:
    with HandDetector(mode="image") as det:
        yield det


def test_ordinary_photos_get_no_dark_small_or_glove_hint(room_photos: list[np.ndarray]) -> None:
    for rgb in room_photos:
        assert not {"dark", "small", "no skin", "cut off"} & set(_codes(rgb))


def test_a_dark_photo_is_called_dark_first_with_its_brightness(
    room_photos: list[np.ndarray],
) -> None:
    for rgb in room_photos:
        hints = no_hand_hints((rgb.astype(np.float32) * 0.1).astype(np.uint8))
        assert hints[0].code == "dark"
        assert hints[0].value < 30
        assert f"reach {hints[0].value:.0f} of 255" in hints[0].message


def test_a_far_signer_in_a_big_frame_is_called_small(room_photos: list[np.ndarray]) -> None:
    for rgb in room_photos:
        frame = cv2.copyMakeBorder(
            rgb, 400, 1080 - 400 - rgb.shape[0], 800, 1920 - 800 - rgb.shape[1],
            cv2.BORDER_CONSTANT, value=(120, 120, 120),
        )  # fmt: skip
        assert "small" in _codes(frame)


def test_a_hand_crossing_the_edge_is_called_cut_off(
    room_photos: list[np.ndarray], detector: HandDetector
) -> None:
    checked = 0
    for rgb in room_photos:
        det = detector.detect(rgb)
        if det is None:
            continue
        x0, y0, x1, y1 = det.box
        top_half = np.ascontiguousarray(rgb[y0 : (y0 + y1) // 2, x0:x1])
        codes = _codes(top_half)
        if codes[:1] == ["dark"]:
            continue  # a dim photo of the set: darkness is named first, colour not judged
        assert "cut off" in codes
        checked += 1
    assert checked >= 4


def test_a_greyscale_photo_is_called_colourless_not_gloved(room_photos: list[np.ndarray]) -> None:
    """A greyscale copy has no skin colour anywhere; the cause is the missing colour."""
    for rgb in room_photos:
        grey = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        hints = no_hand_hints(grey)
        assert "no colour" in [hint.code for hint in hints]
        assert not {"no skin", "small", "cut off"} & {hint.code for hint in hints}
        assert "glove" not in " ".join(hint.message for hint in hints).lower()


def test_a_colour_photo_with_the_skin_painted_over_suggests_gloves(
    room_photos: list[np.ndarray],
) -> None:
    """The skin-coloured pixels painted blue: what a blue glove shows the skin test."""
    for rgb in room_photos:
        gloved = rgb.copy()
        gloved[skin_mask(rgb)] = (40, 60, 200)
        hints = no_hand_hints(gloved)
        assert "no skin" in [hint.code for hint in hints]
        assert "no colour" not in [hint.code for hint in hints]
        assert "gloved hands are rarely found" in " ".join(hint.message for hint in hints)
