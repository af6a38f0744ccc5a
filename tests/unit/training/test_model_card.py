"""The model card's text (training/model_card.py + model_card.md.j2) from a card record."""

from __future__ import annotations

import copy
import json

import jinja2
import pytest

from asl_core.inference.predictor import DEFAULT_THRESHOLD
from asl_core.settings import REPO_ROOT
from training.model_card import render_card

SHIPPED = REPO_ROOT / "asl_core" / "default_model"


@pytest.fixture
def card() -> dict:
    return json.loads((SHIPPED / "card.json").read_text())


@pytest.fixture
def committed() -> str:
    return (SHIPPED / "MODEL_CARD.md").read_text()


def test_the_shipped_card_renders_to_the_committed_model_card(card, committed) -> None:
    assert render_card(card) == committed


def test_the_card_speaks_to_people_not_to_targets(committed) -> None:
    assert "missed by" not in committed and "target" not in committed.lower()
    # The first table (what the Home page shows) leads with people the model never saw.
    first = committed.split("\n\n")[1]
    assert first.startswith("| How well it reads signs |")
    assert "Letters, by people it never saw" in first and "optimistic" in first


def test_the_shipped_model_records_the_calibration_the_app_uses(card) -> None:
    meta = json.loads((SHIPPED / "model.json").read_text())
    calibration = meta["extra"]["calibration"]
    assert calibration == card["calibration"]
    assert calibration["threshold"] == pytest.approx(DEFAULT_THRESHOLD, abs=0.005)
    assert calibration["accepted_accuracy"] >= calibration["target"] == 0.95
    headline = meta["metrics"]["unseen_signer_acc_letters_or_digits"]
    assert headline == card["lopo"]["overall"]["group"]


def test_sections_without_data_are_left_out(card) -> None:
    card = copy.deepcopy(card)
    card["candidates"] = []
    card["hard_photos"] = []
    text = render_card(card)
    assert "## How it was chosen" not in text
    assert "**Dark and far.**" not in text
    # Each section still starts after one blank line, and the file ends with one newline.
    assert "\n\n\n" not in text
    assert text.endswith("--ship`\n") and not text.endswith("\n\n")


def test_a_missing_field_is_an_error_not_a_blank(card) -> None:
    del card["latency"]
    with pytest.raises(jinja2.UndefinedError, match="latency"):
        render_card(card)
