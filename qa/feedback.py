"""Feedback on answers, stored durably in SQLite (WAL, one connection per call: safe across threads
and processes), and exported as gold-set candidates for a person to review."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from qa.errors import FeedbackError

VERDICTS = ("correct", "wrong", "no_answer_expected")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citation TEXT,            -- JSON of {doc_id, source, start, end, quote} or NULL
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'no_answer_expected')),
    comment TEXT,
    channel TEXT NOT NULL     -- where it came from: api, slack
)"""


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


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def add(self, fb: Feedback) -> Feedback:
        if fb.verdict not in VERDICTS:
            raise FeedbackError(f"verdict {fb.verdict!r} is unknown; choose one of {', '.join(VERDICTS)}")
        if not fb.question.strip():
            raise FeedbackError("question is blank")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        citation = json.dumps(fb.citation, ensure_ascii=False) if fb.citation is not None else None
        with closing(self._connect()) as db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, question, answer, citation, verdict, comment, channel) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (created, fb.question, fb.answer, citation, fb.verdict, fb.comment, fb.channel),
            )
            return Feedback(fb.question, fb.answer, fb.verdict, fb.citation, fb.comment, fb.channel, cur.lastrowid, created)

    def all(self) -> list[Feedback]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, created_at, question, answer, citation, verdict, comment, channel FROM feedback ORDER BY id"
            ).fetchall()
        return [Feedback(q, a, v, json.loads(c) if c else None, cm, ch, i, t) for i, t, q, a, c, v, cm, ch in rows]
