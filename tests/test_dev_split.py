"""Checks on eval/dev/news.jsonl, the development questions over the invented articles in eval/dev/news/.

The same rules as eval/gold.jsonl (eval/README.md; shared checks in tests/qa_set_checks.py), plus the
shape of the corpus: the articles' names and lengths, the wire-copy quirks eval/dev/README.md lists, and
that every article is asked about."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from qa.metrics import ANSWERABLE_KINDS, GOLD_KINDS
from tests import qa_set_checks as checks

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "dev"
QUESTIONS = DEV / "news.jsonl"
NEWS = DEV / "news"
MIN_QUESTIONS = 100
MIN_UNANSWERABLE = 10
MIN_PER_ANSWERABLE_KIND = 5
DATE_HEADER = re.compile(r"\Adate \d{4}-\d{2}-\d{2}\n")
APPEAL = re.compile(r"^A Message from [^\n]{1,80}:[ \t]*$", re.MULTILINE)

ROWS = checks.load_rows(QUESTIONS)
TEXTS = checks.read_texts(NEWS)


def _body(text: str) -> str:
    """The article as a reader sees it: without its `date` header line and the publisher's appeal."""
    text = DATE_HEADER.sub("", text, count=1)
    m = APPEAL.search(text)
    return text[: m.start()] if m else text


@pytest.mark.parametrize("row", ROWS, ids=checks.ids(ROWS))
def test_row(row):
    checks.check_row(row, TEXTS, r"d\d{3}")
    assert row["kind"] in GOLD_KINDS
    for sup in row["support"]:
        # Support is article text, not the date header or the donation appeal.
        assert sup["quote"] in _body(TEXTS[sup["source"]]), sup["quote"]


def test_ids_and_questions_unique():
    checks.check_unique_ids_and_questions(ROWS)
    assert checks.ids(ROWS) == [f"d{n:03d}" for n in range(1, len(ROWS) + 1)]


def test_yes_no_deciding_span_is_quoted():
    for row in ROWS:
        if row["kind"] == "yes_no":
            assert len(row["answers"]) > 1, row["id"]
            assert any(a in s["quote"] for a in row["answers"][1:] for s in row["support"]), row["id"]


def test_corroborated_have_several_sources_and_lists_several_supports():
    checks.check_corroborated_and_lists(ROWS)


def test_size_and_coverage():
    checks.check_size_and_coverage(ROWS, ANSWERABLE_KINDS, MIN_QUESTIONS, MIN_UNANSWERABLE, MIN_PER_ANSWERABLE_KIND)


def test_file_is_plain_utf8_jsonl():
    checks.check_plain_utf8_jsonl(QUESTIONS)


def test_news_corpus():
    assert len(TEXTS) == 9
    for name, text in TEXTS.items():
        assert re.fullmatch(r"2\d\d_[a-z0-9-]+\.txt", name), name
        assert "\r" not in text and not text.startswith("\ufeff"), name
        assert 350 <= len(_body(text).split()) <= 700, name
    used = {s["source"] for r in ROWS for s in r["support"]}
    assert used == set(TEXTS), f"articles without questions: {set(TEXTS) - used}"


def test_news_corpus_quirks():
    # eval/dev/README.md: the seeds' quirks, reproduced in some articles.
    assert sum(bool(DATE_HEADER.match(t)) for t in TEXTS.values()) == 2
    assert sum(bool(APPEAL.search(t)) for t in TEXTS.values()) == 1
    assert any(re.search(r"[a-z]\.[A-Z][a-z]", _body(t)) for t in TEXTS.values()), "a missing space after a full stop"
    repeated = [name for name, t in TEXTS.items()
                if any(n > 1 for p, n in Counter(p.strip() for p in t.split("\n\n")).items() if len(p.split()) > 20)]
    assert len(repeated) == 1, repeated


def test_system_code_does_not_know_the_dev_split():
    # eval/dev/README.md: no code in qa/ or api/ may name the set's folder or its articles. The needle is
    # "eval/dev/" with its slash: qa/eval.py's usage message gives "eval/dev.jsonl" as a made-up example.
    assert checks.system_code_mentioning(ROOT, "eval/dev/", *sorted(TEXTS)) == []
