"""A training run records its own temperature and threshold when, and only when, its validation
side is people it never trained on (asl_core.training.calibrate), and the Predictor then answers
at that threshold by default. Real runs on a slice of massey36 (6 letters, all photos: hand1
and hand2 have 25 a letter, hand3-hand5 5-10), on the CPU."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.data.sources import Sample
from asl_core.data.splits import make_split
from asl_core.inference.calibration import CALIBRATION_TARGET, TEMPERATURE_BOUNDS, Calibration
from asl_core.inference.predictor import DEFAULT_THRESHOLD, Predictor, rounded_threshold
from asl_core.io.images import load_image
from asl_core.models.checkpoint import read_meta
from asl_core.training.calibrate import (
    MIN_CALIBRATION_PHOTOS,
    unseen_validation_people,
)
from asl_core.training.fit import fit
from tests.helpers.photos import massey_photo
from tests.helpers.training import read_json, tiny, training_environment

BY_PERSON = {"split__name": "loso", "split__test_signer": "hand1", "split__val_signer": "hand2"}


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A feature cache for this module that starts cold, and W&B off."""
    root = tmp_path_factory.getbasetemp()
    with training_environment(root, "calibration-cache"):
        yield


def people(*rows: tuple[str, str | None, int]) -> list[Sample]:
    """Photo records (no image needed to split them): (dataset, signer, how many per letter)."""
    return [
        Sample(label=label, dataset=dataset, signer=signer, source=f"{signer}-{label}-{k}")
        for dataset, signer, count in rows
        for label in "ABC"
        for k in range(count)
    ]


def test_only_a_validation_side_of_people_never_trained_on_can_calibrate() -> None:
    samples = people(("massey36", "hand1", 4), ("massey36", "hand2", 4), ("massey36", "hand3", 4))
    split = make_split(samples, "loso", test_signer="hand1", val_signer="hand2")
    assert unseen_validation_people(split, samples) == (["hand2"], None)
    for name, params in (
        ("random", {}),
        ("loso", {"test_signer": "hand1"}),  # validation: a slice of the training people
        ("lopo", {"folds": 3}),
        ("kfold", {"folds": 3, "val_fraction": 0}),
    ):
        found, why = unseen_validation_people(make_split(samples, name, **params), samples)
        assert found == [] and why is not None
        assert "it also trained on" in why and f"{name} split" in why, why
    # Unnamed people: nothing shows who they are.
    unnamed = people(("massey36", "hand1", 4), ("mine", None, 4), ("massey36", "hand3", 4))
    split = make_split(unnamed, "lodo", test_dataset="massey36", val_fraction=0.5)
    assert "name no person" in str(unseen_validation_people(split, unnamed)[1])
    # Unnamed training photos of the validation person's dataset may be that person.
    mixed = people(("aslhg", "P1", 4), ("aslhg", "P2", 4), ("aslhg", None, 4))
    split = make_split(mixed, "loso", test_signer="P1", val_signer="P2")
    found, why = unseen_validation_people(split, mixed)
    assert found == [] and why == (
        "12 of its training photos from aslhg name no person and may show the validation people"
    )


def test_a_run_validated_on_a_person_it_never_saw_records_its_calibration(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = fit(tiny(tmp_path, epochs=8, limit_per_class=None, **BY_PERSON))
    meta = read_meta(result.run_dir / "checkpoint.json")
    record = meta.extra["calibration"]
    calibration = Calibration.from_dict(record)  # the shipped model's record format
    assert set(record) == set(Calibration.__dataclass_fields__)
    low, high = TEMPERATURE_BOUNDS
    assert low < calibration.temperature < high
    assert 0 < calibration.threshold < 1 and calibration.target == CALIBRATION_TARGET
    assert calibration.accepted_accuracy >= CALIBRATION_TARGET and 0 < calibration.coverage <= 1
    val_photos = read_json(result.run_dir / "config.json")["split"]["counts"]["val"]
    assert calibration.count >= MIN_CALIBRATION_PHOTOS and calibration.count <= val_photos
    assert calibration.fitted_on.startswith("1 person it never trained on, hand2: ")
    assert "calibration_note" not in meta.extra
    summary = read_json(result.run_dir / "summary.json")
    assert summary["calibration"] == record
    assert summary["calibration_note"] == f"fitted on {calibration.fitted_on}"
    line = capsys.readouterr().err
    assert f"; calibrated on {calibration.fitted_on}: temperature" in line
    used = rounded_threshold(calibration.threshold)
    assert f"the app, CLI and API will use {used:.2f}" in line
    with Predictor([result.run_dir / "checkpoint.json"]) as predictor:
        assert predictor.threshold == predictor.default_threshold == used
        assert predictor.models[0].temperature == calibration.temperature
        assert "1 person it never trained on, hand2" in predictor.threshold_source
        # answered at that threshold: a photo of hand2 is accepted exactly when it reaches it
        answer = predictor.predict_image(load_image(massey_photo(massey_root, "c", "hand2")))
        assert answer.hand and answer.accepted == (answer.confidence >= used)


def test_a_random_split_run_records_none_and_is_answered_at_the_shipped_default(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = fit(tiny(tmp_path, epochs=2))
    meta = read_meta(result.run_dir / "checkpoint.json")
    assert "calibration" not in meta.extra
    note = meta.extra["calibration_note"]
    assert re.fullmatch(
        r"its validation photos are of [2-5] people it also trained on \(hand\d(, hand\d)+; "
        r"random split\), which would flatter it on new people",
        note,
    ), note
    summary = read_json(result.run_dir / "summary.json")
    assert summary["calibration"] is None and summary["calibration_note"] == note
    line = capsys.readouterr().err
    assert (
        f"no calibration recorded ({note}): the app, CLI and API will use the shipped model's "
        "default threshold 0.72; to calibrate, validate on a person it never trains on: a loso "
        "split with split.val_signer" in line
    )
    with Predictor([result.run_dir / "checkpoint.json"]) as predictor:
        assert predictor.threshold == predictor.default_threshold == DEFAULT_THRESHOLD
        assert predictor.models[0].temperature == 1.0
        assert predictor.threshold_source == (
            f"the shipped model's default (0.72): this model records no calibration ({note})"
        )


def test_too_few_photos_of_the_unseen_person_record_none(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fewer = {**BY_PERSON, "split__val_signer": "hand3"}  # 5 photos a letter
    result = fit(tiny(tmp_path, epochs=1, limit_per_class=None, **fewer))
    meta = read_meta(result.run_dir / "checkpoint.json")
    config = read_json(result.run_dir / "config.json")
    val = config["split"]["counts"]["val"]
    found = val - config["no_hand"]["by_side"]["val"]
    assert found < MIN_CALIBRATION_PHOTOS and "calibration" not in meta.extra
    assert meta.extra["calibration_note"] == (
        f"its {val} validation photos (hand3) have {found} with a hand, fewer than the "
        f"{MIN_CALIBRATION_PHOTOS} a threshold needs"
    )
    line = capsys.readouterr().err
    assert "a threshold needs): the app, CLI and API will use the shipped model's default " in line
