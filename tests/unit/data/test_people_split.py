"""Leave-people-out over every signer of the real datasets, and the aslhg registration."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from asl_core.data.sources import KNOWN_DATASETS, DatasetError, load_datasets, verify_manifest
from asl_core.data.splits import lopo_split, make_split, people_folds

ASLHG_SIGNERS = [f"P{k}" for k in range(1, 7)]


@pytest.fixture(scope="module")
def aslhg_root(data_root: Path) -> Path:
    root = data_root / "aslhg"
    if not (root / "MANIFEST.csv").exists():
        pytest.skip(f"aslhg not found under {data_root}")
    return root


@pytest.fixture(scope="module")
def twelve_people(data_root: Path, letters_root: Path, aslhg_root: Path):
    """All three registered sets, 8 photos per class (manifests only: no MediaPipe)."""
    return load_datasets(["massey36", "grassknoted_letters", "aslhg"], limit=8)


def test_aslhg_is_registered_with_its_citation_and_licence(aslhg_root: Path) -> None:
    known = KNOWN_DATASETS["aslhg"]
    assert verify_manifest(known) == known.manifest_sha256
    assert known.licence.startswith("CC BY 4.0")
    assert "10.1016/j.dib.2026.112492" in known.citation
    data = load_datasets("aslhg")
    assert len(data) == known.num_images == 2160
    assert len(data.class_names) == known.num_classes == 36
    assert data.signers == ASLHG_SIGNERS
    assert set(Counter(s.signer for s in data.samples).values()) == {360}
    assert data.sources[0]["checksum_ok"] is True
    assert data.sources[0]["citation"] == known.citation
    # Its two-handed 0 is trained as 0 (the model card says why): 10 photos per signer.
    assert Counter(s.signer for s in data.samples if s.label == "0") == {
        p: 10 for p in ASLHG_SIGNERS
    }


def test_every_person_is_held_out_once_and_never_on_two_sides(twelve_people) -> None:
    samples = twelve_people.samples
    people = set(twelve_people.signers)
    assert len(people) == 12
    groups = people_folds(samples, folds=6)
    assert sorted(p for group in groups for p in group) == sorted(people)
    for fold in range(6):
        split = make_split(samples, "lopo", folds=6, fold=fold)
        sides = {side: {samples[i].signer for i in idx} for side, idx in split.sides().items()}
        assert sides["test"] == set(groups[fold]) == set(split.notes["test_people"])
        assert not sides["test"] & (sides["train"] | sides["val"])
        assert sides["train"] | sides["test"] == people
        assert sorted(split.train + split.val + split.test) == list(range(len(samples)))
        # Each fold holds out people of two datasets (one of aslhg's six, and one other).
        assert len({samples[i].dataset for i in split.test}) == 2
    described = split.describe(samples)
    assert described["name"] == "lopo" and described["params"]["fold"] == 5


def test_one_person_per_fold_and_bad_fold_counts(twelve_people) -> None:
    samples = twelve_people.samples
    assert [len(g) for g in people_folds(samples, folds=12)] == [1] * 12
    with pytest.raises(DatasetError, match=r"2 <= folds <= the number of signers \(12"):
        lopo_split(samples, folds=13)
    with pytest.raises(ValueError, match=r"fold must be in 0\.\.5"):
        lopo_split(samples, folds=6, fold=6)


def test_dataset_limits_cap_only_the_named_dataset(letters_root: Path, massey_root: Path) -> None:
    both = load_datasets(
        ["massey36", "grassknoted_letters"], dataset_limits={"grassknoted_letters": 5}
    )
    per_class = Counter((s.dataset, s.label) for s in both.samples)
    assert {n for (d, _), n in per_class.items() if d == "grassknoted_letters"} == {5}
    assert sum(n for (d, _), n in per_class.items() if d == "massey36") == 2515
    assert both.sources[1]["limit_per_class"] == 5
    assert both.selection["dataset_limits"] == {"grassknoted_letters": 5}
    again = load_datasets(
        ["massey36", "grassknoted_letters"], dataset_limits={"grassknoted_letters": 5}
    )
    assert [s.sha256 for s in again.samples] == [s.sha256 for s in both.samples]  # seeded
    with pytest.raises(DatasetError, match=r"dataset_limits names \['aslhg'\]"):
        load_datasets("massey36", dataset_limits={"aslhg": 5})
