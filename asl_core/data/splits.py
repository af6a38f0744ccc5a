"""Splits that keep people apart: random, k-fold, leave-one-signer-out, leave-people-out,
leave-one-dataset-out.

`lopo` (leave people out) is the one that chooses the shipped model: every signer of every
loaded dataset (massey36 hand1-hand5, grassknoted's one person, aslhg P1-P6: 12 people) is
dealt into `folds` groups, and fold `fold` tests on every photo of its group's people after
training on everyone else. Run over all folds (`python -m training.kfold --split lopo`), each
person is held out exactly once, and accuracy is reported per person, per dataset and as the
mean over held-out people.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from asl_core.data.sources import DatasetError, Sample

if TYPE_CHECKING:
    pass


SPLIT_NAMES = ("random", "kfold", "loso", "lopo", "lodo")


SIDES = ("train", "val", "test")


@dataclass
class Split:
    """Indices of the train, val and test sides, with the name and parameters that made them."""

    name: str
    params: dict[str, Any]
    train: list[int]
    val: list[int]
    test: list[int]
    notes: dict[str, Any] = field(default_factory=dict)

    def sides(self) -> dict[str, list[int]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def describe(self, samples: Sequence[Sample]) -> dict[str, Any]:
        """What config.json records: counts, signers, datasets and classes per side."""
        sides = self.sides()
        return {
            "name": self.name,
            "params": dict(self.params),
            "counts": {side: len(idx) for side, idx in sides.items()},
            "signers": {
                side: sorted({samples[i].signer for i in idx if samples[i].signer is not None})
                for side, idx in sides.items()
            },
            "datasets": {
                side: dict(sorted(Counter(samples[i].dataset for i in idx).items()))
                for side, idx in sides.items()
            },
            "classes": {side: len({samples[i].label for i in idx}) for side, idx in sides.items()},
            **self.notes,
        }


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def stratified_partition(
    indices: Sequence[int],
    labels: Sequence[str],
    fractions: Sequence[float],
    rng: np.random.Generator,
) -> list[list[int]]:
    """Split `indices` class by class into len(fractions) + 1 parts; the last takes the rest.

    Each class is shuffled and cut at rounded fractions of its size, so every part keeps the
    class proportions. A class too small to give every part one sample fills the first parts
    in order (the remainder part, normally training, keeps at least one sample).
    """
    by_class: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_class[labels[index]].append(index)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in sorted(by_class):
        members = np.array(by_class[label])
        rng.shuffle(members)
        n = len(members)
        start = 0
        for part, fraction in enumerate(fractions):
            take = _round_half_up(n * fraction)
            if fraction > 0 and take == 0 and n - start > 1:
                take = 1
            take = min(take, max(0, n - start - 1))
            parts[part].extend(members[start : start + take].tolist())
            start += take
        parts[-1].extend(members[start:].tolist())
    return [sorted(part) for part in parts]


def random_split(
    samples: Sequence[Sample],
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Stratified train/val/test (seed 004: 70/15/15, random_state 42)."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1:
        raise ValueError("val_fraction and test_fraction must be in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must leave something to train on")
    labels = [s.label for s in samples]
    rng = np.random.default_rng(random_state)
    val, test, train = stratified_partition(
        range(len(samples)), labels, (val_fraction, test_fraction), rng
    )
    params = {
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "random_state": random_state,
    }
    return Split("random", params, train, val, test)


def kfold_assignments(
    samples: Sequence[Sample], folds: int = 5, random_state: int = 42
) -> np.ndarray:
    """The fold (0..folds-1) of every sample: stratified, each class dealt round-robin."""
    if folds < 2:
        raise ValueError("kfold needs at least 2 folds")
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_class[sample.label].append(index)
    rng = np.random.default_rng(random_state)
    assignment = np.empty(len(samples), dtype=np.int64)
    offset = 0  # where the previous class stopped dealing, so fold sizes stay even overall
    for label in sorted(by_class):
        members = np.array(by_class[label])
        rng.shuffle(members)
        for position, index in enumerate(members):
            assignment[index] = (offset + position) % folds
        offset = (offset + len(members)) % folds
    return assignment


def kfold_split(
    samples: Sequence[Sample],
    *,
    folds: int = 5,
    fold: int = 0,
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Fold `fold` is the test side; validation is a stratified slice of the other folds.

    With `val_fraction: 0` the test fold is also the validation side (seed 003's protocol).
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    assignment = kfold_assignments(samples, folds, random_state)
    test = np.flatnonzero(assignment == fold).tolist()
    rest = np.flatnonzero(assignment != fold).tolist()
    labels = [s.label for s in samples]
    params = {
        "folds": folds,
        "fold": fold,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    if val_fraction <= 0:
        return Split("kfold", params, rest, list(test), test, {"val_is_test_fold": True})
    rng = np.random.default_rng(random_state + 1000 + fold)
    val, train = stratified_partition(rest, labels, (val_fraction,), rng)
    return Split("kfold", params, train, val, test)


def loso_split(
    samples: Sequence[Sample],
    *,
    test_signer: str,
    val_signer: str | None = None,
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Leave one signer out: no signer is ever on two sides (see the module doc)."""
    signers = sorted({s.signer for s in samples if s.signer is not None})
    for role, signer in (("test_signer", test_signer), ("val_signer", val_signer)):
        if signer is not None and signer not in signers:
            raise DatasetError(
                f"{role} {signer!r} is not in the data; signers: {', '.join(signers) or 'none'}"
            )
    if not test_signer:
        raise DatasetError(f"loso needs a test_signer (one of {', '.join(signers)})")
    if val_signer == test_signer:
        raise DatasetError("val_signer must differ from test_signer")
    test = [i for i, s in enumerate(samples) if s.signer == test_signer]
    unknown = sum(1 for s in samples if s.signer is None)
    params = {
        "test_signer": test_signer,
        "val_signer": val_signer,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    notes = {"unknown_signer_in_train": unknown}
    if val_signer is not None:
        val = [i for i, s in enumerate(samples) if s.signer == val_signer]
        train = [i for i, s in enumerate(samples) if s.signer not in (test_signer, val_signer)]
        return Split("loso", params, train, val, test, notes)
    rest = [i for i, s in enumerate(samples) if s.signer != test_signer]
    rng = np.random.default_rng(random_state)
    val, train = stratified_partition(rest, [s.label for s in samples], (val_fraction,), rng)
    return Split("loso", params, train, val, test, notes)


def people_folds(samples: Sequence[Sample], folds: int = 6) -> list[list[str]]:
    """The signers of each leave-people-out fold: deterministic and spread over datasets.

    Datasets are taken in name order and each one's signers (sorted) are dealt round-robin,
    the dealing carrying on from where the previous dataset stopped, so every fold gets
    people from as many datasets as possible (12 people, 6 folds: one of massey36's five
    or grassknoted's one, with one of aslhg's six). A signer is identified by its name; a
    sample with no signer belongs to no fold (it always trains, and is counted).
    """
    by_dataset: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        if sample.signer is not None:
            by_dataset[sample.dataset].add(sample.signer)
    people = [signer for name in sorted(by_dataset) for signer in sorted(by_dataset[name])]
    if len(set(people)) != len(people):
        shared = sorted(p for p, n in Counter(people).items() if n > 1)
        raise DatasetError(
            f"signer names {shared} appear in more than one dataset; leave-people-out needs "
            "one name per person"
        )
    if folds < 2 or folds > len(people):
        raise DatasetError(
            f"lopo needs 2 <= folds <= the number of signers ({len(people)}: "
            f"{', '.join(people) or 'none'}), got folds={folds}"
        )
    groups: list[list[str]] = [[] for _ in range(folds)]
    for position, signer in enumerate(people):
        groups[position % folds].append(signer)
    return groups


def lopo_split(
    samples: Sequence[Sample],
    *,
    folds: int = 6,
    fold: int = 0,
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Leave people out: fold `fold` of `people_folds` is the test side (module doc).

    Validation is a stratified slice of the training people's photos (it shares people with
    training, so it only steers early stopping, as in loso). No person is on two sides.
    """
    groups = people_folds(samples, folds)
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    held_out = set(groups[fold])
    test = [i for i, s in enumerate(samples) if s.signer in held_out]
    rest = [i for i, s in enumerate(samples) if s.signer not in held_out]
    rng = np.random.default_rng(random_state + fold)
    val, train = stratified_partition(rest, [s.label for s in samples], (val_fraction,), rng)
    params = {
        "folds": folds,
        "fold": fold,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    notes = {
        "test_people": sorted(held_out),
        "unknown_signer_in_train": sum(1 for s in samples if s.signer is None),
    }
    return Split("lopo", params, train, val, test, notes)


def lodo_split(
    samples: Sequence[Sample],
    *,
    test_dataset: str = "grassknoted_letters",
    val_fraction: float = 0.15,
    random_state: int = 42,
) -> Split:
    """Leave one dataset out: train and validate on the others, test on `test_dataset`."""
    datasets = sorted({s.dataset for s in samples})
    if test_dataset not in datasets:
        raise DatasetError(
            f"test_dataset {test_dataset!r} is not among the loaded datasets "
            f"({', '.join(datasets)}); add it to `datasets`"
        )
    if len(datasets) < 2:
        raise DatasetError("lodo needs at least two datasets")
    rest = [i for i, s in enumerate(samples) if s.dataset != test_dataset]
    rng = np.random.default_rng(random_state)
    val, train = stratified_partition(rest, [s.label for s in samples], (val_fraction,), rng)
    trained = {samples[i].label for i in train}
    test, dropped = [], Counter()
    for i, s in enumerate(samples):
        if s.dataset == test_dataset:
            if s.label in trained:
                test.append(i)
            else:
                dropped[s.label] += 1
    params = {
        "test_dataset": test_dataset,
        "val_fraction": val_fraction,
        "random_state": random_state,
    }
    notes = {"test_dropped_untrained_classes": dict(sorted(dropped.items()))}
    return Split("lodo", params, train, val, test, notes)


SPLITTERS: dict[str, Callable[..., Split]] = {
    "random": random_split,
    "kfold": kfold_split,
    "loso": loso_split,
    "lopo": lopo_split,
    "lodo": lodo_split,
}


def make_split(samples: Sequence[Sample], name: str, **params: Any) -> Split:
    """Build a split by name; `params` not used by that split are ignored (and not recorded)."""
    if name not in SPLITTERS:
        raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLIT_NAMES)}")
    import inspect

    splitter = SPLITTERS[name]
    accepted = set(inspect.signature(splitter).parameters) - {"samples"}
    return splitter(samples, **{k: v for k, v in params.items() if k in accepted})
