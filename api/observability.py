"""Metrics (Prometheus text format at /metrics) and structured JSON logs.

Every log line of the `qa` and `api` loggers becomes one JSON object carrying the request id of the
request it was written for (a context variable that follows the request into worker threads).
A question's text is logged only when QA_LOG_QUESTIONS is set; its length always is.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from api.errors import REQUEST_ID

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Metrics:
    """One registry per app, so apps (and tests) never share counters."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("qa_http_request_duration_seconds", "HTTP request latency by route",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.questions = Counter("qa_questions_total", "Questions answered, by mode and outcome (answered, abstained)",
                                 ["mode", "outcome"], registry=r)
        self.degraded = Counter("qa_degraded_total", "Answers given in a degraded mode, by reason", ["reason"], registry=r)
        self.stages = Histogram("qa_stage_duration_seconds", "Time spent in each pipeline stage",
                                ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.rejected = Counter("qa_rejected_total", "Requests refused to protect the service, by reason "
                                "(rate_limited, overloaded, timeout, too_large)", ["reason"], registry=r)
        self.in_flight = Gauge("qa_questions_in_flight", "Questions being answered now", registry=r)
        self.ready = Gauge("qa_ready", "1 when an index is loaded and questions are answered", registry=r)
        self.index_size = Gauge("qa_index_items", "Items in the served index, by kind", ["kind"], registry=r)
        self.index_age = Gauge("qa_index_age_seconds", "Seconds since the served index was built", registry=r)

    def observe_result(self, result) -> None:
        self.questions.labels(result.mode, "abstained" if result.abstained else "answered").inc()
        if result.degraded:
            self.degraded.labels(result.degraded).inc()
        for stage, ms in result.timings.items():
            self.stages.labels(stage.removesuffix("_ms")).observe(ms / 1e3)

    def observe_index(self, manifest: dict | None) -> None:
        """Refresh the index gauges (called when /metrics is scraped)."""
        self.ready.set(1 if manifest else 0)
        if not manifest:
            return
        for kind, count in manifest["counts"].items():
            self.index_size.labels(kind).set(count)
        built = manifest.get("built_at")
        if built:
            self.index_age.set(max(0.0, time.time() - _epoch(built)))


def _epoch(iso: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


class ObserveMiddleware:
    """Counts and times every request by route template (never by raw path: ids would explode the labels),
    and writes one JSON access line per request."""

    def __init__(self, app, metrics: Metrics, known_paths: Callable[[], frozenset[str]] = frozenset):
        self.app, self.metrics, self.known_paths = app, metrics, known_paths
        self.log = logging.getLogger("api.access")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def record_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            label = getattr(route, "path", None) or (scope["path"] if scope["path"] in self.known_paths() else "other")
            self.metrics.requests.labels(label, scope["method"], str(status[0])).inc()
            self.metrics.latency.labels(label).observe(seconds)
            self.log.info("request", extra={"method": scope["method"], "route": label, "status": status[0],
                                            "ms": round(seconds * 1e3, 2)})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
               "request_id": REQUEST_ID.get()}
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(fmt: str) -> None:
    """JSON lines (or text) on stderr from the root logger, with `qa` and `api` at INFO. Idempotent:
    reuses a plain stderr handler already there (`qa serve` installs one) instead of doubling lines."""
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    ours = [h for h in root.handlers
            if getattr(h, "_qa_handler", False) or (type(h) is logging.StreamHandler and h.stream is sys.stderr)]
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler._qa_handler = True
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(formatter)
    for name in ("qa", "api"):
        logging.getLogger(name).setLevel(logging.INFO)
    # Our access line replaces uvicorn's, which would log /search?q=... and so the question's text.
    logging.getLogger("uvicorn.access").disabled = True
