"""training.heldout's answer rules and averaging, on hand-made readings (arithmetic, not
accuracy: the figures themselves come from real runs, in the model card)."""

from __future__ import annotations

import numpy as np
import pytest

from training.heldout import (
    Readings,
    answer,
    calibrate,
    confusions,
    ensemble,
    person_temperatures,
    summarise,
)

NAMES = ["0", "1", "I", "J", "O"]


def readings() -> Readings:
    """Person p1 (massey36): 0 read as O, 1 right, J read as J (never answered), I right.
    Person p2 (aslhg): 0 right, one photo with no hand."""
    big = 5.0
    rows = [  # (person, dataset, label, logits or None)
        ("p1", "massey36", "0", [0, 0, 0, 0, big]),
        ("p1", "massey36", "1", [0, big, 0, 0, 0]),
        ("p1", "massey36", "J", [0, 0, 2.0, big, 0]),
        ("p1", "massey36", "I", [0, 0, big, 0, 0]),
        ("p2", "aslhg", "0", [big, 0, 0, 0, 0]),
        ("p2", "aslhg", "O", None),
    ]
    logits = np.array([r[3] if r[3] is not None else [np.nan] * 5 for r in rows], dtype=float)
    return Readings(
        class_names=NAMES,
        logits=logits,
        labels=np.array([NAMES.index(r[2]) for r in rows]),
        has_hand=np.array([r[3] is not None for r in rows]),
        person=np.array([r[0] for r in rows]),
        dataset=np.array([r[1] for r in rows]),
        run=np.array(["run"] * len(rows)),
        vectors=np.zeros((len(rows), 63)),
    )


def test_answer_rules() -> None:
    data = readings()
    index, confidence, acceptable = answer(data, "all")
    assert [NAMES[i] if i >= 0 else None for i in index] == ["O", "1", "I", "I", "0", None]
    assert acceptable.tolist() == [True, True, False, True, True, False]  # J-like: not acceptable
    assert confidence[-1] == -1.0
    grouped, _, _ = answer(data, "group")
    assert NAMES[grouped[0]] == "0"  # a digit photo is answered among digits only
    with pytest.raises(ValueError, match="rule must be one of"):
        answer(data, "letters")


def test_each_person_counts_once_and_no_hand_is_wrong() -> None:
    summary = summarise(readings(), threshold=0.5)
    p1, p2 = summary["per_person"]["p1"], summary["per_person"]["p2"]
    assert p1["all"] == 0.5 and p1["group"] == 0.75  # 0->O fixed by the switch; J never right
    assert p1["letters"] == 0.5 and p1["still_letters"] == 1.0 and p1["digits"] == 1.0
    assert p2["all"] == 0.5 and p2["no_hand"] == 1
    assert summary["overall"]["all"] == 0.5 and summary["overall"]["group"] == pytest.approx(0.625)
    assert summary["per_dataset"]["massey36"]["people"] == 1
    # Accepted answers, each person weighted once: p1 has 3 of 4 accepted (2 right), p2 1 of 2.
    accepted = summary["accepted"]["all"]
    assert accepted["coverage"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert accepted["accuracy"] == pytest.approx((2 / 4 + 1 / 2) / (3 / 4 + 1 / 2))


def test_confusions_leave_out_motion_letters_and_calibration_runs() -> None:
    data = readings()
    assert confusions(data) == {}  # 0->O is fixed by the switch; J->I is by design
    calibration = calibrate(data, target=0.9, fitted_on="toy")
    assert calibration.count == 5 and calibration.fitted_on == "toy"
    assert calibration.temperature > 0


def test_a_persons_temperature_never_uses_their_own_labels() -> None:
    data = readings()
    before = person_temperatures(data)
    changed = Readings(**{**data.__dict__, "labels": data.labels.copy()})
    changed.labels[1] = NAMES.index("O")  # p1's "1" photo relabelled
    after = person_temperatures(changed)
    p1, p2 = data.person == "p1", data.person == "p2"
    assert np.array_equal(before[p1], after[p1])  # fitted on p2's photos only
    assert not np.array_equal(before[p2], after[p2])  # p2's is fitted on p1's, now changed


def test_an_ensemble_averages_the_models_and_checks_they_read_the_same_photos() -> None:
    data = readings()
    alone, _, _ = answer(data, "all")
    same, _, _ = answer(ensemble([data, data]), "all")
    assert np.array_equal(same, alone)  # a model with itself answers as itself
    # A second model sure that photo 0 is "0" (the first said O) outweighs the first there.
    other = Readings(**{**data.__dict__, "logits": data.logits.copy()})
    other.logits[0] = [9.0, 0, 0, 0, 0]
    fused = ensemble([data, other])
    index, _, _ = answer(fused, "all")
    assert NAMES[index[0]] == "0" and np.array_equal(index[1:], alone[1:])
    assert index[-1] == -1  # still no hand
    # With all the weight on the first model, its answers come back.
    only_first, _, _ = answer(ensemble([data, other], [1.0, 0.0]), "all")
    assert np.array_equal(only_first, alone)
    assert summarise(fused)["overall"]["all"] > summarise(data)["overall"]["all"]
    shorter = Readings(**{k: v[:-1] if isinstance(v, np.ndarray) else v
                          for k, v in data.__dict__.items()})  # fmt: skip
    with pytest.raises(ValueError, match="same photos"):
        ensemble([data, shorter])
    with pytest.raises(ValueError, match="weights"):
        ensemble([data, other], [1.0])
