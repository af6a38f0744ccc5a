"""The model card's text (training/model_card.py + model_card.md.j2) from a card record."""

from __future__ import annotations

import copy
import json
import re

import jinja2
import pytest

from asl_core.settings import REPO_ROOT
from training.model_card import render_card

SHIPPED = REPO_ROOT / "asl_core" / "default_model"


@pytest.fixture
def card() -> dict:
    return json.loads((SHIPPED / "card.json").read_text())


@pytest.fixture
def committed() -> str:
    return (SHIPPED / "MODEL_CARD.md").read_text()


def export_section(markdown: str) -> str:
    """The bench/export.py table as the committed card quotes it (a file of its own, rerun
    apart from the card, so it is taken from the card rather than from bench/results)."""
    found = re.search(r"checkpoint\.json`\):\n\n(.*?)\n\n## Data and licences", markdown, re.S)
    assert found, "the committed card has no fp32/int8 section"
    return found.group(1)


def test_the_shipped_card_renders_to_the_committed_model_card(card, committed) -> None:
    assert render_card(card, export_section(committed)) == committed


def test_pairs_as_main_builds_them_render_the_same(card, committed) -> None:
    built = {**card, "pairs": [((a, b), n) for a, b, n in card["pairs"]]}
    assert render_card(built, export_section(committed)) == committed


def test_sections_without_data_are_left_out_and_met_targets_say_so(card) -> None:
    card = copy.deepcopy(card)
    card["candidates"] = []
    card["loso"]["mean"] = 0.96
    text = render_card(card, None)
    assert "## How the architecture was chosen" not in text
    assert "## fp32 and int8" not in text
    assert "| **0.960** | ≥ 0.95 (met) |" in text
    assert "| 0.924 | ≥ 0.99 (**missed by 0.066**) |" in text
    # Each section still starts after one blank line, and the file ends with one newline.
    assert "ms per photo.\n\n## Data and licences\n" in text
    assert "| X | 0.95 | Y | 1.00 | Z | 1.00 |\n\n## Speed" in text
    assert text.endswith("--ship`\n") and not text.endswith("\n\n")


def test_a_missing_field_is_an_error_not_a_blank(card) -> None:
    del card["latency"]
    with pytest.raises(jinja2.UndefinedError, match="latency"):
        render_card(card, None)
