"""Retrieval in a Qdrant collection (qa/qdrant_retrieve.py), qdrant-client's local mode over the seeds:
each leg's scores are the embedded retriever's, fusion is the engine's, filters run in the engine,
and an engine that does not answer is a 503 with Retry-After."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from qa.errors import EngineUnavailable
from qa.qdrant_retrieve import Filters, QdrantRetriever
from qa.retrieve import EmbeddedRetriever, Query, rrf
from qa.service import QAService
from tests.helpers import free_port

QUESTION = "drones fired overnight"


@pytest.fixture(scope="module")
def query(fake_service):
    return Query(QUESTION, ("drone", "fire", "overnight"), fake_service.embedder.embed_queries([QUESTION])[0])


def _passages(service) -> QdrantRetriever:
    """The service's retriever with the BM25 leg over whole passages (QA_BM25_PASSAGE_SHARE=1): the engine's
    own sparse scoring and fusion (tests/test_qdrant_bm25_pooled.py checks the pooled default)."""
    r = service.retriever
    return QdrantRetriever(r.index, r.target, r.fusion, r.rrf_k, r.alpha, r.depth, r.passage_share, 1.0)


def _ids(hits):
    return [h.chunk.chunk_id for h in hits]


def test_the_bm25_leg_gives_the_embedded_bm25l_scores(passage_bm25_service, qdrant_service, query):
    embedded = passage_bm25_service.retriever.search(query, 10, "bm25")
    engine = _passages(qdrant_service).search(query, 10, "bm25")
    assert _ids(engine) == _ids(embedded) == ["002_659387b4055fa8dc#8", "001_031c8477739e64ff#8", "000_0909706770c7972d#5"]
    assert [h.score for h in engine] == pytest.approx([h.score for h in embedded], rel=1e-6)
    assert [h.score for h in engine] == pytest.approx([10.998845, 6.878491, 2.972327], abs=1e-6)
    assert [h.bm25_rank for h in engine] == [1, 2, 3] and all(h.dense_rank is None for h in engine)


def test_the_engine_idf_is_bm25l_idf(qdrant_service):
    # one term, in n of the N = 42 passages: the engine's ln(1 + (N - n + 0.5) / (n + 0.5)) = ln((N + 1) / (n + 0.5))
    index = qdrant_service.index
    n = sum("memorandum" in t for t in index.chunk_tokens)
    hits = _passages(qdrant_service).search(Query("memorandum", ("memorandum",), None), 10, "bm25")
    assert len(hits) == n == 2
    idf = math.log((42 + 1) / (n + 0.5))
    weights = {c: s for c, s in zip(_ids(hits), (h.score / idf for h in hits))}
    bm25 = fake_service_weights(index, "memorandum")
    assert weights == pytest.approx(bm25, rel=1e-6)


def fake_service_weights(index, term):
    """BM25L's document side for `term` in each passage holding it (qa/bm25.py's formula)."""
    avgdl = sum(map(len, index.chunk_tokens)) / len(index.chunk_tokens)
    out = {}
    for c, tokens in zip(index.chunks, index.chunk_tokens):
        tf = tokens.count(term)
        if tf:
            ctd = tf / (1 - 0.75 + 0.75 * len(tokens) / avgdl)
            out[c.chunk_id] = tf * 2.2 * (ctd + 0.5) / (1.2 + ctd + 0.5)
    return out


def test_the_dense_leg_pools_the_best_sentence_with_the_passage(fake_service, qdrant_service, query):
    embedded = fake_service.retriever.search(query, 42, "dense")
    engine = qdrant_service.retriever.search(query, 42, "dense")
    assert dict(zip(_ids(engine), (h.score for h in engine))) == \
        pytest.approx(dict(zip(_ids(embedded), (h.score for h in embedded))), abs=1e-6)
    assert [h.dense_rank for h in engine] == list(range(1, 43))


def test_hybrid_is_the_embedded_weighted_fusion_as_an_engine_formula(passage_bm25_service, qdrant_service, query):
    fake_service = passage_bm25_service  # the embedded retriever with the BM25 leg the engine has
    assert qdrant_service.retriever.fusion == "weighted"  # QA_QDRANT_FUSION unset: QA_FUSION's
    embedded = fake_service.retriever.search(query, 42, "hybrid")
    engine = _passages(qdrant_service).search(query, 42, "hybrid")
    assert _ids(engine)[:5] == _ids(embedded)[:5] == ["002_659387b4055fa8dc#8", "001_031c8477739e64ff#8",
                                                      "000_0909706770c7972d#2", "000_0909706770c7972d#3",
                                                      "003_402be4f0d307bbc3#2"]
    assert dict(zip(_ids(engine), (h.score for h in engine))) == \
        pytest.approx(dict(zip(_ids(embedded), (h.score for h in embedded))), abs=1e-6)
    assert [(h.bm25_rank, h.dense_rank) for h in engine] == [(h.bm25_rank, h.dense_rank) for h in embedded]


def test_weighted_fusion_of_a_leg_that_found_nothing_is_the_other_leg(passage_bm25_service, qdrant_service):
    fake_service = passage_bm25_service
    vector = fake_service.embedder.embed_queries(["zzzunseen"])[0]
    q = Query("zzzunseen", ("zzzunseen",), vector)
    engine = qdrant_service.retriever.search(q, 5, "hybrid")
    assert _ids(engine) == _ids(qdrant_service.retriever.search(q, 5, "dense"))
    assert _ids(engine) == _ids(fake_service.retriever.search(q, 5, "hybrid"))
    assert all(h.bm25_rank is None for h in engine)


def test_hybrid_rrf_is_the_engines_rrf_with_our_k(fake_service, qdrant_service, query):
    r = qdrant_service.retriever
    engine = QdrantRetriever(r.index, r.target, fusion="rrf", rrf_k=60, bm25_passage_share=1.0).search(query, 5, "hybrid")
    for h in engine:
        assert h.score == pytest.approx(sum(1 / (60 + r) for r in (h.bm25_rank, h.dense_rank) if r is not None), rel=1e-9)
    mine = EmbeddedRetriever(fake_service.index, fusion="rrf", rrf_k=60, bm25_passage_share=1.0)
    expected = rrf([[d for d, _ in mine.bm25_ranking(query.tokens)], [d for d, _ in mine.dense_ranking(query.vector)]], 60)
    assert _ids(engine) == [fake_service.index.chunks[d].chunk_id for d, _ in expected[:5]]
    assert [(h.bm25_rank, h.dense_rank) for h in engine] == [(1, 5), (2, 8), (3, 35), (None, 1), (None, 2)]


def test_dbsf_normalizes_each_leg_by_mean_and_three_deviations(fake_service, qdrant_service, query):
    r = qdrant_service.retriever
    dbsf = QdrantRetriever(r.index, r.target, fusion="dbsf")
    engine = dbsf.search(query, 42, "hybrid")
    r = _passages(qdrant_service)  # DBSF is the engine's: its BM25 leg scores whole passages
    legs = [dict(zip(_ids(hs), (h.score for h in hs))) for hs in (r.search(query, 42, "bm25"), r.search(query, 42, "dense"))]
    fused: dict[str, float] = {}
    for leg in legs:
        values = np.array(list(leg.values()))
        lo, hi = values.mean() - 3 * values.std(ddof=1), values.mean() + 3 * values.std(ddof=1)  # sample deviation
        for c, s in leg.items():
            fused[c] = fused.get(c, 0.0) + (s - lo) / (hi - lo)
    assert dict(zip(_ids(engine), (h.score for h in engine))) == pytest.approx(fused, abs=1e-6)


def test_filters_run_in_the_engine(qdrant_service, query):
    r = qdrant_service.retriever
    only = r.search(query, 10, "hybrid", Filters(doc_ids=("000_0909706770c7972d",)))
    assert only and {h.chunk.doc_id for h in only} == {"000_0909706770c7972d"}
    by_source = r.search(query, 10, "bm25", Filters(sources=("001_031c8477739e64ff.txt",)))
    assert _ids(by_source) == ["001_031c8477739e64ff#8"] and by_source[0].bm25_rank == 1
    dated = {a.doc_id: a.date for a in qdrant_service.index.articles.values()}
    hits = r.search(query, 42, "dense", Filters(published_from="2025-05-19", published_to="2025-05-19"))
    assert {dated[h.chunk.doc_id] for h in hits} == {"2025-05-19"}
    assert len(hits) == sum(1 for c in qdrant_service.index.chunks if dated[c.doc_id] == "2025-05-19")
    assert r.search(query, 10, "hybrid", Filters(published_from="2030-01-01")) == []


def test_the_service_answers_from_the_engine(qdrant_service):
    result = qdrant_service.ask("How many drones did Russia fire on Ukraine overnight?")
    assert "112" in result.answers[0].text and not result.abstained
    ready = qdrant_service.readiness()
    assert (ready.backend, ready.articles, ready.chunks) == ("qdrant", 5, 42)
    n = len(qdrant_service.index.sentences)
    assert f"collection 'news' green, {47 + n} points" in ready.engine  # 42 passages, 5 article points, n sentences


# ---------------------------------------------------------------- faults
def _unreachable(service: QAService) -> QAService:
    r = service.retriever
    dead = replace(r.target, url=f"http://127.0.0.1:{free_port()}", path=None, timeout_s=2)
    return QAService(service.settings, service.index, service.embedder, QdrantRetriever(service.index, dead))


def test_an_engine_down_mid_question_is_503_with_retry_after(qdrant_service):
    service = _unreachable(qdrant_service)
    with pytest.raises(EngineUnavailable, match=r"Qdrant at http://127\.0\.0\.1:\d+ did not answer"):
        service.ask("How many drones?")
    with TestClient(create_app(service=service), raise_server_exceptions=False) as c:
        r = c.post("/ask", json={"question": "How many drones?"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.json()["error"] == "engine_unavailable" and "did not answer" in r.json()["detail"]
        r = c.get("/search", params={"q": "drones", "mode": "bm25"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["error"] == "engine_unavailable"
        assert c.get("/healthz").status_code == 200


def test_readyz_reports_the_engine(qdrant_service):
    with TestClient(create_app(service=qdrant_service)) as c:
        body = c.get("/readyz").json()
    assert body["backend"] == "qdrant" and body["engine"].startswith("qdrant 1.")


# ---------------------------------------------------------------- the service's Filters, in the engine
@pytest.fixture(scope="module")
def outlet_corpus(tmp_path_factory):
    """The seeds, two of them with metadata sidecars (an outlet, a publication date), in a Qdrant collection."""
    import json
    import shutil

    from tests.conftest import make_settings
    from tests.helpers import SEEDS
    from qa.embed import HashingEmbedder

    tmp = tmp_path_factory.mktemp("qdrant-filters")
    seeds = tmp / "seeds"
    shutil.copytree(SEEDS, seeds)
    names = sorted(p.stem for p in seeds.glob("*.txt"))
    (seeds / f"{names[1]}.meta.json").write_text(json.dumps({"outlet": "Harbour News", "published": "2025-06-01T09:30:00+02:00",
                                                             "url": "https://harbour.example/a", "language": "en-GB"}))
    (seeds / f"{names[2]}.meta.json").write_text(json.dumps({"outlet": "Quay Daily", "published": "2025-04-02"}))
    settings = make_settings(tmp, seeds_dir=seeds, model="hashing-test-embedder", abstain_threshold=0.2,
                             backend="qdrant", qdrant_path=tmp / "qdrant")
    return QAService.open(settings, embedder=HashingEmbedder()), names


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_a_filtered_question_returns_only_the_allowed_sources_passages(outlet_corpus, mode):
    from qa import filters as filtering
    from qa.types import Filters as QueryFilters

    service, names = outlet_corpus
    unfiltered = service.ask(QUESTION, top_k=5, mode=mode)
    assert {p.chunk.doc_id for p in unfiltered.passages} - {names[1]}  # other articles answer when unfiltered
    # an outlet, in another case: only that article's passages
    result = service.ask(QUESTION, top_k=5, mode=mode, filters=QueryFilters(sources=("harbour news",)))
    assert result.passages and {p.chunk.doc_id for p in result.passages} == {names[1]}
    for answer in result.answers:
        assert {c.doc_id for c in answer.citations} == {names[1]}
    # a doc id or an outlet: either passes
    both = service.search(QUESTION, 10, mode, filters=QueryFilters(sources=(names[0], "Quay Daily")))
    assert both and {h.chunk.doc_id for h in both} <= {names[0], names[2]}
    # the day published on, inclusive (09:30 at +02:00 is still 1 June), as qa/filters.py decides
    june = QueryFilters(published_from="2025-06-01", published_to="2025-06-01")
    assert {h.chunk.doc_id for h in service.search(QUESTION, 10, mode, filters=june)} == {names[1]}
    spring = QueryFilters(published_to="2025-05-31")
    allowed = {d for d, a in service.index.articles.items() if filtering.matches(a, spring)}
    assert names[2] in allowed and names[1] not in allowed
    hits = service.search(QUESTION, 10, mode, filters=spring)
    assert hits and {h.chunk.doc_id for h in hits} <= allowed


def test_the_view_carries_the_article_metadata(outlet_corpus):
    service, names = outlet_corpus
    a = service.index.articles[names[1]]
    assert (a.outlet, a.url, a.published, a.language) == ("Harbour News", "https://harbour.example/a",
                                                          "2025-06-01T09:30:00+02:00", "en-GB")
    assert a.date == "2025-06-01"
    assert service.index.articles[names[0]].outlet is None
