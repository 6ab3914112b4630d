"""Checks on eval/gold.jsonl: a wrong gold label poisons every score computed from it."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from qa.metrics import ANSWERABLE_KINDS, GOLD_KINDS

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
SEEDS = ROOT / "seeds"
FIELDS = {"id", "question", "answers", "support", "kind"}
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 10
MIN_PER_ANSWERABLE_KIND = 4


def _load() -> list[dict]:
    rows = []
    for lineno, line in enumerate(GOLD.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"blank line {lineno}"
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:  # pragma: no cover - reported as a failure
            pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return rows


ROWS = _load()
SEED_TEXT = {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def _ids(rows: list[dict]) -> list[str]:
    return [r.get("id", "?") for r in rows]


def test_seeds_present():
    assert len(SEED_TEXT) == 5


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_row_shape(row):
    assert set(row) == FIELDS
    assert isinstance(row["id"], str) and re.fullmatch(r"q\d{3}", row["id"])
    assert isinstance(row["question"], str) and row["question"].strip() == row["question"]
    assert row["question"].endswith("?")
    assert isinstance(row["answers"], list)
    assert all(isinstance(a, str) and a.strip() for a in row["answers"])
    assert len(set(row["answers"])) == len(row["answers"]), "duplicate answers"
    assert isinstance(row["support"], list)
    for sup in row["support"]:
        assert isinstance(sup, dict) and set(sup) == {"source", "quote"}
        assert isinstance(sup["source"], str) and isinstance(sup["quote"], str)
        assert sup["quote"].strip()
    pairs = [(s["source"], s["quote"]) for s in row["support"]]
    assert len(set(pairs)) == len(pairs), "duplicate support"
    assert isinstance(row["kind"], str)


def test_ids_unique():
    counts = Counter(_ids(ROWS))
    assert [i for i, n in counts.items() if n > 1] == []


def test_questions_unique():
    counts = Counter(r["question"].casefold() for r in ROWS)
    assert [q for q, n in counts.items() if n > 1] == []


def test_kinds_documented():
    assert {r["kind"] for r in ROWS} <= set(GOLD_KINDS)
    readme = (ROOT / "eval" / "README.md").read_text(encoding="utf-8")
    for kind in GOLD_KINDS:
        assert f"`{kind}`" in readme, f"kind {kind} not documented in eval/README.md"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_support_quotes_are_verbatim(row):
    for sup in row["support"]:
        assert sup["source"] in SEED_TEXT, f"unknown source {sup['source']}"
        assert sup["quote"] in SEED_TEXT[sup["source"]], f"quote not in {sup['source']}: {sup['quote']!r}"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_answers_are_verbatim(row):
    answers = row["answers"]
    if row["kind"] == "yes_no":
        # The documented exception: "Yes"/"No" need not occur in the articles; the rest must.
        assert answers and answers[0] in ("Yes", "No")
        assert not {"Yes", "No"} & set(answers[1:])
        answers = answers[1:]
    for answer in answers:
        assert any(answer in text for text in SEED_TEXT.values()), f"answer not in any seed: {answer!r}"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_answerability_is_consistent(row):
    if row["kind"] == "unanswerable":
        assert row["answers"] == [] and row["support"] == []
    else:
        assert row["answers"], "answerable question without answers"
        assert row["support"], "answerable question without support"


@pytest.mark.parametrize("row", [r for r in ROWS if r["kind"] not in ("unanswerable", "yes_no")],
                         ids=_ids([r for r in ROWS if r["kind"] not in ("unanswerable", "yes_no")]))
def test_some_answer_is_inside_a_support_quote(row):
    # A support that does not contain any answer would not let a reader verify the answer.
    assert any(a in s["quote"] for a in row["answers"] for s in row["support"])


def test_corroborated_have_several_sources():
    for row in ROWS:
        if row["kind"] == "corroborated":
            assert len({s["source"] for s in row["support"]}) >= 2, row["id"]


def test_list_spread_over_sentences():
    for row in ROWS:
        if row["kind"] == "list":
            assert len(row["support"]) >= 2, row["id"]


def test_size_and_coverage():
    kinds = Counter(r["kind"] for r in ROWS)
    assert len(ROWS) >= MIN_QUESTIONS
    assert kinds["unanswerable"] >= MIN_UNANSWERABLE
    for kind in ANSWERABLE_KINDS:
        assert kinds[kind] >= MIN_PER_ANSWERABLE_KIND, f"only {kinds[kind]} {kind} questions"


def test_file_is_plain_utf8_jsonl():
    raw = GOLD.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    # ensure_ascii=False: typographic characters are stored as themselves, not \\u escapes.
    assert b"\\u20" not in raw


def test_system_code_does_not_know_the_gold_file():
    # eval/README.md: no code in qa/ or api/ may read or know the gold set.
    offenders = []
    for folder in ("qa", "api"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []:
            if "gold.jsonl" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
