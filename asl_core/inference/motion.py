"""J and Z from motion: the fingertip's path over the last second, and whether the hand moves.

J and Z are the two fingerspelled letters made with motion: J is the I handshape (little
finger up) whose little-finger tip traces a J (down, then a hook to the side and up); Z is
the index handshape (index out, as in D or 1) whose index tip draws a Z (across, diagonally
back and down, across again). A still photo of either is another letter's handshape, so the
stream never types J or Z from one frame; `MotionTracker` types them from the path.

Everything here is plain geometry on MediaPipe's landmarks, each rule a small function that
the unit tests drive with made-up paths and the clip tests with real photos moved along them:

- `handshape`: which fingertips are held out, from the 3-D world landmarks (metres, so the
  turn of the hand does not change them): `finger_reach`, each tip's distance from the wrist
  in palm lengths (wrist to middle knuckle). Measured on the MediaPipe landmarks of the
  training photos (massey36, five signers; grassknoted_letters, one more), 10th-90th
  percentile: the little finger of I, J and Y reaches 1.36-1.79 and the other three 0.57-1.21;
  the index of D, G, L, X, Z and 1 reaches 1.48-2.00 and the others 0.56-1.60 (the highest
  from a few D photos whose folded fingers touch the thumb far out); a finger is "out" at
  `OUT_REACH` and `OUT_RATIO` times every other one. On those photos (about 240 a letter)
  "pinky" is found on 0.96 of I, 0.95 of J and Y and on no other letter above 0.01; "index"
  on 1.00 of L and 1, 0.96 of Z, 0.95 of G and X, 0.81 of D, and also 0.57-0.68 of P, Q, T
  (whose path, never a Z when held, keeps them from typing one).
- `is_j_path`, `is_z_path`: the path in units of the hand's size (wrist to middle-finger
  knuckle), image axes (x right, y down). Both accept the mirror image too: a left hand, a
  mirrored camera, or a signer who draws from the other side.
- `is_moving`: the hand moved at least `MOVE_SCALE` hand sizes within `MOVE_WINDOW_S`,
  which the speller reads as "not holding a letter" (and a re-hold after it as a double
  letter).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from asl_core.vision.hands import HandDetection

FINGERTIPS: dict[str, int] = {"index": 8, "middle": 12, "ring": 16, "pinky": 20}
"""MediaPipe landmark ids of the four fingertips (the thumb is not looked at)."""


INDEX_TIP, PINKY_TIP, WRIST, MIDDLE_KNUCKLE = 8, 20, 0, 9


OUT_REACH = 1.4
"""A fingertip at least this far from the wrist (in wrist-to-middle-knuckle lengths) is out."""


OUT_RATIO = 1.3
"""...and at least this many times as far as every other fingertip."""


Shape = Literal["pinky", "index"]


MOTION_LETTERS: dict[str, Shape] = {"J": "pinky", "Z": "index"}
"""Each motion letter and the handshape that makes it."""


PATH_WINDOW_S = 1.5
"""How much of the past the path looks at: a J or Z takes about 0.5-1 s to sign."""


SHAPE_SHARE = 0.7
"""Share of the path's frames that must show the letter's handshape (MediaPipe misreads a
finger now and then while the hand turns)."""


MIN_PATH_POINTS = 4


LOST_S = 0.25
"""A hand missing for at most this long does not break its path: during a quick J or Z
MediaPipe's tracker loses the hand for a frame or two (seen at 15-22 readings a second on
the browser's VP8 video) and finds it again further along the path."""


RELEASE_FRAMES = 2
"""Frames in a row with another handshape that end the hold after a motion letter (one
frame where MediaPipe bends a finger while the hand turns does not) ..."""


RELEASE_S = 0.12
"""... or this many seconds of them, each reading standing for the time since the previous
one (at most `LOST_S`), whichever comes first: about the time the speller's vote takes to
settle on the next letter. In frames alone the hold lasted 0.25 s at 8 readings a second,
the vote settled on the letter after a Z while it was still on, and that letter was never
typed (bench/speller.py: "ZAC" typed "ZC" at 8 readings a second)."""


MOVE_WINDOW_S = 0.15


MOVE_SCALE = 0.25
"""Hand sizes the landmarks must move (on average) within `MOVE_WINDOW_S` to count as
moving: a bounce or slide for a double letter moves 0.3-0.6 hand sizes in 0.1-0.2 s (2-4
hand sizes a second), while a hand held for a letter drifts far slower than this threshold
of about 1.7 hand sizes (15 cm) a second."""


def finger_reach(landmarks: np.ndarray) -> dict[str, float]:
    """How far each fingertip is from the wrist, in wrist-to-middle-knuckle lengths, from
    21x3 landmarks (world metres preferred: the turn of the hand does not change them).
    About 1.4-1.9 for a finger held out, 0.6-1.2 for a folded one (see the module doc)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (21, 3):
        raise ValueError(f"landmarks must have shape (21, 3), got {points.shape}")
    palm = float(np.linalg.norm(points[MIDDLE_KNUCKLE] - points[WRIST]))
    if palm <= 0:
        return dict.fromkeys(FINGERTIPS, 0.0)
    return {
        name: float(np.linalg.norm(points[tip] - points[WRIST]) / palm)
        for name, tip in FINGERTIPS.items()
    }


def handshape(detection: HandDetection) -> Shape | None:
    """The handshape of a motion letter: "pinky" (only the little finger out: I, J, Y),
    "index" (only the index out: D, 1, G, L, X, Z) or None, from `finger_reach`: the finger
    reaches `OUT_REACH` and `OUT_RATIO` times every other finger. World landmarks when
    MediaPipe gave them, else the image ones."""
    world = detection.world_landmarks
    reach = finger_reach(world if np.any(world) else detection.landmarks)
    for shape in ("pinky", "index"):
        others = max(value for name, value in reach.items() if name != shape)
        if reach[shape] >= OUT_REACH and reach[shape] >= OUT_RATIO * others:
            return shape  # type: ignore[return-value]
    return None


def hand_scale_px(detection: HandDetection) -> float:
    """The hand's size in pixels: wrist to middle-finger knuckle (about 9 cm on an adult)."""
    pixels = detection.pixel_landmarks
    return float(np.linalg.norm(pixels[MIDDLE_KNUCKLE] - pixels[WRIST]))


def _as_path(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    path = np.asarray(points, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"a path is an (N, 2) array of x, y points, got shape {path.shape}")
    return path


def is_j_path(points: Sequence[Sequence[float]] | np.ndarray) -> bool:
    """A J: from its highest point the tip goes down at least 0.6 hand sizes, straight down
    while it covers the first 0.6 of that drop (never sideways more than half as far), and
    from there it hooks at least 0.4 hand sizes to one side. Points in hand sizes, image
    axes (y down); either hook direction.

    The rise at the end of the hook is not required: read 15-20 times a second, the last
    tenth of a second of a quick J (where the tip comes back up) is often blurred or cut by
    the next letter, and a J that ends flat is still a J."""
    path = _as_path(points)
    if len(path) < MIN_PATH_POINTS:
        return False
    x, y = path[:, 0], path[:, 1]
    bottom = int(np.argmax(y))
    top = int(np.argmin(y[: bottom + 1]))
    drop = y[bottom] - y[top]
    if drop < 0.6:
        return False
    turn = top + int(np.argmax(y[top:] >= y[top] + 0.6 * drop))  # 0.6 of the way down
    if np.max(np.abs(x[top : turn + 1] - x[top])) > 0.5 * (y[turn] - y[top]):
        return False  # a diagonal or a sideways start, not a J's downstroke
    side = x[turn:] - x[turn]
    return float(max(side.max(), -side.min())) >= 0.4


def x_legs(points: np.ndarray, turn: float = 0.3) -> list[tuple[int, int]]:
    """Split a path where its x direction turns back by at least `turn` (hysteresis, in
    the path's units); returns (first, last) point indices of each leg."""
    path = _as_path(points)
    legs: list[tuple[int, int]] = []
    start, extreme, direction = 0, 0, 0
    for i in range(1, len(path)):
        dx = path[i, 0] - path[extreme, 0]
        if direction == 0:
            if abs(dx) >= turn:
                direction = 1 if dx > 0 else -1
                extreme = i
        elif dx * direction > 0:
            extreme = i  # further the same way
        elif abs(dx) >= turn:  # turned back far enough: the leg ended at the extreme
            legs.append((start, extreme))
            start, direction = extreme, -direction
            extreme = i
    if direction != 0:
        legs.append((start, extreme))
    return legs


def is_z_path(points: Sequence[Sequence[float]] | np.ndarray) -> bool:
    """A Z: three legs along x, each at least 0.35 hand sizes across, the first and last the
    same way and mostly horizontal (down at most 0.6 of their width), the middle one back
    the other way and down at least 0.25; from start to end at least 0.5 down. Points in
    hand sizes, image axes (y down); either direction. (Read a few times a second, the
    corners are cut and part of the descent lands in the first and last legs.)"""
    path = _as_path(points)
    if len(path) < MIN_PATH_POINTS:
        return False
    legs = x_legs(path)
    for first, middle, last in zip(legs, legs[1:], legs[2:], strict=False):
        across = [path[j, 0] - path[i, 0] for i, j in (first, middle, last)]
        down = [path[j, 1] - path[i, 1] for i, j in (first, middle, last)]
        if min(abs(v) for v in across) < 0.35:
            continue
        if np.sign(across[0]) != np.sign(across[2]) or np.sign(across[1]) == np.sign(across[0]):
            continue
        if down[1] < 0.25 or path[last[1], 1] - path[first[0], 1] < 0.5:
            continue
        if abs(down[0]) > 0.6 * abs(across[0]) or abs(down[2]) > 0.6 * abs(across[2]):
            continue
        return True
    return False


def is_moving(
    times: Sequence[float], centres: Sequence[np.ndarray], scale: float, now: float
) -> bool:
    """Whether the hand moved `MOVE_SCALE` hand sizes within `MOVE_WINDOW_S` before `now`.

    times: seconds of each sample; centres: the matching (21, 2) pixel landmarks (or any
    (K, 2) points); scale: hand size in pixels. Movement is the mean distance the points
    travelled from the oldest sample inside the window (at least one reading back) to the
    newest.
    """
    if len(times) < 2 or scale <= 0:
        return False
    oldest = len(times) - 2
    while oldest > 0 and now - times[oldest - 1] <= MOVE_WINDOW_S:
        oldest -= 1
    if now - times[oldest] > 2 * MOVE_WINDOW_S:
        return False  # the previous reading is too old to compare with (a stall, a drop)
    moved = np.linalg.norm(np.asarray(centres[-1]) - np.asarray(centres[oldest]), axis=-1)
    return float(np.mean(moved)) / scale >= MOVE_SCALE


@dataclass(frozen=True)
class MotionState:
    """What the tracker says about the newest frame."""

    letter: str | None  # "J" or "Z" when the path just completed one, else None
    moving: bool  # the hand moved lately (no letter is being held)
    shape: Shape | None  # the handshape in this frame
    after_motion: bool  # the hand still holds the shape of the motion letter just typed


@dataclass
class _Sample:
    time: float
    pixels: np.ndarray  # 21x2
    scale: float
    shape: Shape | None


class MotionTracker:
    """The last `PATH_WINDOW_S` seconds of one hand, frame by frame; one per stream.

    `update(time, detection)` with each frame read (None when no hand) says whether a J or Z
    was just completed, whether the hand is moving, and whether the hold after a motion
    letter is still going on. No hand for more than `LOST_S` starts a new path. After a J
    or Z the path is forgotten, so one motion types one letter; a second Z (JAZZ) needs a
    second Z drawn.
    """

    def __init__(self, window_s: float = PATH_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[_Sample] = deque()
        self._after: Shape | None = None
        self._other = 0  # frames in a row without the motion letter's shape, after it
        self._other_s = 0.0  # and the seconds they stand for
        self._last_seen: float | None = None  # when a hand was last read

    def reset(self) -> None:
        self._samples.clear()
        self._after = None
        self._other, self._other_s = 0, 0.0
        self._last_seen = None

    def update(self, now: float, detection: HandDetection | None) -> MotionState:
        if detection is None:
            last = self._samples[-1].time if self._samples else None
            if last is not None and now - last <= LOST_S:  # MediaPipe lost a fast hand
                return MotionState(None, False, None, self._after is not None)
            self.reset()  # no hand: the path is broken, and so is any hold after a letter
            return MotionState(None, False, None, False)
        shape = handshape(detection)
        scale = hand_scale_px(detection)
        since = 0.0 if self._last_seen is None else min(now - self._last_seen, LOST_S)
        self._last_seen = now
        self._samples.append(_Sample(now, detection.pixel_landmarks, scale, shape))
        while now - self._samples[0].time > self.window_s:
            self._samples.popleft()
        samples = list(self._samples)
        path_scale = _path_scale(samples)
        moving = is_moving([s.time for s in samples], [s.pixels for s in samples], path_scale, now)
        if self._after is not None:
            if shape == self._after:
                self._other, self._other_s = 0, 0.0
            else:
                self._other, self._other_s = self._other + 1, self._other_s + since
            if self._other >= RELEASE_FRAMES or self._other_s >= RELEASE_S - 1e-9:
                self._after = None  # another handshape: the motion letter's hold is over
        letter = self._letter(samples, path_scale)  # after a J or Z too: JAZZ draws a second Z
        if letter is not None:
            self._samples.clear()
            self._after, self._other, self._other_s = MOTION_LETTERS[letter], 0, 0.0
        return MotionState(letter, moving, shape, self._after is not None)

    def velocity_px_s(self) -> np.ndarray | None:
        """Each landmark's velocity (21x2 pixels a second) between the last two readings of
        the hand; None without two readings at most 2 x `MOVE_WINDOW_S` apart (the gap
        `is_moving` still compares across)."""
        if len(self._samples) < 2:
            return None
        last, previous = self._samples[-1], self._samples[-2]
        seconds = last.time - previous.time
        if not 0 < seconds <= 2 * MOVE_WINDOW_S:
            return None
        return (last.pixels - previous.pixels) / seconds

    def _letter(self, samples: list[_Sample], scale: float) -> str | None:
        """The motion letter the samples' path completes, if any; `scale`: `_path_scale`."""
        if scale <= 0 or len(samples) < MIN_PATH_POINTS:
            return None
        for letter, shape in MOTION_LETTERS.items():
            start = _shape_run_start(samples, shape)
            if start is None or len(samples) - start < MIN_PATH_POINTS:
                continue
            tip = PINKY_TIP if shape == "pinky" else INDEX_TIP
            path = np.array([s.pixels[tip] for s in samples[start:]]) / scale
            if (is_j_path if letter == "J" else is_z_path)(path):
                return letter
        return None


def _shape_run_start(samples: Sequence[_Sample], shape: Shape) -> int | None:
    """The earliest sample from which on at least `SHAPE_SHARE` of the samples show `shape`
    (starting on one that does), or None: the path of the letter, without the letter
    before it."""
    if not any(s.shape == shape for s in samples):
        return None  # most of the time (any other letter): no need for the arrays
    matches = np.array([s.shape == shape for s in samples], dtype=np.float64)
    # share of matches in samples[k:] for every k, from the end
    tail_counts = np.cumsum(matches[::-1])[::-1]
    tail_lengths = np.arange(len(samples), 0, -1)
    ok = (matches > 0) & (tail_counts >= SHAPE_SHARE * tail_lengths)
    found = np.flatnonzero(ok)
    return int(found[0]) if len(found) else None


def _path_scale(samples: Sequence[_Sample]) -> float:
    """The hand's size over the samples: their 90th percentile. Not the median: when the hand
    jumps far between two readings (a fast J read 8 times a second) MediaPipe's tracker
    fits the landmarks to part of the hand for a frame or two, which shrinks the hand to
    half its size while the fingertip stays roughly where it is.

    np.percentile's linear rule, on a sorted list: np.percentile itself took 20-100 us on a
    few dozen numbers, twice per frame, this 2-5 us (bench/live.py's profile)."""
    if not samples:
        return 0.0
    scales = sorted(s.scale for s in samples)
    position = 0.9 * (len(scales) - 1)
    low = int(position)
    high = min(low + 1, len(scales) - 1)
    return scales[low] + (scales[high] - scales[low]) * (position - low)
