"""api.slack_state on a real SQLite file: channel defaults (typed, validated, admin's over the settings')
each person's last questions, and each thread's last turn."""

from __future__ import annotations

import pytest

from api import slack_state
from api.slack_state import KEEP_QUESTIONS, ChannelDefaults, DefaultsError, SlackState
from qa.feedback import Feedback, FeedbackStore
from qa.followup import Turn


def test_channel_defaults_parse_describe_and_refuse_what_does_not_exist():
    assert ChannelDefaults.parse("mode=bm25") == ChannelDefaults(mode="bm25")
    assert ChannelDefaults.parse("mode=bm25").describe() == "mode=bm25"
    assert ChannelDefaults.parse("mode=bm25").ask_options() == {"mode": "bm25"}
    assert ChannelDefaults().describe() == "" and ChannelDefaults().ask_options() == {}
    for text, message in (("mode=fuzzy", "mode 'fuzzy' is unknown; choose one of hybrid, bm25, dense"),
                          ("since=2025-05-01", "'since' is not a channel default; the defaults are: mode"),
                          ("bm25", "'bm25' is not key=value; e.g. mode=bm25"),
                          ("mode=", "'mode=' is not key=value")):
        with pytest.raises(DefaultsError, match=message):
            ChannelDefaults.parse(text)
    with pytest.raises(DefaultsError, match="unknown channel default"):
        ChannelDefaults.from_json({"mode": "bm25", "sources": ["x"]})


def test_defaults_bound_by_an_admin_win_over_the_settings_and_survive_reopening(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    configured = {"C0CONF": ChannelDefaults(mode="dense"), "C0NONE": ChannelDefaults()}
    state = SlackState(path, configured)
    assert state.defaults("C0CONF").defaults == ChannelDefaults(mode="dense") and state.defaults("C0CONF").set_by is None
    assert state.defaults("C0NEW").defaults == ChannelDefaults()
    state.bind("C0CONF", ChannelDefaults(mode="bm25"), "U0ADMIN")
    state.bind("C0NEW", ChannelDefaults(mode="hybrid"), "U0ADMIN")
    reopened = SlackState(path, configured)
    assert [(b.channel, b.defaults.mode, b.set_by) for b in reopened.all_defaults()] == [
        ("C0CONF", "bm25", "U0ADMIN"), ("C0NEW", "hybrid", "U0ADMIN")]
    assert reopened.unbind("C0CONF").defaults == ChannelDefaults(mode="dense")  # the settings' again
    assert reopened.unbind("C0NEW").defaults == ChannelDefaults()
    assert [b.channel for b in reopened.all_defaults()] == ["C0CONF"]


def test_last_questions_are_kept_per_person_newest_first_and_trimmed(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path).add(Feedback("Who spoke?", "Trump", "correct"))  # the same file as the feedback
    state = SlackState(path)
    for i in range(KEEP_QUESTIONS + 3):
        state.log_question("U1", "C1", f"question {i}?", None if i % 2 else f"answer {i}")
    state.log_question("U2", "C2", "theirs?", "x")
    recent = state.recent("U1", 3)
    assert [(a.question, a.answer, a.channel) for a in recent] == [
        ("question 22?", "answer 22", "C1"), ("question 21?", None, "C1"), ("question 20?", "answer 20", "C1")]
    assert len(state.recent("U1", 100)) == KEEP_QUESTIONS and state.recent("U1", 100)[-1].question == "question 3?"
    assert [a.question for a in state.recent("U2", 5)] == ["theirs?"]
    assert [f.question for f in FeedbackStore(path).all()] == ["Who spoke?"]


def test_a_threads_last_turn_replaces_the_one_before_and_survives_reopening(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    state = SlackState(path)
    assert state.last_turn("C1", "1700000000.000100") is None
    state.remember_turn("C1", "1700000000.000100", Turn("Who runs the Kelso ferry?", "Orla Brandt"))
    state.remember_turn("C1", "1700000000.000200", Turn("Where is the depot?", None))
    state.remember_turn("C2", "1700000000.000100", Turn("another channel, the same ts?", "yes"))
    state.remember_turn("C1", "1700000000.000100", Turn("what did Orla Brandt promise?", "new timetables"))
    reopened = SlackState(path)
    assert reopened.last_turn("C1", "1700000000.000100") == Turn("what did Orla Brandt promise?", "new timetables")
    assert reopened.last_turn("C1", "1700000000.000200") == Turn("Where is the depot?", None)
    assert reopened.last_turn("C2", "1700000000.000100") == Turn("another channel, the same ts?", "yes")


def test_threads_beyond_the_limit_are_forgotten_least_recently_asked_first(tmp_path, monkeypatch):
    monkeypatch.setattr(slack_state, "KEEP_THREADS", 3)
    state = SlackState(tmp_path / "feedback.sqlite3")
    for n in range(4):
        state.remember_turn("C1", f"17.{n}", Turn(f"question {n}?", None))
    state.remember_turn("C1", "17.1", Turn("question 1, again?", "x"))  # asked in again: now the most recent
    state.remember_turn("C1", "17.4", Turn("question 4?", None))
    assert [state.last_turn("C1", f"17.{n}") for n in range(5)] == [
        None, Turn("question 1, again?", "x"), None, Turn("question 3?", None), Turn("question 4?", None)]
