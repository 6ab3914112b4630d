"""What the Slack bot remembers, in small tables of the feedback database (the file the API and the
Socket Mode bot already share): each channel's defaults, each person's last questions, and each
thread's last question and answer (what a follow-up in the thread is read with).

Both tables are created when missing; one SQLite connection per call, as the feedback store does.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping

from qa.config import MODES
from qa.followup import Turn

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS slack_channel_defaults (
        channel TEXT PRIMARY KEY,
        defaults TEXT NOT NULL,   -- JSON of ChannelDefaults: new fields need no migration
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS slack_questions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        channel TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT,              -- the answer shown, or NULL when the articles did not answer
        asked_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS slack_questions_user ON slack_questions (user, id)",
    """CREATE TABLE IF NOT EXISTS slack_threads (
        channel TEXT NOT NULL,
        thread_ts TEXT NOT NULL,
        question TEXT NOT NULL,   -- the thread's last question as read (a follow-up already resolved)
        answer TEXT,              -- its top answer, or NULL when the articles did not answer
        asked_at TEXT NOT NULL,
        PRIMARY KEY (channel, thread_ts))""",
)
KEEP_QUESTIONS = 20  # per person; older ones are dropped as new ones come
KEEP_THREADS = 10_000  # threads remembered for follow-ups; the least recently asked in are dropped


class DefaultsError(ValueError):
    """A channel-defaults command that cannot be applied; the message says what is allowed."""


@dataclass(frozen=True, slots=True)
class ChannelDefaults:
    """What a channel's questions use unless the service's own defaults apply. Only the retrieval `mode`
    exists today; when the service grows filters (sources, a date window) they become fields here, and
    `parse`, `describe` and `ask_options` pick them up from the field list."""

    mode: str | None = None

    @classmethod
    def parse(cls, text: str) -> "ChannelDefaults":
        """`key=value` words, e.g. `mode=bm25`."""
        names = [f.name for f in fields(cls)]
        values: dict[str, str] = {}
        for word in text.split():
            key, sep, value = word.partition("=")
            if not sep or not value:
                raise DefaultsError(f"{word!r} is not key=value; e.g. mode=bm25")
            if key not in names:
                raise DefaultsError(f"{key!r} is not a channel default; the defaults are: {', '.join(names)}")
            values[key] = value
        return cls.from_json(values)

    @classmethod
    def from_json(cls, data: Mapping) -> "ChannelDefaults":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise DefaultsError(f"unknown channel default(s) {', '.join(sorted(unknown))}")
        mode = data.get("mode")
        if mode is not None and mode not in MODES:
            raise DefaultsError(f"mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
        return cls(mode=mode)

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe(self) -> str:
        """`mode=bm25`, as a person would type it; "" when nothing is set."""
        return " ".join(f"{k}={v}" for k, v in self.to_json().items())

    def ask_options(self) -> dict:
        """Keyword arguments for QAService.ask: only what is set (the rest stays the service's default)."""
        return self.to_json()


@dataclass(frozen=True, slots=True)
class Bound:
    """A channel's defaults and where they came from: `set_by` a Slack user id, or None for the settings."""

    channel: str
    defaults: ChannelDefaults
    set_by: str | None = None
    set_at: str | None = None


@dataclass(frozen=True, slots=True)
class Asked:
    question: str
    answer: str | None  # None: the articles did not answer it
    channel: str
    asked_at: str


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SlackState:
    """Channel defaults (set by an admin's command, over those in the settings), each person's last questions
    and each thread's last turn."""

    def __init__(self, path: Path, configured: Mapping[str, ChannelDefaults] | None = None):
        self.path = Path(path)
        self.configured = dict(configured or {})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                db.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    # -------------------------------------------------------------- channel defaults
    def defaults(self, channel: str) -> Bound:
        """The channel's defaults: those an admin set, else those in the settings, else none."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT defaults, set_by, set_at FROM slack_channel_defaults WHERE channel = ?",
                             (channel,)).fetchone()
        if row is not None:
            return Bound(channel, ChannelDefaults.from_json(json.loads(row[0])), row[1], row[2])
        return Bound(channel, self.configured.get(channel, ChannelDefaults()))

    def bind(self, channel: str, defaults: ChannelDefaults, by: str) -> Bound:
        at = _now()
        with closing(self._connect()) as db:
            db.execute("INSERT INTO slack_channel_defaults (channel, defaults, set_by, set_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (channel) DO UPDATE SET defaults = excluded.defaults, set_by = excluded.set_by, "
                       "set_at = excluded.set_at", (channel, json.dumps(defaults.to_json()), by, at))
        return Bound(channel, defaults, by, at)

    def unbind(self, channel: str) -> Bound:
        """Forget what an admin set; the settings' defaults (if any) apply again."""
        with closing(self._connect()) as db:
            db.execute("DELETE FROM slack_channel_defaults WHERE channel = ?", (channel,))
        return self.defaults(channel)

    def all_defaults(self) -> list[Bound]:
        """Every channel with defaults, by channel id."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT channel FROM slack_channel_defaults").fetchall()
        channels = sorted({c for (c,) in rows} | {c for c, d in self.configured.items() if d.to_json()})
        return [b for b in (self.defaults(c) for c in channels) if b.defaults.to_json()]

    # -------------------------------------------------------------- questions asked
    def log_question(self, user: str, channel: str, question: str, answer: str | None) -> None:
        with closing(self._connect()) as db:
            db.execute("INSERT INTO slack_questions (user, channel, question, answer, asked_at) VALUES (?, ?, ?, ?, ?)",
                       (user, channel, question, answer, _now()))
            db.execute("DELETE FROM slack_questions WHERE user = ? AND id NOT IN "
                       "(SELECT id FROM slack_questions WHERE user = ? ORDER BY id DESC LIMIT ?)",
                       (user, user, KEEP_QUESTIONS))

    def recent(self, user: str, limit: int) -> list[Asked]:
        """The person's last questions, newest first."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT question, answer, channel, asked_at FROM slack_questions WHERE user = ? "
                              "ORDER BY id DESC LIMIT ?", (user, limit)).fetchall()
        return [Asked(*r) for r in rows]

    # -------------------------------------------------------------- threads, for follow-ups
    def remember_turn(self, channel: str, thread_ts: str, turn: Turn) -> None:
        """The thread's last question as read and its answer, replacing the one before."""
        with closing(self._connect()) as db:
            # REPLACE gives the row a new, highest rowid: rowids order threads by their last question.
            db.execute("INSERT OR REPLACE INTO slack_threads (channel, thread_ts, question, answer, asked_at) "
                       "VALUES (?, ?, ?, ?, ?)", (channel, thread_ts, turn.question, turn.answer, _now()))
            db.execute("DELETE FROM slack_threads WHERE rowid <= (SELECT max(rowid) FROM slack_threads) - ?",
                       (KEEP_THREADS,))

    def last_turn(self, channel: str, thread_ts: str) -> Turn | None:
        """The thread's last question and answer, or None when the bot answered nothing in it (or forgot it)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT question, answer FROM slack_threads WHERE channel = ? AND thread_ts = ?",
                             (channel, thread_ts)).fetchone()
        return Turn(*row) if row is not None else None
