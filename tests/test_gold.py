"""Checks on eval/gold.jsonl: a wrong gold label poisons every score computed from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.metrics import ANSWERABLE_KINDS, GOLD_KINDS
from tests import qa_set_checks as checks

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
SEEDS = ROOT / "seeds"
FIELDS = checks.FIELDS
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 10
MIN_PER_ANSWERABLE_KIND = 4

ROWS = checks.load_rows(GOLD)
SEED_TEXT = checks.read_texts(SEEDS)


def test_seeds_present():
    assert len(SEED_TEXT) == 5


@pytest.mark.parametrize("row", ROWS, ids=checks.ids(ROWS))
def test_row(row):
    checks.check_row(row, SEED_TEXT, r"q\d{3}")


def test_ids_and_questions_unique():
    checks.check_unique_ids_and_questions(ROWS)


def test_kinds_documented():
    assert {r["kind"] for r in ROWS} <= set(GOLD_KINDS)
    readme = (ROOT / "eval" / "README.md").read_text(encoding="utf-8")
    for kind in GOLD_KINDS:
        assert f"`{kind}`" in readme, f"kind {kind} not documented in eval/README.md"


def test_corroborated_have_several_sources_and_lists_several_supports():
    checks.check_corroborated_and_lists(ROWS)


def test_size_and_coverage():
    checks.check_size_and_coverage(ROWS, ANSWERABLE_KINDS, MIN_QUESTIONS, MIN_UNANSWERABLE, MIN_PER_ANSWERABLE_KIND)


def test_file_is_plain_utf8_jsonl():
    checks.check_plain_utf8_jsonl(GOLD)


def test_system_code_does_not_know_the_gold_file():
    # eval/README.md: no code in qa/ or api/ may read or know the gold set.
    assert checks.system_code_mentioning(ROOT, "gold.jsonl") == []
