"""Checks on eval/dev/seeds.jsonl, the extra development questions over the seed articles: the rules of
eval/gold.jsonl (tests/qa_set_checks.py), and no question of the gold set asked again."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.metrics import GOLD_KINDS
from tests import qa_set_checks as checks

ROOT = Path(__file__).resolve().parent.parent
DEV_SEEDS = ROOT / "eval" / "dev" / "seeds.jsonl"
ROWS = checks.load_rows(DEV_SEEDS)
SEED_TEXT = checks.read_texts(ROOT / "seeds")
GOLD_QUESTIONS = {r["question"].casefold() for r in checks.load_rows(ROOT / "eval" / "gold.jsonl")}


@pytest.mark.parametrize("row", ROWS, ids=checks.ids(ROWS))
def test_row(row):
    """Shape, ids s001…, every quote and answer verbatim (yes/no exception), answerable ⇔ answers and support."""
    checks.check_row(row, SEED_TEXT, r"s\d{3}")
    assert row["kind"] in GOLD_KINDS


def test_set_rules():
    assert len(ROWS) >= 60
    checks.check_unique_ids_and_questions(ROWS)
    checks.check_corroborated_and_lists(ROWS)
    checks.check_plain_utf8_jsonl(DEV_SEEDS)


def test_questions_are_not_gold_questions():
    assert [r["id"] for r in ROWS if r["question"].casefold() in GOLD_QUESTIONS] == []
