"""Why no hand was found: likely causes read from measured statistics of the photo.

When MediaPipe (with every retry of `hands.HandDetector`) finds no hand, the user needs to
know what to change. Each `NoHandHint` names one cause with the number that shows it:

- "dark": the brightest 5% of the photo under `hands.DARK_P95` of 255 (the exposure retry's
  own test). Photos at a tenth of their brightness: 25-30.
- "overexposed": more than `OVEREXPOSED_SHARE` of the pixels at 250 or above (blown out; a
  third of some ASL-HG photos, white walls, and their hands are found: hence a half).
- "cut off": skin-coloured pixels fill more than `EDGE_SKIN_SHARE` of the photo's border: a
  hand or arm crossing the edge, so part of the hand is probably outside the frame.
- "small": a large frame (longer side >= `hands.TILE_MIN_SIDE`) where skin-coloured pixels
  cover less than `SMALL_SKIN_SHARE`: a far-away signer whose hand is a few dozen pixels.
- "no colour": a greyscale photo (the 99th percentile of each pixel's channel spread, max - min
  of R, G, B, under `COLOURLESS_CHROMA`): skin cannot be told by colour, so the skin-based
  causes below are not judged. Real aslhg, massey36 and grassknoted photos measure 60-225;
  their greyscale copies 0.
- "no skin": a lit colour photo with almost no skin-coloured pixels (under `NO_SKIN_SHARE`):
  gloved hands, which MediaPipe (trained on bare hands) rarely finds, or no hand in the picture.
- "blurred": variance of the Laplacian under `BLUR_VARIANCE` (motion or focus blur).
Colour and sharpness are not judged in a dark photo (noise and darkness mislead both).

Skin colour is the YCrCb box of Chai and Ngan (1999), Cr 133-173 and Cb 77-127, a coarse
test that covers a wide range of skin tones in ordinary light; it is only used for advice.
Statistics are taken on a copy whose longer side is `STATS_SIDE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from asl_core.io.images import downscale_for_detection
from asl_core.vision.hands import DARK_P95, TILE_MIN_SIDE, luminance

STATS_SIDE = 512


OVEREXPOSED_SHARE = 0.5


EDGE_SKIN_SHARE = 0.25


SMALL_SKIN_SHARE = 0.02


NO_SKIN_SHARE = 0.002


COLOURLESS_CHROMA = 12.0


BLUR_VARIANCE = 15.0


@dataclass(frozen=True)
class NoHandHint:
    """One likely cause: a short code, a sentence for the user, and the measured value."""

    code: str
    message: str
    value: float


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean H x W mask of skin-coloured pixels (Chai and Ngan's YCrCb box)."""
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[:, :, 1], ycrcb[:, :, 2]
    return (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


def no_hand_hints(rgb: np.ndarray) -> list[NoHandHint]:
    """Likely causes for a photo without a hand found, most likely first ([] if none shows).

    rgb: H x W x 3 uint8 RGB (any size; the original photo, not the detection copy).
    """
    small, _ = downscale_for_detection(rgb, STATS_SIDE)
    grey = luminance(small)
    hints = []
    p95 = float(np.percentile(grey, 95))
    if p95 < DARK_P95:
        hints.append(
            NoHandHint(
                "dark",
                f"The photo is very dark (its brightest parts reach {p95:.0f} of 255): "
                "add light, or face a window.",
                p95,
            )
        )
    blown = float((grey >= 250).mean())
    if blown > OVEREXPOSED_SHARE:
        hints.append(
            NoHandHint(
                "overexposed",
                f"{blown:.0%} of the photo is blown out to white: avoid a bright light or "
                "window behind the hand.",
                blown,
            )
        )
    if p95 < DARK_P95:
        return hints  # colour and sharpness mean little in the dark
    chroma = float(np.percentile(small.max(axis=2) - small.min(axis=2), 99))
    if chroma < COLOURLESS_CHROMA:
        hints.append(
            NoHandHint(
                "no colour",
                "The photo has no colour (it looks greyscale), so the hand cannot be told "
                "from the background by its skin colour: a colour photo helps.",
                chroma,
            )
        )
    else:
        hints += _skin_hints(small, max(rgb.shape[:2]))
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    if sharpness < BLUR_VARIANCE:
        hints.append(
            NoHandHint(
                "blurred",
                "The photo is blurred: hold the camera (and the hand) still.",
                sharpness,
            )
        )
    return hints


def _skin_hints(small: np.ndarray, longer_side: int) -> list[NoHandHint]:
    skin = skin_mask(small)
    share = float(skin.mean())
    border = np.concatenate([skin[0], skin[-1], skin[:, 0], skin[:, -1]])
    edge = float(border.mean())
    hints = []
    if edge > EDGE_SKIN_SHARE:
        hints.append(
            NoHandHint(
                "cut off",
                "Skin touches the edge of the photo: keep the whole hand, wrist included, "
                "inside the frame.",
                edge,
            )
        )
    if share < NO_SKIN_SHARE:
        hints.append(
            NoHandHint(
                "no skin",
                "No bare skin is visible: gloved hands are rarely found (the hand detector "
                "knows bare hands); take gloves off and keep the hand in the picture.",
                share,
            )
        )
    elif longer_side >= TILE_MIN_SIDE and share < SMALL_SKIN_SHARE:
        hints.append(
            NoHandHint(
                "small",
                "The hand looks small in the frame: move closer to the camera or crop the "
                "photo around the hand.",
                share,
            )
        )
    return hints
