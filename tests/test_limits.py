"""api/limits.py: body limit, rate limit, admission control, time budget; and encoder work off the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from prometheus_client import generate_latest

from api.limits import Admission, TokenBuckets
from api.observability import Metrics
from tests.apps import client, gated_app, make_app

Q = {"question": "Who hosted the talks in Istanbul?"}
Q_OTHER = {"question": "When did the two presidents speak by phone?"}


# ---------------------------------------------------------------- token buckets (exact, fake clock)
def test_token_bucket_allows_the_burst_then_says_how_long_to_wait():
    now = [100.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == 1.0  # one token a second; the bucket is empty
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == 0.5  # half a token refilled; a refusal costs no token
    now[0] += 0.5
    assert buckets.take("a") == 0.0


def test_token_buckets_forget_the_least_recent_client_beyond_the_bound():
    buckets = TokenBuckets(per_minute=60, burst=1, clock=lambda: 0.0, max_clients=2)
    buckets.take("a"), buckets.take("b"), buckets.take("c")
    assert list(buckets._buckets) == ["b", "c"]
    assert buckets.take("a") == 0.0  # forgotten, so full again: memory stays bounded


def test_rate_limit_answers_429_with_retry_after_per_client(fake_service):
    c = client(make_app(fake_service, rate_limit_per_minute=6, rate_limit_burst=2, api_key="k1,k2"))
    ok = [c.get("/search", params={"q": "talks"}, headers={"X-API-Key": "k1"}).status_code for _ in range(2)]
    refused = c.get("/search", params={"q": "talks"}, headers={"X-API-Key": "k1"})
    assert ok == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"  # 6 a minute: one token every 10 s
    assert refused.json()["error"] == "rate_limited" and refused.json()["request_id"] == refused.headers["X-Request-ID"]
    # The other key is another client; probes are never limited.
    assert c.get("/search", params={"q": "talks"}, headers={"X-API-Key": "k2"}).status_code == 200
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_invalid_keys_share_their_address_bucket(fake_service):
    """A made-up key must not buy a fresh bucket: it counts against the caller's address."""
    c = client(make_app(fake_service, rate_limit_per_minute=6, rate_limit_burst=2, api_key="k1"))
    codes = [c.get("/search", params={"q": "x"}, headers={"X-API-Key": f"guess{n}"}).status_code for n in range(3)]
    assert codes == [403, 403, 429]


# ---------------------------------------------------------------- body limit
def test_body_over_the_limit_is_413_from_content_length(fake_service):
    c = client(make_app(fake_service, max_body_bytes=1024))
    r = c.post("/ask", content=b'{"question": "' + b"a" * 2000 + b'"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"error": "payload_too_large", "detail": "request body is larger than 1024 bytes; send less",
                        "request_id": r.headers["X-Request-ID"]}


def test_body_over_the_limit_is_413_without_content_length(fake_service):
    """A chunked body has no Content-Length: it is counted while read, and refused past the limit."""
    c = client(make_app(fake_service, max_body_bytes=1024))

    def chunks():
        yield b'{"question": "'
        for _ in range(10):
            yield b"a" * 200
        yield b'"}'

    r = c.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_body_under_the_limit_is_replayed_whole(fake_service):
    c = client(make_app(fake_service, max_body_bytes=1024))

    def chunks():
        yield b'{"question": "Who hosted '
        yield b'the talks in Istanbul?"}'

    r = c.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["question"] == "Who hosted the talks in Istanbul?"


# ---------------------------------------------------------------- admission, time budget, off the loop
def test_admission_gives_out_its_slots_once_whichever_thread_asks():
    metrics = Metrics()
    admission = Admission(2, 2, metrics)
    assert [admission.enter(), admission.enter(), admission.enter()] == [True, True, False]
    admission.leave()
    taken: list[bool] = []
    threads = [threading.Thread(target=lambda: taken.append(admission.enter())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == [False] * 7 + [True] and admission.in_flight == 2
    text = generate_latest(metrics.registry).decode()
    assert "qa_questions_in_flight 2.0" in text and 'qa_rejected_total{reason="overloaded"} 8.0' in text


async def _ask_while_gated(app, embedder, n_asks: int, then):
    """Send `n_asks` questions that block in the encoder, run `then(client)` meanwhile, open the gate."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=20) as c:
        asks = [asyncio.create_task(c.post("/ask", json=Q)) for _ in range(n_asks)]
        for _ in range(n_asks):
            while not embedder.entered.acquire(blocking=False):
                await asyncio.sleep(0.01)
        try:
            during = await then(c)
        finally:
            embedder.gate.set()
        return during, [await a for a in asks]


def test_healthz_and_readyz_answer_while_questions_wait_in_the_encoder(fake_service):
    """/ask is a sync endpoint: encoder work runs in the thread pool, never on the event loop, so the
    probes answer while two questions are stuck in the encoder."""
    app, embedder = gated_app(fake_service)

    async def probes(c):
        return [(await c.get("/healthz")).status_code, (await c.get("/readyz")).status_code]

    during, asks = asyncio.run(_ask_while_gated(app, embedder, 2, probes))
    assert during == [200, 200]
    assert [a.status_code for a in asks] == [200, 200]
    assert all(name != threading.main_thread().name for name in embedder.thread_names)


def test_beyond_max_in_flight_questions_get_503_at_once(fake_service):
    app, embedder = gated_app(fake_service, max_in_flight=2)

    async def third(c):
        search = await c.get("/search", params={"q": "talks"})  # /search counts too
        metrics = (await c.get("/metrics")).text
        return search, metrics

    (refused, metrics), asks = asyncio.run(_ask_while_gated(app, embedder, 2, third))
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "overloaded"
    assert "qa_questions_in_flight 2.0" in metrics
    assert 'qa_rejected_total{reason="overloaded"} 1.0' in metrics
    assert [a.status_code for a in asks] == [200, 200]


def test_admitted_questions_beyond_max_computing_wait_their_turn(fake_service):
    """Three admitted, one computing: the other two wait blocked (not in the encoder) until it is done."""
    app, embedder = gated_app(fake_service, max_in_flight=3, max_computing=1)
    admission = app.state.admission

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=20) as c:
            # two different questions: the second of one asked twice would be looked up (the answer cache)
            asks = [asyncio.create_task(c.post("/ask", json=Q)), asyncio.create_task(c.post("/ask", json=Q_OTHER)),
                    asyncio.create_task(c.get("/search", params={"q": "talks"}))]
            for _ in range(1000):
                if admission.waiting == 2 and embedder.entered.acquire(blocking=False):
                    break
                await asyncio.sleep(0.01)
            during = (admission.in_flight, admission.waiting, embedder.entered.acquire(blocking=False))
            embedder.gate.set()
            return during, [(await a).status_code for a in asks]

    during, statuses = asyncio.run(scenario())
    assert during == (3, 2, False)  # all three admitted, two waiting, one alone in the encoder
    assert statuses == [200, 200, 200] and len(embedder.thread_names) == 3
    assert (admission.in_flight, admission.waiting) == (0, 0)


def test_a_slow_request_ends_at_its_budget_and_keeps_its_slot_until_the_work_ends(fake_service):
    app, embedder = gated_app(fake_service, request_timeout_s=0.3, max_in_flight=1)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=20) as c:
            slow = await c.post("/ask", json=Q)  # the encoder is gated: the budget runs out
            still_busy = await c.post("/ask", json=Q)  # its worker thread still holds the only slot
            embedder.gate.set()
            for _ in range(200):  # the abandoned work finishes, freeing the slot
                if "qa_questions_in_flight 0.0" in (await c.get("/metrics")).text:
                    break
                await asyncio.sleep(0.01)
            return slow, still_busy, await c.post("/ask", json=Q)

    slow, still_busy, after = asyncio.run(scenario())
    assert slow.status_code == 504
    assert slow.json()["error"] == "timeout" and "0.3 s budget" in slow.json()["detail"]
    assert still_busy.status_code == 503
    assert after.status_code == 200


def test_slack_events_are_not_rate_limited_and_may_be_larger(fake_service):
    """Slack signs its events and sends them from a few addresses, with a message's blocks on each click."""
    c = client(make_app(fake_service, rate_limit_per_minute=6, rate_limit_burst=1))
    body = b'{"payload": "' + b"b" * 20_000 + b'"}'
    codes = [c.post("/slack/events", content=body, headers={"Content-Type": "application/json"}).status_code
             for _ in range(3)]
    assert codes == [404, 404, 404]  # Slack is not configured here: no 429, no 413
    assert c.post("/ask", content=body, headers={"Content-Type": "application/json"}).status_code == 413


def test_admission_waits_for_a_freed_slot_only_when_asked_to():
    admission = Admission(1, 1)
    assert admission.enter() and not admission.enter()  # HTTP: refused at once
    started = time.monotonic()
    assert not admission.enter(0.2) and time.monotonic() - started >= 0.2  # nobody left within the wait
    freed = threading.Timer(0.1, admission.leave)
    freed.start()
    started = time.monotonic()
    assert admission.enter(5.0) and time.monotonic() - started < 2.0  # taken as soon as it was freed
    freed.join()
    assert admission.in_flight == 1
