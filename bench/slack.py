"""How fast the Slack bot acknowledges and answers, over HTTP events, with the real model.

The API (with /slack/events mounted) runs under uvicorn on a loopback port; Slack's Web API and response
URLs are the tests' loopback stand-in. For each question it sends a signed app_mention and a signed /ask,
and prints the time to the HTTP acknowledgement (Slack's limit: 3 s) and to the posted answer. Then it
sends a burst of mentions at once (12 by default) and prints how many were answered rather than told
"Busy", and the time from sending to the posted reply (its wait for a slot plus its answer).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/slack.py [--rounds N] [--burst N] [--queue-wait S]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.slack import BUSY  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.service import QAService  # noqa: E402
from tests.slack_standin import BOT_USER_ID, TEAM_ID, SlackStandIn  # noqa: E402

SECRET = "bench-signing-secret"
QUESTIONS = ["what did Putin agree to?", "Who did Trump speak with on Monday?",
             "Where did the talks between Russia and Ukraine take place?", "What is the boiling point of tungsten?"]


def signed(body: bytes) -> dict:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="passes over the questions")
    ap.add_argument("--burst", type=int, default=12, help="mentions sent at once after the rounds (0: none)")
    ap.add_argument("--queue-wait", type=float, default=None, help="QA_SLACK_QUEUE_WAIT_S (default: the setting's)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    with SlackStandIn() as slack:
        settings = Settings(_env_file=None, seeds_dir=ROOT / "seeds", index_dir=tmp / "index", data_dir=tmp / "data",
                            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_base_url=slack.base_url,
                            **({} if args.queue_wait is None else {"slack_queue_wait_s": args.queue_wait}))
        t = time.perf_counter()
        service = QAService.open(settings)
        print(f"model and index loaded in {time.perf_counter() - t:.1f} s")
        server = uvicorn.Server(uvicorn.Config(create_app(settings, service=service), host="127.0.0.1", port=0,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/slack/events"
        timings: dict[str, dict[str, list[float]]] = {"app_mention": {"ack": [], "answer": []},
                                                      "/ask": {"ack": [], "answer": []}}
        n = 0
        with httpx.Client(timeout=30) as http:
            for _ in range(args.rounds):
                for q in QUESTIONS:
                    n += 1
                    ts = f"1712345678.{n:06d}"
                    event = {"type": "event_callback", "team_id": TEAM_ID, "event_id": f"EvBench{n}",
                             "event": {"type": "app_mention", "user": "U0ASKER", "channel": "C0BENCH", "ts": ts,
                                       "text": f"<@{BOT_USER_ID}> {q}"}}
                    body = json.dumps(event).encode()
                    t0 = time.perf_counter()
                    r = http.post(url, content=body, headers={"Content-Type": "application/json", **signed(body)})
                    timings["app_mention"]["ack"].append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                    slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts, timeout=60)
                    timings["app_mention"]["answer"].append(time.perf_counter() - t0)

                    body = urlencode({"command": "/ask", "text": q, "team_id": TEAM_ID, "channel_id": "C0BENCH",
                                      "user_id": "U0ASKER", "response_url": slack.response_url(f"bench-{n}")}).encode()
                    t0 = time.perf_counter()
                    r = http.post(url, content=body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)})
                    timings["/ask"]["ack"].append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                    slack.wait_for(lambda c: c.path == f"/respond/bench-{n}", count=2, timeout=60)
                    timings["/ask"]["answer"].append(time.perf_counter() - t0)
            burst = run_burst(http, url, slack, args.burst, n) if args.burst else None
        server.should_exit = True
    print(f"{n} questions of each kind, sequential, real model ({settings.model}), 127.0.0.1")
    print(f"{'kind':<12} {'step':<7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, steps in timings.items():
        for step, values in steps.items():
            ms = [v * 1e3 for v in values]
            print(f"{kind:<12} {step:<7} {statistics.median(ms):8.1f} {pct(ms, 0.95):8.1f} {max(ms):8.1f}")
    if burst is not None:
        answered, waits = burst
        ms = [w * 1e3 for w in waits]
        print(f"burst of {len(waits)} mentions at once (QA_MAX_IN_FLIGHT={settings.max_in_flight}, "
              f"QA_MAX_COMPUTING={settings.max_computing}, QA_SLACK_QUEUE_WAIT_S={settings.slack_queue_wait_s:g}): "
              f"{answered} answered, {len(waits) - answered} told busy; send to reply p50 "
              f"{statistics.median(ms):.0f} ms, max {max(ms):.0f} ms")
    return 0


def run_burst(http: httpx.Client, url: str, slack: SlackStandIn, count: int, n: int) -> tuple[int, list[float]]:
    """`count` signed mentions sent at once: how many got an answer (not "Busy"), and each one's time from
    sending to its posted reply."""
    stamps = [f"1712399999.{n + i + 1:06d}" for i in range(count)]

    def send(ts: str) -> None:
        event = {"type": "event_callback", "team_id": TEAM_ID, "event_id": f"EvBurst{ts}",
                 "event": {"type": "app_mention", "user": "U0ASKER", "channel": "C0BENCH", "ts": ts,
                           "text": f"<@{BOT_USER_ID}> {QUESTIONS[int(ts[-6:]) % len(QUESTIONS)]}"}}
        body = json.dumps(event).encode()
        r = http.post(url, content=body, headers={"Content-Type": "application/json", **signed(body)})
        assert r.status_code == 200, r.text

    started = time.monotonic()  # the stand-in stamps its calls with time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(send, stamps))
    replies = [slack.wait_for(lambda c, ts=ts: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts,
                              timeout=60)[0] for ts in stamps]
    # 👀 comes off after each reply: wait for it, so the stand-in is not closed under the bot.
    slack.wait_for(lambda c: c.method == "reactions.remove" and c.params.get("timestamp") in stamps, count, timeout=60)
    answered = sum(r.params.get("text") != BUSY for r in replies)
    return answered, [r.at - started for r in replies]


if __name__ == "__main__":
    sys.exit(main())
