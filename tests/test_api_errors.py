"""api/errors.py: one error format, request ids everywhere, no echo of large inputs, and a schema
that states the limits in force."""

from __future__ import annotations

import pytest

from tests.apps import client, make_app


@pytest.fixture(scope="module")
def c(fake_service):
    return client(make_app(fake_service))


def _is_error(r, status: int, code: str) -> dict:
    body = r.json()
    assert r.status_code == status and set(body) == {"error", "detail", "request_id"}
    assert body["error"] == code and body["request_id"] == r.headers["X-Request-ID"]
    return body


def test_malformed_json_is_400_and_wrong_types_name_the_field(c):
    _is_error(c.post("/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}), 400, "invalid_json")
    body = _is_error(c.post("/ask", json={"question": "hi", "top_k": "many"}), 422, "invalid_request")
    assert body["detail"] == "top_k: Input should be a valid integer, unable to parse string as an integer"
    body = _is_error(c.post("/ask", json={"question": "hi", "top_k": True}), 422, "invalid_request")
    assert body["detail"] == "top_k: must be an integer, not true or false"
    body = _is_error(c.post("/ask", json={"question": "hi", "mode": "fuzzy"}), 422, "invalid_request")
    assert body["detail"] == "mode: Input should be 'hybrid', 'bm25' or 'dense'"
    body = _is_error(c.post("/ask", content=b'{"question": "hi"}', headers={"Content-Type": "text/plain"}),
                     422, "invalid_request")
    assert body["detail"].endswith("send the body as JSON with the header Content-Type: application/json")


def test_validation_errors_never_echo_a_large_input(c):
    long_question = "zebra " * 300
    body = _is_error(c.post("/ask", json={"question": long_question}), 422, "invalid_request")
    assert body["detail"] == "question: String should have at most 1000 characters"
    huge_key = "k" * 5000
    body = _is_error(c.post("/ask", json={"question": "hi", huge_key: 1}), 422, "invalid_request")
    assert body["detail"] == "k" * 40 + "...: Extra inputs are not permitted"
    assert len(c.get("/search", params={"q": "q" * 3000}).text) < 300


def test_every_response_carries_a_request_id(c):
    for r in (c.get("/healthz"), c.get("/nowhere"), c.put("/ask"), c.get("/documents/none"),
              c.post("/ask", json={"question": "Who hosted the talks in Istanbul?"})):
        assert len(r.headers["X-Request-ID"]) == 32
    assert c.get("/healthz", headers={"X-Request-ID": "trace-7"}).headers["X-Request-ID"] == "trace-7"
    assert c.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"}).headers["X-Request-ID"] != "bad id\twith tab"


def test_405_lists_every_method_of_the_path(c):
    body = _is_error(c.delete("/admin/reindex"), 405, "method_not_allowed")
    assert c.delete("/admin/reindex").headers["Allow"] == "GET, POST"
    assert body["detail"] == "DELETE is not allowed here; use GET, POST"


def test_the_schema_states_the_limits_in_force(fake_service):
    app_client = client(make_app(fake_service, max_question_chars=200, max_top_k=5))
    schema = app_client.get("/openapi.json").json()
    ask = schema["components"]["schemas"]["AskRequest"]["properties"]
    assert (ask["question"]["maxLength"], ask["top_k"]["maximum"]) == (200, 5)
    search = {p["name"]: p["schema"] for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert (search["q"]["maxLength"], search["k"]["maximum"]) == (200, 5)
    assert app_client.post("/ask", json={"question": "x" * 201}).status_code == 422
    assert app_client.post("/ask", json={"question": "Who hosted?", "top_k": 6}).status_code == 422
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            assert {"413", "429", "500", "504"} <= set(op["responses"]), (method, path)
