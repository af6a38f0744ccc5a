"""Find one hand in a photo or a video frame with MediaPipe Hands (legacy `mp.solutions.hands`).

mediapipe 0.10.21 is pinned because it ships the palm and landmark models inside the wheel
and runs offline; later versions dropped `mp.solutions` and download a model file instead.

Three things here matter for accuracy rather than plumbing:
- In image mode a miss climbs a retry ladder; each step runs only when everything before it
  found nothing, so a photo whose hand is found at once costs exactly one MediaPipe call, and
  every landmark is mapped back to the original image. `HandDetection.found_by` says which
  step found the hand (the answer policy in `asl_core.inference` may trust them differently):
  1. "padding": tightly cropped photos (every Massey image) defeat MediaPipe's palm detector,
     which wants context around the hand: about 65% are found raw. The image padded with a
     border of half its longer side in the corner colour lifts that to about 99%.
  2. "exposure": a dark photo (its 95th-percentile luminance under `DARK_P95`), denoised
     (bilateral filter) and brightened to a mean of `EXPOSURE_TARGET_MEAN`. On photos at a
     tenth of their brightness plus sensor noise, found 21% -> 82% (bench/hard_photos.py; a
     plain gain gave 24%, CLAHE 20%: the gain amplifies noise unless it is filtered first).
  3. "tiles": a far-away signer in a large frame (longer side >= `TILE_MIN_SIDE`) is too small
     for the palm detector, which sees the frame at 192 px; overlapping tiles of 2/3 of the
     shorter side (1/3 overlap) are searched in turn. A 300 px signer in a 1920x1080 frame:
     found 43% -> 93%.
- Huge photos are shrunk to 1280 px before detection (faster, no less accurate) and every
  coordinate is reported in the ORIGINAL image.
- Handedness is MediaPipe's label, unchanged. MediaPipe assumes a mirrored (selfie) image, so
  in an UNMIRRORED photo a signer's right hand is labelled "Left". The training photos show
  right hands unmirrored, i.e. "Left"; `views.landmark_vector` mirrors "Right" hands
  onto that convention.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, get_args

import cv2
import numpy as np

from asl_core.io.images import DETECTION_MAX_SIDE, downscale_for_detection
from asl_core.vision.native_logs import filtered

# Quiet glog and TensorFlow's logging if anything uses them (set before mediapipe is imported).
# MediaPipe 0.10.21's own start-up lines (absl log, TFLite) ignore both: `native_logs` drops them.
os.environ.setdefault("GLOG_minloglevel", "2")


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


NUM_LANDMARKS = 21


# MediaPipe's HAND_CONNECTIONS, spelled out so that drawing does not need to import mediapipe
# (tests check that the two agree). Landmark ids: 0 wrist, 1-4 thumb, 5-8 index,
# 9-12 middle, 13-16 ring, 17-20 pinky (each from the knuckle to the tip).
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
)


Handedness = Literal["Left", "Right"]


FoundBy = Literal["plain", "padding", "exposure", "tiles"]
"""Which step of the image-mode retry ladder found a hand (see the module doc)."""


RETRIES: tuple[FoundBy, ...] = ("padding", "exposure", "tiles")
"""The retry ladder, in order; `HandDetector(retries=...)` picks a subset."""


DARK_P95 = 100
"""A photo whose 95th-percentile luminance (0-255) is below this is dark: the exposure retry
runs. A photo at a tenth of normal brightness has about 25; a Massey hand on black about 200."""


EXPOSURE_TARGET_MEAN = 110.0
"""Mean luminance the exposure retry brightens to (gain capped at `EXPOSURE_MAX_GAIN`)."""


EXPOSURE_MAX_GAIN = 12.0


TILE_MIN_SIDE = 640
"""Frames whose longer side is at least this get the tiled retry (a 300x300 photo of a hand
filling it has nothing to zoom into)."""


TILE_FRACTION = 2 / 3
"""Tile side as a fraction of the (detection-size) frame's shorter side."""


TILE_STEP = 2 / 3
"""Distance between tiles as a fraction of the tile side (1/3 overlap: a hand up to a third
of a tile lies whole in some tile)."""


def _frozen_array(values: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float32, copy=True)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class HandDetection:
    """One hand found in one image; every coordinate refers to the ORIGINAL image.

    landmarks        21x3 float32: x, y normalised by the original width and height (0..1,
                     slightly outside when the hand leaves the frame); z as MediaPipe gives
                     it (relative depth to the wrist, on roughly the scale of x).
    world_landmarks  21x3 float32 in metres around the hand's centre (zeros if absent).
    handedness       "Left" or "Right" exactly as MediaPipe labels it; in an unmirrored photo
                     a right hand is "Left" (MediaPipe assumes a mirrored selfie image).
    score            MediaPipe's handedness confidence, the only per-hand score the legacy
                     API exposes.
    box              (x0, y0, x1, y1) pixel box around the landmarks, clipped to the image,
                     x1/y1 exclusive so that rgb[y0:y1, x0:x1] is the box.
    image_size       (width, height) of the original image.
    num_hands        how many hands MediaPipe saw in the frame (this is one of them).
    found_by         the step of the retry ladder that found it: "plain" (the first try),
                     "padding", "exposure" or "tiles" (see the module doc).
    scale            size of the image MediaPipe read over the original's (<= 1: photos are
                     shrunk to `max_side` first), for `detected_side`.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    handedness: str
    score: float
    box: tuple[int, int, int, int]
    image_size: tuple[int, int]
    num_hands: int = 1
    found_by: FoundBy = "plain"
    scale: float = 1.0

    def __post_init__(self) -> None:
        # Arrays are copied and made read-only so that "frozen" really holds: detections are
        # cached and shared between the overlay, the crop and the models.
        landmarks = _frozen_array(self.landmarks, (NUM_LANDMARKS, 3), "landmarks")
        world = _frozen_array(self.world_landmarks, (NUM_LANDMARKS, 3), "world_landmarks")
        object.__setattr__(self, "landmarks", landmarks)
        object.__setattr__(self, "world_landmarks", world)
        object.__setattr__(self, "box", tuple(int(v) for v in self.box))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "scale", float(self.scale))
        if len(self.box) != 4 or len(self.image_size) != 2:
            raise ValueError("box must be (x0, y0, x1, y1) and image_size (width, height)")
        if self.found_by not in get_args(FoundBy):
            raise ValueError(f"found_by must be one of {get_args(FoundBy)}, got {self.found_by!r}")

    @property
    def padded(self) -> bool:
        """Found only on the padding retry (a tightly cropped photo)."""
        return self.found_by == "padding"

    @property
    def retried(self) -> bool:
        """Found only by a retry, not by the first try."""
        return self.found_by != "plain"

    @property
    def hand_side(self) -> int:
        """Longer side of the landmark box, in pixels of the original image."""
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, y1 - y0)

    @property
    def detected_side(self) -> int:
        """Longer side of the landmark box in pixels of the image MediaPipe read: what the
        reliability of the landmarks depends on (see `asl_core.inference.predictor`)."""
        return round(self.hand_side * self.scale)

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    @property
    def pixel_landmarks(self) -> np.ndarray:
        """21x2 float32 pixel coordinates (x, y) in the original image."""
        scale = np.array(self.image_size, dtype=np.float32)
        return self.landmarks[:, :2] * scale

    @property
    def box_area(self) -> int:
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, for caches of detections."""
        return {
            "landmarks": self.landmarks.tolist(),
            "world_landmarks": self.world_landmarks.tolist(),
            "handedness": self.handedness,
            "score": self.score,
            "box": list(self.box),
            "image_size": list(self.image_size),
            "num_hands": self.num_hands,
            "found_by": self.found_by,
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandDetection:
        return cls(
            landmarks=np.asarray(data["landmarks"], dtype=np.float32),
            world_landmarks=np.asarray(data["world_landmarks"], dtype=np.float32),
            handedness=str(data["handedness"]),
            score=float(data["score"]),
            box=tuple(data["box"]),
            image_size=tuple(data["image_size"]),
            num_hands=int(data["num_hands"]),
            # Caches written before the retry ladder hold only "padded".
            found_by=data.get("found_by", "padding" if data.get("padded") else "plain"),
            scale=float(data.get("scale", 1.0)),
        )


def landmark_box(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) of normalised landmarks, clipped; x1/y1 exclusive."""
    width, height = image_size
    xs = landmarks[:, 0] * width
    ys = landmarks[:, 1] * height
    x0 = int(np.clip(np.floor(xs.min()), 0, width))
    y0 = int(np.clip(np.floor(ys.min()), 0, height))
    x1 = int(np.clip(np.ceil(xs.max()) + 1, 0, width))
    y1 = int(np.clip(np.ceil(ys.max()) + 1, 0, height))
    return x0, y0, x1, y1


def corner_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """Median of the four corner pixels: the background colour to pad with."""
    corners = np.stack([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]]).astype(np.float32)
    median = np.median(corners, axis=0)
    return int(median[0]), int(median[1]), int(median[2])


def pad_for_detection(rgb: np.ndarray, fraction: float = 0.5) -> tuple[np.ndarray, int]:
    """Border of `fraction` x the longer side in the corner colour; returns (image, border).

    MediaPipe's palm detector needs the hand to be a fraction of the frame with some context;
    a hand that fills the frame edge to edge (a cropped photo) is often missed.
    """
    border = max(1, round(fraction * max(rgb.shape[:2])))
    padded = cv2.copyMakeBorder(
        rgb, border, border, border, border, cv2.BORDER_CONSTANT, value=corner_colour(rgb)
    )
    return padded, border


@dataclass
class _RawHand:
    """MediaPipe's output for one hand, normalised to the image it was run on."""

    landmarks: np.ndarray  # 21x3
    world_landmarks: np.ndarray  # 21x3
    handedness: str
    score: float


def _as_rgb_uint8(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {shape}")
    if rgb.shape[2] == 4:
        rgb = rgb[:, :, :3]
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {rgb.dtype}; use images.load_image")
    return np.ascontiguousarray(rgb)


class HandDetector:
    """MediaPipe Hands behind one small API; use as a context manager or call close().

    mode="image": every call is independent (static_image_mode=True); misses climb the retry
    ladder `retries` (default all of `RETRIES`; see the module doc). For photos and uploads.
    mode="video": MediaPipe tracks the hand from frame to frame (faster, steadier); no
    retries. Create ONE per stream (per webrtc session) and never share it between streams:
    the tracking state would mix two people's hands.

    Several hands: the one with the largest landmark box (in pixels) is returned, the signing
    hand being nearest the camera in practice; `num_hands` reports how many were seen and
    `detect_all` returns all of them.

    MediaPipe graphs are not thread-safe. Calls on one detector are serialised by a lock, so
    an image-mode detector may be shared (calls then wait on each other); for parallel work
    make one detector per thread. Creating one takes about 0.3 s (the mediapipe import about
    1.5 s, once per process): callers should cache it (e.g. st.cache_resource in image mode).
    """

    def __init__(
        self,
        *,
        mode: Literal["image", "video"] = "image",
        max_num_hands: int = 2,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        model_complexity: int = 1,
        pad_retry: bool = True,
        retries: Sequence[FoundBy] | None = None,
        max_side: int = DETECTION_MAX_SIDE,
    ) -> None:
        """`retries`: the ladder's steps to use, in `RETRIES` order (default: all of them, or
        none when `pad_retry` is False, the older switch)."""
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', got {mode!r}")
        chosen = tuple(RETRIES if pad_retry else ()) if retries is None else tuple(retries)
        unknown = [step for step in chosen if step not in RETRIES]
        if unknown:
            raise ValueError(f"unknown retries {unknown}; choose from {RETRIES}")
        import mediapipe as mp  # imported here: 1.5 s, and only callers who detect need it

        self.mode = mode
        self.retries: tuple[FoundBy, ...] = (
            tuple(step for step in RETRIES if step in chosen) if mode == "image" else ()
        )
        self.max_side = max_side
        self._lock = threading.Lock()
        self._quiet = True  # MediaPipe's start-up log lines are dropped until it reads a hand
        # MediaPipe opens its graph in worker threads, which log (`native_logs`) after the
        # constructor returns: one blank image, read here, waits for them under the filter.
        with filtered():
            self._hands: Any = mp.solutions.hands.Hands(
                static_image_mode=mode == "image",
                max_num_hands=max_num_hands,
                model_complexity=model_complexity,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            self._hands.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Free MediaPipe's graph; safe to call twice."""
        with self._lock:
            if self._hands is not None:
                self._hands.close()
                self._hands = None

    @property
    def closed(self) -> bool:
        return self._hands is None

    def detect(self, rgb: np.ndarray) -> HandDetection | None:
        """The largest hand in an RGB uint8 image, or None when there is none."""
        found = self.detect_all(rgb)
        return found[0] if found else None

    def detect_all(self, rgb: np.ndarray) -> list[HandDetection]:
        """Every hand found, largest landmark box first (see the class doc)."""
        rgb = _as_rgb_uint8(rgb)
        height, width = rgb.shape[:2]
        small, scale = downscale_for_detection(rgb, self.max_side)
        raw = self._process(small)
        found_by: FoundBy = "plain"
        for step in self.retries:
            if raw:
                break
            raw = self._retry(step, small)
            found_by = step
        # Normalised coordinates of the shrunk image are those of the original (same aspect).
        detections = [
            HandDetection(
                landmarks=hand.landmarks,
                world_landmarks=hand.world_landmarks,
                handedness=hand.handedness,
                score=hand.score,
                box=landmark_box(hand.landmarks, (width, height)),
                image_size=(width, height),
                num_hands=len(raw),
                found_by=found_by,
                scale=scale,
            )
            for hand in raw
        ]
        detections.sort(key=lambda det: det.box_area, reverse=True)
        return detections

    def _retry(self, step: FoundBy, small: np.ndarray) -> list[_RawHand]:
        """One step of the ladder on the detection-size image; [] when it does not apply."""
        if step == "padding":
            padded, border = pad_for_detection(small)
            return [_unpad(hand, small.shape[:2], border) for hand in self._process(padded)]
        if step == "exposure":
            return self._process(normalise_exposure(small)) if is_dark(small) else []
        if step == "tiles" and max(small.shape[:2]) >= TILE_MIN_SIDE:
            return self._tiles(small)
        return []

    def _tiles(self, small: np.ndarray) -> list[_RawHand]:
        """The hands of the first tile that has any, preferring a tile whose hands are not cut
        by the tile's edge (a hand across two tiles is whole in the overlap)."""
        height, width = small.shape[:2]
        cut: list[_RawHand] = []
        for box in tile_boxes(width, height):
            x0, y0, x1, y1 = box
            hands = self._process(np.ascontiguousarray(small[y0:y1, x0:x1]))
            if not hands:
                continue
            mapped = [_from_tile(hand, box, (width, height)) for hand in hands]
            if not any(_cut_by_tile(hand, box, (width, height)) for hand in mapped):
                return mapped
            cut = cut or mapped
        return cut

    def _process(self, rgb: np.ndarray) -> list[_RawHand]:
        with self._lock:
            if self._hands is None:
                raise RuntimeError("this HandDetector is closed")
            with filtered() if self._quiet else nullcontext():  # native_logs: its lines
                result = self._hands.process(rgb)
            hands = _raw_hands(result)
            self._quiet = self._quiet and not hands
        return hands


def _raw_hands(result: Any) -> list[_RawHand]:
    """MediaPipe's protobuf results as arrays."""
    if not result.multi_hand_landmarks:
        return []
    worlds = result.multi_hand_world_landmarks or []
    labels = result.multi_handedness or []
    hands = []
    for i, marks in enumerate(result.multi_hand_landmarks):
        landmarks = np.array([(p.x, p.y, p.z) for p in marks.landmark], dtype=np.float32)
        if i < len(worlds):
            world = np.array([(p.x, p.y, p.z) for p in worlds[i].landmark], dtype=np.float32)
        else:
            world = np.zeros((NUM_LANDMARKS, 3), dtype=np.float32)
        label, score = "Left", 0.0
        if i < len(labels) and labels[i].classification:
            label = labels[i].classification[0].label
            score = labels[i].classification[0].score
        hands.append(_RawHand(landmarks, world, label, float(score)))
    return hands


def _unpad(hand: _RawHand, inner_hw: tuple[int, int], border: int) -> _RawHand:
    """Landmarks found on the padded image, normalised to the unpadded one."""
    inner_h, inner_w = inner_hw
    outer_w, outer_h = inner_w + 2 * border, inner_h + 2 * border
    marks = hand.landmarks.astype(np.float64)
    mapped = np.empty_like(marks)
    mapped[:, 0] = (marks[:, 0] * outer_w - border) / inner_w
    mapped[:, 1] = (marks[:, 1] * outer_h - border) / inner_h
    # MediaPipe's z is on the scale of the normalised x, so it rescales with the width.
    mapped[:, 2] = marks[:, 2] * outer_w / inner_w
    return _RawHand(mapped.astype(np.float32), hand.world_landmarks, hand.handedness, hand.score)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601, 0-255 uint8) of an RGB image, H x W."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def is_dark(rgb: np.ndarray) -> bool:
    """True when even the brightest 5% of the photo is dim (see `DARK_P95`).

    The 95th percentile, not the mean: a hand on a black background is bright where it
    matters. Measured on every 4th pixel in each direction (the same statistic, 16x cheaper).
    """
    return float(np.percentile(luminance(rgb)[::4, ::4], 95)) < DARK_P95


def normalise_exposure(rgb: np.ndarray) -> np.ndarray:
    """A dark photo denoised and brightened for the palm detector, same size, RGB uint8.

    Bilateral filter first (diameter 9, sigma 15 in colour and 7 in space), because a gain of
    7-12x turns sensor noise into texture the detector takes for edges; then a gain that brings
    the mean luminance to `EXPOSURE_TARGET_MEAN`, at most `EXPOSURE_MAX_GAIN` (saturating).
    Chosen on photos at a tenth of their brightness plus noise (bench/hard_photos.py).
    """
    smooth = cv2.bilateralFilter(rgb, 9, 15, 7)
    mean = float(luminance(smooth).mean())
    gain = min(EXPOSURE_TARGET_MEAN / max(mean, 1.0), EXPOSURE_MAX_GAIN)
    return cv2.convertScaleAbs(smooth, alpha=gain)


def tile_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles (x0, y0, x1, y1) covering a width x height frame, row by row.

    Side `TILE_FRACTION` of the shorter side, `TILE_STEP` of the side apart; the last row and
    column are moved in to end at the frame's edge.
    """
    side = max(1, round(TILE_FRACTION * min(width, height)))
    step = max(1, round(TILE_STEP * side))

    def starts(length: int) -> list[int]:
        positions = list(range(0, max(length - side, 0) + 1, step))
        if positions[-1] + side < length:
            positions.append(length - side)
        return positions

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def _from_tile(hand: _RawHand, box: tuple[int, int, int, int], size: tuple[int, int]) -> _RawHand:
    """Landmarks found in a tile, normalised to the whole frame of `size` (width, height)."""
    x0, y0, x1, y1 = box
    width, height = size
    marks = hand.landmarks.astype(np.float64)
    mapped = np.empty_like(marks)
    mapped[:, 0] = (marks[:, 0] * (x1 - x0) + x0) / width
    mapped[:, 1] = (marks[:, 1] * (y1 - y0) + y0) / height
    mapped[:, 2] = marks[:, 2] * (x1 - x0) / width  # z is on the scale of the normalised x
    return _RawHand(mapped.astype(np.float32), hand.world_landmarks, hand.handedness, hand.score)


def _cut_by_tile(
    hand: _RawHand, box: tuple[int, int, int, int], size: tuple[int, int], margin: float = 0.02
) -> bool:
    """True when a landmark (frame-normalised) lies at an edge of the tile that is not an
    edge of the frame: the hand probably goes on in the next tile."""
    x0, y0, x1, y1 = box
    width, height = size
    xs = hand.landmarks[:, 0] * width
    ys = hand.landmarks[:, 1] * height
    pad = margin * (x1 - x0)
    return bool(
        (x0 > 0 and xs.min() < x0 + pad)
        or (y0 > 0 and ys.min() < y0 + pad)
        or (x1 < width and xs.max() > x1 - pad)
        or (y1 < height and ys.max() > y1 - pad)
    )
