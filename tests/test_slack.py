"""The Slack bot end to end: the real slack-bolt app mounted on the API under a real uvicorn on a loopback
port, signed requests like Slack's, and a loopback stand-in for Slack's Web API that records every call."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from qa.types import Filters
import uvicorn
import yaml

from api import slack_blocks as sb
from api.app import create_app
from api.limits import Admission
from api.slack import BUSY, SeenEvents, SlackBot, run_socket_mode, signature_problem, slack_result, socket_mode_handler
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.feedback import FeedbackStore
from qa.service import QAService
from tests.apps import GatedEmbedder
from tests.conftest import make_settings
from tests.helpers import ROOT, free_port, seed_text
from tests.slack_standin import BOT_USER_ID, TEAM_ID, SlackStandIn, SocketModeStandIn

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
WJ = "\u2060"
_ids = itertools.count(1)


# ------------------------------------------------------------------ harness
@contextlib.contextmanager
def uvicorn_in_thread(app, timeout: float = 30.0):
    """The real uvicorn server on a free loopback port, in a thread (so session fixtures can be shared)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def sign(body: bytes, ts: str | None = None, secret: str = SECRET) -> dict:
    ts = ts or str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


class Bot:
    def __init__(self, url: str, settings: Settings, slack: SlackStandIn, service):
        self.url, self.settings, self.slack, self.service = url, settings, slack, service

    def post(self, body: bytes, content_type: str, headers: dict | None = None, signed: bool = True) -> httpx.Response:
        h = {"Content-Type": content_type, **(sign(body) if signed else {}), **(headers or {})}
        return httpx.post(self.url + "/slack/events", content=body, headers=h, timeout=10)

    def event(self, event: dict, event_id: str | None = None, headers: dict | None = None) -> httpx.Response:
        return self.post(json.dumps(event_callback(event, event_id)).encode(), "application/json", headers)

    def form(self, fields: dict, headers: dict | None = None) -> httpx.Response:
        return self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded", headers)

    def command(self, text: str, name: str, command: str = "/ask", user: str = "U0ASKER",
                channel: str = "C0TEST") -> httpx.Response:
        return self.form({"token": "legacy", "team_id": TEAM_ID, "channel_id": channel, "user_id": user,
                          "command": command, "text": text, "api_app_id": "A0TEST", "trigger_id": "1.2.3",
                          "response_url": self.slack.response_url(name)})

    def replies(self, ts: str, count: int = 1) -> list:
        return self.slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts, count)

    def expected_blocks(self, question: str, note: str = "", **options) -> list[dict]:
        return expected_blocks(self.service, question, note, **options)


def expected_blocks(service, question: str, note: str = "", **options) -> list[dict]:
    """The blocks the bot should post: the service's own answer, rendered."""
    return sb.result_blocks(slack_result(service, service.ask(question, **options)), service.index.articles, note)


def answered(slack: SlackStandIn, name: str):
    """The answer posted to a slash command's response URL, once the private "Looking for an answer…"
    was deleted (first, and alone: Slack's rule for delete_original)."""
    delete, answer = slack.wait_for(lambda c: c.path == f"/respond/{name}", 2)
    assert delete.params == {"delete_original": True}
    assert answer.params["response_type"] == "in_channel" and answer.at >= delete.at
    return answer


def event_callback(event: dict, event_id: str | None = None) -> dict:
    return {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0TEST", "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}]}


def new_ts() -> str:
    return f"1712345678.{next(_ids):06d}"


def mention(text: str, ts: str, user: str = "U0ASKER", channel: str = "C0TEST", **extra) -> dict:
    return {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts,
            "channel": channel, "event_ts": ts, **extra}


def texts(blocks: list[dict]) -> str:
    """All the mrkdwn a person would read in these blocks."""
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out.extend(e["text"] for e in b.get("elements", []) if e.get("type") == "mrkdwn")
    return "\n".join(out)


def slack_settings(tmp: Path, slack: SlackStandIn, **over) -> Settings:
    return make_settings(tmp, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                         slack_api_base_url=slack.base_url, **over)


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn() as s:
        yield s


@pytest.fixture(scope="module")
def bot(fake_service, slack, tmp_path_factory) -> Bot:
    settings = slack_settings(tmp_path_factory.mktemp("slack"), slack)
    with uvicorn_in_thread(create_app(settings, service=fake_service)) as url:
        yield Bot(url, settings, slack, fake_service)


@pytest.fixture(scope="module")
def real_bot(real_service, slack, tmp_path_factory) -> Bot:
    settings = slack_settings(tmp_path_factory.mktemp("slack-real"), slack)
    with uvicorn_in_thread(create_app(settings, service=real_service)) as url:
        yield Bot(url, settings, slack, real_service)


# ------------------------------------------------------------------ mentions, DMs, slash command
def test_mention_gets_threaded_reply_with_answer_and_citations(bot):
    ts, question = new_ts(), "How many drones did Russia fire overnight?"
    assert bot.event(mention(question, ts)).status_code == 200
    [reply] = bot.replies(ts)
    assert reply.params["channel"] == "C0TEST" and reply.headers["Authorization"] == "Bearer xoxb-test"
    assert reply.params["blocks"] == bot.expected_blocks(question)
    value = sb.parse_feedback_value(reply.params["blocks"][-1]["elements"][0]["value"])
    answer, c = value["answer"], value["citation"]
    assert answer and answer in seed_text(c["doc_id"] + ".txt")[c["start"]:c["end"]]
    assert f"*{sb.escape(answer)}*" == reply.params["blocks"][0]["text"]["text"]
    # 👀 while working, taken off once answered
    eyes = bot.slack.wait_for(lambda c: c.params.get("timestamp") == ts and c.method.startswith("reactions."), 2)
    assert [(c.method, c.params["name"]) for c in eyes] == [("reactions.add", "eyes"), ("reactions.remove", "eyes")]
    assert eyes[1].at >= reply.at


def test_direct_message_answered_and_own_messages_ignored(bot):
    own_ts, ts = new_ts(), new_ts()
    own = {"type": "message", "channel_type": "im", "channel": "D0TEST", "user": BOT_USER_ID, "bot_id": "BBOT0001",
           "text": "an earlier answer", "ts": own_ts}
    assert bot.event(own).status_code == 200
    dm = {"type": "message", "channel_type": "im", "channel": "D0TEST", "user": "U0ASKER",
          "text": "who did Trump speak with?", "ts": ts}
    assert bot.event(dm).status_code == 200
    [reply] = bot.replies(ts)
    assert reply.params["channel"] == "D0TEST"
    assert reply.params["blocks"] == bot.expected_blocks("who did Trump speak with?")
    assert bot.slack.find(lambda c: c.params.get("thread_ts") == own_ts or c.params.get("timestamp") == own_ts) == []


def test_slash_command_is_acknowledged_fast_then_the_looking_message_is_deleted_and_answered(bot):
    question = "who did Trump speak with?"
    started = time.monotonic()
    resp = bot.command(question, "slash-1")
    acked_in = time.monotonic() - started
    assert resp.status_code == 200 and acked_in < 3.0
    assert resp.json() == {"text": sb.looking_text(question), "response_type": "ephemeral"}
    answer = answered(bot.slack, "slash-1")
    assert answer.params["blocks"] == bot.expected_blocks(question)
    time.sleep(0.3)  # nothing more comes to that response URL (it allows five uses)
    assert len(bot.slack.find(lambda c: c.path == "/respond/slash-1")) == 2


def test_slash_command_bad_input_says_what_to_fix(bot):
    blank = bot.command("   ", "slash-blank")
    assert blank.status_code == 200 and "Ask a question in plain words" in blank.json()["text"]
    too_long = bot.command("why " * 300, "slash-long")
    assert too_long.status_code == 200
    answer = answered(bot.slack, "slash-long")
    assert texts(answer.params["blocks"]) == ":warning: question is 1199 characters; the limit is 1000"


# ------------------------------------------------------------------ feedback buttons
def click(bot: Bot, blocks: list[dict], button: int, user: str, message_ts: str, name: str):
    """A signed block_actions payload for a click on the answer's 👍 (0) or 👎 (1); the update it gets."""
    pressed = blocks[-1]["elements"][button] if blocks[-1].get("block_id") == sb.FEEDBACK_BLOCK else \
        next(b for b in blocks if b.get("block_id") == sb.FEEDBACK_BLOCK)["elements"][button]
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
               "api_app_id": "A0TEST", "token": "legacy", "trigger_id": "4.5.6", "team": {"id": TEAM_ID},
               "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0TEST"},
               "channel": {"id": "C0TEST"}, "response_url": bot.slack.response_url(name),
               "message": {"type": "message", "ts": message_ts, "bot_id": "BBOT0001", "blocks": blocks},
               "actions": [{**pressed, "block_id": sb.FEEDBACK_BLOCK, "action_ts": str(time.time())}]}
    assert bot.form({"payload": json.dumps(payload)}).status_code == 200
    [update] = bot.slack.wait_for(lambda c: c.path == f"/respond/{name}")
    assert update.params["replace_original"] is True
    return update


def test_button_click_stores_feedback_and_thanks(bot):
    ts, question = new_ts(), "who did Trump speak with?"
    bot.event(mention(question, ts))
    [reply] = bot.replies(ts)
    blocks = reply.params["blocks"]
    up = blocks[-1]["elements"][0]
    before = len(FeedbackStore(bot.settings.feedback_db).all())
    update = click(bot, blocks, 0, "U0CLICKER", "1700000000.000001", "click-1")
    assert update.params["blocks"] == sb.voted_blocks(blocks, {"correct": 1, "wrong": 0, "no_answer_expected": 0},
                                                      "correct", "U0CLICKER")
    assert texts(update.params["blocks"][-2:-1]) == \
        "\U0001f44d 1 \u00b7 \U0001f44e 0 \u2014 Thanks <@U0CLICKER>! Recorded as *correct*; click again to change your vote."
    assert update.params["blocks"][-1] == blocks[-1]  # the buttons stay: the vote can be changed
    stored = FeedbackStore(bot.settings.feedback_db).all()
    assert len(stored) == before + 1
    fb = stored[-1]
    value = sb.parse_feedback_value(up["value"])
    c = value["citation"]
    assert (fb.question, fb.answer, fb.verdict, fb.channel) == (question, value["answer"], "correct", "slack")
    assert (fb.voter, fb.message) == ("U0CLICKER", "C0TEST/1700000000.000001")
    source = c["doc_id"] + ".txt"
    assert fb.citation == {"doc_id": c["doc_id"], "source": source, "start": c["start"], "end": c["end"],
                           "quote": seed_text(source)[c["start"]:c["end"]]}


def test_a_vote_is_one_per_person_and_message_and_the_latest_counts(bot):
    ts, question = new_ts(), "who did Trump speak with?"
    bot.event(mention(question, ts))
    [reply] = bot.replies(ts)
    message_ts, key = "1700000000.777001", "C0TEST/1700000000.777001"
    store = FeedbackStore(bot.settings.feedback_db)
    first = click(bot, reply.params["blocks"], 0, "U0VOTER", message_ts, "vote-up")
    again = click(bot, first.params["blocks"], 0, "U0VOTER", message_ts, "vote-up-again")  # a double click
    assert [(f.voter, f.verdict) for f in store.all() if f.message == key] == [("U0VOTER", "correct")]
    changed = click(bot, again.params["blocks"], 1, "U0VOTER", message_ts, "vote-down")  # 👍 then 👎
    votes = [f for f in store.all() if f.message == key]
    assert [(f.voter, f.verdict, f.question) for f in votes] == [("U0VOTER", "wrong", question)]
    assert texts(changed.params["blocks"]).count("Recorded as") == 1  # the thanks line is replaced, not added
    assert "\U0001f44d 0 \u00b7 \U0001f44e 1 \u2014 Thanks <@U0VOTER>! Recorded as *wrong*" in texts(changed.params["blocks"])
    other = click(bot, changed.params["blocks"], 0, "U0OTHER", message_ts, "vote-other")
    assert "\U0001f44d 1 \u00b7 \U0001f44e 1 \u2014 Thanks <@U0OTHER>! Recorded as *correct*" in texts(other.params["blocks"])
    assert sorted((f.voter, f.verdict) for f in store.all() if f.message == key) == [("U0OTHER", "correct"),
                                                                                    ("U0VOTER", "wrong")]
    assert store.tally(key) == {"correct": 1, "wrong": 1, "no_answer_expected": 0}


# ------------------------------------------------------------------ Slack's retries and rate limits
def test_retried_event_is_answered_once(bot):
    ts, event_id = new_ts(), "EvRETRY0001"
    first = bot.event(mention("who did Trump speak with?", ts), event_id)
    retry = bot.event(mention("who did Trump speak with?", ts), event_id,
                      headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status_code == retry.status_code == 200
    assert retry.headers.get("X-Slack-No-Retry") == "1" and "X-Slack-No-Retry" not in first.headers
    bot.replies(ts)
    # A later event is answered after both, and still only one reply exists for the retried one.
    later = new_ts()
    bot.event(mention("what did Putin agree to?", later))
    bot.replies(later)
    assert len(bot.slack.find(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts)) == 1
    assert len(bot.slack.find(lambda c: c.method == "reactions.add" and c.params.get("timestamp") == ts)) == 1


def test_rate_limited_post_is_retried_after_retry_after(bot):
    bot.slack.fail_next("chat.postMessage", 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
    ts = new_ts()
    bot.event(mention("who did Trump speak with?", ts))
    posts = bot.replies(ts, count=2)
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.0


# ------------------------------------------------------------------ admission control, shared with HTTP
def test_slack_questions_take_a_slot_of_the_api_admission_limit(fake_service, slack, tmp_path):
    """QA_MAX_IN_FLIGHT=1: while an HTTP question holds the slot, Slack questions wait QA_SLACK_QUEUE_WAIT_S
    for it and are then told that the service is busy; while a Slack question holds it, HTTP gets 503 at once."""
    settings = slack_settings(tmp_path, slack, max_in_flight=1, slack_queue_wait_s=0.5)
    embedder = GatedEmbedder()
    service = QAService(settings, fake_service.index, embedder)
    question = "who did Trump speak with?"
    app = create_app(settings, service=service)
    with uvicorn_in_thread(app) as url, ThreadPoolExecutor(1) as pool:
        bot = Bot(url, settings, slack, service)
        held = pool.submit(httpx.post, url + "/ask", json={"question": question}, timeout=20)
        assert embedder.entered.acquire(timeout=10)  # the HTTP question is in the encoder, holding the slot
        ts, sent = new_ts(), time.monotonic()
        bot.event(mention(question, ts))
        bot.command(question, "slash-busy")
        [busy] = bot.replies(ts)
        busy_command = answered(slack, "slash-busy")
        assert busy.at - sent >= 0.5 and busy_command.at - sent >= 0.5  # they waited for the slot, in vain
        assert not held.done()  # both were answered while the HTTP question still held the slot
        for blocks, text in ((busy.params["blocks"], busy.params["text"]),
                             (busy_command.params["blocks"], busy_command.params["text"])):
            assert texts(blocks) == ":warning: Busy answering other questions right now; try again in a few seconds."
            assert text == "Busy answering other questions right now; try again in a few seconds."
        embedder.gate.set()
        assert held.result().status_code == 200
        deadline = time.monotonic() + 10
        while app.state.admission.in_flight and time.monotonic() < deadline:  # its slot is freed after the reply
            time.sleep(0.01)

        embedder.gate.clear()
        ts, other = new_ts(), "who did Putin speak with?"  # another question: one asked before is looked up
        bot.event(mention(other, ts))
        assert embedder.entered.acquire(timeout=10)  # now the Slack question holds the slot
        refused = httpx.post(url + "/ask", json={"question": question}, timeout=10)
        assert refused.status_code == 503 and refused.json()["error"] == "overloaded"
        embedder.gate.set()
        [answer] = bot.replies(ts)
        assert answer.params["blocks"] == bot.expected_blocks(other)
        metrics = httpx.get(url + "/metrics", timeout=10).text
        assert 'qa_rejected_total{reason="overloaded"} 3.0' in metrics and "qa_questions_in_flight 0.0" in metrics


class SlowEmbedder(HashingEmbedder):
    """The hashing embedder taking `seconds` per query encoding, as a real model's answer takes time."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def embed_queries(self, texts):
        time.sleep(self.seconds)
        return super().embed_queries(texts)


def burst(fake_service, slack, tmp_path, **over) -> tuple[list, float]:
    """Twelve mentions sent at once to a bot whose answers take 0.12 s each (4 in flight, 2 computing);
    the twelve replies and how long the last took."""
    settings = slack_settings(tmp_path, slack, max_in_flight=4, max_computing=2, **over)
    service = QAService(settings, fake_service.index, SlowEmbedder(0.12))
    with uvicorn_in_thread(create_app(settings, service=service)) as url, ThreadPoolExecutor(12) as pool:
        bot = Bot(url, settings, slack, service)
        stamps = [new_ts() for _ in range(12)]
        started = time.monotonic()
        acks = list(pool.map(lambda ts: bot.event(mention("who did Trump speak with?", ts)), stamps))
        assert [a.status_code for a in acks] == [200] * 12
        replies = [bot.replies(ts)[0] for ts in stamps]
        return replies, max(r.at for r in replies) - started


def test_a_burst_of_twelve_mentions_is_all_answered_within_the_queue_wait(fake_service, slack, tmp_path):
    replies, took = burst(fake_service, slack, tmp_path / "queued")  # QA_SLACK_QUEUE_WAIT_S: 2 s by default
    expected = expected_blocks(fake_service, "who did Trump speak with?")
    assert [r.params["blocks"] for r in replies] == [expected] * 12
    assert took < 2.0 + 1.0, took  # each waited less than the queue's 2 s (plus sending and posting)
    # Without the queue (as HTTP: refused at once) the same burst finds every slot taken for some.
    refused, _ = burst(fake_service, slack, tmp_path / "unqueued", slack_queue_wait_s=0)
    assert sum(r.params["text"] == BUSY for r in refused) >= 1


# ------------------------------------------------------------------ channel defaults and the App Home
def test_channel_defaults_set_by_an_admin_or_the_settings_are_applied_and_stated(fake_service, slack, tmp_path):
    settings = slack_settings(tmp_path, slack, slack_admins=["U0ADMIN"],
                              slack_channel_defaults={"C0CONF": {"mode": "bm25"}})
    # a question the two modes answer differently, so the answer shows which mode was used
    for question in ("who did Trump speak with?", "what did the Kremlin say about the call?",
                     "how many drones hit Ukraine?", "when did the leaders last talk?", "where was Putin?"):
        hybrid, bm25 = expected_blocks(fake_service, question), expected_blocks(fake_service, question, mode="bm25")
        if texts(hybrid) != texts(bm25):
            break
    assert texts(hybrid) != texts(bm25), "no question here is answered differently by the two modes"
    with uvicorn_in_thread(create_app(settings, service=fake_service)) as url:
        bot = Bot(url, settings, slack, fake_service)
        defaults = lambda text, user="U0ADMIN", channel="C0TEST": bot.command(  # noqa: E731
            text, f"defaults-{next(_ids)}", "/ask-defaults", user, channel).json()

        assert defaults("") == {"text": "This channel has no defaults: questions use the service's.",
                                "response_type": "ephemeral"}
        refused = defaults("mode=bm25", user="U0ASKER")["text"]
        assert refused.startswith("Only the bot's admins (QA_SLACK_ADMINS) can change channel defaults.")
        assert defaults("mode=fuzzy")["text"].startswith(":warning: mode 'fuzzy' is unknown; choose one of hybrid, bm25, dense.")
        assert defaults("region=north")["text"].startswith(
            ":warning: 'region' is not a channel default; the defaults are: mode, sources, since, until.")
        assert defaults("sources=nowhere")["text"].startswith(":warning: sources 'nowhere' name(s) no document id or outlet")
        assert defaults("mode=bm25")["text"] == "Questions in <#C0TEST> use *mode=bm25* (set by <@U0ADMIN>)."
        assert defaults("", user="U0ASKER")["text"] == "Questions in <#C0TEST> use *mode=bm25* (set by <@U0ADMIN>)."

        ts, other, conf = new_ts(), new_ts(), new_ts()
        bot.event(mention(question, ts))
        bot.event(mention(question, other, channel="C0OTHER"))
        bot.event(mention(question, conf, channel="C0CONF"))
        bot.command(question, "defaults-slash")
        stated = expected_blocks(fake_service, question, "channel defaults: mode=bm25", mode="bm25")
        assert bot.replies(ts)[0].params["blocks"] == stated
        assert answered(slack, "defaults-slash").params["blocks"] == stated
        assert bot.replies(other)[0].params["blocks"] == hybrid  # no defaults there: none stated
        assert bot.replies(conf)[0].params["blocks"] == stated  # from the settings
        assert defaults("", channel="C0CONF")["text"] == "Questions in <#C0CONF> use *mode=bm25* (from the bot's settings)."

        assert defaults("clear")["text"] == "This channel has no defaults: questions use the service's."
        after = new_ts()
        bot.event(mention(question, after))
        assert bot.replies(after)[0].params["blocks"] == hybrid

        # a filter as a channel default: the answers come from that article only, and the reply says so
        one = sorted(fake_service.index.articles)[0]  # 000, dated 2025-05-19
        assert defaults(f"sources={one} since=2025-01-01")["text"] == \
            f"Questions in <#C0TEST> use *sources={one} since=2025-01-01* (set by <@U0ADMIN>)."
        filtered = new_ts()
        bot.event(mention(question, filtered))
        only = Filters((one,), "2025-01-01", None)
        assert bot.replies(filtered)[0].params["blocks"] == expected_blocks(
            fake_service, question, f"channel defaults: sources={one} since=2025-01-01", filters=only)
        kept = fake_service.ask(question, filters=only)
        assert kept.passages and {h.chunk.doc_id for h in kept.passages} == {one}
        assert {c.doc_id for a in kept.answers for c in a.citations} <= {one}


def test_app_home_shows_how_to_ask_the_defaults_and_the_persons_last_questions(fake_service, slack, tmp_path):
    settings = slack_settings(tmp_path, slack, slack_channel_defaults={"C0CONF": {"mode": "bm25"}})
    with uvicorn_in_thread(create_app(settings, service=fake_service)) as url:
        bot = Bot(url, settings, slack, fake_service)
        first, second, theirs = new_ts(), new_ts(), new_ts()
        bot.event(mention("who did Trump speak with?", first, user="U0HOME", channel="C0CONF"))
        bot.replies(first)
        bot.event(mention("What did she say about it?", second, user="U0HOME"))
        bot.replies(second)
        bot.command("How many drones did Russia fire overnight?", "home-slash", user="U0HOME")
        answered(slack, "home-slash")
        bot.event(mention("Who is the White House press secretary?", theirs, user="U0ELSE"))
        bot.replies(theirs)

        opened = {"type": "app_home_opened", "user": "U0HOME", "channel": "D0HOME", "tab": "home",
                  "event_ts": new_ts()}
        assert bot.event(opened).status_code == 200
        [published] = slack.wait_for(lambda c: c.method == "views.publish" and c.params.get("user_id") == "U0HOME")
        assert bot.event({**opened, "tab": "messages", "event_ts": new_ts()}).status_code == 200
    view = published.params["view"]
    assert view["type"] == "home"
    shown = texts(view["blocks"])
    assert "*How to ask*\nMention me in a channel" in shown and "`/ask what did Putin agree to?`" in shown
    assert "*Channel defaults*\n\u2022 <#C0CONF>: mode=bm25\nOther channels use the service's defaults " \
           "(retrieval mode `hybrid`).\nAn admin sets a channel's with `/ask-defaults mode=bm25` in it." in shown
    drones = fake_service.ask("How many drones did Russia fire overnight?").answers[0].text
    trump = fake_service.ask("who did Trump speak with?", mode="bm25").answers[0].text  # C0CONF's default
    assert fake_service.ask("What did she say about it?").abstained  # whom "she" means, the articles cannot tell
    assert shown.split("*Your last questions*\n", 1)[1].split("\n") == [  # newest first
        "\u201cHow many drones did Russia fire overnight?\u201d", f"*{drones}*", view["blocks"][6]["elements"][0]["text"],
        "\u201cWhat did she say about it?\u201d", "_The articles don't answer this._", view["blocks"][8]["elements"][0]["text"],
        "\u201cwho did Trump speak with?\u201d", f"*{trump}*", view["blocks"][10]["elements"][0]["text"]]
    assert view["blocks"][6]["elements"][0]["text"].startswith("<#C0TEST> \u00b7 20")
    assert view["blocks"][10]["elements"][0]["text"].startswith("<#C0CONF> \u00b7 20")
    assert "press secretary" not in shown  # another person's question
    assert len(slack.find(lambda c: c.method == "views.publish" and c.params.get("user_id") == "U0HOME")) == 1


# ------------------------------------------------------------------ follow-ups in a thread
def test_a_follow_up_in_the_thread_is_read_with_its_last_question_and_answer_also_after_a_restart(
        fake_service, slack, tmp_path):
    settings = slack_settings(tmp_path, slack)
    first = "Which resort city was the Russian leader calling from?"
    root = new_ts()
    with uvicorn_in_thread(create_app(settings, service=fake_service)) as url:
        bot = Bot(url, settings, slack, fake_service)
        bot.event(mention(first, root))
        [answer] = bot.replies(root)
        assert answer.params["blocks"] == bot.expected_blocks(first)
        assert answer.params["blocks"][0]["text"]["text"] == "*Sochi*"

        bot.event(mention("and what did he say there?", new_ts(), thread_ts=root))
        follow_up = bot.replies(root, 2)[1]
        read = "what did the Russian leader say in Sochi?"
        assert follow_up.params["thread_ts"] == root
        assert follow_up.params["blocks"] == sb.read_as_blocks(read, bot.expected_blocks(read))
        assert texts(follow_up.params["blocks"]).startswith(
            "Read as: \u201cwhat did the Russian leader say in Sochi?\u201d (a follow-up to this thread's last question)")
        # The service was asked the question as read: its answer, and the question the 👍 button records.
        asked = sb.parse_feedback_value(follow_up.params["blocks"][-1]["elements"][0]["value"])
        assert asked["question"] == read and asked["answer"] == fake_service.ask(read).answers[0].text

    # A restart: a new app over the same SQLite file still knows the thread, and its last turn is the follow-up.
    with uvicorn_in_thread(create_app(settings, service=fake_service)) as url:
        bot = Bot(url, settings, slack, fake_service)
        bot.event(mention("who else was on the call with him?", new_ts(), thread_ts=root))
        again = bot.replies(root, 3)[2]
        read = "who else was on the call with the Russian leader?"
        assert again.params["blocks"] == sb.read_as_blocks(read, bot.expected_blocks(read))

        own = "What did the Kremlin say about the phone call with Washington?"  # names its own subject
        bot.event(mention(own, new_ts(), thread_ts=root))
        assert bot.replies(root, 4)[3].params["blocks"] == bot.expected_blocks(own)  # asked as it is, no "Read as"


def test_a_thread_the_bot_did_not_answer_in_and_a_new_question_are_asked_as_they_are(bot):
    foreign, question = new_ts(), "what did he say there?"
    bot.event(mention(question, new_ts(), thread_ts=foreign))  # a thread under someone else's message
    [reply] = bot.replies(foreign)
    assert reply.params["blocks"] == bot.expected_blocks(question)
    assert "Read as" not in texts(reply.params["blocks"])


def test_a_follow_up_in_a_direct_message_thread(bot):
    root, question = new_ts(), "Which resort city was the Russian leader calling from?"
    dm = {"type": "message", "channel_type": "im", "channel": "D0FOLLOW", "user": "U0ASKER", "text": question, "ts": root}
    bot.event(dm)
    bot.replies(root)
    bot.event({**dm, "text": "what did the press say about him?", "ts": new_ts(), "thread_ts": root})
    follow_up = bot.replies(root, 2)[1]
    read = "what did the press say about the Russian leader?"
    assert follow_up.params["channel"] == "D0FOLLOW"
    assert follow_up.params["blocks"] == sb.read_as_blocks(read, bot.expected_blocks(read))


# ------------------------------------------------------------------ signatures
def _bad_signatures(body: bytes) -> dict[str, dict]:
    now = int(time.time())
    good = sign(body)
    return {
        "wrong secret": sign(body, secret="not-the-secret"),
        "stale": sign(body, str(now - 600)),
        "from the future": sign(body, str(now + 600)),
        "junk timestamp": {**good, "X-Slack-Request-Timestamp": "yesterday"},
        "float timestamp": {"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": good["X-Slack-Signature"]},
        "huge timestamp": {**good, "X-Slack-Request-Timestamp": "9" * 40},
        "malformed signature": {**good, "X-Slack-Signature": b"v0=\xe9\xe9 not hex"},
        "no signature": {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]},
        "no headers": {},
        "signed another body": sign(body + b" "),
    }


def test_bad_stale_and_junk_signatures_get_401(bot):
    ts = new_ts()
    body = json.dumps({"type": "event_callback", "event_id": "EvBADSIG", "event": mention("hi", ts)}).encode()
    for case, headers in _bad_signatures(body).items():
        resp = httpx.post(bot.url + "/slack/events", content=body,
                          headers={"Content-Type": "application/json", **headers}, timeout=10)
        assert resp.status_code == 401, case
        err = resp.json()
        assert err["error"] == "invalid_signature" and err["detail"] and err["request_id"], case
    assert bot.slack.find(lambda c: c.params.get("thread_ts") == ts or c.params.get("timestamp") == ts) == []


def test_signed_body_that_is_not_a_slack_payload_is_400(bot):
    resp = bot.post(b"\xff\xfe not utf-8", "application/json")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_slack_payload"


def test_url_verification_challenge(bot):
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    resp = bot.post(body, "application/json")
    assert resp.status_code == 200
    assert resp.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_signature_problem_names_each_fault():
    body, now = b"{}", 1_700_000_000
    good = sign(body, str(now))
    check = lambda ts, sig: signature_problem(SECRET, body, ts, sig, now=now)  # noqa: E731
    assert check(good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]) is None
    assert check(None, None) == "X-Slack-Request-Timestamp and X-Slack-Signature headers are required"
    assert check("abc", "v0=1") == "X-Slack-Request-Timestamp must be a Unix time in whole seconds"
    assert check(str(now - 301), sign(body, str(now - 301))["X-Slack-Signature"]).startswith("the request was signed more than 300")
    assert check(str(now - 300), sign(body, str(now - 300))["X-Slack-Signature"]) is None
    assert check(str(now), "v0=" + "0" * 64) == "X-Slack-Signature does not match the body signed with this app's signing secret"


# ------------------------------------------------------------------ escaping
def test_mentions_and_markup_in_the_question_come_back_escaped(bot):
    ts = new_ts()
    raw = "<!channel> <@U0OTHER> &lt;script&gt;alert(1)&lt;/script&gt; who did Trump speak with?"
    bot.event(mention(raw, ts))
    [reply] = bot.replies(ts)
    shown = texts(reply.params["blocks"])
    assert f"Q: @{WJ}channel @U0OTHER &lt;script&gt;alert(1)&lt;/script&gt; who did Trump speak with?" in shown
    for live in ("<!channel>", "<@U0OTHER>", "<script>", "@channel", "<!"):
        assert live not in shown and live not in reply.params["text"], live
    ack = bot.command("<!here> <script>x</script> who?", "slash-escape").json()["text"]
    assert ack == f":eyes: Looking for an answer to \u201c@{WJ}here &lt;script&gt;x&lt;/script&gt; who?\u201d\u2026"
    answered(bot.slack, "slash-escape")


# ------------------------------------------------------------------ the real model
@pytest.mark.model
def test_real_model_answers_and_abstains(real_bot):
    ts, question = new_ts(), "what did Putin agree to?"
    real_bot.event(mention(question, ts))
    [reply] = real_bot.replies(ts)
    assert reply.params["blocks"] == real_bot.expected_blocks(question)
    value = sb.parse_feedback_value(reply.params["blocks"][-1]["elements"][0]["value"])
    c = value["citation"]
    assert "memorandum" in value["answer"] and value["answer"] in seed_text(c["doc_id"] + ".txt")[c["start"]:c["end"]]

    unanswerable = "What is the boiling point of tungsten?"
    real_bot.command(unanswerable, "real-abstain")
    answer = answered(real_bot.slack, "real-abstain")
    shown = texts(answer.params["blocks"])
    assert shown.startswith(":mag: *The articles don't answer this.*\n*You may be looking for:*\n\u2022 *")
    assert answer.params["blocks"] == real_bot.expected_blocks(unanswerable)
    assert answer.params["text"] == "The articles don't answer this."


# ------------------------------------------------------------------ configuration and Socket Mode
def test_events_route_only_when_configured(fake_service, tmp_path):
    from fastapi.testclient import TestClient

    for settings in (make_settings(tmp_path), make_settings(tmp_path, slack_bot_token="xoxb-only")):
        with TestClient(create_app(settings, service=fake_service)) as client:
            assert client.post("/slack/events", content=b"{}").status_code == 404


def test_settings_read_slack_standard_names(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("QA_SLACK_SIGNING_SECRET", "secret-env")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-env")
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:9/api/")
    s = Settings(_env_file=None)
    assert (s.slack_bot_token.get_secret_value(), s.slack_signing_secret.get_secret_value(),
            s.slack_app_token.get_secret_value(), s.slack_api_base_url) == \
        ("xoxb-env", "secret-env", "xapp-env", "http://127.0.0.1:9/api/")
    assert "xoxb-env" not in repr(s)


def test_seen_events_ttl_size_and_threads():
    now = [0.0]
    seen = SeenEvents(ttl=10, max_size=3, clock=lambda: now[0])
    assert [seen.first_time(k) for k in ("a", "a", "b")] == [True, False, True]
    now[0] = 9.9
    assert seen.first_time("a") is False
    now[0] = 10.0  # "a" and "b" (seen at 0) expire
    assert [seen.first_time(k) for k in ("c", "a", "b", "d")] == [True, True, True, True]
    assert len(seen) == 3 and seen.first_time("c") is True  # "c" was evicted to stay within max_size

    many = SeenEvents()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(many.first_time("Ev1"))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 15 + [True]


def _without_slack_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SLACK_", "QA_SLACK_"))}
    return {**env, "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("argv", [["-m", "api.slack"], ["-m", "qa.cli", "slack"]])
def test_socket_mode_entry_points_fail_clearly_without_tokens(argv, tmp_path):
    env = {**_without_slack_env(), "QA_DATA_DIR": str(tmp_path / "data"), "QA_INDEX_DIR": str(tmp_path / "index")}
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "qa slack: error: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN to run the Slack bot in Socket Mode" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_socket_mode_checks_tokens_then_connects(fake_service, slack, tmp_path, capsys):
    def run(**tokens) -> tuple[int, str]:
        settings = make_settings(tmp_path, slack_api_base_url=slack.base_url, **tokens)
        code = run_socket_mode(settings, open_service=lambda s: fake_service)
        return code, capsys.readouterr().err

    code, err = run(slack_bot_token="xapp-swapped", slack_app_token="xoxb-swapped")
    assert code == 2 and "SLACK_BOT_TOKEN must be the bot token starting with xoxb-" in err

    slack.fail_next("auth.test", 200, body={"ok": False, "error": "invalid_auth"})
    code, err = run(slack_bot_token="xoxb-revoked", slack_app_token="xapp-test")
    assert code == 2 and "SLACK_BOT_TOKEN was refused by Slack" in err and "invalid_auth" in err

    code, err = run(slack_bot_token="xoxb-test", slack_app_token="xapp-test")
    assert code == 2 and "cannot open a Socket Mode connection with SLACK_APP_TOKEN" in err and "invalid_auth" in err
    [opened] = slack.find(lambda c: c.method == "apps.connections.open")
    assert opened.headers["Authorization"] == "Bearer xapp-test"


def test_socket_mode_answers_over_the_websocket(fake_service, slack, tmp_path):
    """Socket Mode end to end: apps.connections.open on the Web API stand-in hands out a loopback WebSocket,
    whose envelopes the real bolt Socket Mode handler acks and answers through the Web API."""
    settings = make_settings(tmp_path, slack_bot_token="xoxb-test", slack_app_token="xapp-test",
                             slack_api_base_url=slack.base_url)
    with SocketModeStandIn() as ws:
        slack.connections_open = {"ok": True, "url": ws.url}
        admission = Admission(settings.max_in_flight, settings.max_computing)
        bot = SlackBot(lambda: fake_service, FeedbackStore(settings.feedback_db), admission)
        handler = socket_mode_handler(settings, bot)
        try:
            handler.connect()
            ts, question = new_ts(), "what did Putin agree to?"
            event = event_callback(mention(question, ts))
            for n, attempt in enumerate((0, 1)):  # Slack's redelivery of the same event_id
                ws.send({"envelope_id": f"env-{ts}-{n}", "type": "events_api", "accepts_response_payload": False,
                         "retry_attempt": attempt, "retry_reason": "timeout" if attempt else "", "payload": event})
                ws.wait_for(lambda m: m.get("envelope_id") == f"env-{ts}-{n}")
            ws.send({"envelope_id": "env-cmd", "type": "slash_commands", "accepts_response_payload": True,
                     "payload": {"command": "/ask", "text": question, "team_id": TEAM_ID, "channel_id": "C0TEST",
                                 "user_id": "U0ASKER", "response_url": slack.response_url("socket-cmd")}})
            [ack] = ws.wait_for(lambda m: m.get("envelope_id") == "env-cmd")
            assert ack["payload"] == {"text": sb.looking_text(question), "response_type": "ephemeral"}
            answer = answered(slack, "socket-cmd")
            [reply] = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts)
            expected = expected_blocks(fake_service, question)
            assert reply.params["blocks"] == answer.params["blocks"] == expected
            assert len(slack.find(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts)) == 1
        finally:
            handler.close()
            slack.connections_open = {"ok": False, "error": "invalid_auth"}


# ------------------------------------------------------------------ the repo's Slack files
def test_manifest_matches_what_the_bot_handles():
    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yml").read_text())
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == ["app_home_opened", "app_mention", "message.im"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/ask", "/ask-defaults"]
    assert all(c["url"].endswith("/slack/events") for c in commands)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "reactions:write"} <= scopes


def test_compose_runs_the_socket_mode_bot_next_to_the_api():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"api", "slack"} <= services.keys()
    slack = services["slack"]
    assert slack["command"] == ["qa", "slack"]
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} <= slack["environment"].keys()
    assert slack["depends_on"]["api"]["condition"] == "service_healthy"


def test_qa_package_never_imports_api_or_slack():
    for path in (ROOT / "qa").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in {"api", "fastapi", "slack_bolt", "slack_sdk"}, (path.name, name)
