"""Personalising the model on a small real slice: real Massey photos stand in for a user's
captures, new signs included.

The honest setup for "a new sign": the base model must not already answer the handshape. So the
base here is the shipped model with its classifier cut down to six classes that are NOT `5` or
`Y` (every other weight kept), and the user's new signs HELLO-SIGN and THANKS-SIGN are photos
of the `5` and `Y` handshapes by signers hand1-hand4. The personalised model must then answer
those new names on photos of the same handshapes by hand5, whom it never saw.

Each Massey signer's photos of a sign are one burst of the user's (`capture_real_photos`):
hand1's at 10:00, hand2's at 10:10, ... so the held-back bursts are hand4's, a later session.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from asl_core.app.model_catalog import discover_models
from asl_core.capture.store import CaptureStore
from asl_core.inference.predictor import DEFAULT_THRESHOLD, Predictor, default_model_path
from asl_core.io.images import load_image
from asl_core.models.checkpoint import CheckpointMeta, load_checkpoint
from asl_core.models.registry import create_model
from asl_core.runs.format import read_metrics
from asl_core.runs.local import load_local_run
from asl_core.training.optim import transfer_weights
from asl_core.training.personal_data import reference_signer_of
from asl_core.training.personalise import (
    PersonaliseConfig,
    PersonaliseError,
    PersonaliseResult,
    personalise,
)
from asl_core.vision.spec import InputSpec, Representation
from tests.helpers.captures import burst_time, capture_real_photos, cut_down_checkpoint
from tests.helpers.training import training_environment

BASE_CLASSES = ["A", "B", "C", "L", "V", "W"]


NEW_SIGNS = {"HELLO-SIGN": "5", "THANKS-SIGN": "y"}  # new name -> the Massey handshape shown


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.getbasetemp()
    with training_environment(root, "personalise-cache"):
        yield


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_down_checkpoint(tmp_path_factory.mktemp("base"), BASE_CLASSES)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory, massey_root: Path) -> CaptureStore:
    plan = {name: (source, 12) for name, source in NEW_SIGNS.items()}
    plan["B"] = ("b", 8)  # a sign the base knows, in the user's own photos
    folder = tmp_path_factory.mktemp("captures")
    # W in one burst: trained on, not checked.
    capture_real_photos(folder, massey_root, {"W": ("w", 4)}, massey_signers=("hand1",))
    return capture_real_photos(folder, massey_root, plan)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def result(base_model: Path, captures: CaptureStore, runs_root: Path) -> PersonaliseResult:
    config = PersonaliseConfig(
        base_model=str(base_model),
        replay_per_class=4,
        reference_per_class=3,
        epochs=30,
        runs_dir=str(runs_root),
        wandb=False,
        signer="Ann",
    )
    messages: list[tuple[float, str]] = []
    started = time.monotonic()
    outcome = personalise(captures.root, config, progress=lambda f, m: messages.append((f, m)))
    outcome.seconds["test_wall"] = time.monotonic() - started
    fractions = [fraction for fraction, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    print(f"\npersonalise (small slice): {outcome.sentence()} {outcome.seconds}")
    return outcome


def test_new_signs_get_new_rows_and_old_classes_keep_theirs(
    result: PersonaliseResult, base_model: Path
) -> None:
    assert result.new_classes == ["HELLO-SIGN", "THANKS-SIGN"]
    assert result.class_names == [*BASE_CLASSES, "HELLO-SIGN", "THANKS-SIGN"]
    personalised = load_checkpoint(result.checkpoint)
    assert personalised.meta.class_names == result.class_names
    assert personalised.meta.extra["personalised"] is True
    # Held-back bursts of the person it trained on are not people it never saw: no threshold
    # is fitted on them, the note says why, and the shipped model's default is used.
    assert "calibration" not in personalised.meta.extra
    assert personalised.meta.extra["calibration_note"] == (
        "its validation photos are of 1 person it also trained on (Ann; personalise split), "
        "which would flatter it on new people"
    )
    with Predictor([result.checkpoint]) as predictor:
        assert predictor.threshold == DEFAULT_THRESHOLD
        assert "records no calibration (its validation photos are of 1 person" in (
            predictor.threshold_source
        )


def test_before_and_after_are_measured_on_photos_never_trained_on(
    result: PersonaliseResult, captures: CaptureStore
) -> None:
    # The latest whole bursts, a quarter of each sign at least: hand4's burst of each sign (3
    # of 12 photos per new sign, 2 of 8 of B); W, in one burst, is not checked.
    assert result.counts["captures"] == len(captures.captures()) == 36
    assert result.own_before.total == result.counts["captures_held_back"] == 8
    assert result.counts["captures_train"] + 8 == 36
    assert result.counts["bursts"] == 3 * 4 + 1 and result.counts["bursts_held_back"] == 3
    later = f"{burst_time(3, 0).astimezone():%Y-%m-%d %H:%M:%S}"
    assert result.held_back_bursts == [
        f"B by Ann at {later} (2 photos)",
        f"HELLO-SIGN by Ann at {later} (3 photos)",
        f"THANKS-SIGN by Ann at {later} (3 photos)",
    ]
    assert result.unchecked == ["W"] and "W" not in result.per_class
    assert any(note.startswith("Not checked, captured in one burst: W.") for note in result.notes)
    assert result.per_class["HELLO-SIGN"]["photos"] == 3
    # The base cannot answer a new sign: those photos count as wrong before.
    assert result.per_class["HELLO-SIGN"]["before"] == 0
    assert result.per_class["THANKS-SIGN"]["before"] == 0
    assert result.own_before.correct <= result.per_class["B"]["photos"]
    # It helped on the user's own signs, and did not wreck other people's.
    assert result.own_after.accuracy is not None and result.own_before.accuracy is not None
    assert result.own_after.accuracy >= result.own_before.accuracy
    assert result.own_after.accuracy >= 0.75
    assert result.others_before.total == 3 * len(BASE_CLASSES)  # hand5, 3 photos per class
    assert result.reference == "massey36 signer hand5"
    assert result.others_after.accuracy is not None and result.others_before.accuracy is not None
    assert result.others_after.accuracy >= result.others_before.accuracy - 0.25
    assert re.fullmatch(
        r"Your signs: \d+% → \d+% \(8 held-back photos in 3 later bursts\)\. Other people's "
        r"signs: \d+% → \d+% \(18 photos of massey36 signer hand5\)\.",
        result.sentence(),
    )
    assert [row["Test"] for row in result.table()] == [
        "Your signs (8 held-back photos in 3 later bursts)",
        "Other people's signs (18 photos of massey36 signer hand5)",
    ]


def test_the_run_folder_is_a_run_the_app_lists(result: PersonaliseResult, runs_root: Path) -> None:
    run_dir = result.run_dir
    assert run_dir.parent == runs_root and "personalise" in run_dir.name
    for name in ("config.json", "metrics.jsonl", "summary.json", "report.json", "personalise.json"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "confusion" / "test.json").is_file()
    assert len(read_metrics(run_dir)) == 30
    run = load_local_run(run_dir, runs_root)
    assert run.status == "finished" and not run.problems
    shipped = load_checkpoint(default_model_path()).meta.architecture
    assert run.split == "personalise" and run.model == shipped  # the base's architecture
    assert run.test_acc == result.own_after.accuracy
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["own_signs_before"] == result.own_before.accuracy
    assert summary["other_signers_after"] == result.others_after.accuracy
    listed = discover_models(runs_root, None)
    assert [choice.path for choice in listed] == [result.checkpoint]


def test_the_personalised_model_reads_the_new_signs_by_an_unseen_signer(
    result: PersonaliseResult, massey_root: Path
) -> None:
    """End to end: the Predictor, fresh photos by hand5 (never captured, never trained on)."""
    answers = {}
    with Predictor([result.checkpoint], threshold=0.0) as predictor:
        for name, source in NEW_SIGNS.items():
            photos = sorted((massey_root / "images" / source).glob("hand5_*.jpeg"))[::3][:3]
            answers[name] = [predictor.predict_image(load_image(p)).label for p in photos]
    right = sum(label == name for name, labels in answers.items() for label in labels)
    assert right >= 5, answers


def test_transfer_weights_keeps_every_known_row(base_model: Path) -> None:
    base = load_checkpoint(base_model)
    names = ["0", *BASE_CLASSES, "NEW"]  # a new digit sorts first: rows move, weights follow
    model = create_model(base.meta.architecture, len(names), **base.meta.arch_kwargs)
    transfer_weights(base.model, BASE_CLASSES, model, names)
    old, new = base.model.state_dict(), model.state_dict()
    for key in old:
        if key.startswith("classifier"):
            for i, name in enumerate(BASE_CLASSES):
                assert torch.equal(new[key][names.index(name)], old[key][i])
        else:
            assert torch.equal(new[key], old[key])


def test_the_reference_signer_is_the_base_models_own_test_signer() -> None:
    spec = InputSpec(kind="landmarks", dim=63, representation=Representation.LANDMARKS)
    meta = CheckpointMeta("landmark_mlp", ["A", "B"], spec)
    assert reference_signer_of(meta, None) == "hand5"
    meta.data = {"split": {"name": "loso", "params": {"test_signer": "hand3"}}}
    assert reference_signer_of(meta, None) == "hand3"
    assert reference_signer_of(meta, "hand2") == "hand2"


def test_refusals_say_what_to_do(tmp_path: Path, base_model: Path, massey_root: Path) -> None:
    config = PersonaliseConfig(base_model=str(base_model), runs_dir=str(tmp_path), wandb=False)
    with pytest.raises(PersonaliseError, match="No captured photos"):
        personalise(tmp_path / "nothing", config)
    store = capture_real_photos(tmp_path / "few", massey_root, {"HELLO-SIGN": ("5", 3)})
    with pytest.raises(PersonaliseError, match=r"at least 5 photos .* HELLO-SIGN \(3\)"):
        personalise(store.root, config)
    assert not [p for p in tmp_path.iterdir() if "personalise" in p.name]  # no half run


def test_one_burst_says_what_to_capture(
    tmp_path: Path, base_model: Path, massey_root: Path
) -> None:
    """F17: one photo of a sign the model knows used to end in sklearn's "Found empty input
    array" (nothing was left to hold back). One photo, or many in one burst, is one burst:
    nothing honest to check on, and the message says what to capture."""
    config = PersonaliseConfig(base_model=str(base_model), runs_dir=str(tmp_path), wandb=False)
    store = capture_real_photos(tmp_path / "one", massey_root, {"B": ("b", 1)})
    assert len(store.captures()) == 1
    with pytest.raises(PersonaliseError, match=r"every sign was captured in one burst .* "
                       r"Capture another burst of your signs a minute or more later"):  # fmt: skip
        personalise(store.root, config)
    assert not [p for p in tmp_path.iterdir() if "personalise" in p.name]  # no half run


@pytest.mark.slow
def test_thirty_photos_per_sign_from_the_shipped_model(tmp_path: Path, massey_root: Path) -> None:
    """The brief's setup at full size: the shipped model minus 5 and Y, 30 captures per new
    sign, replay of 20 photos per class, 5 reference photos per class, W&B on; cold feature
    cache (a fresh machine), captures detected at capture time as the page does. Held back:
    hand3's and hand4's bursts (10 of 30 photos per sign). The time is printed, not asserted
    (the machine is shared)."""
    shipped = load_checkpoint(default_model_path()).meta.class_names
    base = cut_down_checkpoint(tmp_path, [c for c in shipped if c not in ("5", "Y")])
    plan = {name: (source, 30) for name, source in NEW_SIGNS.items()}
    store = capture_real_photos(tmp_path / "captures", massey_root, plan)
    started = time.monotonic()
    outcome = personalise(
        store.root, PersonaliseConfig(base_model=str(base), runs_dir=str(tmp_path / "runs"))
    )
    seconds = time.monotonic() - started
    print(f"\npersonalise (30 per sign, cold cache): {seconds:.1f} s {outcome.seconds}")
    print(outcome.sentence(), outcome.table())
    assert outcome.own_after.accuracy is not None and outcome.own_after.accuracy >= 0.9
    with Predictor([outcome.checkpoint], threshold=0.0) as predictor:
        for name, source in NEW_SIGNS.items():
            photos = sorted((massey_root / "images" / source).glob("hand5_*.jpeg"))
            labels = [predictor.predict_image(load_image(p)).label for p in photos]
            assert np.mean([label == name for label in labels]) >= 0.8, labels
