"""Accuracy on people a model never saw, from the runs of a leave-people-out (or any) group.

Every run of `python -m training.kfold --split lopo` tested on the photos of the people its
fold held out (and a `lodo` run on a whole dataset). `read_runs` reads those photos again with
each run's checkpoint, from the MediaPipe feature cache, exactly as the `Predictor` reads a
photo: the landmark vector once (a hand labelled "Right" mirrored onto the right hand), J and
Z never answered (`asl_core.inference.answers`), a photo with no hand wrong. From those
readings:

- `summarise`: per person, per dataset (the mean over its people) and over all held-out
  people (each person counts once, whatever their number of photos), under two answer rules:
  `all` (any of the classes) and `group` (restricted to the photo's own group, letters or
  digits: the app's switch); plus `letters` and `digits` (the group rule on letter photos and
  on digit photos; J and Z photos count as wrong, as a still photo never gets them) and
  `still_letters` (the 24 letters signed without motion), and, at a threshold, the accepted
  answers' accuracy and the coverage.
- `calibrate`: the temperature (fitted on every held-out photo with a hand) and the threshold
  at which accepted answers are `target` right, each person weighted once
  (`asl_core.inference.calibration`).
- `confusions`: the most frequent (true, answered) pairs under the group rule.
- `ensemble`: the held-out photos read by two or more models (a landmark and an image model
  on the same folds), their temperature-scaled probabilities averaged as the `Predictor`
  averages an ensemble's; each person's temperatures fitted on the other people only
  (`person_temperatures`).
- `turned`: the same held-out landmarks turned in 3-D by up to a given angle, a measure of
  how much a hand turned away from the camera costs (MediaPipe's own misses on turned hands
  are not in it).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asl_core.runs.format import CHECKPOINT_META_FILE, CONFIG_FILE

RULES = ("all", "group")


@dataclass
class Readings:
    """Held-out photos of one or more runs. logits (N, classes), NaN where no hand was found;
    labels (N,) class indices; person and dataset (N,) strings; run (N,) the run that held
    the photo out; vectors (N, 63) landmark vectors. members: for an ensemble (`ensemble`),
    each model's (logits (N, classes), temperature (N,), weight); its answers are the
    weighted average of their probabilities, and `logits` the log of that average over all
    classes."""

    class_names: list[str]
    logits: np.ndarray
    labels: np.ndarray
    has_hand: np.ndarray
    person: np.ndarray
    dataset: np.ndarray
    run: np.ndarray
    vectors: np.ndarray
    members: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def _test_samples(run_dir: Path) -> list[Any]:
    """The run's test photos, rebuilt from its config.json as fit() built them."""
    from asl_core.data.sources import load_datasets
    from asl_core.data.splits import make_split

    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    samples = load_datasets(
        config["datasets"],
        classes=config.get("classes"),
        limit=config.get("limit_per_class"),
        seed=config.get("seed", 0),
        verify=False,
        dataset_limits=config.get("dataset_limits"),
    ).samples
    split = make_split(samples, config["split"]["name"], **config["split"]["params"])
    return [samples[i] for i in split.test]


def _logits(model: Any, spec: Any, vectors: np.ndarray) -> np.ndarray:
    import torch

    from asl_core.vision.tensors import to_model_tensor

    batch = torch.stack([to_model_tensor(spec, vector=v) for v in vectors])
    with torch.inference_mode():
        return model(batch).double().numpy()


def _image_logits(model: Any, spec: Any, table: Any, rows: np.ndarray) -> np.ndarray:
    """An image model's logits on the cached views (crop or skeleton) of `rows`, as fit()
    evaluates them (`augment.eval_preset`), 64 at a time."""
    import torch

    from asl_core.data.augment import eval_preset

    preset = eval_preset(spec)
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), 64):
            views = [table.image(i, spec.representation) for i in rows[start : start + 64]]
            out.append(model(torch.stack([preset(v) for v in views])).double().numpy())
    return np.concatenate(out)


def _test_people(run_dir: Path) -> list[str]:
    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    return sorted(config["split"].get("test_people") or [])


def read_runs(
    run_dirs: Sequence[str | Path], photos_of: Sequence[str | Path] | None = None
) -> Readings:
    """Read every run's held-out photos with its checkpoint (landmark or image models).

    photos_of: for each run, the run whose held-out photos to read instead of its own (an image
    run trained on fewer photos per class reads every photo of its fold's people, those the
    landmark run of the same fold read); both must have held out the same people.
    """
    from asl_core.data.features import extract_features
    from asl_core.models.checkpoint import load_checkpoint

    run_dirs = [Path(r) for r in run_dirs]
    sources = [Path(r) for r in photos_of] if photos_of is not None else run_dirs
    if len(sources) != len(run_dirs):
        raise ValueError(f"{len(run_dirs)} runs but {len(sources)} runs to take photos from")
    parts: list[dict[str, Any]] = []
    class_names: list[str] | None = None
    for run_dir, source in zip(run_dirs, sources, strict=True):
        loaded = load_checkpoint(run_dir / CHECKPOINT_META_FILE)
        spec = loaded.model.input_spec
        if spec.kind == "sequence":
            raise ValueError(f"{run_dir.name}: held-out readings need a photo model")
        if source != run_dir and _test_people(source) != _test_people(run_dir):
            raise ValueError(
                f"{run_dir.name} held out {_test_people(run_dir)}, {source.name} "
                f"{_test_people(source)}: an ensemble needs the same people"
            )
        names = list(loaded.meta.class_names)
        if class_names is None:
            class_names = names
        elif names != class_names:
            raise ValueError(f"{run_dir.name} answers other classes than the first run")
        test = _test_samples(source)
        table = extract_features(test, progress=False)
        logits = np.full((len(test), len(names)), np.nan)
        found = np.flatnonzero(table.has_hand)
        if len(found) and spec.kind == "landmarks":
            logits[found] = _logits(loaded.model.eval(), spec, table.landmarks[found])
        elif len(found):
            logits[found] = _image_logits(loaded.model.eval(), spec, table, found)
        index = {name: i for i, name in enumerate(names)}
        parts.append({
            "logits": logits,
            "labels": np.array([index[s.label] for s in test]),
            "has_hand": table.has_hand.copy(),
            "person": np.array([s.signer or "unknown" for s in test]),
            "dataset": np.array([s.dataset for s in test]),
            "run": np.array([run_dir.name] * len(test)),
            "vectors": table.landmarks.copy(),
        })  # fmt: skip
    if class_names is None:
        raise ValueError("no runs given")
    joined = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return Readings(class_names, **joined)


def lodo_run_dirs(group_dir: Path) -> dict[str, Path]:
    """{test dataset: run folder} of the leave-one-dataset-out runs in a group folder."""
    found = {}
    for config_path in sorted(Path(group_dir).glob("*/config.json")):
        split = json.loads(config_path.read_text(encoding="utf-8"))["split"]
        if split["name"] == "lodo" and (config_path.parent / CHECKPOINT_META_FILE).exists():
            found[split["params"]["test_dataset"]] = config_path.parent
    return found


def group_masks(class_names: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """(N, classes) bool: the classes of each photo's own group (digits or letters)."""
    digit = np.array([name.isdigit() for name in class_names])
    return np.where(digit[labels][:, None], digit[None, :], ~digit[None, :])


def answer(
    readings: Readings, rule: str = "all", temperature: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(answer index, confidence, accepted-able) per photo, as the Predictor answers.

    rule "all" answers any class; "group" only the photo's own group. J and Z are never
    answered, and an answer whose best reading was J or Z cannot be accepted. No hand:
    index -1, confidence -1.
    """
    from asl_core.inference.answers import still_answers
    from asl_core.inference.calibration import softmax

    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, not {rule!r}")
    n = len(readings)
    index = np.full(n, -1)
    confidence = np.full(n, -1.0)
    acceptable = np.zeros(n, dtype=bool)
    found = np.flatnonzero(readings.has_hand)
    if not len(found):
        return index, confidence, acceptable
    allowed = np.ones((len(found), len(readings.class_names)), dtype=bool)
    if rule == "group":
        allowed = group_masks(readings.class_names, readings.labels[found])
    if readings.members:
        # As Predictor.probabilities: each model's classes masked, then the average.
        mixed = sum(
            weight * softmax(np.where(allowed, logits[found] / own[found, None], -np.inf))
            for logits, own, weight in readings.members
        ) / sum(weight for _, _, weight in readings.members)  # fmt: skip
        with np.errstate(divide="ignore"):
            probs = softmax(np.log(mixed) / temperature)
    else:
        probs = softmax(np.where(allowed, readings.logits[found] / temperature, -np.inf))
    got, conf, motion_like = still_answers(probs, readings.class_names)
    index[found], confidence[found], acceptable[found] = got, conf, ~motion_like
    return index, confidence, acceptable


def person_weights(readings: Readings, rows: np.ndarray | None = None) -> np.ndarray:
    """1 / (photos of the person) for each photo (of `rows`): every person counts once."""
    person = readings.person if rows is None else readings.person[rows]
    _, inverse, counts = np.unique(person, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarise(
    readings: Readings, *, temperature: float = 1.0, threshold: float | None = None
) -> dict[str, Any]:
    """Per-person, per-dataset and overall accuracy (module doc); at `threshold`, accepted
    answers' accuracy and coverage per rule (each person weighted once)."""
    from asl_core.inference.answers import motion_mask
    from asl_core.inference.calibration import accepted_at

    digit = np.array([readings.class_names[i].isdigit() for i in readings.labels])
    motion = motion_mask(readings.class_names)[readings.labels]
    correct = {}
    answers = {}
    for rule in RULES:
        index, confidence, acceptable = answer(readings, rule, temperature)
        correct[rule] = index == readings.labels
        answers[rule] = (confidence, acceptable)
    per_person: dict[str, dict[str, Any]] = {}
    for person in sorted(set(readings.person)):
        rows = readings.person == person
        row: dict[str, Any] = {
            "dataset": str(readings.dataset[rows][0]),
            "photos": int(rows.sum()),
            "no_hand": int((~readings.has_hand[rows]).sum()),
        }
        for rule in RULES:
            row[rule] = float(correct[rule][rows].mean())
        letters, digits = rows & ~digit, rows & digit
        row["letters"] = float(correct["group"][letters].mean()) if letters.any() else None
        row["digits"] = float(correct["group"][digits].mean()) if digits.any() else None
        still = letters & ~motion
        row["still_letters"] = float(correct["group"][still].mean()) if still.any() else None
        per_person[person] = row
    metrics = (*RULES, "letters", "digits", "still_letters")

    def means(people: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"people": len(people), "photos": sum(p["photos"] for p in people)}
        out["no_hand"] = sum(p["no_hand"] for p in people)
        for metric in metrics:
            out[metric] = _mean([p[metric] for p in people if p[metric] is not None])
        return out

    per_dataset = {
        name: means([p for p in per_person.values() if p["dataset"] == name])
        for name in sorted(set(readings.dataset))
    }
    summary: dict[str, Any] = {
        "per_person": per_person,
        "per_dataset": per_dataset,
        "overall": means(list(per_person.values())),
        "temperature": temperature,
    }
    if threshold is not None:
        weight = person_weights(readings)
        accepted = {}
        for rule in RULES:
            confidence, acceptable = answers[rule]
            scored = np.where(acceptable, confidence, -1.0)
            accuracy, coverage = accepted_at(scored, correct[rule], threshold, weight)
            accepted[rule] = {"accuracy": accuracy, "coverage": coverage}
            letters = ~digit
            accuracy, coverage = accepted_at(
                scored[letters], correct[rule][letters], threshold,
                person_weights(readings, letters),
            )  # fmt: skip
            accepted[f"{rule}_letters"] = {"accuracy": accuracy, "coverage": coverage}
        summary["accepted"] = {"threshold": threshold, **accepted}
    return summary


def calibrate(readings: Readings, target: float = 0.95, fitted_on: str = "") -> Any:
    """Temperature (on every held-out photo with a hand) and the threshold at which "all"-rule
    accepted answers are `target` right, people weighted once. Returns
    `asl_core.inference.calibration.Calibration`."""
    from asl_core.inference.calibration import calibration_at, fit_temperature

    found = readings.has_hand
    temperature = fit_temperature(readings.logits[found], readings.labels[found])
    index, confidence, acceptable = answer(readings, "all", temperature)
    scored = np.where(acceptable, confidence, -1.0)
    return calibration_at(
        temperature,
        scored,
        index == readings.labels,
        target,
        person_weights(readings),
        count=int(found.sum()),
        fitted_on=fitted_on,
    )


def person_temperatures(readings: Readings) -> np.ndarray:
    """(N,) each photo's temperature, fitted (`fit_temperature`) on the held-out photos with a
    hand of every OTHER person: a person's answers never use their own labels."""
    from asl_core.inference.calibration import fit_temperature

    out = np.ones(len(readings))
    for person in set(readings.person):
        rows = readings.person == person
        others = ~rows & readings.has_hand
        out[rows] = fit_temperature(readings.logits[others], readings.labels[others])
    return out


def ensemble(parts: Sequence[Readings], weights: Sequence[float] | None = None) -> Readings:
    """The readings of several models of the same held-out photos, as one ensemble: each
    model's probabilities at its `person_temperatures`, averaged with `weights` (default
    equal, as the Predictor; fixed in advance, never fitted on held-out people).

    Raises ValueError when the parts read different photos or classes.
    """
    first = parts[0]
    for other in parts[1:]:
        same = (
            other.class_names == first.class_names
            and np.array_equal(other.labels, first.labels)
            and np.array_equal(other.person, first.person)
            and np.array_equal(other.has_hand, first.has_hand)
        )
        if not same:
            raise ValueError("an ensemble's readings must be of the same photos and classes")
    weights = list(weights) if weights is not None else [1.0] * len(parts)
    if len(weights) != len(parts) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"need {len(parts)} non-negative weights, got {weights}")
    from asl_core.inference.calibration import softmax

    members = [
        (part.logits, person_temperatures(part), float(weight))
        for part, weight in zip(parts, weights, strict=True)
    ]
    found = first.has_hand
    probs = np.zeros_like(first.logits)
    for logits, own, weight in members:
        probs[found] += weight * softmax(logits[found] / own[found, None])
    logits = np.full_like(first.logits, np.nan)
    with np.errstate(divide="ignore"):
        logits[found] = np.log(probs[found] / sum(weights))
    return Readings(**{**first.__dict__, "logits": logits, "members": members})


def confusions(readings: Readings, temperature: float = 1.0) -> Counter[tuple[str, str]]:
    """(true, answered) pair counts of the wrong group-rule answers; no-hand photos and photos
    of J and Z (never answered from a still, by design) are left out."""
    from asl_core.inference.answers import motion_mask

    index, _, _ = answer(readings, "group", temperature)
    names = readings.class_names
    motion = motion_mask(names)
    pairs: Counter[tuple[str, str]] = Counter()
    for truth, got in zip(readings.labels, index, strict=True):
        if got >= 0 and got != truth and not motion[truth]:
            pairs[(names[truth], names[got])] += 1
    return pairs


def turned(readings: Readings, run_dirs: Sequence[str | Path], degrees: float) -> float:
    """Mean over held-out people of the group-rule accuracy when every held-out hand is turned
    in 3-D: uniformly up to `degrees` about both image axes and half that in the image plane
    (seeded). The landmarks are real; the turn is applied to them."""
    from asl_core.data.augment import euler_rotation
    from asl_core.models.checkpoint import load_checkpoint

    rng = np.random.default_rng(7)
    radians = np.radians(degrees)
    turned_logits = np.array(readings.logits, copy=True)
    for run_dir in map(Path, run_dirs):
        rows = np.flatnonzero((readings.run == run_dir.name) & readings.has_hand)
        if not len(rows):
            continue
        loaded = load_checkpoint(run_dir / CHECKPOINT_META_FILE)
        model, spec = loaded.model.eval(), loaded.model.input_spec
        points = readings.vectors[rows].reshape(-1, 21, 3).astype(np.float64)
        for k in range(len(points)):
            x, y = rng.uniform(-radians, radians, 2)
            z = rng.uniform(-radians / 2, radians / 2)
            points[k] = points[k] @ euler_rotation(x, y, z).T
        turned_logits[rows] = _logits(model, spec, points.reshape(-1, 63))
    copy = Readings(**{**readings.__dict__, "logits": turned_logits})
    return summarise(copy)["overall"]["group"]
