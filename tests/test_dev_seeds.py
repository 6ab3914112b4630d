"""Checks on eval/dev/seeds.jsonl, the extra development questions over the seed articles: the rules of
eval/gold.jsonl (tests/test_gold.py, shared in tests/gold_checks.py), and no question of the gold set again."""

from __future__ import annotations

import pytest

from qa.metrics import GOLD_KINDS
from tests import gold_checks as gc

DEV_SEEDS = gc.ROOT / "eval" / "dev" / "seeds.jsonl"
ROWS = gc.load_rows(DEV_SEEDS)
GOLD_QUESTIONS = {r["question"].casefold() for r in gc.load_rows(gc.ROOT / "eval" / "gold.jsonl")}


@pytest.mark.parametrize("row", ROWS, ids=gc.ids(ROWS))
def test_row(row):
    """Shape, ids s001…, every quote and answer verbatim (yes/no exception), answerable ⇔ answers and support."""
    gc.check_row_shape(row, r"s\d{3}")
    assert row["kind"] in GOLD_KINDS
    gc.check_support_quotes_are_verbatim(row)
    gc.check_answers_are_verbatim(row)
    gc.check_answerability(row)
    if gc.needs_answer_in_support(row):
        gc.check_some_answer_is_inside_a_support_quote(row)


def test_set_rules():
    assert len(ROWS) >= 60
    gc.check_ids_unique(ROWS)
    gc.check_questions_unique(ROWS)
    gc.check_corroborated_have_several_sources(ROWS)
    gc.check_lists_spread_over_sentences(ROWS)
    gc.check_plain_utf8_jsonl(DEV_SEEDS)


def test_questions_are_not_gold_questions():
    assert [r["id"] for r in ROWS if r["question"].casefold() in GOLD_QUESTIONS] == []
