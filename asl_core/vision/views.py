"""What the models see, built from one `HandDetection`: a crop, a skeleton image, a vector.

All three are made the same way at training and at prediction time, and caches of them are
keyed by `PIPELINE_VERSION`: bump it whenever any function here changes its output.

Handedness convention (one for the whole project): the hand MediaPipe labels "Left" in an
unmirrored photo, i.e. a signer's RIGHT hand, which is what the training photos show. A hand
labelled "Right" (a left-handed signer, or a mirrored webcam preview) is mirrored onto it by
`landmark_vector`. For images, `mirror_image` + `mirror_detection` give the mirrored input,
so a model can predict both and combine them (seed 000, 4.5.5).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from asl_core.vision.hands import HAND_CONNECTIONS, NUM_LANDMARKS, HandDetection, landmark_box

PIPELINE_VERSION = "1"
"""Version of every representation below; caches of crops/skeletons/vectors include it."""


LANDMARK_DIM = NUM_LANDMARKS * 3
"""Length of `landmark_vector`: 21 landmarks x (x, y, z)."""


CANONICAL_HANDEDNESS = "Left"
"""MediaPipe's label for the hand the training data shows (a right hand, unmirrored)."""


# One colour per finger (RGB) so that a model (and a person) can tell the fingers apart in the
# skeleton image; fixed values keep the image deterministic.
PALM_COLOUR = (255, 255, 255)


FINGER_COLOURS: dict[str, tuple[int, int, int]] = {
    "thumb": (255, 48, 48),
    "index": (255, 200, 0),
    "middle": (0, 220, 60),
    "ring": (0, 150, 255),
    "pinky": (210, 80, 255),
}


_FINGER_OF_LANDMARK: tuple[str, ...] = (
    "palm",
    *("thumb",) * 4,
    *("index",) * 4,
    *("middle",) * 4,
    *("ring",) * 4,
    *("pinky",) * 4,
)


def _landmark_colour(index: int) -> tuple[int, int, int]:
    finger = _FINGER_OF_LANDMARK[index]
    return PALM_COLOUR if finger == "palm" else FINGER_COLOURS[finger]


def _connection_colour(a: int, b: int) -> tuple[int, int, int]:
    """A bone takes its finger's colour; bones between knuckles and the wrist are palm."""
    fa, fb = _FINGER_OF_LANDMARK[a], _FINGER_OF_LANDMARK[b]
    if fa == fb and fa != "palm":
        return FINGER_COLOURS[fa]
    if a == 0 and fb == "thumb":  # wrist to thumb base belongs to the thumb
        return FINGER_COLOURS["thumb"]
    return PALM_COLOUR


def _check_image_matches(rgb: np.ndarray, det: HandDetection) -> None:
    height, width = rgb.shape[:2]
    if (width, height) != det.image_size:
        raise ValueError(
            f"the detection was made on a {det.image_size[0]}x{det.image_size[1]} image, "
            f"this one is {width}x{height}"
        )


def crop_box(det: HandDetection, margin: float = 0.25) -> tuple[int, int, int, int]:
    """Square (x0, y0, x1, y1) around the landmarks, `margin` x the longer side on each side.

    The unclipped landmark extent is used, so a hand partly out of the frame stays centred;
    the box may therefore extend beyond the image (hand_crop pads there).
    """
    points = det.pixel_landmarks
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2.0
    side = max(float((hi - lo).max()), 1.0) * (1.0 + 2.0 * margin)
    x0 = round(float(centre[0]) - side / 2.0)
    y0 = round(float(centre[1]) - side / 2.0)
    side_px = max(1, round(side))
    return x0, y0, x0 + side_px, y0 + side_px


def hand_crop(
    rgb: np.ndarray, det: HandDetection, size: int = 224, margin: float = 0.25
) -> np.ndarray:
    """Square size x size crop of the hand, padded with BLACK where it leaves the image.

    Black matches the Massey photos (hands on black) and the transparent-upload policy of
    images.load_image. A landmark box misses the palm's edge and the finger pads, hence the
    margin. Shrinking uses INTER_AREA (no aliasing); enlarging a small hand uses INTER_LINEAR
    because INTER_AREA degrades to nearest-neighbour blocks when upscaling.
    """
    _check_image_matches(rgb, det)
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = crop_box(det, margin)
    side = x1 - x0
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x1, width), min(y1, height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1, :3]
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


def skeleton_image(
    det: HandDetection, size: int = 224, thickness: int | None = None, margin: float = 0.1
) -> np.ndarray:
    """The 21 landmarks and their connections on black (seed 000, 4.5.3), size x size RGB.

    The hand is fitted into the square (aspect kept, `margin` of the side left free), so the
    image does not depend on where or how large the hand was in the frame, nor on the photo's
    background. Each finger has its own colour. Handedness is drawn as detected: use
    `mirror_detection` for the mirrored skeleton.
    """
    if thickness is None:
        thickness = max(1, round(size / 75))
    points = det.pixel_landmarks.astype(np.float64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = max(float((hi - lo).max()), 1e-6)
    scale = size * (1.0 - 2.0 * margin) / extent
    fitted = (points - (lo + hi) / 2.0) * scale + size / 2.0
    # Sub-pixel coordinates (shift=4, i.e. 1/16 px) keep small skeletons from wobbling.
    shift = 4
    pts = np.rint(fitted * (1 << shift)).astype(np.int32)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    for a, b in HAND_CONNECTIONS:
        cv2.line(
            canvas,
            tuple(int(v) for v in pts[a]),
            tuple(int(v) for v in pts[b]),
            _connection_colour(a, b),
            thickness,
            cv2.LINE_AA,
            shift,
        )
    radius = (thickness + 1) << shift
    for index in range(NUM_LANDMARKS):
        centre = tuple(int(v) for v in pts[index])
        cv2.circle(canvas, centre, radius, _landmark_colour(index), -1, cv2.LINE_AA, shift)
    return canvas


def _aspect_correct_landmarks(
    det_or_landmarks: HandDetection | np.ndarray, image_size: tuple[int, int] | None
) -> tuple[np.ndarray, str | None]:
    if isinstance(det_or_landmarks, HandDetection):
        det = det_or_landmarks
        landmarks = det.landmarks.astype(np.float64)
        image_size = det.image_size
        detected = det.handedness
    else:
        landmarks = np.asarray(det_or_landmarks, dtype=np.float64)
        detected = None
        if landmarks.shape == (LANDMARK_DIM,):
            landmarks = landmarks.reshape(NUM_LANDMARKS, 3)
        if landmarks.shape != (NUM_LANDMARKS, 3):
            raise ValueError(f"expected 21x3 landmarks, got shape {landmarks.shape}")
    if image_size is not None:
        width, height = image_size
        # x is normalised by the width and y by the height: back to pixels so that a hand in a
        # 16:9 frame is not squashed. MediaPipe's z is on the scale of x, so it takes the width.
        landmarks = landmarks * np.array([width, height, width], dtype=np.float64)
    return landmarks, detected


def landmark_vector(
    det_or_landmarks: HandDetection | np.ndarray,
    *,
    handedness: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """63 float32 values: wrist-centred, scale-normalised landmarks in one handedness.

    - Coordinates are pixel-aspect-correct (x times width, y times height) before anything
      else. For a raw 21x3 array pass `image_size` if it holds normalised image landmarks;
      without it the array is taken as already isotropic (e.g. world landmarks).
    - Landmark 0 (the wrist) is moved to the origin.
    - Scale: divided by the largest 3-D distance of any landmark from the wrist, so the hand
      lies in the unit ball. Chosen over the wrist-to-middle-knuckle length, a single bone that
      foreshortens to almost nothing when the palm faces the camera or is tilted toward it,
      which would blow the vector up; the maximum over 21 points never collapses.
    - Handedness: `handedness` overrides the detection's label; a hand labelled "Right" is
      mirrored (x -> -x) onto the project convention ("Left", a right hand unmirrored).
      A raw array with no `handedness` is not mirrored.
    A degenerate hand (all landmarks on one point) gives zeros.
    """
    landmarks, detected = _aspect_correct_landmarks(det_or_landmarks, image_size)
    label = handedness if handedness is not None else detected
    if label is not None and label not in ("Left", "Right"):
        raise ValueError(f"handedness must be 'Left' or 'Right', got {label!r}")
    if not np.all(np.isfinite(landmarks)):
        raise ValueError("landmarks contain NaN or infinity")
    centred = landmarks - landmarks[0]
    radius = float(np.linalg.norm(centred, axis=1).max())
    if radius < 1e-9:
        return np.zeros(LANDMARK_DIM, dtype=np.float32)
    vector = (centred / radius).astype(np.float32).reshape(LANDMARK_DIM)
    if label is not None and label != CANONICAL_HANDEDNESS:
        vector = mirror_landmark_vector(vector)
    return vector


def mirror_landmark_vector(vector: np.ndarray) -> np.ndarray:
    """x -> -x of a landmark vector (or of a batch of them, shape (..., 63))."""
    vector = np.asarray(vector)
    if vector.shape[-1] != LANDMARK_DIM:
        raise ValueError(f"expected the last axis to be {LANDMARK_DIM}, got {vector.shape}")
    mirrored = vector.reshape(*vector.shape[:-1], NUM_LANDMARKS, 3).copy()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored.reshape(vector.shape)


def mirror_image(rgb: np.ndarray) -> np.ndarray:
    """Left-right flip, for mirrored test-time input (seed 000, 4.5.5) and the selfie
    preview. cv2.flip: a numpy copy of a reversed view took 1.7 ms per 640x480 frame, 0.1 here."""
    return cv2.flip(np.ascontiguousarray(rgb), 1)


def moved_detection(det: HandDetection, offset_px: np.ndarray) -> HandDetection:
    """The detection with each landmark moved by `offset_px` (21x2 pixels, or 2 for all),
    its box following (world landmarks unchanged: the hand's shape is the same).

    For drawing a reading on a newer frame of a moving hand (`StreamRecognizer.render`)."""
    width, height = det.image_size
    landmarks = det.landmarks.copy()
    landmarks[:, :2] += np.asarray(offset_px, np.float32) / np.array([width, height], np.float32)
    return replace(det, landmarks=landmarks, box=landmark_box(landmarks, det.image_size))


def mirror_detection(det: HandDetection) -> HandDetection:
    """The detection as it would be in `mirror_image(rgb)`: x -> 1 - x, the other hand label.

    Saves a second MediaPipe run when predicting on the original and the mirrored input.
    """
    landmarks = det.landmarks.copy()
    landmarks[:, 0] = 1.0 - landmarks[:, 0]
    world = det.world_landmarks.copy()
    world[:, 0] = -world[:, 0]
    other = {"Left": "Right", "Right": "Left"}.get(det.handedness, det.handedness)
    return replace(
        det,
        landmarks=landmarks,
        world_landmarks=world,
        handedness=other,
        box=landmark_box(landmarks, det.image_size),
    )
