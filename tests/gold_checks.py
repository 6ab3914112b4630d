"""Row checks shared by the question-set tests (eval/gold.jsonl, eval/dev/seeds.jsonl): every answer and
quote verbatim in the seeds, the yes/no exception, answerability, plain UTF-8 JSONL."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIELDS = {"id", "question", "answers", "support", "kind"}
SEED_TEXT = {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def load_rows(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"blank line {lineno}"
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:  # pragma: no cover - reported as a failure
            pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return rows


def ids(rows: list[dict]) -> list[str]:
    return [r.get("id", "?") for r in rows]


def check_row_shape(row: dict, id_pattern: str) -> None:
    assert set(row) == FIELDS
    assert isinstance(row["id"], str) and re.fullmatch(id_pattern, row["id"])
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


def check_support_quotes_are_verbatim(row: dict) -> None:
    for sup in row["support"]:
        assert sup["source"] in SEED_TEXT, f"unknown source {sup['source']}"
        assert sup["quote"] in SEED_TEXT[sup["source"]], f"quote not in {sup['source']}: {sup['quote']!r}"


def check_answers_are_verbatim(row: dict) -> None:
    answers = row["answers"]
    if row["kind"] == "yes_no":
        # The documented exception: "Yes"/"No" need not occur in the articles; the rest must.
        assert answers and answers[0] in ("Yes", "No")
        assert not {"Yes", "No"} & set(answers[1:])
        answers = answers[1:]
    for answer in answers:
        assert any(answer in text for text in SEED_TEXT.values()), f"answer not in any seed: {answer!r}"


def check_answerability(row: dict) -> None:
    if row["kind"] == "unanswerable":
        assert row["answers"] == [] and row["support"] == []
    else:
        assert row["answers"], "answerable question without answers"
        assert row["support"], "answerable question without support"


def needs_answer_in_support(row: dict) -> bool:
    return row["kind"] not in ("unanswerable", "yes_no")


def check_some_answer_is_inside_a_support_quote(row: dict) -> None:
    # A support that does not contain any answer would not let a reader verify the answer.
    assert any(a in s["quote"] for a in row["answers"] for s in row["support"])


def check_plain_utf8_jsonl(path: Path) -> None:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    # ensure_ascii=False: typographic characters are stored as themselves, not \\u escapes.
    assert b"\\u20" not in raw


def check_ids_unique(rows: list[dict]) -> None:
    counts = Counter(ids(rows))
    assert [i for i, n in counts.items() if n > 1] == []


def check_questions_unique(rows: list[dict]) -> None:
    counts = Counter(r["question"].casefold() for r in rows)
    assert [q for q, n in counts.items() if n > 1] == []


def check_corroborated_have_several_sources(rows: list[dict]) -> None:
    for row in rows:
        if row["kind"] == "corroborated":
            assert len({s["source"] for s in row["support"]}) >= 2, row["id"]


def check_lists_spread_over_sentences(rows: list[dict]) -> None:
    for row in rows:
        if row["kind"] == "list":
            assert len(row["support"]) >= 2, row["id"]
