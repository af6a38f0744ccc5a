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
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from asl_core.io.images import load_image

FRAME_SIZE = (640, 480)  # width, height: what the live page asks the webcam for


FPS = 30


HAND_FRACTION = 0.6


BACKGROUND = (0, 0, 0)


Y4M_HEADER = "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n"


@dataclass(frozen=True)
class Segment:
    """A stretch of the clip: one photo (a letter) or, with `image=None`, the bare background."""

    label: str | None
    seconds: float
    image: np.ndarray | None = None


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
) -> list[Segment]:
    """Segments that spell `text`: each letter held `letter_s`, `gap_s` of no hand between words.

    lead_s: no hand before the first letter (the tracker starts on an empty scene, as a user
        sits down before signing). tail_s: no hand after the last word (default `gap_s`), so
        the word ends with a space and a looped clip reads "WORD WORD ...".
    Repeated letters ("LL") cannot be spelled by holding one photo: the speller needs a change
    in between, as a signer would give; such text is refused here rather than misread.
    """
    words = text.upper().split()
    if not words:
        raise ValueError("nothing to spell")
    for word in words:
        if any(a == b for a, b in pairwise(word)):
            raise ValueError(f"{word!r} repeats a letter back to back; choose another word")
    photos: dict[str, np.ndarray] = {}
    segments = [Segment(None, lead_s)] if lead_s > 0 else []
    for index, word in enumerate(words):
        if index:
            segments.append(Segment(None, gap_s))
        for letter in word:
            if letter not in photos:
                source = photo_for(letter)
                photos[letter] = source if isinstance(source, np.ndarray) else load_image(source)
            segments.append(Segment(letter, letter_s, photos[letter]))
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
    index = 0
    for segment in segments:
        if segment.image is None:
            frame = blank
        else:
            frame = letterbox(segment.image, size, hand_fraction, background)
        frame.setflags(write=False)  # shared by many frames: nobody may draw on it
        for _ in range(round(segment.seconds * fps)):
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
) -> list[ClipFrame]:
    """Frames of `text` spelled with real photos; also written to `path` (.y4m/.mjpeg) if given.

    Photos come from `photo_for(letter)`, by default Massey photos of `signers`.
    """
    if photo_for is None:
        if massey_root is None:
            raise ValueError("give massey_root or photo_for")
        photo_for = massey_finder(massey_root, signers)
    segments = spelling_segments(text, photo_for, letter_s=letter_s, gap_s=gap_s, lead_s=lead_s)
    frames = list(clip_frames(segments, fps=fps, hand_fraction=hand_fraction))
    if path is not None:
        write_clip(frames, path, fps)
    return frames
