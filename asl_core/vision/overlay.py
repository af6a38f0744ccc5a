"""Drawing answers on frames: the hand box, skeleton, label and confidence."""

from __future__ import annotations

import cv2
import numpy as np

from asl_core.vision.hands import HAND_CONNECTIONS, NUM_LANDMARKS, HandDetection
from asl_core.vision.views import _check_image_matches, _connection_colour, _landmark_colour

ACCEPTED_COLOUR = (0, 200, 80)  # green: a prediction the app stands by


UNSURE_COLOUR = (255, 170, 0)  # amber: below the confidence threshold, shown with "?"


_BONES = tuple((a, b, _connection_colour(a, b)) for a, b in HAND_CONNECTIONS)


_POINT_COLOURS = tuple(_landmark_colour(index) for index in range(NUM_LANDMARKS))


def _put_label(
    canvas: np.ndarray,
    text: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    scale: float,
    thickness: int,
) -> None:
    """Text on a filled tag above the box, or inside its top edge when there is no room."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = max(2, thickness * 2)
    height, width = canvas.shape[:2]
    x0, y0 = box[0], box[1]
    tag_h = th + baseline + 2 * pad
    top = y0 - tag_h if y0 - tag_h >= 0 else min(y0, max(height - tag_h, 0))
    left = min(max(x0, 0), max(width - tw - 2 * pad, 0))
    cv2.rectangle(canvas, (left, top), (left + tw + 2 * pad, top + tag_h), colour, -1)
    text_colour = (0, 0, 0)
    origin = (left + pad, top + pad + th)
    cv2.putText(canvas, text, origin, font, scale, text_colour, thickness, cv2.LINE_AA)


def overlay_text(label: str | None, confidence: float | None, accepted: bool = True) -> str:
    """'A 93%' for an accepted prediction, 'A? 41%' for an unsure one, '?' with no label."""
    if label is None:
        return "" if accepted else "?"
    text = label if accepted else f"{label}?"
    if confidence is not None:
        text += f" {confidence:.0%}"
    return text


def draw_overlay(
    rgb: np.ndarray,
    det: HandDetection,
    label: str | None = None,
    confidence: float | None = None,
    *,
    accepted: bool = True,
) -> np.ndarray:
    """A copy of the image with the hand's box, skeleton and 'label 93%' (seed 000, 4.5.7).

    An unsure prediction (below the app's threshold) is drawn in amber with a '?', so the user
    sees that the app is not standing by it. Sizes scale with the image.
    """
    _check_image_matches(rgb, det)
    canvas = np.ascontiguousarray(rgb[:, :, :3]).copy()
    colour = ACCEPTED_COLOUR if accepted else UNSURE_COLOUR
    longer = max(canvas.shape[:2])
    thickness = max(1, round(longer / 300))
    x0, y0, x1, y1 = det.box
    cv2.rectangle(canvas, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), colour, thickness + 1)
    # Python ints, converted once (the live page draws this on every frame)
    points = [tuple(point) for point in np.rint(det.pixel_landmarks).astype(np.int32).tolist()]
    for a, b, bone_colour in _BONES:
        cv2.line(canvas, points[a], points[b], bone_colour, thickness, cv2.LINE_AA)
    for centre, point_colour in zip(points, _POINT_COLOURS, strict=True):
        cv2.circle(canvas, centre, thickness + 2, point_colour, -1, cv2.LINE_AA)
    text = overlay_text(label, confidence, accepted)
    if text:
        _put_label(canvas, text, det.box, colour, max(0.5, longer / 700), thickness + 1)
    return canvas
