"""MediaPipe hand detection on real Massey photos: detection rate, coordinates, modes."""

from __future__ import annotations

import csv
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
    pad_for_detection,
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
