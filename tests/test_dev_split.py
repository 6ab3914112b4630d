"""Checks on the development question sets over invented articles: eval/dev/news.jsonl over eval/dev/news/,
eval/dev/news2.jsonl over eval/dev/news2/, and so on to eval/dev/news5.jsonl over eval/dev/news5/.

The same rules as eval/gold.jsonl (eval/README.md; shared checks in tests/qa_set_checks.py), plus the
shape of each corpus: the articles' names and lengths, the wire-copy quirks eval/dev/README.md lists, and
that every article is asked about."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.metrics import ANSWERABLE_KINDS, GOLD_KINDS
from tests import qa_set_checks as checks

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "dev"
MIN_QUESTIONS = 100
MIN_UNANSWERABLE = 10
MIN_PER_ANSWERABLE_KIND = 5
DATE_HEADER = re.compile(r"\Adate \d{4}-\d{2}-\d{2}\n")
APPEAL = re.compile(r"^A Message from [^\n]{1,80}:[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class DevSet:
    """One question file over its folder of articles (eval/dev/README.md)."""

    questions: str  # file name in eval/dev/
    folder: str  # article folder in eval/dev/
    id_letter: str  # ids are <letter>001, <letter>002, …
    name_digit: str  # article file names are <digit>NN_<outlet-slug>.txt

    @property
    def rows(self) -> list[dict]:
        return checks.load_rows(DEV / self.questions)

    @property
    def texts(self) -> dict[str, str]:
        return checks.read_texts(DEV / self.folder)


SETS = [
    DevSet("news.jsonl", "news", "d", "2"),
    DevSet("news2.jsonl", "news2", "e", "3"),
    DevSet("news3.jsonl", "news3", "f", "4"),
    DevSet("news4.jsonl", "news4", "g", "5"),
    DevSet("news5.jsonl", "news5", "h", "6"),
]
ROWS = {s.questions: s.rows for s in SETS}
TEXTS = {s.questions: s.texts for s in SETS}
SET_IDS = [s.questions for s in SETS]
ROW_CASES = [(s, row) for s in SETS for row in ROWS[s.questions]]


def _body(text: str) -> str:
    """The article as a reader sees it: without its `date` header line and the publisher's appeal."""
    text = DATE_HEADER.sub("", text, count=1)
    m = APPEAL.search(text)
    return text[: m.start()] if m else text


@pytest.mark.parametrize(("dev", "row"), ROW_CASES, ids=[f"{s.folder}-{r.get('id', '?')}" for s, r in ROW_CASES])
def test_row(dev, row):
    texts = TEXTS[dev.questions]
    checks.check_row(row, texts, dev.id_letter + r"\d{3}")
    assert row["kind"] in GOLD_KINDS
    for sup in row["support"]:
        # Support is article text, not the date header or the donation appeal.
        assert sup["quote"] in _body(texts[sup["source"]]), sup["quote"]


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_ids_and_questions_unique(dev):
    rows = ROWS[dev.questions]
    checks.check_unique_ids_and_questions(rows)
    assert checks.ids(rows) == [f"{dev.id_letter}{n:03d}" for n in range(1, len(rows) + 1)]


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_yes_no_deciding_span_is_quoted(dev):
    for row in ROWS[dev.questions]:
        if row["kind"] == "yes_no":
            assert len(row["answers"]) > 1, row["id"]
            assert any(a in s["quote"] for a in row["answers"][1:] for s in row["support"]), row["id"]


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_corroborated_have_several_sources_and_lists_several_supports(dev):
    checks.check_corroborated_and_lists(ROWS[dev.questions])


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_size_and_coverage(dev):
    checks.check_size_and_coverage(ROWS[dev.questions], ANSWERABLE_KINDS, MIN_QUESTIONS, MIN_UNANSWERABLE,
                                   MIN_PER_ANSWERABLE_KIND)


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_file_is_plain_utf8_jsonl(dev):
    checks.check_plain_utf8_jsonl(DEV / dev.questions)


def test_sets_do_not_share_questions_or_articles():
    questions = [r["question"].casefold() for rows in ROWS.values() for r in rows]
    assert [q for q, n in Counter(questions).items() if n > 1] == []
    names = [name for texts in TEXTS.values() for name in texts]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_news_corpus(dev):
    texts = TEXTS[dev.questions]
    assert len(texts) == 9
    for name, text in texts.items():
        assert re.fullmatch(dev.name_digit + r"\d\d_[a-z0-9-]+\.txt", name), name
        assert "\r" not in text and not text.startswith("\ufeff"), name
        assert 350 <= len(_body(text).split()) <= 700, name
    used = {s["source"] for r in ROWS[dev.questions] for s in r["support"]}
    assert used == set(texts), f"articles without questions: {set(texts) - used}"


@pytest.mark.parametrize("dev", SETS, ids=SET_IDS)
def test_news_corpus_quirks(dev):
    # eval/dev/README.md: the seeds' quirks, reproduced in some articles.
    texts = TEXTS[dev.questions]
    assert sum(bool(DATE_HEADER.match(t)) for t in texts.values()) == 2
    assert sum(bool(APPEAL.search(t)) for t in texts.values()) == 1
    assert any(re.search(r"[a-z]\.[A-Z][a-z]", _body(t)) for t in texts.values()), "a missing space after a full stop"
    repeated = [name for name, t in texts.items()
                if any(n > 1 for p, n in Counter(p.strip() for p in t.split("\n\n")).items() if len(p.split()) > 20)]
    assert len(repeated) == 1, repeated


def test_system_code_does_not_know_the_dev_split():
    # eval/dev/README.md: no code in qa/ or api/ may name the sets' folders or their articles. The needle is
    # "eval/dev/" with its slash: qa/eval.py's usage message gives "eval/dev.jsonl" as a made-up example.
    names = sorted(name for texts in TEXTS.values() for name in texts)
    assert checks.system_code_mentioning(ROOT, "eval/dev/", *names) == []
