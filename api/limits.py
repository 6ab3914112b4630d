"""Overload protection, as pure ASGI middleware so that a refusal costs almost nothing.

    RateLimitMiddleware   per client (its API key when valid, else its address): token bucket, 429 + Retry-After
    TimeBudgetMiddleware  every request: past the budget the client gets 504 at once
    BodyLimitMiddleware   bodies larger than the limit: 413, read no further
    AdmissionMiddleware   questions in flight are bounded (Admission, shared with the Slack bot):
                          beyond the bound 503 + Retry-After at once

A request past its time budget cannot be stopped inside its worker thread, so its task runs on
detached and the admission slot it holds is freed only when the work really ends: admission
counts work the CPU is doing, not requests the clients are still waiting for.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator

from starlette.requests import Request

from api.errors import error_response

log = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # never rate-limited: monitors must see an overload


async def refuse(scope, receive, send, status: int, code: str, detail: str, headers: dict | None = None) -> None:
    await error_response(Request(scope), status, code, detail, headers)(scope, receive, send)


class TokenBuckets:
    """A token bucket per client: `burst` tokens, refilled at `per_minute / 60` a second.
    At most `max_clients` buckets are kept (least recently seen dropped), so memory stays bounded."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000):
        self.rate, self.burst, self.clock, self.max_clients = per_minute / 60.0, float(burst), clock, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """0.0 when the request may go ahead, else the seconds until the client has a token again."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class RateLimitMiddleware:
    def __init__(self, app, per_minute: float, burst: int, identify: Callable[[dict], str], metrics=None,
                 exempt: frozenset[str] = frozenset()):
        self.app, self.identify, self.metrics, self.exempt = app, identify, metrics, PROBES | exempt
        self.buckets = TokenBuckets(per_minute, burst) if per_minute > 0 else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.buckets is None or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        wait = self.buckets.take(self.identify(scope))
        if wait > 0:
            if self.metrics:
                self.metrics.rejected.labels("rate_limited").inc()
            seconds = max(1, math.ceil(wait))
            return await refuse(scope, receive, send, 429, "rate_limited",
                                f"too many requests from this client; retry in {seconds} s", {"Retry-After": str(seconds)})
        await self.app(scope, receive, send)


class TimeBudgetMiddleware:
    def __init__(self, app, seconds: float, metrics=None):
        self.app, self.seconds, self.metrics = app, seconds, metrics
        self._late: set[asyncio.Task] = set()  # tasks past their budget, still finishing their work

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        flags = {"started": False, "abandoned": False}

        async def guarded_send(message):
            if flags["abandoned"]:
                return  # the client already has its 504
            if message["type"] == "http.response.start":
                flags["started"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done or flags["started"]:
            return await task
        flags["abandoned"] = True
        self._late.add(task)
        task.add_done_callback(self._finished_late)
        if self.metrics:
            self.metrics.rejected.labels("timeout").inc()
        log.warning("request exceeded its %.1f s budget", self.seconds)
        await refuse(scope, receive, send, 504, "timeout",
                     f"the request took longer than its {self.seconds:g} s budget; try again later")

    def _finished_late(self, task: asyncio.Task) -> None:
        self._late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("request finished after its budget with an error", exc_info=task.exception())


class BodyLimitMiddleware:
    """Refuse bodies over the limit (per path when given) from Content-Length, or while reading a body
    sent without one. Bodies under the limit are read here and replayed to the app."""

    def __init__(self, app, limit: int, by_path: dict[str, int] | None = None, metrics=None):
        """`by_path`: a path's own limit; a key ending in '/' is every path under it."""
        self.app, self.limit, self.by_path, self.metrics = app, limit, by_path or {}, metrics
        self._prefixes = [(k, v) for k, v in self.by_path.items() if k.endswith("/")]

    def _limit(self, path: str) -> int:
        found = self.by_path.get(path)
        if found is None:
            found = next((v for prefix, v in self._prefixes if path.startswith(prefix)), self.limit)
        return found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._too_large(scope, receive, send, limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > limit:
                return await self._too_large(scope, receive, send, limit)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send, limit: int) -> None:
        if self.metrics:
            self.metrics.rejected.labels("too_large").inc()
        await refuse(scope, receive, send, 413, "payload_too_large",
                     f"request body is larger than {limit} bytes; send less")


class Admission:
    """The one bound on questions in flight, whichever way they come in (HTTP, Slack), and on how many
    of them compute at once. `enter()` takes a slot, or counts a refusal and says no (HTTP: at once;
    Slack may wait up to `wait_s` for one to be freed); `leave()` gives it back. `turn()` is held while
    an admitted question computes: `computing` at most, the others wait for one blocked (no CPU, no
    GIL), so the event loop competes with as many busy threads as there are cores, not as many as are
    admitted. HTTP takes slots on the event loop and Slack in bolt's worker
    threads, so a lock guards the counts; it is held for a count alone, never while anything is answered."""

    def __init__(self, limit: int, computing: int, metrics=None):
        self.limit, self.computing, self.metrics = limit, computing, metrics
        self.in_flight = self.waiting = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._turns = threading.Semaphore(computing)

    def enter(self, wait_s: float = 0.0) -> bool:
        with self._lock:
            if wait_s > 0:  # a worker thread (Slack), never the event loop
                admitted = self._freed.wait_for(lambda: self.in_flight < self.limit, wait_s)
            else:
                admitted = self.in_flight < self.limit
            if admitted:
                self.in_flight += 1
        if self.metrics:
            if admitted:
                self.metrics.in_flight.inc()
            else:
                self.metrics.rejected.labels("overloaded").inc()
        return admitted

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._freed.notify()
        if self.metrics:
            self.metrics.in_flight.dec()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            self.waiting += 1
        with self._turns:
            with self._lock:
                self.waiting -= 1
            yield


class AdmissionMiddleware:
    """Requests to `paths` take a slot of `admission`; without one they are refused at once with 503."""

    def __init__(self, app, paths: frozenset[str], admission: Admission):
        self.app, self.paths, self.admission = app, paths, admission

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        if not self.admission.enter():
            return await refuse(scope, receive, send, 503, "overloaded",
                                f"the server is answering {self.admission.limit} questions already; retry in 1 s",
                                {"Retry-After": "1"})
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.leave()
