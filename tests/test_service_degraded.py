"""QAService when the embedding model fails at query time: BM25 answers marked degraded, never a 500."""

from __future__ import annotations

import pytest

from qa.embed import SentenceTransformerEmbedder
from qa.errors import ModelError
from qa.service import QAService
from tests.apps import client, make_app
from tests.helpers import assert_citation_rule
from qa.serialize import result_json


class _FailingModel:
    """Stands in for a loaded sentence-transformers model whose inference breaks (out of memory, bad weights)."""

    def encode(self, *args, **kwargs):
        raise RuntimeError("CUDA error: out of memory")


@pytest.fixture
def broken_service(fake_service) -> QAService:
    """The real embedder class, loaded, whose model fails on every call: the real error path."""
    embedder = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    embedder._model, embedder.dim = _FailingModel(), fake_service.embedder.dim
    return QAService(fake_service.settings, fake_service.index, embedder, fake_service.retriever)


def test_the_broken_model_raises_model_error(broken_service):
    with pytest.raises(ModelError, match="embedding model 'sentence-transformers/all-MiniLM-L6-v2' failed: CUDA error"):
        broken_service.embedder.embed_queries(["hello"])


def test_ask_degrades_to_bm25_and_says_so(broken_service, fake_service):
    result = broken_service.ask("Who hosted the talks in Istanbul?", mode="hybrid")
    assert result.degraded == "dense_unavailable" and result.mode == "hybrid"
    assert not result.abstained and result.answers
    assert all(h.dense_rank is None and h.bm25_rank is not None for h in result.passages)
    assert_citation_rule(result_json(result, broken_service.index.articles))
    assert fake_service.ask("Who hosted the talks in Istanbul?").degraded is None


def test_http_ask_is_200_degraded_and_counted(broken_service):
    c = client(make_app(broken_service))
    r = c.post("/ask", json={"question": "Who hosted the talks in Istanbul?", "mode": "dense"})
    assert r.status_code == 200 and r.json()["degraded"] == "dense_unavailable"
    assert 'qa_degraded_total{reason="dense_unavailable"} 1.0' in c.get("/metrics").text


def test_search_in_bm25_mode_needs_no_model_and_dense_says_unavailable(broken_service):
    c = client(make_app(broken_service))
    assert c.get("/search", params={"q": "Istanbul talks", "mode": "bm25"}).status_code == 200
    dense = c.get("/search", params={"q": "Istanbul talks", "mode": "dense"})
    assert dense.status_code == 503 and dense.json()["error"] == "model_error"
