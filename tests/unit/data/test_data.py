"""Datasets, splits and the feature cache, on the real photos in ../shared/data."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from asl_core.data import features as features_module
from asl_core.data.arrays import load_landmark_csv, load_npz, write_landmark_csv
from asl_core.data.augment import AugmentConfig, LandmarkTrainPreset, eval_preset, train_preset
from asl_core.data.dataset import AslDataset
from asl_core.data.features import FeatureCache, extract_features
from asl_core.data.sources import (
    KNOWN_DATASETS,
    DatasetChecksumError,
    DatasetError,
    Sample,
    load_datasets,
    load_folder,
    read_sample_rgb,
    verify_manifest,
)
from asl_core.data.splits import kfold_split, lodo_split, loso_split, make_split, random_split
from asl_core.io.images import load_image, photo_suffixes
from asl_core.models.registry import create_model
from asl_core.settings import data_dir
from asl_core.vision import views
from asl_core.vision.spec import Representation

SYNTHETIC_HEIC = Path(__file__).resolve().parents[2] / "fixtures" / "synthetic_quadrants.heic"
MASSEY_SIGNER_COUNTS = {"hand1": 900, "hand2": 895, "hand3": 180, "hand4": 180, "hand5": 360}


SLICE_CLASSES = ["B", "C", "L", "V", "W", "Y"]


@pytest.fixture(scope="module", autouse=True)
def _shared_feature_cache(tmp_path_factory: pytest.TempPathFactory):
    """One MediaPipe cache for the test session (cold at its start: tests never rely on a
    warm cache from an earlier session)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("ASL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "asl-feature-cache"))
    yield
    patch.undo()


@pytest.fixture(scope="module")
def massey(massey_root: Path):
    return load_datasets("massey36")


def copy_photos(massey_root: Path, target: Path, per_class: dict[str, int]) -> list[Path]:
    """Real Massey photos copied into a class-per-folder tree without a manifest."""
    copied = []
    for label, count in per_class.items():
        folder = target / "images" / label
        folder.mkdir(parents=True, exist_ok=True)
        for source in sorted((massey_root / "images" / label).glob("hand*_*.jpeg"))[:count]:
            copied.append(Path(shutil.copy(source, folder / source.name)))
    return copied


def test_massey_manifest_loads_labels_signers_and_hashes(massey) -> None:
    assert len(massey) == 2515
    assert len(massey.class_names) == 36
    assert massey.class_names[:10] == list("0123456789")
    assert massey.class_names[10:] == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert Counter(s.signer for s in massey.samples) == MASSEY_SIGNER_COUNTS
    assert all(s.sha256 and len(s.sha256) == 64 for s in massey.samples)
    assert all(s.path is not None and s.path.is_file() for s in massey.samples[:50])
    assert {s.lighting for s in massey.samples} == {"bot", "dif", "left", "right", "top"}
    record = massey.sources[0]
    assert record["name"] == "massey36" and record["checksum_ok"] is True
    assert record["licence"].startswith("none stated")


def test_registry_checksums_match_the_shared_copies(data_root: Path) -> None:
    for known in KNOWN_DATASETS.values():
        if (data_root / known.name / "MANIFEST.csv").exists():
            assert known.root == data_dir() / known.name
            assert verify_manifest(known) == known.manifest_sha256
            assert known.upstream.startswith("https://")


def test_grassknoted_has_one_named_signer(letters_root: Path) -> None:
    letters = load_datasets("grassknoted_letters", limit=5)
    assert letters.class_names == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert {s.signer for s in letters.samples} == {"grassknoted"}


def test_a_changed_manifest_fails_its_checksum(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "massey36"
    fake.mkdir()
    (fake / "MANIFEST.csv").write_text("path,label\nimages/a/x.jpeg,a\n")
    monkeypatch.setenv("ASL_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetChecksumError, match="differs from the registered one"):
        load_datasets("massey36")


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(DatasetError, match="massey36"):
        load_datasets("no_such_dataset")


def test_folder_without_manifest_parses_massey_file_names(massey_root, massey, tmp_path) -> None:
    copy_photos(massey_root, tmp_path / "mine", {"a": 3, "5": 2})
    samples = load_folder(tmp_path / "mine")
    assert [s.label for s in samples] == ["5", "5", "A", "A", "A"]
    assert all(s.signer == "hand1" and s.dataset == "mine" for s in samples)
    by_name = {s.path.name: s.sha256 for s in massey.samples}
    assert all(s.sha256 == by_name[s.path.name] for s in samples)


def test_a_folder_lists_every_photo_the_image_reader_accepts(massey_root, tmp_path) -> None:
    """One list of photo suffixes (asl_core.io.images): a .jfif or .heic in a dataset folder
    is read like a .jpeg. Real photos, renamed (the reader judges by content, not by name);
    the .heic is the synthetic HEIC fixture (tests/fixtures/README.md: plumbing only)."""
    (source,) = copy_photos(massey_root, tmp_path / "copied", {"a": 1})
    folder = tmp_path / "mine" / "A"
    folder.mkdir(parents=True)
    for index, suffix in enumerate(photo_suffixes()):
        copied = SYNTHETIC_HEIC if suffix == ".heic" else source
        shutil.copy(copied, folder / f"hand1_a_bot_seg_{index}_cropped{suffix.upper()}")
    (folder / "notes.txt").write_text("not a photo")
    samples = load_folder(tmp_path / "mine")
    assert sorted(s.path.suffix.lower() for s in samples) == sorted(photo_suffixes())
    jfif = next(s for s in samples if s.path.suffix == ".JFIF")
    assert np.array_equal(read_sample_rgb(jfif), load_image(source))
    heic = next(s for s in samples if s.path.suffix == ".HEIC")
    assert read_sample_rgb(heic).shape == (64, 96, 3)


def test_classes_and_limit_select_a_stratified_slice(massey_root) -> None:
    picked = load_datasets("massey36", classes=SLICE_CLASSES, limit=10, seed=1)
    assert picked.class_names == SLICE_CLASSES
    assert Counter(picked.labels) == dict.fromkeys(SLICE_CLASSES, 10)
    again = load_datasets("massey36", classes=SLICE_CLASSES, limit=10, seed=1)
    assert [s.source for s in again.samples] == [s.source for s in picked.samples]
    digits = load_datasets("massey36", classes="digits", limit=2)
    assert digits.class_names == list("0123456789")


def test_npz_loader_reads_images_and_int_labels(massey_root, tmp_path: Path) -> None:
    photos = [massey_root / "images" / c / f"hand1_{c}_bot_seg_1_cropped.jpeg" for c in "ab"]
    images = np.stack([cv2.resize(load_image(p), (64, 64)) for p in photos])
    path = tmp_path / "seed000.npz"
    np.savez(path, images=images, labels=np.array([0, 1]), class_names=np.array(["a", "b"]))
    samples = load_npz(path)
    assert [s.label for s in samples] == ["A", "B"]
    assert samples[0].image.shape == (64, 64, 3) and samples[0].image.dtype == np.uint8
    assert samples[0].sha256 != samples[1].sha256
    assert samples[1].source.endswith("seed000.npz#1")
    named = tmp_path / "named.npz"
    np.savez(named, images=images, labels=np.array(["x", "Y"]))
    assert [s.label for s in load_datasets(str(named)).samples] == ["X", "Y"]
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=images, labels=np.array([object(), object()], dtype=object))
    with pytest.raises(DatasetError, match="without pickle"):
        load_npz(pickled)


def _assert_disjoint_cover(split, n: int, *, cover: bool = True) -> None:
    sides = [set(split.train), set(split.val), set(split.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    if cover:
        assert sides[0] | sides[1] | sides[2] == set(range(n))


def test_random_split_is_stratified_70_15_15(massey) -> None:
    split = random_split(massey.samples, random_state=42)
    _assert_disjoint_cover(split, len(massey))
    n = len(massey)
    assert abs(len(split.train) / n - 0.70) < 0.02
    assert abs(len(split.val) / n - 0.15) < 0.02
    assert abs(len(split.test) / n - 0.15) < 0.02
    totals = Counter(massey.labels)
    for side, share in ((split.train, 0.70), (split.val, 0.15), (split.test, 0.15)):
        per_class = Counter(massey.samples[i].label for i in side)
        assert set(per_class) == set(massey.class_names)
        for label, count in per_class.items():  # every class split in the same proportions
            assert abs(count / totals[label] - share) < 0.02
    assert split.test != random_split(massey.samples, random_state=7).test
    described = split.describe(massey.samples)
    assert described["name"] == "random" and described["params"]["random_state"] == 42
    assert sum(described["counts"].values()) == n


def test_kfold_folds_partition_the_data(massey) -> None:
    tests = [kfold_split(massey.samples, folds=5, fold=k) for k in range(5)]
    union: list[int] = []
    for split in tests:
        _assert_disjoint_cover(split, len(massey))
        union.extend(split.test)
        per_class = Counter(massey.samples[i].label for i in split.test)
        assert max(per_class.values()) - min(per_class.values()) <= 1
    assert sorted(union) == list(range(len(massey)))
    assert max(len(s.test) for s in tests) - min(len(s.test) for s in tests) <= 1
    seed003 = kfold_split(massey.samples, folds=5, fold=2, val_fraction=0)
    assert seed003.val == seed003.test


@pytest.mark.parametrize("val_signer", [None, "hand5"])
def test_loso_never_puts_a_signer_on_two_sides(massey, val_signer) -> None:
    for signer in MASSEY_SIGNER_COUNTS:
        if signer == val_signer:
            continue
        split = loso_split(massey.samples, test_signer=signer, val_signer=val_signer)
        _assert_disjoint_cover(split, len(massey))
        signers = {
            side: {massey.samples[i].signer for i in idx} for side, idx in split.sides().items()
        }
        assert signers["test"] == {signer}
        assert signer not in signers["train"] | signers["val"]
        assert len(split.test) == MASSEY_SIGNER_COUNTS[signer]
        if val_signer:
            assert signers["val"] == {val_signer}
            assert val_signer not in signers["train"]
    with pytest.raises(DatasetError, match="hand1"):
        loso_split(massey.samples, test_signer="hand9")


def test_lodo_tests_on_the_left_out_dataset(massey_root, letters_root) -> None:
    both = load_datasets(["massey36", "grassknoted_letters"], limit=12)
    split = lodo_split(both.samples, test_dataset="grassknoted_letters")
    _assert_disjoint_cover(split, len(both))
    datasets = {side: {both.samples[i].dataset for i in idx} for side, idx in split.sides().items()}
    assert datasets == {
        "train": {"massey36"},
        "val": {"massey36"},
        "test": {"grassknoted_letters"},
    }
    reverse = make_split(both.samples, "lodo", test_dataset="massey36", random_state=3)
    _assert_disjoint_cover(reverse, len(both), cover=False)
    dropped = reverse.notes["test_dropped_untrained_classes"]
    assert set(dropped) == set("0123456789")  # digits: never in the letters set
    assert len(reverse.test) + sum(dropped.values()) == sum(
        1 for s in both.samples if s.dataset == "massey36"
    )


def test_unknown_split_name_is_refused(massey) -> None:
    with pytest.raises(ValueError, match="random, kfold, loso, lopo, lodo"):
        make_split(massey.samples, "stratified")


@pytest.fixture
def small_tree(massey_root: Path, tmp_path: Path) -> Path:
    """Six real photos and one photo without a hand (a black frame)."""
    root = tmp_path / "tree"
    copy_photos(massey_root, root, {"b": 3, "l": 3})
    empty = root / "images" / "y" / "empty.jpg"
    empty.parent.mkdir(parents=True)
    cv2.imwrite(str(empty), np.zeros((200, 200, 3), np.uint8))
    return root


class _Forbidden:
    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("MediaPipe must not run again")


def test_cache_second_pass_never_runs_mediapipe(small_tree, tmp_path, monkeypatch) -> None:
    samples = load_folder(small_tree)
    cache = FeatureCache(tmp_path / "cache")
    table = extract_features(samples, cache, workers=1, progress=False)
    assert table.report.computed == 7 and table.report.cached == 0
    assert table.report.no_hand == [str(small_tree / "images" / "y" / "empty.jpg")]
    assert table.has_hand.tolist() == [True] * 6 + [False]
    monkeypatch.setattr(features_module, "HandDetector", _Forbidden)
    again = extract_features(samples, cache, workers=1, progress=False)
    assert again.report.computed == 0 and again.report.cached == 7
    np.testing.assert_array_equal(again.landmarks, table.landmarks)
    assert again.report.no_hand == table.report.no_hand
    cached = cache.get(samples[0].sha256)
    assert cached is not None and cached.has_hand
    assert cached.image(Representation.CROP).shape == (224, 224, 3)
    assert cached.image(Representation.SKELETON).dtype == np.uint8
    np.testing.assert_allclose(cached.landmarks, views.landmark_vector(cached.detection), atol=1e-6)
    with np.load(cache.path_for(samples[0].sha256), allow_pickle=False) as archive:
        assert str(archive["pipeline_version"]) == views.PIPELINE_VERSION


def test_cache_key_changes_with_pipeline_version(small_tree, tmp_path, monkeypatch) -> None:
    samples = load_folder(small_tree)[:2]
    root = tmp_path / "cache"
    extract_features(samples, FeatureCache(root), workers=1, progress=False)
    sha = samples[0].sha256
    assert sha in FeatureCache(root)
    assert FeatureCache(root, pipeline_version="1").path_for(sha) != FeatureCache(
        root, pipeline_version="2"
    ).path_for(sha)
    monkeypatch.setattr(views, "PIPELINE_VERSION", "bumped-for-test")
    bumped = FeatureCache(root)
    assert bumped.pipeline_version == "bumped-for-test" and sha not in bumped
    assert extract_features(samples, bumped, workers=1, progress=False).report.computed == 2


def test_unreadable_photo_is_reported_not_dropped(massey_root, tmp_path) -> None:
    root = tmp_path / "broken"
    copy_photos(massey_root, root, {"c": 1})
    source = next((root / "images" / "c").iterdir())
    truncated = root / "images" / "c" / "truncated.jpeg"
    truncated.write_bytes(source.read_bytes()[:500])
    table = extract_features(load_folder(root), FeatureCache(tmp_path / "c"), progress=False)
    assert [u["source"] for u in table.report.unreadable] == [str(truncated)]
    assert table.has_hand.tolist().count(False) == 1
    assert table.no_hand_sources() == [str(truncated)]


@pytest.mark.slow  # spawns two processes that import torch and MediaPipe
def test_process_pool_extraction_matches_in_process(small_tree, tmp_path, monkeypatch) -> None:
    samples = load_folder(small_tree)
    monkeypatch.setattr(features_module, "IN_PROCESS_BELOW", 1)
    pooled = extract_features(samples, FeatureCache(tmp_path / "a"), workers=2, progress=False)
    alone = extract_features(samples, FeatureCache(tmp_path / "b"), workers=1, progress=False)
    assert pooled.report.computed == 7
    assert pooled.has_hand.tolist() == alone.has_hand.tolist()
    np.testing.assert_allclose(pooled.landmarks, alone.landmarks, atol=1e-6)


def test_landmark_csv_round_trip_skips_mediapipe(small_tree, tmp_path, monkeypatch) -> None:
    samples = load_folder(small_tree)
    table = extract_features(samples, FeatureCache(tmp_path / "c"), workers=1, progress=False)
    rows = [
        (s.label, s.signer, table.landmarks[i]) for i, s in enumerate(samples) if table.has_hand[i]
    ]
    path = write_landmark_csv(tmp_path / "landmarks.csv", rows)
    loaded = load_landmark_csv(path)
    assert [s.label for s in loaded] == [r[0] for r in rows]
    assert all(s.signer == "hand1" and s.landmarks is not None for s in loaded)
    np.testing.assert_allclose(
        np.stack([s.landmarks for s in loaded]), np.stack([r[2] for r in rows]), atol=1e-5
    )
    monkeypatch.setattr(features_module, "HandDetector", _Forbidden)
    csv_table = extract_features(loaded, FeatureCache(tmp_path / "d"), progress=False)
    assert csv_table.report.landmark_rows == len(loaded) and csv_table.has_hand.all()
    bad = tmp_path / "bad.csv"
    bad.write_text("label,x0,y0\nA,1,2\n")
    with pytest.raises(DatasetError, match="expected 63"):
        load_landmark_csv(bad)
    spec = create_model("small_cnn", 3).input_spec
    with pytest.raises(DatasetError, match="landmark"):
        AslDataset(csv_table, range(len(loaded)), ["B", "L"], spec, eval_preset(spec))


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("landmark_mlp", {}, (63,)),
        ("small_cnn", {"image_size": 32}, (3, 32, 32)),
        ("scratch_mlp", {}, (1, 28, 28)),
        ("cnn_lstm", {"image_size": 32, "sequence_length": 3}, (3, 3, 32, 32)),
    ],
)
def test_dataset_yields_what_the_input_spec_asks(small_tree, tmp_path, name, kwargs, shape):
    samples = load_folder(small_tree)
    table = extract_features(samples, FeatureCache(tmp_path / "c"), workers=1, progress=False)
    spec = create_model(name, 3, **kwargs).input_spec
    names = ["B", "L", "Y"]
    for augmented in (False, True):
        transform = train_preset(spec, AugmentConfig()) if augmented else eval_preset(spec)
        dataset = AslDataset(table, range(len(samples)), names, spec, transform)
        x, label, has_input = dataset[0]
        assert tuple(x.shape) == shape and x.dtype == torch.float32
        assert label == 0 and has_input
        empty, label, has_input = dataset[6]  # the black frame
        assert label == 2 and not has_input and not empty.any()
    training = AslDataset(table, range(7), names, spec, eval_preset(spec), include_no_hand=False)
    assert len(training) == 6


def test_greyscale_and_normalisation_follow_the_spec(small_tree, tmp_path) -> None:
    samples = load_folder(small_tree)[:1]
    table = extract_features(samples, FeatureCache(tmp_path / "c"), workers=1, progress=False)
    scratch = create_model("scratch_mlp", 3).input_spec  # mean 0.5, std 0.5: values in [-1, 1]
    x = AslDataset(table, [0], ["B"], scratch, eval_preset(scratch))[0][0]
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() < -0.9
    raw = create_model("small_cnn", 3, image_size=32).input_spec  # raw 0..255 (its Rescaling)
    x = AslDataset(table, [0], ["B"], raw, eval_preset(raw))[0][0]
    assert x.max() > 100


def test_landmark_augmentation_keeps_the_normalised_frame() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    vector = views.landmark_vector(rng.normal(size=(21, 3)))
    augment = LandmarkTrainPreset(AugmentConfig(landmark_tilt=10.0))
    for _ in range(5):
        out = augment(vector).reshape(21, 3)
        assert torch.allclose(out[0], torch.zeros(3), atol=1e-6)  # wrist at the origin
        assert abs(float(out.norm(dim=1).max()) - 1.0) < 1e-5  # radius 1
        assert not torch.allclose(out.reshape(-1), torch.from_numpy(vector), atol=1e-3)
    assert torch.equal(
        eval_preset(create_model("landmark_mlp", 3).input_spec)(vector), torch.from_numpy(vector)
    )


def test_sample_kinds() -> None:
    row = Sample(label="A", dataset="x", landmarks=np.zeros(63, np.float32))
    photo = Sample(label="A", dataset="x", path=Path("a.jpg"), sha256="0" * 64)
    assert not row.needs_detection and photo.needs_detection


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("small_cnn", {"image_size": 64}),
        ("scratch_mlp", {}),
        ("custom_cnn", {"image_size": 64, "representation": "skeleton"}),
        ("landmark_mlp", {}),
    ],
)
def test_training_inputs_equal_the_predictors(small_tree, tmp_path, name, kwargs) -> None:
    """What a model is evaluated on during training is exactly what it gets in use."""
    from asl_core.vision.tensors import detection_input

    samples = load_folder(small_tree)[:1]
    cache = FeatureCache(tmp_path / "c")
    table = extract_features(samples, cache, workers=1, progress=False)
    spec = create_model(name, 3, **kwargs).input_spec
    from_cache = AslDataset(table, [0], ["B"], spec, eval_preset(spec))[0][0]
    detection = cache.get(samples[0].sha256).detection
    fresh = detection_input(load_image(samples[0].path), detection, spec)
    torch.testing.assert_close(from_cache, fresh, rtol=0, atol=1e-6)
