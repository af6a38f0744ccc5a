"""The threshold a model is answered at when nobody chooses one: the one its checkpoint records
(its calibration), else the shipped model's DEFAULT_THRESHOLD; a damaged record is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asl_core.inference.predictor import (
    DEFAULT_THRESHOLD,
    Predictor,
    default_model_path,
    rounded_threshold,
    threshold_default,
)
from asl_core.io.images import load_image
from asl_core.models.checkpoint import CheckpointError, read_meta
from tests.helpers.checkpoints import copy_shipped, edit_meta
from tests.helpers.photos import massey_photo


def with_calibration(folder: Path, name: str, change: Any) -> Path:
    """A copy of the shipped model whose `extra` is changed by `change(extra)` (not signed:
    `extra` describes the model, so the checksums still hold)."""
    meta = copy_shipped(folder, name)
    edit_meta(meta, lambda raw: change(raw["extra"]))
    return meta


def test_the_shipped_model_is_answered_at_its_own_calibrated_threshold(
    predictor: Predictor,
) -> None:
    recorded = read_meta(default_model_path()).extra["calibration"]
    assert recorded["threshold"] == pytest.approx(0.7181)
    assert predictor.default_threshold == predictor.threshold == DEFAULT_THRESHOLD == 0.72
    assert rounded_threshold(recorded["threshold"]) == DEFAULT_THRESHOLD
    assert predictor.threshold_source == (
        "this model's calibration (leave people out: 5 folds, 12 people): answers at or above "
        "it were 95% right, 81% of photos answered"
    )


def test_rounding_goes_up_to_the_next_hundredth_and_keeps_exact_ones() -> None:
    assert rounded_threshold(0.5322) == 0.54
    assert rounded_threshold(0.72) == 0.72 and rounded_threshold(0.3) == 0.3
    assert rounded_threshold(0.0) == 0.0 and rounded_threshold(1.0) == 1.0


def test_a_recorded_threshold_is_the_default_and_a_given_one_wins(
    predictor: Predictor, massey_root: Path, tmp_path: Path
) -> None:
    rgb = load_image(massey_photo(massey_root, "v", "hand2"))
    shipped = predictor.predict_image(rgb, classes="letters")
    assert shipped.accepted and DEFAULT_THRESHOLD <= shipped.confidence < 0.95

    def strict(extra: dict[str, Any]) -> None:
        extra["calibration"] = {**extra["calibration"], "threshold": 0.9475, "fitted_on": "x"}

    meta = with_calibration(tmp_path, "strict", strict)
    with Predictor([meta], detector=predictor.detector) as own:
        assert own.default_threshold == own.threshold == 0.95
        assert own.threshold_source.startswith("this model's calibration (x): answers at")
        unsure = own.predict_image(rgb, classes="letters")
        assert unsure.label == shipped.label and not unsure.accepted
        assert unsure.confidence == pytest.approx(shipped.confidence)
        again = own.predict_image(rgb, classes="letters", threshold=DEFAULT_THRESHOLD)
        assert again.accepted
    with Predictor([meta], threshold=0.5, detector=predictor.detector) as given:
        assert given.threshold == 0.5 and given.default_threshold == 0.95
        assert given.predict_image(rgb, classes="letters").accepted


def test_a_model_that_records_none_gets_the_shipped_default_and_says_why(
    tmp_path: Path,
) -> None:
    def none(extra: dict[str, Any]) -> None:
        extra.pop("calibration")
        extra["calibration_note"] = "its validation photos are of people it also trained on"

    meta = read_meta(with_calibration(tmp_path, "plain", none))
    chosen = threshold_default([(meta, "plain.json")])
    assert chosen.value == DEFAULT_THRESHOLD and chosen.recorded is None
    assert chosen.source == (
        "the shipped model's default (0.72): this model records no calibration (its "
        "validation photos are of people it also trained on)"
    )
    meta.extra.pop("calibration_note")
    assert threshold_default([(meta, "plain.json")]).source.endswith("records no calibration")
    # a temperature alone (no threshold) is not a threshold
    meta.extra["calibration"] = {"temperature": 2.0}
    assert threshold_default([(meta, "plain.json")]).value == DEFAULT_THRESHOLD


def test_an_ensemble_takes_its_first_model_and_says_so(tmp_path: Path) -> None:
    def strict(extra: dict[str, Any]) -> None:
        extra["calibration"] = {**extra["calibration"], "threshold": 0.9}

    first = read_meta(with_calibration(tmp_path, "first", strict))
    second = read_meta(default_model_path())
    chosen = threshold_default([(first, "first.json"), (second, "model.json")])
    assert chosen.value == 0.9
    assert chosen.source.startswith("the first model's threshold, calibrated on it alone: ")
    assert threshold_default([(second, "model.json"), (first, "first.json")]).value == 0.72


@pytest.mark.parametrize(
    ("value", "shown"),
    [(float("nan"), "nan"), (1.5, "1.5"), (-0.1, "-0.1"), ("high", "'high'"), (True, "True")],
)
def test_a_damaged_recorded_threshold_is_refused_at_load(
    value: Any, shown: str, tmp_path: Path, predictor: Predictor
) -> None:
    def damage(extra: dict[str, Any]) -> None:
        extra["calibration"]["threshold"] = value

    meta = with_calibration(tmp_path, "damaged", damage)
    message = (
        rf"damaged.json: calibration threshold {shown} is not a number from 0 to 1; restore "
        "the file or save the checkpoint again"
    )
    with pytest.raises(CheckpointError, match=message):
        Predictor([meta], detector=predictor.detector)
    with pytest.raises(CheckpointError, match=message):  # read by the app before loading
        threshold_default([(read_meta(meta), meta.name)])
