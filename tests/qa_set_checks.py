"""Checks shared by the tests of the hand-written question sets (eval/gold.jsonl and the sets in eval/dev/).

Each check takes the rows (or one row) and the article texts it asks about, and fails with an
assertion naming the offending row; the test modules only say which file, which articles and which
id pattern apply (format: eval/README.md)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

FIELDS = {"id", "question", "answers", "support", "kind"}


def load_rows(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"blank line {lineno}"
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:  # pragma: no cover - reported as a failure
            pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return rows


def read_texts(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


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


def check_unique_ids_and_questions(rows: list[dict]) -> None:
    id_counts = Counter(ids(rows))
    assert [i for i, n in id_counts.items() if n > 1] == []
    question_counts = Counter(r["question"].casefold() for r in rows)
    assert [q for q, n in question_counts.items() if n > 1] == []


def check_support_verbatim(row: dict, texts: dict[str, str]) -> None:
    for sup in row["support"]:
        assert sup["source"] in texts, f"unknown source {sup['source']}"
        assert sup["quote"] in texts[sup["source"]], f"quote not in {sup['source']}: {sup['quote']!r}"


def check_answers_verbatim(row: dict, texts: dict[str, str]) -> None:
    answers = row["answers"]
    if row["kind"] == "yes_no":
        # The documented exception: "Yes"/"No" need not occur in the articles; the rest must.
        assert answers and answers[0] in ("Yes", "No")
        assert not {"Yes", "No"} & set(answers[1:])
        answers = answers[1:]
    for answer in answers:
        assert any(answer in text for text in texts.values()), f"answer not in any article: {answer!r}"


def check_answerability(row: dict) -> None:
    if row["kind"] == "unanswerable":
        assert row["answers"] == [] and row["support"] == []
    else:
        assert row["answers"], "answerable question without answers"
        assert row["support"], "answerable question without support"


def check_some_answer_in_support(row: dict) -> None:
    # A support that does not contain any answer would not let a reader verify the answer.
    assert any(a in s["quote"] for a in row["answers"] for s in row["support"])


def check_corroborated_and_lists(rows: list[dict]) -> None:
    for row in rows:
        if row["kind"] == "corroborated":
            assert len({s["source"] for s in row["support"]}) >= 2, row["id"]
        if row["kind"] == "list":
            assert len(row["support"]) >= 2, row["id"]


def check_size_and_coverage(rows: list[dict], kinds: tuple[str, ...], minimum: int, min_unanswerable: int,
                            min_per_kind: int) -> None:
    counts = Counter(r["kind"] for r in rows)
    assert len(rows) >= minimum
    assert counts["unanswerable"] >= min_unanswerable
    for kind in kinds:
        assert counts[kind] >= min_per_kind, f"only {counts[kind]} {kind} questions"


def check_plain_utf8_jsonl(path: Path) -> None:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    # ensure_ascii=False: typographic characters are stored as themselves, not \\u escapes.
    assert b"\\u20" not in raw


def system_code_mentioning(root: Path, *needles: str) -> list[str]:
    """The Python files in qa/ and api/ whose source contains any of the needles."""
    offenders = []
    for folder in ("qa", "api"):
        for path in sorted((root / folder).rglob("*.py")) if (root / folder).is_dir() else []:
            source = path.read_text(encoding="utf-8")
            if any(needle in source for needle in needles):
                offenders.append(str(path.relative_to(root)))
    return offenders


def check_row(row: dict, texts: dict[str, str], id_pattern: str) -> None:
    """Every per-row rule: shape, verbatim quotes and answers, answerability, an answer inside a quote."""
    check_row_shape(row, id_pattern)
    check_support_verbatim(row, texts)
    check_answers_verbatim(row, texts)
    check_answerability(row)
    if row["kind"] not in ("unanswerable", "yes_no"):
        check_some_answer_in_support(row)
