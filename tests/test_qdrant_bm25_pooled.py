"""The Qdrant BM25 leg pools sentence scores as the embedded one does (QA_BM25_PASSAGE_SHARE = s):
(1 - s) * the passage's best sentence's BM25L score over the sentence corpus + s * its own, from the
collection's sentence points grouped by passage in the engine (qdrant-client's local mode over the seeds)."""

from __future__ import annotations

import pytest

from qa import qdrant_store as store
from qa.qdrant_retrieve import QdrantRetriever
from qa.retrieve import EmbeddedRetriever, Query
from qa.text import query_tokens
from qa.types import Filters

QUESTIONS = ("drones fired overnight", "memorandum", "Putin said talks", "ceasefire in Ukraine", "prisoner exchange")


def _pair(fake_service, qdrant_service, share: float, fusion: str = "weighted"):
    embedded = EmbeddedRetriever(fake_service.index, fusion=fusion, bm25_passage_share=share)
    engine = QdrantRetriever(qdrant_service.index, qdrant_service.retriever.target, fusion=fusion,
                             bm25_passage_share=share)
    return embedded, engine


def _query(service, text):
    return Query(text, tuple(query_tokens(text)), service.embedder.embed_queries([text])[0])


def _ranking(retriever, index, tokens, flt=None):
    if isinstance(retriever, EmbeddedRetriever):
        ranking = retriever.bm25_ranking(tokens, retriever.chunk_mask(flt))
    else:
        from qa.qdrant_retrieve import engine_filter

        ranking = retriever.bm25_ranking(Query(" ".join(tokens), tuple(tokens), None), engine_filter(flt))
    return [(index.chunks[row].chunk_id, score) for row, score in ranking]


@pytest.mark.parametrize("share", [0.0, 0.5])
@pytest.mark.parametrize("text", QUESTIONS)
def test_the_pooled_bm25_leg_has_the_embedded_scores(fake_service, qdrant_service, share, text):
    embedded, engine = _pair(fake_service, qdrant_service, share)
    tokens = tuple(query_tokens(text))
    a = _ranking(embedded, fake_service.index, tokens)
    b = _ranking(engine, qdrant_service.index, tokens)
    assert a, text
    assert [c for c, _ in b] == [c for c, _ in a]
    assert [s for _, s in b] == pytest.approx([s for _, s in a], rel=1e-6)


def test_the_default_is_the_best_sentence(fake_service, qdrant_service):
    """s = 0: a passage scores exactly its best sentence's BM25L score over the sentence corpus."""
    embedded, engine = _pair(fake_service, qdrant_service, 0.0)
    tokens = ("drone", "fire", "overnight")
    sentence = embedded.sentence_bm25.scores(tokens)
    for row, score in engine.bm25_ranking(Query("", tokens, None), None):
        a, b = qdrant_service.index.chunks[row].sentences
        assert score == pytest.approx(float(sentence[a:b].max()), rel=1e-6)


def test_one_sentence_point_per_sentence_and_overlaps_in_two_passages(qdrant_service):
    """N and n of the engine's IDF are the sentence corpus's: each sentence once, naming every passage holding it."""
    index = qdrant_service.index
    points = [p for p, _ in store.scroll(qdrant_service.retriever.target, store._kind("sentence"), True, False)]
    assert len(points) == len(index.sentences)
    holders: dict[int, list[str]] = {}
    for c in index.chunks:
        for i in range(*c.sentences):
            holders.setdefault(i, []).append(c.chunk_id)
    first = {}
    for s in index.sentences:
        first.setdefault(s.doc_id, s.index)
    got = {first[p["doc_id"]] + p["ordinal"]: p["chunk_ids"] for p in points}
    assert got == {i: holders.get(i, []) for i in range(len(index.sentences))}
    assert any(len(v) == 2 for v in got.values())  # the seeds' passages overlap


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_filters_apply_to_the_pooled_leg(fake_service, qdrant_service, share):
    embedded, engine = _pair(fake_service, qdrant_service, share)
    tokens = ("drone", "fire", "overnight")
    for flt in (Filters(sources=("001_031c8477739e64ff",)), Filters(published_from="2025-05-19", published_to="2025-05-19"),
                Filters(published_from="2030-01-01")):
        a = _ranking(embedded, fake_service.index, tokens, flt)
        b = _ranking(engine, qdrant_service.index, tokens, flt)
        assert [c for c, _ in b] == [c for c, _ in a]
        assert [s for _, s in b] == pytest.approx([s for _, s in a], rel=1e-6)


def test_a_shallow_depth_keeps_the_exact_top(fake_service, qdrant_service):
    """depth 2 at s = 0.5: a passage missing from one list is asked for its score there."""
    embedded = EmbeddedRetriever(fake_service.index, depth=2, bm25_passage_share=0.5)
    engine = QdrantRetriever(qdrant_service.index, qdrant_service.retriever.target, depth=2, bm25_passage_share=0.5)
    for text in QUESTIONS:
        tokens = tuple(query_tokens(text))
        a, b = _ranking(embedded, fake_service.index, tokens), _ranking(engine, qdrant_service.index, tokens)
        assert [c for c, _ in b] == [c for c, _ in a]
        assert [s for _, s in b] == pytest.approx([s for _, s in a], rel=1e-6)


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_search_is_the_embedded_search(fake_service, qdrant_service, fusion, mode):
    embedded, engine = _pair(fake_service, qdrant_service, 0.0, fusion)
    for text in QUESTIONS:
        q = _query(fake_service, text)
        a, b = embedded.search(q, 10, mode), engine.search(q, 10, mode)
        assert [h.chunk.chunk_id for h in b] == [h.chunk.chunk_id for h in a]
        assert [h.score for h in b] == pytest.approx([h.score for h in a], rel=1e-5)
        assert [(h.bm25_rank, h.dense_rank) for h in b] == [(h.bm25_rank, h.dense_rank) for h in a]
