"""Example photos and skeleton drawings shown on the Home page."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asl_core.app.classify import VIEW_SIDE, logger
from asl_core.io.images import (
    ImageError,
    load_image,
)
from asl_core.vision.hands import HandDetector
from asl_core.vision.views import skeleton_image

EXAMPLE_SIGNS: tuple[str, ...] = ("a", "s", "l")
"""The Home page draws the skeletons of these signs, read at runtime from the dataset."""


def example_photos(
    data_root: str | os.PathLike[str], labels: Sequence[str] = EXAMPLE_SIGNS
) -> list[tuple[str, Path]]:
    """(label, photo) for each example sign found in the Massey set; [] when it is absent.

    The photos are read where they are (never copied into the repository) and only their
    skeletons are shown.
    """
    root = Path(data_root) / "massey36" / "images"
    found = []
    for label in labels:
        photo = root / label / f"hand1_{label}_bot_seg_1_cropped.jpeg"
        if not photo.is_file():
            candidates = sorted((root / label).glob("*.jpeg")) if (root / label).is_dir() else []
            if not candidates:
                continue
            photo = candidates[0]
        found.append((label.upper(), photo))
    return found


def example_skeletons(
    detector: HandDetector, photos: Sequence[tuple[str, Path]], size: int = VIEW_SIDE
) -> list[tuple[str, np.ndarray]]:
    """(label, skeleton image) for each example photo whose hand is found; unreadable skipped."""
    skeletons = []
    for label, photo in photos:
        try:
            det = detector.detect(load_image(photo))
        except (ImageError, OSError) as error:
            logger.info("example %s skipped: %s", photo, error)
            continue
        if det is not None:
            skeletons.append((label, skeleton_image(det, size)))
    return skeletons
