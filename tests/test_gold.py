"""Checks on eval/gold.jsonl: a wrong gold label poisons every score computed from it."""

from __future__ import annotations

from collections import Counter

import pytest

from qa.metrics import ANSWERABLE_KINDS, GOLD_KINDS
from tests.gold_checks import (  # FIELDS, SEED_TEXT: also imported by tests/test_feedback.py
    FIELDS,
    ROOT,
    SEED_TEXT,
    check_answerability,
    check_answers_are_verbatim,
    check_corroborated_have_several_sources,
    check_ids_unique,
    check_lists_spread_over_sentences,
    check_plain_utf8_jsonl,
    check_questions_unique,
    check_row_shape,
    check_some_answer_is_inside_a_support_quote,
    check_support_quotes_are_verbatim,
    ids,
    load_rows,
    needs_answer_in_support,
)

GOLD = ROOT / "eval" / "gold.jsonl"
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 10
MIN_PER_ANSWERABLE_KIND = 4

ROWS = load_rows(GOLD)
_ids = ids
ANSWERED = [r for r in ROWS if needs_answer_in_support(r)]


def test_seeds_present():
    assert len(SEED_TEXT) == 5


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_row_shape(row):
    check_row_shape(row, r"q\d{3}")


def test_ids_unique():
    check_ids_unique(ROWS)


def test_questions_unique():
    check_questions_unique(ROWS)


def test_kinds_documented():
    assert {r["kind"] for r in ROWS} <= set(GOLD_KINDS)
    readme = (ROOT / "eval" / "README.md").read_text(encoding="utf-8")
    for kind in GOLD_KINDS:
        assert f"`{kind}`" in readme, f"kind {kind} not documented in eval/README.md"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_support_quotes_are_verbatim(row):
    check_support_quotes_are_verbatim(row)


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_answers_are_verbatim(row):
    check_answers_are_verbatim(row)


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_answerability_is_consistent(row):
    check_answerability(row)


@pytest.mark.parametrize("row", ANSWERED, ids=_ids(ANSWERED))
def test_some_answer_is_inside_a_support_quote(row):
    check_some_answer_is_inside_a_support_quote(row)


def test_corroborated_have_several_sources():
    check_corroborated_have_several_sources(ROWS)


def test_list_spread_over_sentences():
    check_lists_spread_over_sentences(ROWS)


def test_size_and_coverage():
    kinds = Counter(r["kind"] for r in ROWS)
    assert len(ROWS) >= MIN_QUESTIONS
    assert kinds["unanswerable"] >= MIN_UNANSWERABLE
    for kind in ANSWERABLE_KINDS:
        assert kinds[kind] >= MIN_PER_ANSWERABLE_KIND, f"only {kinds[kind]} {kind} questions"


def test_file_is_plain_utf8_jsonl():
    check_plain_utf8_jsonl(GOLD)


def test_system_code_does_not_know_the_gold_file():
    # eval/README.md: no code in qa/ or api/ may read or know the gold set.
    offenders = []
    for folder in ("qa", "api"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []:
            if "gold.jsonl" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
