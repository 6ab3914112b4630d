"""api/observability.py: /metrics, JSON log lines, and the generic 500."""

from __future__ import annotations

import io
import json
import logging

import pytest

from api.observability import JsonFormatter
from qa.service import QAService
from tests.apps import client, make_app, with_settings

ANSWERED = {"question": "Who is the Kremlin spokesman?"}
AMBIGUOUS = {"question": "What did she say about it?"}  # whom "she" means, no article can tell: always abstains


@pytest.fixture
def json_lines():
    """The JSON lines the `api` loggers write during a test, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("api")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


def test_metrics_count_requests_questions_and_abstentions(fake_service):
    c = client(make_app(fake_service))
    assert c.post("/ask", json=ANSWERED).json()["abstained"] is False
    assert c.post("/ask", json=AMBIGUOUS).json()["abstained"] is True
    c.post("/ask", json={"question": ""})
    c.get("/documents/000_0909706770c7972d")
    text = c.get("/metrics").text
    for line in ('qa_http_requests_total{method="POST",route="/ask",status="200"} 2.0',
                 'qa_http_requests_total{method="POST",route="/ask",status="422"} 1.0',
                 'qa_http_requests_total{method="GET",route="/documents/{doc_id}",status="200"} 1.0',
                 'qa_questions_total{mode="hybrid",outcome="answered"} 1.0',
                 'qa_questions_total{mode="hybrid",outcome="abstained"} 1.0',
                 'qa_http_request_duration_seconds_count{route="/ask"} 3.0',
                 'qa_stage_duration_seconds_count{stage="embed"} 2.0',
                 "qa_ready 1.0",
                 'qa_index_items{kind="articles"} 5.0',
                 f'qa_index_items{{kind="chunks"}} {len(fake_service.index.chunks)}.0'):
        assert line in text, line
    assert "qa_index_age_seconds " in text


def test_each_question_logs_its_length_mode_and_timings_but_not_its_text(fake_service, json_lines):
    c = client(make_app(fake_service))
    r = c.post("/ask", json=ANSWERED, headers={"X-Request-ID": "req-42"})
    assert r.headers["X-Request-ID"] == "req-42"
    answered = next(line for line in json_lines() if line["msg"] == "answered")
    assert answered["request_id"] == "req-42"
    assert answered["question_chars"] == len(ANSWERED["question"]) and answered["mode"] == "hybrid"
    assert set(answered["timings_ms"]) == {"embed", "retrieve", "read"}
    assert "question" not in answered and ANSWERED["question"] not in json.dumps(json_lines())
    access = next(line for line in json_lines() if line["msg"] == "request")
    assert (access["request_id"], access["route"], access["status"]) == ("req-42", "/ask", 200)


def test_question_text_is_logged_only_when_configured(fake_service, json_lines):
    client(make_app(fake_service, log_questions=True)).post("/ask", json=ANSWERED)
    answered = next(line for line in json_lines() if line["msg"] == "answered")
    assert answered["question"] == ANSWERED["question"]


class _BrokenRetriever:
    def idf(self, token):
        return 1.0

    def search(self, query, k, mode):
        raise RuntimeError("disk on fire at /secret/path")


def test_an_unhandled_error_is_a_generic_500_and_the_log_keeps_the_traceback(fake_service, caplog):
    settings = with_settings(fake_service)
    app = make_app(QAService(settings, fake_service.index, fake_service.embedder, _BrokenRetriever()))
    with caplog.at_level(logging.ERROR, logger="api"):
        r = client(app).post("/ask", json=ANSWERED)
    assert r.status_code == 500
    assert r.json() == {"error": "internal_error", "detail": "the server failed to answer; quote the request id when "
                        "reporting it", "request_id": r.headers["X-Request-ID"]}
    assert "secret" not in r.text
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert logged and "disk on fire at /secret/path" in str(logged[0].exc_info[1])
    metrics = client(app).get("/metrics").text
    assert 'qa_http_requests_total{method="POST",route="/ask",status="500"} 1.0' in metrics
