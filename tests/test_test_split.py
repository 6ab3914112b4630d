"""Checks on the frozen test split (eval/test/): the same rules as tests/test_gold.py for the dev set.

Two question files: seeds.jsonl (ids t###) over seeds/, news.jsonl (ids n###) over eval/test/news/.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from qa.metrics import GOLD_KINDS

ROOT = Path(__file__).resolve().parent.parent
TEST = ROOT / "eval" / "test"
FIELDS = {"id", "question", "answers", "support", "kind"}
# file -> (id pattern, article folder, min questions, min unanswerable)
SPLITS = {
    "seeds.jsonl": (r"t\d{3}", ROOT / "seeds", 60, 8),
    "news.jsonl": (r"n\d{3}", TEST / "news", 40, 8),
}
MIN_NEWS_ARTICLES = 6
APPEAL = re.compile(r"^A Message from [^\n]{1,80}:[ \t]*$", re.MULTILINE)


def _texts(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def _indexable(text: str) -> str:
    """The article without its `date` header line and without a publisher appeal running to the end."""
    if re.match(r"\A[ \t]*date[ \t]+\d{4}-\d{2}-\d{2}", text):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    m = APPEAL.search(text)
    return text[: m.start()] if m else text


TEXTS = {name: _texts(folder) for name, (_, folder, _, _) in SPLITS.items()}
ROWS = {name: [json.loads(line) for line in (TEST / name).read_text(encoding="utf-8").splitlines()] for name in SPLITS}
CASES = [(name, row) for name in SPLITS for row in ROWS[name]]
CASE_IDS = [row.get("id", "?") for _, row in CASES]


@pytest.mark.parametrize("name", SPLITS)
def test_file_is_plain_utf8_jsonl(name):
    raw = (TEST / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw and raw.endswith(b"\n")
    assert b"\n\n" not in raw, "blank line"
    assert b"\\u20" not in raw, "write with ensure_ascii=False"


@pytest.mark.parametrize(("name", "row"), CASES, ids=CASE_IDS)
def test_row(name, row):
    pattern, _, _, _ = SPLITS[name]
    texts = TEXTS[name]
    assert set(row) == FIELDS
    assert isinstance(row["id"], str) and re.fullmatch(pattern, row["id"])
    q = row["question"]
    assert isinstance(q, str) and q.strip() == q and q.endswith("?")
    assert row["kind"] in GOLD_KINDS
    answers, support = row["answers"], row["support"]
    assert isinstance(answers, list) and all(isinstance(a, str) and a.strip() for a in answers)
    assert len(set(answers)) == len(answers), "duplicate answers"
    assert isinstance(support, list)
    for sup in support:
        assert isinstance(sup, dict) and set(sup) == {"source", "quote"}
        assert sup["source"] in texts, f"unknown source {sup['source']!r}"
        assert sup["quote"].strip() and sup["quote"] in _indexable(texts[sup["source"]]), f"quote not in {sup['source']}: {sup['quote']!r}"
    pairs = [(s["source"], s["quote"]) for s in support]
    assert len(set(pairs)) == len(pairs), "duplicate support"
    if row["kind"] == "unanswerable":
        assert answers == [] and support == []
        return
    assert answers and support
    if row["kind"] == "yes_no":
        assert answers[0] in ("Yes", "No") and not {"Yes", "No"} & set(answers[1:])
        answers = answers[1:]
    else:
        assert any(a in s["quote"] for a in answers for s in support), "no answer inside a support quote"
    sources = [texts[s["source"]] for s in support]
    for a in answers:
        assert any(a in t for t in sources), f"answer not in a supporting article: {a!r}"
    if row["kind"] == "corroborated":
        assert len({s["source"] for s in support}) >= 2
    if row["kind"] == "list":
        assert len(support) >= 2


@pytest.mark.parametrize("name", SPLITS)
def test_ids_and_questions_unique_and_new(name):
    rows = ROWS[name]
    assert [i for i, n in Counter(r["id"] for r in rows).items() if n > 1] == []
    assert [i for i, n in Counter(r["question"].casefold() for r in rows).items() if n > 1] == []
    dev = {json.loads(line)["question"].casefold() for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()}
    assert [r["id"] for r in rows if r["question"].casefold() in dev] == [], "copied from the dev set"


@pytest.mark.parametrize("name", SPLITS)
def test_size_and_coverage(name):
    _, _, min_questions, min_unanswerable = SPLITS[name]
    kinds = Counter(r["kind"] for r in ROWS[name])
    assert len(ROWS[name]) >= min_questions
    assert kinds["unanswerable"] >= min_unanswerable
    assert set(kinds) == set(GOLD_KINDS), f"missing kinds: {set(GOLD_KINDS) - set(kinds)}"


def test_news_corpus():
    texts = TEXTS["news.jsonl"]
    assert len(texts) >= MIN_NEWS_ARTICLES
    for name, text in texts.items():
        assert re.fullmatch(r"\d{3}_[a-z0-9-]+\.txt", name), name
        assert 350 <= len(_indexable(text).split()) <= 700, name
    used = {s["source"] for r in ROWS["news.jsonl"] for s in r["support"]}
    assert used == set(texts), f"articles without questions: {set(texts) - used}"


def test_system_code_does_not_know_the_test_split():
    offenders = []
    for folder in ("qa", "api"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []:
            source = path.read_text(encoding="utf-8")
            if "eval/test" in source or "news.jsonl" in source:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
