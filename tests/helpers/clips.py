"""Fake-webcam clips made from real photos: a person "spelling" a word, one photo per letter.

The same frames serve three consumers, so a test and a browser see one thing:
- unit tests feed them straight to `StreamRecognizer` with 30 fps timestamps;
- the browser test writes them to a file that Chromium plays as its camera
  (`--use-file-for-fake-video-capture`), either `.y4m` (raw I420) or `.mjpeg`
  (concatenated JPEGs); Chromium loops the file;
- the benchmarks time the live path on them.

Each photo is letterboxed onto a plain 640x480 background, scaled to `hand_fraction` of the
frame height: MediaPipe's palm detector wants context around a hand, and a tightly cropped
Massey photo blown up to fill the frame is often missed in video mode (which has no padded
retry). Massey photos are hands on black, so the default black background hides their edges.
Between words the frame is the background alone: no hand, which the speller turns into a space.

Motion, from the same real photos moved and turned frame by frame (`Segment.path`):
- J and Z: a real I photo (J) or D photo (Z) is moved so that its little-finger tip (J) or
  index tip (Z) follows `J_PATH` or `Z_PATH` exactly (the photo turns about that fingertip,
  so the turn does not bend the path); MediaPipe finds the fingertip on the still photo first;
- double letters ("LL"): the second one slides the same photo `DOUBLE_SLIDE` hand sizes
  sideways in `DOUBLE_SLIDE_S` before holding still, as a signer slides the hand.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_core.inference.motion import INDEX_TIP, PINKY_TIP, hand_scale_px
from asl_core.io.images import load_image

FRAME_SIZE = (640, 480)  # width, height: what the live page asks the webcam for


FPS = 30


HAND_FRACTION = 0.6


BACKGROUND = (0, 0, 0)


Y4M_HEADER = "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n"


# Paths in hand sizes (wrist to middle knuckle), image axes (x right, y down), as the camera
# sees them. J: down, then a hook to the side and up; Z: across, diagonally back and down,
# across again. The motion rule (asl_core.inference.motion) accepts their mirror images too.
J_PATH = np.array([(0, 0), (0, 0.75), (-0.08, 0.95), (-0.28, 1.05), (-0.5, 1.0), (-0.65, 0.85)])


Z_PATH = np.array([(0, 0), (0.9, 0), (0, 0.8), (0.9, 0.8)])


MOTION_SOURCES = {"J": ("I", PINKY_TIP, J_PATH, -20.0), "Z": ("D", INDEX_TIP, Z_PATH, 0.0)}
"""Motion letter -> (the still letter whose photo signs it, fingertip, path, turn in degrees
by the end of the path; J twists the wrist, Z does not)."""


DOUBLE_SLIDE = 0.5


DOUBLE_SLIDE_S = 0.15


@dataclass(frozen=True)
class Segment:
    """A stretch of the clip: one photo (a letter) or, with `image=None`, the bare background.

    With `path` (N x 2, hand sizes) the photo moves: from `move_at` seconds into the segment,
    for `move_s` seconds at constant speed, landmark `tip` (a MediaPipe id) follows the path,
    centred on where the still photo has it, while the photo turns about that fingertip up to
    `turn_deg` (counter-clockwise); before and after, it holds still at the path's ends.
    The path's middle (`centre_path`) or its first point sits where the still photo has the
    fingertip.
    """

    label: str | None
    seconds: float
    image: np.ndarray | None = None
    path: np.ndarray | None = None
    tip: int = INDEX_TIP
    move_at: float = 0.0
    move_s: float = 0.0
    turn_deg: float = 0.0
    centre_path: bool = True


@dataclass(frozen=True)
class ClipFrame:
    timestamp: float  # seconds from the clip's start, at exactly `fps`
    rgb: np.ndarray
    label: str | None  # the letter shown, None while no hand is in view


def letterbox(
    rgb: np.ndarray,
    size: tuple[int, int] = FRAME_SIZE,
    hand_fraction: float = HAND_FRACTION,
    background: tuple[int, int, int] = BACKGROUND,
) -> np.ndarray:
    """The photo scaled to `hand_fraction` of the frame's shorter side, centred on a plain frame."""
    width, height = size
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = background
    target = hand_fraction * min(width, height)
    scale = target / max(rgb.shape[:2])
    new_w, new_h = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    photo = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = photo
    return canvas


def blank_frame(
    size: tuple[int, int] = FRAME_SIZE, background: tuple[int, int, int] = BACKGROUND
) -> np.ndarray:
    frame = np.empty((size[1], size[0], 3), dtype=np.uint8)
    frame[:] = background
    return frame


def point_along(path: np.ndarray, fraction: float) -> np.ndarray:
    """The point `fraction` (0..1) of the way along a polyline, by length."""
    path = np.asarray(path, dtype=np.float64)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    total = float(steps.sum())
    if total == 0:
        return path[0].copy()
    distance = min(max(fraction, 0.0), 1.0) * total
    for (a, b), step in zip(pairwise(path), steps, strict=True):
        if distance <= step and step > 0:
            return a + (b - a) * (distance / step)
        distance -= step
    return path[-1].copy()


def find_hand(frame: np.ndarray) -> Any:
    """MediaPipe (image mode) on one frame: the hand's `HandDetection`; ValueError if none."""
    from asl_core.vision.hands import HandDetector

    with HandDetector(mode="image", max_num_hands=1) as detector:
        detection = detector.detect(frame)
    if detection is None:
        raise ValueError("MediaPipe finds no hand in this photo: it cannot be moved along a path")
    return detection


def moving_frames(
    still: np.ndarray, segment: Segment, fps: int, background: tuple[int, int, int]
) -> Iterator[np.ndarray]:
    """The frames of a segment with a path: the letterboxed photo `still` moved and turned."""
    assert segment.path is not None
    detection = find_hand(still)
    tip = detection.pixel_landmarks[segment.tip].astype(np.float64)
    scale = hand_scale_px(detection)
    path = np.asarray(segment.path, dtype=np.float64)
    centre = (path.min(axis=0) + path.max(axis=0)) / 2 if segment.centre_path else path[0]
    height, width = still.shape[:2]
    cache: dict[float, np.ndarray] = {}
    for index in range(round(segment.seconds * fps)):
        t = index / fps
        fraction = 1.0 if segment.move_s <= 0 else (t - segment.move_at) / segment.move_s
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction not in cache:
            offset = (point_along(path, fraction) - centre) * scale
            matrix = cv2.getRotationMatrix2D(
                (float(tip[0]), float(tip[1])), segment.turn_deg * fraction, 1.0
            )
            matrix[:, 2] += offset
            frame = cv2.warpAffine(
                still, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=background
            )
            frame.setflags(write=False)
            cache[fraction] = frame
        yield cache[fraction]


def massey_finder(
    massey_root: Path, signers: Sequence[str] = ("hand4", "hand5"), lighting: str = "bot"
) -> Callable[[str], Path]:
    """A function letter -> one real Massey photo of it, from the first signer that has one.

    Signers 4 and 5 by default: the fewest photos in Massey, so the least seen in training.
    """
    by_label: dict[str, list[str]] = {}
    with (massey_root / "MANIFEST.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_label.setdefault(row["label"].upper(), []).append(row["path"])

    def find(label: str) -> Path:
        paths = sorted(by_label.get(label.upper(), []))
        for signer in signers:
            mine = [p for p in paths if Path(p).name.startswith(f"{signer}_")]
            preferred = [p for p in mine if f"_{lighting}_" in p]
            if preferred or mine:
                return massey_root / (preferred or mine)[0]
        raise FileNotFoundError(f"no Massey photo of {label!r} by {', '.join(signers)}")

    return find


def spelling_segments(
    text: str,
    photo_for: Callable[[str], Path | np.ndarray],
    *,
    letter_s: float = 1.0,
    gap_s: float = 1.5,
    lead_s: float = 0.5,
    tail_s: float | None = None,
    motion_letter_s: float | None = None,
    draw_s: float | None = None,
) -> list[Segment]:
    """Segments that spell `text`: each letter held `letter_s`, `gap_s` of no hand between words.

    lead_s: no hand before the first letter (the tracker starts on an empty scene, as a user
        sits down before signing). tail_s: no hand after the last word (default `gap_s`), so
        the word ends with a space and a looped clip reads "WORD WORD ...".
    A repeated letter ("LL") slides the photo sideways before its hold (see the module doc).
    J and Z are `photo_for("I")` and `photo_for("D")` moved along their paths for `draw_s`
    (default 0.8 of the segment), in a segment of `motion_letter_s` (default `letter_s`).
    """
    words = text.upper().split()
    if not words:
        raise ValueError("nothing to spell")
    motion_s = letter_s if motion_letter_s is None else motion_letter_s
    drawing_s = 0.8 * motion_s if draw_s is None else draw_s
    if not 0 < drawing_s <= motion_s:
        raise ValueError(f"draw_s must be in (0, {motion_s}] seconds, got {drawing_s}")
    if letter_s <= DOUBLE_SLIDE_S:
        raise ValueError(f"letter_s must be longer than the {DOUBLE_SLIDE_S} s slide")
    photos: dict[str, np.ndarray] = {}

    def photo(letter: str) -> np.ndarray:
        if letter not in photos:
            source = photo_for(letter)
            photos[letter] = source if isinstance(source, np.ndarray) else load_image(source)
        return photos[letter]

    segments = [Segment(None, lead_s)] if lead_s > 0 else []
    for index, word in enumerate(words):
        if index:
            segments.append(Segment(None, gap_s))
        previous = None
        for letter in word:
            if letter in MOTION_SOURCES:
                still, tip, path, turn = MOTION_SOURCES[letter]
                segments.append(
                    Segment(letter, motion_s, photo(still), path, tip, 0.0, drawing_s, turn)
                )
            elif letter == previous:
                slide = np.array([(0.0, 0.0), (DOUBLE_SLIDE, 0.0)])
                segments.append(
                    Segment(
                        letter,
                        letter_s,
                        photo(letter),
                        slide,
                        tip=0,
                        move_s=DOUBLE_SLIDE_S,
                        centre_path=False,
                    )
                )
            else:
                segments.append(Segment(letter, letter_s, photo(letter)))
            previous = letter
    tail = gap_s if tail_s is None else tail_s
    if tail > 0:
        segments.append(Segment(None, tail))
    return segments


def clip_frames(
    segments: Iterable[Segment],
    *,
    fps: int = FPS,
    size: tuple[int, int] = FRAME_SIZE,
    hand_fraction: float = HAND_FRACTION,
    background: tuple[int, int, int] = BACKGROUND,
) -> Iterator[ClipFrame]:
    """Every frame of the clip with its timestamp; identical frames share one array."""
    blank = blank_frame(size, background)
    blank.setflags(write=False)
    index = 0
    for segment in segments:
        count = round(segment.seconds * fps)
        if segment.image is None:
            images: Iterable[np.ndarray] = [blank] * count
        else:
            still = letterbox(segment.image, size, hand_fraction, background)
            still.setflags(write=False)  # shared by many frames: nobody may draw on it
            if segment.path is None:
                images = [still] * count
            else:
                images = moving_frames(still, segment, fps, background)
        for frame in images:
            yield ClipFrame(index / fps, frame, segment.label)
            index += 1


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """Planar Y, then U, then V at half resolution: one y4m `C420jpeg` frame."""
    if rgb.shape[0] % 2 or rgb.shape[1] % 2:
        raise ValueError("I420 needs an even width and height")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes()


def write_y4m(frames: Iterable[np.ndarray], path: str | Path, fps: int = FPS) -> int:
    """Raw I420 video Chromium can use as a fake camera; returns the number of frames."""
    path = Path(path)
    count = 0
    with path.open("wb") as out:
        header_written = False
        for rgb in frames:
            if not header_written:
                height, width = rgb.shape[:2]
                out.write(Y4M_HEADER.format(width=width, height=height, fps=fps).encode())
                header_written = True
            out.write(b"FRAME\n")
            out.write(rgb_to_i420(rgb))
            count += 1
    if not count:
        path.unlink()
        raise ValueError("a clip needs at least one frame")
    return count


def write_mjpeg(frames: Iterable[np.ndarray], path: str | Path, quality: int = 90) -> int:
    """JPEG frames back to back (Chromium's other fake-camera format); returns the count."""
    path = Path(path)
    count = 0
    # Clips repeat one array per letter: encode each array once. The array is kept with its
    # bytes so that its id cannot be reused by a later array while cached.
    cache: dict[int, tuple[np.ndarray, bytes]] = {}
    with path.open("wb") as out:
        for rgb in frames:
            key = id(rgb)
            if key not in cache:
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise ValueError("JPEG encoding failed")
                cache[key] = (rgb, encoded.tobytes())
            out.write(cache[key][1])
            count += 1
    if not count:
        path.unlink()
        raise ValueError("a clip needs at least one frame")
    return count


def write_clip(frames: Iterable[ClipFrame], path: str | Path, fps: int = FPS) -> int:
    """Write by extension: `.y4m` or `.mjpeg`; returns the number of frames."""
    path = Path(path)
    images = (frame.rgb for frame in frames)
    if path.suffix == ".y4m":
        return write_y4m(images, path, fps)
    if path.suffix in (".mjpeg", ".mjpg"):
        return write_mjpeg(images, path)
    raise ValueError(f"unknown clip format {path.suffix!r}: use .y4m or .mjpeg")


@dataclass(frozen=True)
class Y4mInfo:
    width: int
    height: int
    fps: float
    colour_space: str
    frames: int


def read_y4m_info(path: str | Path) -> Y4mInfo:
    """Parse a y4m header and count its frames (checks every frame marker and size)."""
    data = Path(path).read_bytes()
    header_end = data.index(b"\n")
    fields = data[:header_end].decode("ascii").split(" ")
    if fields[0] != "YUV4MPEG2":
        raise ValueError("not a YUV4MPEG2 file")
    params = {item[0]: item[1:] for item in fields[1:]}
    width, height = int(params["W"]), int(params["H"])
    numerator, denominator = (int(v) for v in params["F"].split(":"))
    colour = params.get("C", "420jpeg")
    frame_bytes = width * height * 3 // 2
    offset, frames = header_end + 1, 0
    while offset < len(data):
        marker_end = data.index(b"\n", offset)
        if not data[offset:marker_end].startswith(b"FRAME"):
            raise ValueError(f"frame {frames} has no FRAME marker")
        offset = marker_end + 1 + frame_bytes
        if offset > len(data):
            raise ValueError(f"frame {frames} is truncated")
        frames += 1
    return Y4mInfo(width, height, numerator / denominator, colour, frames)


def read_mjpeg_frames(path: str | Path) -> list[np.ndarray]:
    """Split concatenated JPEGs (start FFD8, end FFD9) and decode each to RGB."""
    data = Path(path).read_bytes()
    frames, start = [], 0
    while True:
        begin = data.find(b"\xff\xd8", start)
        if begin < 0:
            break
        end = data.find(b"\xff\xd9", begin)
        if end < 0:
            raise ValueError("truncated JPEG at the end of the clip")
        encoded = np.frombuffer(data[begin : end + 2], dtype=np.uint8)
        bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"frame {len(frames)} is not a JPEG")
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        start = end + 2
    return frames


def build_spelling_clip(
    text: str,
    massey_root: Path | None = None,
    path: str | Path | None = None,
    *,
    photo_for: Callable[[str], Path | np.ndarray] | None = None,
    letter_s: float = 1.0,
    gap_s: float = 1.5,
    lead_s: float = 0.5,
    fps: int = FPS,
    hand_fraction: float = HAND_FRACTION,
    signers: Sequence[str] = ("hand4", "hand5"),
    motion_letter_s: float | None = None,
    draw_s: float | None = None,
) -> list[ClipFrame]:
    """Frames of `text` spelled with real photos; also written to `path` (.y4m/.mjpeg) if given.

    Photos come from `photo_for(letter)`, by default Massey photos of `signers`.
    """
    if photo_for is None:
        if massey_root is None:
            raise ValueError("give massey_root or photo_for")
        photo_for = massey_finder(massey_root, signers)
    segments = spelling_segments(
        text,
        photo_for,
        letter_s=letter_s,
        gap_s=gap_s,
        lead_s=lead_s,
        motion_letter_s=motion_letter_s,
        draw_s=draw_s,
    )
    frames = list(clip_frames(segments, fps=fps, hand_fraction=hand_fraction))
    if path is not None:
        write_clip(frames, path, fps)
    return frames
