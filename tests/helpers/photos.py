"""Real photos from ../shared/data for tests: one by class and signer; a far hand made from one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def massey_photo(massey_root: Path, label: str, signer: str = "hand1", index: int = 1) -> Path:
    """One real Massey photo: massey_photo(root, 'a') is images/a/hand1_a_bot_seg_1_cropped.jpeg."""
    folder = massey_root / "images" / label.lower()
    exact = folder / f"{signer}_{label.lower()}_bot_seg_{index}_cropped.jpeg"
    if exact.exists():
        return exact
    return sorted(folder.glob(f"{signer}_*.jpeg"))[index - 1]


def shrunk_hand(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The photo scaled by `factor` and centred on a black frame of about its old size: a hand
    far from the camera, with the context around it that MediaPipe's palm detector wants."""
    shrunk = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    border = (rgb.shape[0] - shrunk.shape[0]) // 2
    return cv2.copyMakeBorder(shrunk, border, border, border, border, cv2.BORDER_CONSTANT)
