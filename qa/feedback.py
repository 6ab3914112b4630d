"""Feedback on answers, stored durably in SQLite (WAL, one connection per call: safe across threads
and processes), and exported as gold-set candidates for a person to review.

A vote from Slack carries its voter and message: one row per (voter, message), the latest vote
replacing the earlier one (👍 then 👎 counts as 👎; a double click is one row). Feedback without
them (POST /feedback, rows stored before votes had keys) is one row per call.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from qa.errors import FeedbackError
from qa.types import Article

VERDICTS = ("correct", "wrong", "no_answer_expected")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, -- when this verdict was given (a changed vote: the latest time)
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citation TEXT,            -- JSON of {doc_id, source, start, end, quote} or NULL
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'no_answer_expected')),
    comment TEXT,
    channel TEXT NOT NULL,    -- where it came from: api, slack
    voter TEXT,               -- who voted (a Slack user id), or NULL
    message TEXT              -- what was voted on (Slack channel/ts of the answer), or NULL
)"""
_VOTE_INDEX = "feedback_one_vote"
_COLUMNS = "id, created_at, question, answer, citation, verdict, comment, channel, voter, message"


@dataclass(frozen=True, slots=True)
class Feedback:
    question: str
    answer: str
    verdict: str
    citation: dict | None = None
    comment: str | None = None
    channel: str = "api"
    id: int | None = None
    created_at: str | None = None
    voter: str | None = None  # with `message`: the key of a vote (one row per key, the latest counting)
    message: str | None = None


def _row(r: tuple) -> Feedback:
    i, t, q, a, c, v, cm, ch, voter, message = r
    return Feedback(q, a, v, json.loads(c) if c else None, cm, ch, i, t, voter, message)


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")  # one process migrates at a time
            try:
                _migrate(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def add(self, fb: Feedback) -> Feedback:
        """Store `fb`; a vote (voter and message given) replaces that voter's earlier vote on that message
        and keeps its id. Returns what was stored."""
        if fb.verdict not in VERDICTS:
            raise FeedbackError(f"verdict {fb.verdict!r} is unknown; choose one of {', '.join(VERDICTS)}")
        if not fb.question.strip():
            raise FeedbackError("question is blank")
        if (fb.voter is None) != (fb.message is None):
            raise FeedbackError("a vote needs both voter and message (or neither, for feedback without a key)")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        citation = json.dumps(fb.citation, ensure_ascii=False) if fb.citation is not None else None
        with closing(self._connect()) as db:
            (row_id,) = db.execute(
                "INSERT INTO feedback (created_at, question, answer, citation, verdict, comment, channel, voter, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (voter, message) DO UPDATE SET created_at = excluded.created_at, "
                "question = excluded.question, answer = excluded.answer, citation = excluded.citation, "
                "verdict = excluded.verdict, comment = excluded.comment, channel = excluded.channel "
                "RETURNING id",
                (created, fb.question, fb.answer, citation, fb.verdict, fb.comment, fb.channel, fb.voter, fb.message),
            ).fetchone()
        return Feedback(fb.question, fb.answer, fb.verdict, fb.citation, fb.comment, fb.channel, row_id, created,
                        fb.voter, fb.message)

    def all(self) -> list[Feedback]:
        """Every stored feedback, oldest first: one row per vote key (its latest verdict), one per keyless call."""
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM feedback ORDER BY id").fetchall()
        return [_row(r) for r in rows]

    def tally(self, message: str) -> dict[str, int]:
        """How many voters' latest verdict on `message` is each verdict (every verdict present, 0 when none)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT verdict, COUNT(*) FROM feedback WHERE message = ? GROUP BY verdict",
                              (message,)).fetchall()
        counts = dict.fromkeys(VERDICTS, 0)
        counts.update(dict(rows))
        return counts


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a feedback file of any earlier layout to this one without losing a row. Files from before
    votes had keys gain the voter/message columns (NULL in their rows: those rows do not say who voted,
    so they stay one row each). Were a key ever repeated (a file written without the unique index),
    the latest row per key is kept, as the upsert would have."""
    db.execute(_SCHEMA)
    columns = {r[1] for r in db.execute("PRAGMA table_info(feedback)")}
    for name in ("voter", "message"):
        if name not in columns:
            db.execute(f"ALTER TABLE feedback ADD COLUMN {name} TEXT")
    indexed = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (_VOTE_INDEX,)).fetchone()
    if not indexed:
        db.execute("DELETE FROM feedback WHERE voter IS NOT NULL AND message IS NOT NULL AND id NOT IN "
                   "(SELECT MAX(id) FROM feedback WHERE voter IS NOT NULL AND message IS NOT NULL GROUP BY voter, message)")
        # NULLs are distinct in a unique index: keyless rows never conflict.
        db.execute(f"CREATE UNIQUE INDEX {_VOTE_INDEX} ON feedback (voter, message)")


# ---------------------------------------------------------------- export as gold-set candidates
# First words of a question -> the gold kind it most likely is (eval/README.md); a reviewer confirms.
_KIND_BY_OPENING = (
    (("how many", "how much"), "how_many"),
    (("how long",), "how_long"),
    (("who", "whom", "whose"), "who"),
    (("when", "what time", "what day", "what date"), "when"),
    (("where",), "where"),
    (("is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "will", "can", "could", "would"), "yes_no"),
)


def guess_kind(question: str) -> str:
    words = " ".join(question.lower().split())
    for openings, kind in _KIND_BY_OPENING:
        if any(words == o or words.startswith(o + " ") for o in openings):
            return kind
    return "what"


def _support(citation: dict | None, articles: Mapping[str, Article], review: list[str]) -> list[dict]:
    """The citation as a gold support {source, quote}, taken from the article itself; [] when it does not check out."""
    if citation is None:
        review.append("no citation given: add the supporting quote(s)")
        return []
    article = articles.get(citation.get("doc_id", ""))
    start, end = citation.get("start"), citation.get("end")
    if article is None:
        review.append(f"citation names unknown document {citation.get('doc_id')!r}: add the supporting quote(s)")
        return []
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(article.text)):
        review.append(f"citation offsets [{start}:{end}] are outside {article.source}: add the supporting quote(s)")
        return []
    quote = article.text[start:end]
    if citation.get("quote") not in (None, quote):
        review.append(f"citation quote differs from {article.source}[{start}:{end}]: check the support")
        return []
    return [{"source": article.source, "quote": quote}]


def gold_candidate(fb: Feedback, articles: Mapping[str, Article]) -> dict:
    """One feedback as a gold-set row (eval/README.md's format) plus a `feedback` field for the reviewer,
    whose `review` list says what a person must still do before the row may join the gold set."""
    review: list[str] = []
    question = fb.question.strip()
    if fb.verdict == "no_answer_expected":
        answers, support, kind = [], [], "unanswerable"
        review.append("confirm that no article answers the question")
    elif fb.verdict == "correct":
        kind = guess_kind(question)
        support = _support(fb.citation, articles, review)
        answers = [fb.answer.strip()] if fb.answer.strip() else []
        if not answers:
            review.append("verdict is correct but no answer was given: fill answers")
        elif not any(answers[0] in s["quote"] for s in support):
            review.append("the answer is not inside the cited quote: check answers and support")
        review.append(f"confirm the kind (guessed {kind!r}) and shorten answers to the shortest natural span")
    else:
        answers, support, kind = [], [], guess_kind(question)
        review.append(f"the answer shown was wrong ({fb.answer!r}): fill answers and support from the articles, "
                      f"or mark the question unanswerable")
        review.append(f"confirm the kind (guessed {kind!r})")
    if not question.endswith("?"):
        review.append("end the question with '?'")
    return {"id": f"fb-{fb.id}", "question": question, "answers": answers, "support": support, "kind": kind,
            "feedback": {"verdict": fb.verdict, "answer": fb.answer, "comment": fb.comment, "created_at": fb.created_at,
                         "channel": fb.channel, "review": review}}


def gold_candidates(items: Iterable[Feedback], articles: Mapping[str, Article]) -> list[dict]:
    return [gold_candidate(fb, articles) for fb in items]


def write_jsonl(rows: Iterable[dict], out: TextIO) -> int:
    """The gold file's encoding: UTF-8, one object a line, typographic characters as themselves."""
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
