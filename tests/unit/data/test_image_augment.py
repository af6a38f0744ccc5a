"""Hand-crop augmentation (background replacement, colour, blur) on real Massey crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asl_core.data.augment import (
    BLACK_THRESHOLD,
    AugmentConfig,
    ImageTrainPreset,
    black_background_mask,
    describe,
    eval_preset,
    replace_background,
    resize_square,
    train_preset,
)
from asl_core.data.dataset import AslDataset
from asl_core.data.features import extract_features
from asl_core.data.sources import load_datasets
from asl_core.io.images import load_image
from asl_core.vision import views
from asl_core.vision.hands import HandDetector
from asl_core.vision.spec import Representation, image_spec
from tests.helpers.photos import massey_photo

SPEC = image_spec(96)
STILL = {"rotation": 0.0, "scale": (1.0, 1.0), "translate": 0.0, "brightness": 0.0,
         "contrast": 0.0}  # fmt: skip


@pytest.fixture(scope="module")
def crops(massey_root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(224 px crop, the 21 landmarks in crop pixels) of three real Massey photos."""
    found = []
    with HandDetector(mode="image") as detector:
        for label, signer in (("b", "hand1"), ("k", "hand2"), ("y", "hand5")):
            rgb = load_image(massey_photo(massey_root, label, signer))
            det = detector.detect(rgb)
            assert det is not None
            x0, y0, x1, _ = views.crop_box(det)
            points = (det.pixel_landmarks[:, :2] - (x0, y0)) * 224 / (x1 - x0)
            found.append((views.hand_crop(rgb, det, size=224), points))
    return found


def _pixels(tensor: torch.Tensor) -> np.ndarray:
    """The preset's normalised CHW tensor back to HWC uint8."""
    mean = torch.tensor(SPEC.mean)[:, None, None]
    std = torch.tensor(SPEC.std)[:, None, None]
    values = (tensor * std + mean).clamp(0, 1) * 255
    return values.round().byte().permute(1, 2, 0).numpy()


def test_the_mask_is_the_black_around_the_hand(crops) -> None:
    for crop, points in crops:
        mask = black_background_mask(crop)
        assert mask.shape == crop.shape[:2] and mask.dtype == bool
        assert 0.4 < mask.mean() < 0.95  # a Massey hand fills a fifth to a half of its crop
        assert crop[mask].max() <= BLACK_THRESHOLD
        assert mask[0].all() and mask[-1].all()  # the crop's border is background
        inside = np.round(points).astype(int).clip(0, 223)
        assert not mask[inside[:, 1], inside[:, 0]].any()  # no landmark is background


def test_replacing_keeps_every_hand_pixel_and_replaces_the_black(crops) -> None:
    torch.manual_seed(0)
    for crop, _ in crops:
        mask = black_background_mask(crop)
        for _ in range(6):
            out = replace_background(crop, mask)
            assert out.shape == crop.shape and out.dtype == np.uint8
            assert np.array_equal(out[~mask], crop[~mask])
            # Background pixels still near-black: only where the new colour happens to be dark.
            still_black = (out[mask].max(axis=1) <= BLACK_THRESHOLD).mean()
            assert still_black < 0.5
        assert not np.array_equal(replace_background(crop, mask), crop)


def test_the_preset_replaces_only_a_free_background(crops) -> None:
    preset = ImageTrainPreset(SPEC, AugmentConfig(**STILL, background=1.0))
    torch.manual_seed(1)
    for crop, _ in crops:
        small = resize_square(crop, 96)
        expected = eval_preset(SPEC)(small)
        free = preset(small, free_background=True)
        assert free.shape == (3, 96, 96) and free.dtype == torch.float32
        mask = black_background_mask(small)
        assert np.array_equal(_pixels(free)[~mask], _pixels(expected)[~mask])
        assert (_pixels(free)[mask] != _pixels(expected)[mask]).any(axis=1).mean() > 0.5
        # A photo whose background is not free (any dataset but massey36) keeps it.
        assert torch.equal(preset(small), expected)


def test_colour_blur_and_jitter_change_the_crop_and_keep_its_shape(crops) -> None:
    crop = resize_square(crops[0][0], 96)
    expected = eval_preset(SPEC)(crop)
    hand = torch.from_numpy(~black_background_mask(crop))
    changes = [
        {"saturation": 0.5}, {"hue": 0.1}, {"blur": 1.0}, {"scale": (0.8, 0.8)},
        {"translate": 0.1},
    ]  # fmt: skip
    torch.manual_seed(2)
    for change in changes:
        out = ImageTrainPreset(SPEC, AugmentConfig(**{**STILL, **change}))(crop)
        assert out.shape == expected.shape
        assert (out - expected).abs()[:, hand].mean() > 0.01, change
    blurred = ImageTrainPreset(SPEC, AugmentConfig(**STILL, blur=1.0, blur_sigma=2.0))(crop)
    # Blur smooths: neighbouring pixels differ less than in the sharp crop.
    assert blurred.diff(dim=2).abs().mean() < 0.8 * expected.diff(dim=2).abs().mean()
    # Skeleton drawings are never blurred, recoloured or given a background.
    skeleton = train_preset(
        SPEC, AugmentConfig(**STILL, blur=1.0, hue=0.2, background=1.0), Representation.SKELETON
    )
    assert torch.equal(skeleton(crop, free_background=True), expected)
    record = describe(AugmentConfig(background=0.8, blur=0.3), SPEC, Representation.CROP)
    assert record["background"] == 0.8 and record["background_datasets"] == ("massey36",)


def test_settings_out_of_range_are_refused() -> None:
    for bad, words in (({"background": 1.5}, "background"), ({"blur": -0.1}, "blur"),
                       ({"hue": 0.7}, "hue"), ({"blur_sigma": 0.0}, "blur_sigma")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            AugmentConfig(**bad)


def test_the_dataset_frees_only_the_named_datasets_backgrounds(data_root: Path) -> None:
    samples = load_datasets(["massey36", "aslhg"], limit=1, seed=0, verify=False).samples
    table = extract_features(samples, progress=False)
    rows = [i for i, s in enumerate(samples) if table.has_hand[i]][::6]
    names = sorted({s.label for s in samples})
    preset = ImageTrainPreset(SPEC, AugmentConfig(**STILL, background=1.0))
    kwargs = {"black_background": ["massey36"], "include_no_hand": False}
    training = AslDataset(table, rows, names, SPEC, preset, **kwargs)
    plain = AslDataset(table, rows, names, SPEC, eval_preset(SPEC))
    torch.manual_seed(3)
    seen = set()
    for position, index in enumerate(training.indices):
        dataset = samples[index].dataset
        same = torch.equal(training[position][0], plain[plain.indices.index(index)][0])
        assert same == (dataset != "massey36"), dataset
        seen.add(dataset)
    assert seen == {"massey36", "aslhg"}
