"""Temperature scaling and the accepted-answer threshold (asl_core.inference.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from asl_core.inference.calibration import (
    TEMPERATURE_BOUNDS,
    Calibration,
    accepted_at,
    calibrate,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
    still_scores,
    temperature_at_bound,
)


def overconfident(temperature: float, n: int = 5000, classes: int = 36, seed: int = 0):
    """Labels drawn from softmax(z), and logits z * temperature: a model `temperature` times
    too sure of itself, whose true temperature is known."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, classes))
    p = softmax(z)
    cumulative = np.cumsum(p, axis=1)
    labels = np.minimum((cumulative < rng.random((n, 1))).sum(axis=1), classes - 1)
    return z * temperature, labels


def test_the_fitted_temperature_undoes_overconfidence() -> None:
    logits, labels = overconfident(3.0)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)
    assert nll(logits, labels, temperature) < nll(logits, labels) - 0.1
    before = softmax(logits)
    after = softmax(logits, temperature)
    assert np.array_equal(before.argmax(1), after.argmax(1))  # the answers do not change
    correct = before.argmax(1) == labels
    ece_before = expected_calibration_error(before.max(1), correct)
    ece_after = expected_calibration_error(after.max(1), correct)
    assert ece_after < 0.02 < ece_before


def test_threshold_takes_the_widest_coverage_that_meets_the_target() -> None:
    confidence = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, True, False])
    # Running accuracy from the top: 1, 1, .667, .75, .8, .667
    assert choose_threshold(confidence, correct, 0.8) == pytest.approx((0.6, 0.8, 5 / 6))
    assert choose_threshold(confidence, correct, 0.95) == pytest.approx((0.9, 1.0, 2 / 6))
    threshold, accuracy, coverage = choose_threshold(confidence, ~correct, 0.9)
    assert threshold > 0.95 and np.isnan(accuracy) and coverage == 0.0
    assert accepted_at(confidence, correct, 0.7) == pytest.approx((0.75, 4 / 6))


def test_ties_at_the_threshold_are_all_accepted() -> None:
    confidence = np.array([0.9, 0.7, 0.7, 0.7])
    correct = np.array([True, True, True, False])
    threshold, accuracy, coverage = choose_threshold(confidence, correct, 0.7)
    assert threshold == 0.7 and coverage == 1.0 and accuracy == 0.75


def test_record_round_trip_and_bad_input() -> None:
    record = Calibration(1.7, 0.62, 0.95, 0.951, 0.81, 9000, "lopo, 6 folds, 12 people")
    assert Calibration.from_dict(record.to_dict()) == record
    with pytest.raises(ValueError, match=r"logits \(N, classes\) and labels \(N,\)"):
        fit_temperature(np.zeros((3, 4)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match=r"class indices in 0\.\.3"):
        fit_temperature(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match="NaN or infinity"):
        nll(np.full((1, 2), np.inf), np.array([0]))
    with pytest.raises(ValueError, match="target must be in"):
        choose_threshold(np.ones(2), np.ones(2, dtype=bool), 0.0)


def test_calibrate_is_the_rule_that_chose_the_shipped_threshold() -> None:
    """`calibrate` (a training run's calibration) gives exactly what `training.heldout.
    calibrate` (the shipped model's) gives on the same readings of one model: one rule."""
    from training.heldout import Readings
    from training.heldout import calibrate as heldout_calibrate

    names = ["A", "B", "I", "J", "Y", "Z"]
    logits, labels = overconfident(2.5, n=600, classes=len(names), seed=3)
    rng = np.random.default_rng(4)
    has_hand = rng.random(600) > 0.1
    logits[~has_hand] = np.nan
    person = np.array(["p1"] * 100 + ["p2"] * 200 + ["p3"] * 300)
    readings = Readings(
        class_names=names, logits=logits, labels=labels, has_hand=has_hand, person=person,
        dataset=np.array(["massey36"] * 600), run=np.array(["run"] * 600),
        vectors=np.zeros((600, 63)),
    )  # fmt: skip
    shipped_rule = heldout_calibrate(readings, 0.9, "three people")
    ours = calibrate(logits, labels, names, has_hand=has_hand, person=person, target=0.9,
                     fitted_on="three people")  # fmt: skip
    assert ours == shipped_rule
    assert ours.count == int(has_hand.sum()) and 0 < ours.coverage < 1
    assert ours.temperature == pytest.approx(2.5, rel=0.15)
    # J and Z are never answered from a still photo, so never accepted
    scored, correct = still_scores(logits, labels, names, has_hand, ours.temperature)
    answered_motion = np.isin(labels, [3, 5]) & correct
    assert not answered_motion.any()
    assert (scored[~has_hand] == -1).all()


def test_calibrate_refuses_what_it_cannot_fit() -> None:
    logits, labels = overconfident(1.0, n=10, classes=4)
    with pytest.raises(ValueError, match="no photo has a hand"):
        calibrate(logits, labels, list("ABCD"), has_hand=np.zeros(10, dtype=bool))
    with pytest.raises(ValueError, match=r"one entry per photo \(10\)"):
        calibrate(logits, labels, list("ABCD"), person=np.array(["p"] * 9))


def test_a_temperature_at_either_end_of_its_range_is_flagged() -> None:
    low, high = TEMPERATURE_BOUNDS
    assert temperature_at_bound(low) and temperature_at_bound(high)
    assert not temperature_at_bound(1.0) and not temperature_at_bound(0.15)
