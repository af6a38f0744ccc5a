"""MediaPipe hand detection on real Massey photos: detection rate, coordinates, modes."""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_core.io.images import load_image
from asl_core.vision.hands import (
    HAND_CONNECTIONS,
    HandDetection,
    HandDetector,
    corner_colour,
    is_dark,
    pad_for_detection,
    tile_boxes,
)
from tests.helpers.photos import massey_photo

SIGNERS = ("hand1", "hand2", "hand3", "hand4", "hand5")


@pytest.fixture(scope="module")
def detector() -> Iterator[HandDetector]:
    with HandDetector(mode="image") as det:
        yield det


@pytest.fixture(scope="module")
def unpadded_detector() -> Iterator[HandDetector]:
    with HandDetector(mode="image", pad_retry=False) as det:
        yield det


def _sample(massey_root: Path, per_class: int) -> list[Path]:
    """`per_class` photos of each class, rotating through the five signers and lightings."""
    with (massey_root / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    labels = sorted(by_label)
    paths = []
    for i, label in enumerate(labels):
        for k in range(per_class):
            signer = SIGNERS[(per_class * i + k) % len(SIGNERS)]
            rows_of = sorted(
                (r for r in by_label[label] if r["signer"] == signer), key=lambda r: r["path"]
            )
            if rows_of:
                paths.append(massey_root / rows_of[(i + k) % len(rows_of)]["path"])
    return paths


def _rates(
    paths: list[Path], with_pad: HandDetector, without_pad: HandDetector
) -> tuple[float, float, float, list[HandDetection | None], list[np.ndarray]]:
    images = [load_image(p) for p in paths]
    raw = [without_pad.detect(img) is not None for img in images]
    start = time.perf_counter()
    found = [with_pad.detect(img) for img in images]
    seconds = (time.perf_counter() - start) / len(images)
    rate = sum(d is not None for d in found) / len(found)
    return rate, sum(raw) / len(raw), seconds, found, images


def _check_detections(found: list[HandDetection | None], images: list[np.ndarray]) -> None:
    """Every box inside its image; boxes over the hand (its non-black pixels).

    MediaPipe itself is sometimes wrong about a pose (a "0" seen from the thumb side got a
    skeleton squeezed into the fingers), so the centroid test allows one miss in ten; the
    landmarks-on-the-hand test catches any error in mapping coordinates back, for all.
    """
    centred, padded_centred, padded_total = 0, 0, 0
    found_pairs = [(d, img) for d, img in zip(found, images, strict=True) if d is not None]
    for det, img in found_pairs:
        height, width = img.shape[:2]
        x0, y0, x1, y1 = det.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert det.image_size == (width, height)
        hand = img.max(axis=2) > 40
        ys, xs = np.nonzero(hand)
        cx, cy = xs.mean(), ys.mean()
        inside = x0 <= cx <= x1 and y0 <= cy <= y1
        centred += inside
        padded_total += det.padded
        padded_centred += det.padded and inside
        # Landmarks lie on (or right next to) hand pixels: the mapping back is right.
        near_hand = cv2.dilate(hand.astype(np.uint8), np.ones((15, 15), np.uint8))
        px = np.clip(np.rint(det.pixel_landmarks).astype(int), 0, [width - 1, height - 1])
        assert near_hand[px[:, 1], px[:, 0]].mean() >= 0.8
    assert centred >= 0.9 * len(found_pairs)
    assert padded_centred >= 0.9 * padded_total


def test_detection_rate_two_per_class(
    massey_root: Path,
    detector: HandDetector,
    unpadded_detector: HandDetector,
    record_property: Callable[[str, object], None],
) -> None:
    """72 photos, about 4 s: the padding retry must lift the rate (measured 0.68 -> 1.00)."""
    paths = _sample(massey_root, per_class=2)
    assert len(paths) == 72
    assert len({p.name.split("_")[0] for p in paths}) == len(SIGNERS)
    rate, raw_rate, seconds, found, images = _rates(paths, detector, unpadded_detector)
    record_property("rate_with_padding", rate)
    record_property("rate_without_padding", raw_rate)
    record_property("seconds_per_image", seconds)
    print(
        f"\n72 Massey photos: {rate:.3f} with padding retry, {raw_rate:.3f} without; "
        f"{seconds * 1000:.0f} ms per image"
    )
    assert rate >= 0.9
    assert raw_rate <= rate
    assert sum(d.padded for d in found if d is not None) == round((rate - raw_rate) * 72)
    _check_detections(found, images)


def _hard_photo(massey_root: Path, detector: HandDetector) -> np.ndarray:
    """A real photo that MediaPipe finds only after the padding retry (a fist letter)."""
    for label in ("m", "e", "s", "t", "n", "a", "q"):
        for signer in SIGNERS:
            for index in (1, 2, 3):
                img = load_image(massey_photo(massey_root, label, signer, index))
                det = detector.detect(img)
                if det is not None and det.padded:
                    return img
    pytest.skip("no photo in the tried set needed the padding retry")


def test_padding_retry_maps_landmarks_back(massey_root: Path, detector: HandDetector) -> None:
    img = _hard_photo(massey_root, detector)
    det = detector.detect(img)
    assert det is not None and det.padded
    # The same padded image given directly is found without a retry; its landmarks, moved
    # back by the border, must be where the retry reports them.
    padded, border = pad_for_detection(img)
    direct = detector.detect(padded)
    assert direct is not None and not direct.padded
    moved = direct.pixel_landmarks - border
    assert np.abs(moved - det.pixel_landmarks).max() < 1.0
    assert det.image_size == (img.shape[1], img.shape[0])
    _check_detections([det], [img])


def test_huge_image_is_detected_in_original_coordinates(
    massey_root: Path, detector: HandDetector
) -> None:
    frame, _ = pad_for_detection(load_image(massey_photo(massey_root, "5")))
    base = detector.detect(frame)
    assert base is not None
    big = cv2.resize(frame, (frame.shape[1] * 3, frame.shape[0] * 3))  # 2400 px > 1280
    det = detector.detect(big)
    assert det is not None
    assert det.image_size == (big.shape[1], big.shape[0])
    assert np.abs(det.pixel_landmarks / 3 - base.pixel_landmarks).mean() < 5
    x0, y0, x1, y1 = det.box
    assert 0 <= x0 < x1 <= big.shape[1] and 0 <= y0 < y1 <= big.shape[0]


def test_video_mode_tracks_a_repeated_frame(massey_root: Path) -> None:
    # A webcam frame has room around the hand, as the padded photo does.
    frame, _ = pad_for_detection(load_image(massey_photo(massey_root, "5")))
    with HandDetector(mode="video") as video:
        found = [video.detect(frame) for _ in range(10)]
    assert all(d is not None for d in found)
    dets = [d for d in found if d is not None]
    assert {d.handedness for d in dets} == {dets[0].handedness}
    assert not any(d.padded for d in dets)
    first = dets[0].pixel_landmarks
    for det in dets[1:]:
        assert np.abs(det.pixel_landmarks - first).max() < 15


def test_two_hands_the_larger_is_chosen(massey_root: Path, detector: HandDetector) -> None:
    big = load_image(massey_photo(massey_root, "5", "hand1"))
    small = cv2.resize(
        load_image(massey_photo(massey_root, "5", "hand2")),
        (200, 200),
        interpolation=cv2.INTER_AREA,
    )
    canvas = np.zeros((600, 1100, 3), dtype=np.uint8)
    canvas[100:500, 50:450] = big
    canvas[200:400, 750:950] = small
    det = detector.detect(canvas)
    assert det is not None
    assert det.num_hands == 2
    assert det.box[2] <= 550  # the big hand, on the left
    both = detector.detect_all(canvas)
    assert len(both) == 2
    assert both[0].box_area > both[1].box_area
    assert both[1].box[0] >= 700  # the small hand, on the right


@pytest.mark.parametrize("value", [0, 128], ids=["black", "grey"])
def test_no_hand_gives_none(detector: HandDetector, value: int) -> None:
    assert detector.detect(np.full((400, 400, 3), value, dtype=np.uint8)) is None


def test_background_of_a_real_photo_gives_none(massey_root: Path, detector: HandDetector) -> None:
    img = load_image(massey_photo(massey_root, "b"))
    # Replace the hand by the photo's own background, keeping the real sensor noise.
    background = img.copy()
    background[img.max(axis=2) > 25] = 0
    assert detector.detect(background) is None


def test_bad_input_and_closed_detector() -> None:
    with HandDetector() as det:
        with pytest.raises(ValueError, match="RGB image"):
            det.detect(np.zeros((64, 64), dtype=np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            det.detect(np.zeros((64, 64, 3), dtype=np.float32))
    assert det.closed
    det.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(np.zeros((64, 64, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="mode"):
        HandDetector(mode="webcam")  # type: ignore[arg-type]


def test_detection_is_frozen_and_round_trips(massey_root: Path, detector: HandDetector) -> None:
    det = detector.detect(load_image(massey_photo(massey_root, "v")))
    assert det is not None
    assert det.landmarks.shape == (21, 3) and det.landmarks.dtype == np.float32
    assert det.world_landmarks.shape == (21, 3)
    assert np.abs(det.world_landmarks).max() < 0.3  # metres, around the hand
    assert det.pixel_landmarks.shape == (21, 2)
    assert det.handedness == "Left"  # a right hand, unmirrored
    assert 0.5 <= det.score <= 1.0
    with pytest.raises(ValueError):
        det.landmarks[0, 0] = 1.0
    with pytest.raises(AttributeError):
        det.score = 0.0  # type: ignore[misc]
    again = HandDetection.from_dict(det.to_dict())
    np.testing.assert_array_equal(again.landmarks, det.landmarks)
    assert again.box == det.box and again.handedness == det.handedness


def test_corner_colour_is_the_median_of_the_corners() -> None:
    img = np.zeros((50, 60, 3), dtype=np.uint8)
    img[0, 0] = img[0, -1] = img[-1, 0] = (10, 20, 30)
    img[-1, -1] = (250, 250, 250)
    assert corner_colour(img) == (10, 20, 30)


def test_connections_match_mediapipe() -> None:
    import mediapipe as mp

    assert set(HAND_CONNECTIONS) == set(mp.solutions.hands.HAND_CONNECTIONS)


@pytest.mark.slow
def test_detection_rate_on_grassknoted_letters(
    letters_root: Path, detector: HandDetector, record_property: Callable[[str, object], None]
) -> None:
    """The other dataset (one signer in a room, 200 px): 104 photos, measured 0.93."""
    with (letters_root / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[::50]
    found = [detector.detect(load_image(letters_root / row["path"])) for row in rows]
    rate = sum(d is not None for d in found) / len(found)
    record_property("grassknoted_rate", rate)
    print(f"\n{len(found)} grassknoted photos: {rate:.3f} found")
    assert rate >= 0.85
    labels = [d.handedness for d in found if d is not None]
    assert labels.count("Left") >= 0.9 * len(labels)  # right hands, unmirrored


# --- The retry ladder (issue 14): dark and far photos of people in ordinary rooms ---


def _room_photos(data_root: Path, count: int) -> list[np.ndarray]:
    """`count` real ASL-HG photos (phone photos in ordinary rooms), spread over the classes."""
    with (data_root / "aslhg" / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        pytest.skip("aslhg photos not found")
    step = len(rows) // count
    return [load_image(data_root / "aslhg" / row["path"]) for row in rows[::step][:count]]


def _dark(rgb: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, 2.0, rgb.shape)
    return np.clip(np.rint(rgb.astype(np.float32) * 0.1 + noise), 0, 255).astype(np.uint8)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    inter_w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area else 0.0


def _found_by(detector: HandDetector, rgb: np.ndarray) -> str | None:
    det = detector.detect(rgb)
    return det.found_by if det is not None else None


@pytest.fixture(scope="module")
def plain_detector() -> Iterator[HandDetector]:
    with HandDetector(mode="image", retries=()) as det:
        yield det


def test_dark_photos_are_found_by_the_exposure_retry_where_they_were(
    data_root: Path, detector: HandDetector, plain_detector: HandDetector
) -> None:
    """12 real photos at a tenth of their brightness plus noise (bench: 20% -> 80% found)."""
    photos = _room_photos(data_root, 12)
    plain = exposure = 0
    for k, rgb in enumerate(photos):
        dark = _dark(rgb, k)
        assert is_dark(dark) and not is_dark(rgb)
        plain += plain_detector.detect(dark) is not None
        det = detector.detect(dark)
        original = detector.detect(rgb)
        if det is not None and det.found_by == "exposure":
            exposure += 1
            assert det.image_size == (rgb.shape[1], rgb.shape[0])
            if original is not None:  # the same hand, in the same place
                assert _iou(det.box, original.box) > 0.5
    assert exposure >= 5
    assert plain <= 4


def test_far_signers_are_found_on_tiles_inside_the_pasted_photo(
    data_root: Path, detector: HandDetector
) -> None:
    """8 real 300x300 photos pasted unscaled into 1920x1080 frames (bench: 47% -> 95%)."""
    photos = _room_photos(data_root, 8)
    tiles = found = 0
    for k, rgb in enumerate(photos):
        x, y = 200 + 180 * k, 100 + 80 * (k % 4)
        frame = cv2.copyMakeBorder(rgb, y, 1080 - 300 - y, x, 1920 - 300 - x, cv2.BORDER_REPLICATE)
        det = detector.detect(frame)
        if det is None:
            continue
        found += 1
        tiles += det.found_by == "tiles"
        assert det.image_size == (1920, 1080)
        # Landmarks mapped back from the tile fall on the pasted photo, not elsewhere.
        px = det.pixel_landmarks
        assert (px[:, 0] > x - 30).all() and (px[:, 0] < x + 330).all()
        assert (px[:, 1] > y - 30).all() and (px[:, 1] < y + 330).all()
    assert found >= 6
    assert tiles >= 2


def test_a_hand_found_at_once_costs_one_mediapipe_call(
    data_root: Path, detector: HandDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = [rgb for rgb in _room_photos(data_root, 6) if _found_by(detector, rgb) == "plain"]
    assert photos, "no ordinary room photo found at once"
    with HandDetector(mode="image") as det:
        calls: list[tuple[int, ...]] = []
        process = det._process

        def counting(rgb: np.ndarray) -> list:
            calls.append(rgb.shape)
            return process(rgb)

        monkeypatch.setattr(det, "_process", counting)
        found = det.detect(photos[0])
        assert found is not None and found.found_by == "plain"
        assert len(calls) == 1
        calls.clear()
        assert det.detect(np.full((720, 1280, 3), 128, np.uint8)) is None
        # A bright empty frame: padding and tiles are tried, the exposure retry is not.
        assert len(calls) == 1 + 1 + len(tile_boxes(1280, 720))


def test_tiles_cover_the_frame_with_overlap() -> None:
    boxes = tile_boxes(1280, 720)
    side = boxes[0][2] - boxes[0][0]
    assert side == 480
    covered = np.zeros((720, 1280), bool)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
        assert x1 - x0 == y1 - y0 == side
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({b[0] for b in boxes})
    assert all(b - a <= side * 2 / 3 + 1 for a, b in itertools.pairwise(xs))


def test_found_by_round_trips_and_old_caches_still_read(
    massey_root: Path, detector: HandDetector
) -> None:
    det = detector.detect(load_image(massey_photo(massey_root, "y")))
    assert det is not None
    again = HandDetection.from_dict(det.to_dict())
    assert again.found_by == det.found_by and again.scale == det.scale
    old = det.to_dict()
    del old["found_by"], old["scale"]
    assert HandDetection.from_dict({**old, "padded": True}).found_by == "padding"
    assert HandDetection.from_dict({**old, "padded": False}).found_by == "plain"
    with pytest.raises(ValueError, match="found_by"):
        HandDetection.from_dict({**det.to_dict(), "found_by": "magic"})
    with pytest.raises(ValueError, match="unknown retries"):
        HandDetector(retries=("zoom",))


def test_detected_side_is_in_the_pixels_mediapipe_read(
    massey_root: Path, detector: HandDetector
) -> None:
    rgb = load_image(massey_photo(massey_root, "l"))
    small = detector.detect(rgb)
    big = detector.detect(cv2.resize(rgb, (2560, 2560)))
    assert small is not None and big is not None
    assert big.scale == pytest.approx(0.5)
    assert big.hand_side == pytest.approx(6.4 * small.hand_side, rel=0.15)
    assert big.detected_side == pytest.approx(3.2 * small.hand_side, rel=0.15)
