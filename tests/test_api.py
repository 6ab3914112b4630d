"""The HTTP contract, in process, over the fake-embedder service."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.service import QAService
from tests.apps import make_app, with_settings
from tests.helpers import assert_citation_rule


@pytest.fixture(scope="module")
def client(fake_service):
    with TestClient(create_app(service=fake_service)) as c:
        yield c


def test_ask_returns_answers_with_checkable_citations(client):
    r = client.post("/ask", json={"question": "How many drones did Russia fire overnight?", "top_k": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"question", "mode", "answers", "abstained", "abstain_reason", "confidence", "passages",
                         "took_ms", "degraded"}
    assert body["mode"] == "hybrid" and not body["abstained"]
    assert len(body["passages"]) == 2
    assert set(body["passages"][0]) == {"doc_id", "chunk_id", "source", "start", "end", "text", "score",
                                        "bm25_rank", "dense_rank"}
    assert set(body["answers"][0]["citations"][0]) == {"doc_id", "source", "title", "date", "start", "end", "quote",
                                                       "answer_start", "answer_end", "outlet", "url", "published"}
    assert assert_citation_rule(body) >= 2
    assert r.headers["x-request-id"]


def test_ask_and_search_send_the_bytes_fastapi_would_make_of_their_models(client):
    # the routes build their JSON themselves (api.routes.json_response); FastAPI's own path validates the
    # returned model through a TypeAdapter and dumps it by alias
    from pydantic import TypeAdapter

    from api.schemas import AskResponse, SearchResponse

    for r, model in ((client.post("/ask", json={"question": "How many drones did Russia fire overnight?"}), AskResponse),
                     (client.get("/search", params={"q": "drones fired overnight", "k": 2}), SearchResponse)):
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        adapter = TypeAdapter(model)
        assert r.content == adapter.dump_json(adapter.validate_json(r.content), by_alias=True)
        assert int(r.headers["content-length"]) == len(r.content)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question: question is blank"),
        ({"question": "x" * 1001}, "question: String should have at most 1000 characters"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "top_k": 11}, "top_k"),
        ({"question": "q", "top_k": "many"}, "top_k"),
        ({"question": "q", "mode": "magic"}, "mode"),
        ({"question": 5}, "question"),
        ({}, "question: Field required"),
        ({"question": "q", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, body, field):
    r = client.post("/ask", json=body)
    assert r.status_code == 422
    err = r.json()
    assert set(err) == {"error", "detail", "request_id"} and err["error"] == "invalid_request"
    assert field in err["detail"]
    assert "x" * 100 not in err["detail"]  # never echoes a large input
    assert err["request_id"] == r.headers["x-request-id"]


def test_malformed_json_is_a_400(client):
    r = client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"


def test_a_client_request_id_is_echoed(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123" and r.json() == {"status": "ok"}


def test_search_returns_passages_only(client):
    r = client.get("/search", params={"q": "Putin Trump call Sochi", "k": 3, "mode": "bm25"})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "bm25" and len(body["passages"]) == 3
    assert_citation_rule({"answers": [], "passages": body["passages"]})
    assert client.get("/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.get("/search").status_code == 422


def test_documents(client):
    r = client.get("/documents/003_402be4f0d307bbc3")
    assert r.status_code == 200
    doc = r.json()
    assert doc["date"] == "2025-05-19" and doc["title"].startswith("Trump holding calls")
    assert doc["text"].startswith(" date 2025-05-19") or doc["text"].startswith("date 2025-05-19")
    missing = client.get("/documents/999")
    assert missing.status_code == 404 and missing.json()["error"] == "document_not_found"


def test_readiness_and_unknown_routes(client):
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["articles"] == 5 and ready["format_version"] == 6
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get("/docs").status_code == 200
    assert "/ask" in client.get("/openapi.json").json()["paths"]


def test_not_ready_until_the_service_loads(fake_service):
    app = create_app(service=fake_service)
    with TestClient(app) as c:
        app.state.service = None  # as if start-up were still loading
        assert c.get("/readyz").status_code == 503
        r = c.post("/ask", json={"question": "q"})
        assert r.status_code == 503 and r.json()["error"] == "index_missing"


def test_an_omitted_top_k_is_the_default_top_k_setting(fake_service):
    question = {"question": "How many drones did Russia fire overnight?"}
    for default in (1, 5):
        with TestClient(make_app(fake_service, default_top_k=default)) as c:
            assert len(c.post("/ask", json=question).json()["passages"]) == default
            assert len(c.post("/ask", json={**question, "top_k": 2}).json()["passages"]) == 2
            top_k = c.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["top_k"]
            assert top_k == {"type": "integer", "minimum": 1, "maximum": 10, "default": default, "title": "Top K",
                             "description": "How many answers and passages to return."}
            null = c.post("/ask", json={**question, "top_k": None})  # omitted means the default; null is no integer
            assert null.status_code == 422 and null.json()["detail"] == "top_k: Input should be a valid integer"


def test_an_omitted_mode_is_the_default_mode_setting(fake_service):
    question = {"question": "How many drones did Russia fire overnight?"}
    for default in ("bm25", "dense"):
        with TestClient(make_app(fake_service, default_mode=default)) as c:
            assert c.post("/ask", json=question).json()["mode"] == default
            assert c.post("/ask", json={**question, "mode": "hybrid"}).json()["mode"] == "hybrid"
            assert c.get("/search", params={"q": "drones"}).json()["mode"] == default
            assert c.get("/search", params={"q": "drones", "mode": "hybrid"}).json()["mode"] == "hybrid"
            schema = c.get("/openapi.json").json()
            assert schema["components"]["schemas"]["AskRequest"]["properties"]["mode"]["default"] == default
            param = next(p for p in schema["paths"]["/search"]["get"]["parameters"] if p["name"] == "mode")
            assert param["schema"]["default"] == default
            null = c.post("/ask", json={**question, "mode": None})  # omitted means the default; null is no mode
            assert null.status_code == 422


def test_the_default_top_k_may_not_exceed_the_maximum():
    with pytest.raises(ValidationError, match="QA_DEFAULT_TOP_K is 5 but QA_MAX_TOP_K is 4"):
        Settings(_env_file=None, default_top_k=5, max_top_k=4)
    assert Settings(_env_file=None, default_top_k=4, max_top_k=4).default_top_k == 4


def test_the_schema_is_built_at_start_up(fake_service):
    """Not on the event loop by the first request that needs it (a 503's route label, a 405): building
    it takes ~150 ms, during which no probe would be answered."""
    app = create_app(service=fake_service)
    assert app.openapi_schema is None
    with TestClient(app):
        assert app.openapi_schema is not None


class _ThreadCountingEmbedder(HashingEmbedder):
    """Records how many threads torch would give an operation in the thread that encodes the question."""

    def __init__(self):
        super().__init__()
        self.torch_threads: list[int] = []

    def embed_queries(self, texts):
        import torch

        self.torch_threads.append(torch.get_num_threads())
        return super().embed_queries(texts)


def test_start_up_sets_the_torch_threads_questions_run_with(fake_service):
    import torch

    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            embedder = _ThreadCountingEmbedder()
            settings = with_settings(fake_service, torch_threads=threads)
            with TestClient(create_app(settings, QAService(settings, fake_service.index, embedder))) as c:
                assert c.post("/ask", json={"question": "Who hosted the talks in Istanbul?"}).status_code == 200
            assert embedder.torch_threads == [threads]
    finally:
        torch.set_num_threads(before)
