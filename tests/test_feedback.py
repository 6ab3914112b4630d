"""qa.feedback on real SQLite files: durability, concurrent writers (threads and processes), the
POST /feedback route across an app restart, and the export as gold-set candidates."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from qa import cli
from qa.config import get_settings
from qa.errors import FeedbackError
from qa.feedback import Feedback, FeedbackStore, gold_candidate, gold_candidates, guess_kind, write_jsonl
from qa.ingest import load_articles
from qa.metrics import GOLD_KINDS
from tests.conftest import make_settings
from tests.helpers import ROOT, SEEDS, seed_text
from tests.test_gold import FIELDS, SEED_TEXT

S000 = "000_0909706770c7972d.txt"
SENTENCE = "Earlier Monday, White House press secretary Karoline Leavitt said Trump would call Zelenskyy after his call with Putin."
ARTICLES = {a.doc_id: a for a in load_articles(SEEDS)}


def leavitt_citation(**changes) -> dict:
    start = seed_text(S000).index(SENTENCE)
    return {"doc_id": "000_0909706770c7972d", "source": S000, "start": start, "end": start + len(SENTENCE),
            "quote": SENTENCE, **changes}


# ---------------------------------------------------------------- the store
def test_store_survives_reopening(tmp_path):
    path = tmp_path / "data" / "feedback.sqlite3"
    first = FeedbackStore(path).add(Feedback("Who is the press secretary?", "Karoline Leavitt", "correct",
                                             leavitt_citation(), "right", "slack"))
    assert first.id == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.created_at)
    reopened = FeedbackStore(path)
    assert reopened.all() == [first]
    second = reopened.add(Feedback("Where was Putin?", "", "no_answer_expected"))
    assert [f.id for f in FeedbackStore(path).all()] == [1, 2] and second.citation is None



def test_a_vote_replaces_the_same_voters_earlier_vote_on_the_same_message(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    vote = lambda verdict, voter="U1", message="C1/1.000100": Feedback(  # noqa: E731
        "Who is the press secretary?", "Karoline Leavitt", verdict, leavitt_citation(), None, "slack",
        voter=voter, message=message)
    first = store.add(vote("correct"))
    double_click = store.add(vote("correct"))
    changed = store.add(vote("wrong"))
    assert first.id == double_click.id == changed.id == 1
    other_voter, other_message = store.add(vote("correct", voter="U2")), store.add(vote("correct", message="C1/2.0"))
    api = [store.add(Feedback("Who is the press secretary?", "Karoline Leavitt", "correct")) for _ in range(2)]
    rows = store.all()
    assert [(f.id, f.voter, f.message, f.verdict) for f in rows] == [
        (1, "U1", "C1/1.000100", "wrong"), (other_voter.id, "U2", "C1/1.000100", "correct"),
        (other_message.id, "U1", "C1/2.0", "correct"), (api[0].id, None, None, "correct"), (api[1].id, None, None, "correct")]
    assert rows[0] == changed  # what add() returned is what is stored
    assert store.tally("C1/1.000100") == {"correct": 1, "wrong": 1, "no_answer_expected": 0}
    with pytest.raises(FeedbackError, match="a vote needs both voter and message"):
        store.add(vote("correct", message=None))


_LEGACY_SCHEMA = """CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, citation TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'no_answer_expected')), comment TEXT,
    channel TEXT NOT NULL)"""


def test_a_file_from_before_votes_had_keys_is_migrated_without_losing_a_row(tmp_path):
    path = tmp_path / "f.sqlite3"
    citation = json.dumps(leavitt_citation())
    with sqlite3.connect(path) as db:  # the layout written before this change, with a double click in it
        db.execute(_LEGACY_SCHEMA)
        db.executemany("INSERT INTO feedback (created_at, question, answer, citation, verdict, comment, channel) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", [
                           ("2026-01-01T00:00:00Z", "Who is the press secretary?", "Karoline Leavitt", citation,
                            "correct", None, "slack"),
                           ("2026-01-01T00:00:01Z", "Who is the press secretary?", "Karoline Leavitt", citation,
                            "correct", None, "slack"),
                           ("2026-01-02T00:00:00Z", "Did Putin visit Paris?", "", None, "no_answer_expected", "no", "api")])
    db.close()
    store = FeedbackStore(path)
    rows = store.all()
    # They do not say who voted, so the two clicks stay two rows: nothing is merged on a guess.
    assert [(f.id, f.created_at, f.verdict, f.channel, f.comment, f.voter, f.message) for f in rows] == [
        (1, "2026-01-01T00:00:00Z", "correct", "slack", None, None, None),
        (2, "2026-01-01T00:00:01Z", "correct", "slack", None, None, None),
        (3, "2026-01-02T00:00:00Z", "no_answer_expected", "api", "no", None, None)]
    assert rows[0].citation == leavitt_citation()
    new = store.add(Feedback("Who is the press secretary?", "Karoline Leavitt", "wrong", None, None, "slack", voter="U1",
                             message="C1/1.0"))
    again = FeedbackStore(path).add(Feedback("Who is the press secretary?", "Karoline Leavitt", "correct", None, None,
                                             "slack", voter="U1", message="C1/1.0"))
    assert new.id == again.id == 4 and [f.verdict for f in FeedbackStore(path).all()] == [
        "correct", "correct", "no_answer_expected", "correct"]


def test_migration_keeps_the_latest_row_of_a_repeated_key(tmp_path):
    """A file with vote keys but no unique index (so a key could repeat) keeps the latest row per key."""
    path = tmp_path / "f.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(_LEGACY_SCHEMA)
        db.execute("ALTER TABLE feedback ADD COLUMN voter TEXT")
        db.execute("ALTER TABLE feedback ADD COLUMN message TEXT")
        db.executemany("INSERT INTO feedback (created_at, question, answer, verdict, channel, voter, message) "
                       "VALUES (?, 'Who spoke?', 'Trump', ?, 'slack', ?, ?)", [
                           ("2026-01-01T00:00:00Z", "correct", "U1", "C1/1.0"),
                           ("2026-01-01T00:00:05Z", "wrong", "U1", "C1/1.0"),
                           ("2026-01-01T00:00:06Z", "correct", "U2", "C1/1.0"),
                           ("2026-01-01T00:00:07Z", "correct", None, None),
                           ("2026-01-01T00:00:08Z", "wrong", None, None)])
    db.close()
    rows = FeedbackStore(path).all()
    assert [(f.id, f.verdict, f.voter) for f in rows] == [(2, "wrong", "U1"), (3, "correct", "U2"),
                                                           (4, "correct", None), (5, "wrong", None)]

@pytest.mark.parametrize(("fb", "message"), [
    (Feedback("Q?", "A", "maybe"), "verdict 'maybe' is unknown; choose one of correct, wrong, no_answer_expected"),
    (Feedback("   ", "A", "wrong"), "question is blank"),
])
def test_store_rejects_bad_feedback(tmp_path, fb, message):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    with pytest.raises(FeedbackError, match=message):
        store.add(fb)
    assert store.all() == []


def test_concurrent_threads_lose_nothing(tmp_path):
    path = tmp_path / "f.sqlite3"
    FeedbackStore(path)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            store = FeedbackStore(path)  # each thread opens the file itself, as each request would
            for i in range(25):
                store.add(Feedback(f"thread {t} question {i}?", "", "wrong"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    rows = FeedbackStore(path).all()
    assert sorted(f.question for f in rows) == sorted(f"thread {t} question {i}?" for t in range(8) for i in range(25))
    assert [f.id for f in rows] == list(range(1, 201))


WRITER = """
import sys
from qa.feedback import Feedback, FeedbackStore
store = FeedbackStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    store.add(Feedback(f"process {sys.argv[2]} question {i}?", "", "no_answer_expected", channel="cli"))
"""


def test_concurrent_processes_lose_nothing(tmp_path):
    path = tmp_path / "f.sqlite3"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(p), "30"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for p in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    questions = sorted(f.question for f in FeedbackStore(path).all())
    assert questions == sorted(f"process {p} question {i}?" for p in range(3) for i in range(30))


# ---------------------------------------------------------------- POST /feedback
def test_post_feedback_is_stored_and_survives_a_restart(fake_service, tmp_path):
    settings = make_settings(tmp_path, model="hashing-test-embedder")
    body = {"question": "Who is the White House press secretary?", "answer": "Karoline Leavitt",
            "citation": leavitt_citation(), "verdict": "correct", "comment": "spot on"}
    with TestClient(create_app(settings, fake_service)) as client:
        first = client.post("/feedback", json=body)
        bad = client.post("/feedback", json={**body, "verdict": "meh"})
    assert first.status_code == 201 and first.json()["id"] == 1
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
    with TestClient(create_app(settings, fake_service)) as client:  # a new app on the same data folder
        second = client.post("/feedback", json={"question": "Did Putin visit Paris?", "verdict": "no_answer_expected"})
    assert second.status_code == 201 and second.json()["id"] == 2
    stored = FeedbackStore(settings.feedback_db).all()
    assert [(f.question, f.answer, f.verdict, f.comment, f.channel) for f in stored] == [
        ("Who is the White House press secretary?", "Karoline Leavitt", "correct", "spot on", "api"),
        ("Did Putin visit Paris?", "", "no_answer_expected", None, "api"),
    ]
    assert stored[0].citation == leavitt_citation()
    assert settings.feedback_db == tmp_path / "data" / "feedback.sqlite3"


# ---------------------------------------------------------------- export as gold-set candidates
@pytest.mark.parametrize(("question", "kind"), [
    ("Who led the talks?", "who"), ("How many drones were launched?", "how_many"),
    ("How long did the call last?", "how_long"), ("When did they speak?", "when"), ("Where was Putin?", "where"),
    ("Did Putin agree to a ceasefire?", "yes_no"), ("What did Vance say?", "what"), ("Whose envoy went?", "who"),
    ("Howard said what?", "what"),
])
def test_guess_kind(question, kind):
    assert guess_kind(question) == kind


def check_candidate(row: dict) -> None:
    """The checks of tests/test_gold.py that apply to a candidate before a person completes it."""
    assert set(row) == FIELDS | {"feedback"}
    assert re.fullmatch(r"fb-\d+", row["id"])
    assert row["question"].strip() == row["question"]
    assert row["kind"] in GOLD_KINDS
    assert all(isinstance(a, str) and a.strip() for a in row["answers"])
    for answer in row["answers"]:
        assert any(answer in text for text in SEED_TEXT.values()), answer
    for sup in row["support"]:
        assert set(sup) == {"source", "quote"} and sup["quote"] in SEED_TEXT[sup["source"]]
    if row["kind"] == "unanswerable":
        assert row["answers"] == [] and row["support"] == []
    if row["answers"] and row["kind"] != "yes_no":
        assert any(a in s["quote"] for a in row["answers"] for s in row["support"])
    assert set(row["feedback"]) >= {"verdict", "comment", "created_at", "channel", "review"}


def _fb(verdict, answer="", citation=None, question="Who is the White House press secretary?", id=7):
    return Feedback(question, answer, verdict, citation, "a comment", "api", id, "2026-01-02T03:04:05Z")


def test_export_correct_feedback_is_a_complete_candidate():
    row = gold_candidate(_fb("correct", "Karoline Leavitt", leavitt_citation()), ARTICLES)
    check_candidate(row)
    assert {k: row[k] for k in FIELDS} == {
        "id": "fb-7", "question": "Who is the White House press secretary?", "answers": ["Karoline Leavitt"],
        "support": [{"source": S000, "quote": SENTENCE}], "kind": "who"}
    assert row["feedback"] == {"verdict": "correct", "answer": "Karoline Leavitt", "comment": "a comment",
                               "created_at": "2026-01-02T03:04:05Z", "channel": "api",
                               "review": ["confirm the kind (guessed 'who') and shorten answers to the shortest "
                                          "natural span"]}


def test_export_no_answer_expected_and_wrong():
    none = gold_candidate(_fb("no_answer_expected", question="Did Putin visit Paris"), ARTICLES)
    check_candidate(none)
    assert (none["answers"], none["support"], none["kind"]) == ([], [], "unanswerable")
    assert none["feedback"]["review"] == ["confirm that no article answers the question", "end the question with '?'"]
    wrong = gold_candidate(_fb("wrong", "Dmitry Peskov", leavitt_citation()), ARTICLES)
    check_candidate(wrong)
    assert (wrong["answers"], wrong["support"], wrong["kind"]) == ([], [], "who")
    assert wrong["feedback"]["review"][0].startswith("the answer shown was wrong ('Dmitry Peskov'): fill answers")


@pytest.mark.parametrize(("citation", "note"), [
    (None, "no citation given"),
    ({"doc_id": "999_nope", "start": 0, "end": 5}, "citation names unknown document '999_nope'"),
    ({"doc_id": "000_0909706770c7972d", "start": 10, "end": 10 ** 7}, "citation offsets [10:10000000] are outside"),
    ("bad quote", "citation quote differs from"),
])
def test_export_never_trusts_a_bad_citation(citation, note):
    if citation == "bad quote":
        citation = leavitt_citation(quote="Something else entirely.")
    row = gold_candidate(_fb("correct", "Karoline Leavitt", citation), ARTICLES)
    assert row["support"] == []
    assert any(r.startswith(note) for r in row["feedback"]["review"]), row["feedback"]["review"]


def test_export_command_writes_reviewable_jsonl(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    store = FeedbackStore(data / "feedback.sqlite3")
    store.add(Feedback("Who is the White House press secretary?", "Karoline Leavitt", "correct", leavitt_citation()))
    store.add(Feedback("Who said Putin\u2019s call was \u201cvery good\u201d?", "Trump", "wrong"))
    store.add(Feedback("Will Putin visit Paris?", "", "no_answer_expected", channel="slack"))
    monkeypatch.setenv("QA_DATA_DIR", str(data))
    monkeypatch.setenv("QA_SEEDS_DIR", str(SEEDS))
    get_settings.cache_clear()
    try:
        assert cli.main(["feedback", "export"]) == 0
    finally:
        get_settings.cache_clear()
    assert "wrote 3 gold-set candidates" in capsys.readouterr().err
    raw = (data / "gold_candidates.jsonl").read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw and b"\\u20" not in raw  # as the gold file is written
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    for row in rows:
        check_candidate(row)
    assert [(r["id"], r["kind"], r["feedback"]["channel"]) for r in rows] == [
        ("fb-1", "who", "api"), ("fb-2", "who", "api"), ("fb-3", "unanswerable", "slack")]
    assert rows == gold_candidates(FeedbackStore(data / "feedback.sqlite3").all(), ARTICLES)


def test_write_jsonl_counts_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        assert write_jsonl([{"a": "\u2019"}, {"b": 1}], f) == 2
    assert path.read_text(encoding="utf-8") == '{"a": "\u2019"}\n{"b": 1}\n'
