import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from qa.retrieve import EmbeddedRetriever, Query, Spans, pooled, ranked, rrf, weighted
from qa.text import tokenize


def test_rrf_exact_order_and_scores():
    fused = rrf([[3, 1, 2], [1, 4]], k=60)
    assert [d for d, _ in fused] == [1, 3, 4, 2]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)
    assert fused[3][1] == pytest.approx(1 / 63)


def test_rrf_breaks_ties_by_id():
    assert rrf([[5, 2], [2, 5]], k=1) == [(2, 1 / 2 + 1 / 3), (5, 1 / 2 + 1 / 3)]


def test_weighted_fusion_normalizes_each_leg():
    fused = weighted([{0: 10.0, 1: 5.0, 2: 0.0}, {1: 0.9, 3: 0.1}], [0.5, 0.5])
    assert fused == [(1, pytest.approx(0.75)), (0, 0.5), (2, 0.0), (3, 0.0)]  # ties by id


def test_weighted_fusion_equals_the_loop_that_defines_it():
    """Over arrays, bit for bit what a dictionary loop gives, on legs that overlap in part, a flat leg and
    an empty one."""
    def by_loop(legs, weights):
        fused = {}
        for scores, weight in zip(legs, weights):
            if scores:
                lo, hi = min(scores.values()), max(scores.values())
                for doc, score in scores.items():
                    norm = (score - lo) / (hi - lo) if hi > lo else 1.0
                    fused[doc] = fused.get(doc, 0.0) + weight * norm
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    rng = np.random.default_rng(11)
    for trial in range(20):
        legs = [{int(d): float(v) for d, v in zip(rng.choice(300, 120, replace=False), rng.random(120) * 9)}
                for _ in range(2)]
        legs[trial % 2] = {5: 0.3, 9: 0.3} if trial % 5 == 0 else legs[trial % 2]
        legs[1] = {} if trial % 7 == 0 else legs[1]
        weights = [1 - trial / 20, trial / 20]
        assert weighted(legs, weights) == by_loop(legs, weights)


def test_pooled_blends_the_best_sentence_with_the_passage():
    sentences = np.array([0.1, 0.9, 0.3, 0.5, 0.7])
    passages = np.array([0.4, 0.2, 0.6])
    spans = [(0, 2), (2, 4), (4, 4)]  # the last passage has no sentence rows: its own score stands
    assert pooled(sentences, passages, spans, 0.25).tolist() == pytest.approx([0.775, 0.425, 0.6])
    assert pooled(sentences, passages, spans, 0.0).tolist() == pytest.approx([0.9, 0.5, 0.6])
    assert pooled(sentences, passages, spans, 1.0).tolist() == pytest.approx([0.4, 0.2, 0.6])


def test_spans_pool_every_passage_as_a_loop_over_its_sentences_would():
    """Laid out once (overlapping windows, passages without sentences, float32 vectors' scores), the best
    sentence per passage equals a passage-by-passage max, bit for bit."""
    rng = np.random.default_rng(7)
    sentences = rng.random(500).astype(np.float32)
    passages = rng.random(200).astype(np.float32)
    starts = rng.integers(0, 500, 200)
    spans = [(int(a), int(min(500, a + n))) for a, n in zip(starts, rng.integers(0, 9, 200))]
    laid_out = Spans(spans)
    by_loop = np.array([sentences[a:b].max() if b > a else passages[i] for i, (a, b) in enumerate(spans)],
                       dtype=np.float64)
    assert laid_out.best(sentences, passages).tobytes() == by_loop.tobytes()
    assert Spans([]).best(np.zeros(0), np.zeros(0)).shape == (0,)


def test_ranked_is_strict_and_can_drop_zeros():
    assert ranked(np.array([0.5, 0.0, 0.5, 0.7])) == [(3, 0.7), (0, 0.5), (2, 0.5), (1, 0.0)]
    assert ranked(np.array([0.0, 0.2]), positive_only=True) == [(1, pytest.approx(0.2))]


def bm25l_by_hand(corpus, query, k1=1.2, b=0.75, delta=0.5):
    """BM25L (Lv & Zhai 2011) as rank-bm25 0.2.2 computes it: idf = log((N + 1) / (df + 0.5)),
    c = tf / (1 - b + b * dl / avgdl), term score = idf * tf * (k1 + 1) * (c + delta) / (k1 + c + delta).
    (The factor tf is rank-bm25's, not the paper's; it also makes a document without the term score 0.)"""
    n = len(corpus)
    avgdl = sum(map(len, corpus)) / n
    scores = []
    for doc in corpus:
        s = 0.0
        for q in query:
            df = sum(q in d for d in corpus)
            if not df:
                continue
            idf = math.log((n + 1) / (df + 0.5))
            c = doc.count(q) / (1 - b + b * len(doc) / avgdl)
            s += idf * doc.count(q) * (k1 + 1) * (c + delta) / (k1 + c + delta)
        scores.append(s)
    return scores


def test_bm25_leg_matches_rank_bm25_and_the_formula(fake_service):
    r = EmbeddedRetriever(fake_service.index, bm25_passage_share=1.0)  # passages scored as wholes
    corpus = [list(t) for t in fake_service.index.chunk_tokens]
    query = ["putin", "agre", "memorandum"]
    expected = bm25l_by_hand(corpus, query)
    got = dict(r.bm25_ranking(query))
    for i, score in enumerate(expected):
        assert got.get(i, 0.0) == pytest.approx(score, rel=1e-9)


def test_bm25_leg_scores_a_passage_by_its_best_sentence(fake_service):
    index = fake_service.index
    r = fake_service.retriever
    assert r.bm25_passage_share == 0.0
    sentences = [tokenize(s.text) for s in index.sentences]  # each sentence a document of its own
    query = ["putin", "agre", "memorandum"]
    by_sentence = bm25l_by_hand(sentences, query)
    expected = {i: max(by_sentence[c.sentences[0]:c.sentences[1]]) for i, c in enumerate(index.chunks)}
    got = dict(r.bm25_ranking(query))
    assert set(got) == {i for i, v in expected.items() if v > 0}
    for i, score in got.items():
        assert score == pytest.approx(expected[i], rel=1e-9)


def test_okapi_floors_common_terms_which_bm25l_does_not(fake_service):
    corpus = [list(t) for t in fake_service.index.chunk_tokens]
    okapi = BM25Okapi(corpus)
    # "putin" is in more than half the chunks: Okapi's idf would be negative, so it is floored.
    df = sum("putin" in d for d in corpus)
    assert df > len(corpus) / 2
    assert okapi.idf["putin"] == pytest.approx(okapi.epsilon * okapi.average_idf)


def test_search_reports_each_legs_rank(fake_service):
    r = fake_service.retriever
    assert isinstance(r, EmbeddedRetriever) and (r.fusion, r.alpha, r.dense_passage_share) == ("weighted", 0.5, 0.2)
    vector = fake_service.embedder.embed_queries(["drones fired overnight"])[0]
    q = Query("drones fired overnight", ("drone", "fire", "overnight"), vector)
    bm25 = r.search(q, 5, "bm25")
    dense = r.search(q, 5, "dense")
    hybrid = r.search(q, 5, "hybrid")
    # the BM25 leg lists only chunks that contain a query term
    assert [h.bm25_rank for h in bm25] == list(range(1, len(bm25) + 1)) and all(h.dense_rank is None for h in bm25)
    assert all(h.score > 0 for h in bm25) and 1 <= len(bm25) <= 5
    assert [h.dense_rank for h in dense] == [1, 2, 3, 4, 5] and all(h.bm25_rank is None for h in dense)
    expected = weighted([dict(r.bm25_ranking(q.tokens)), dict(r.dense_ranking(vector))], [0.5, 0.5])[:5]
    assert [(h.chunk.ordinal, h.chunk.doc_id, h.score) for h in hybrid] == \
        [(fake_service.index.chunks[d].ordinal, fake_service.index.chunks[d].doc_id, s) for d, s in expected]
    assert "112 drones" in bm25[0].chunk.text


def test_rrf_fusion_sums_reciprocal_ranks(fake_service):
    r = EmbeddedRetriever(fake_service.index, fusion="rrf", rrf_k=60)
    vector = fake_service.embedder.embed_queries(["drones fired overnight"])[0]
    hybrid = r.search(Query("drones fired overnight", ("drone", "fire", "overnight"), vector), 5, "hybrid")
    for h in hybrid:
        assert h.score == pytest.approx(sum(1 / (60 + rank) for rank in (h.bm25_rank, h.dense_rank) if rank is not None))
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)


def test_dense_leg_scores_a_passage_by_its_best_sentence_and_a_share_of_itself(fake_service):
    index = fake_service.index
    vector = fake_service.embedder.embed_queries(["drones fired overnight"])[0]
    scores = dict(EmbeddedRetriever(index, dense_passage_share=0.2).dense_ranking(vector))
    for i, chunk in enumerate(index.chunks):
        a, b = chunk.sentences
        best = max(float(index.sentence_vectors[k] @ vector) for k in range(a, b))
        assert scores[i] == pytest.approx(0.8 * best + 0.2 * float(index.chunk_vectors[i] @ vector))
    whole = EmbeddedRetriever(index, dense_passage_share=1.0).dense_ranking(vector)
    assert whole == ranked(index.chunk_vectors @ vector)


def test_idf_is_positive_and_unseen_words_weigh_most(fake_service):
    r = fake_service.retriever
    assert 0 < r.idf("putin") < r.idf("memorandum") < r.idf("zzzunseen")


def test_each_leg_hands_fusion_its_top_depth_and_the_full_ranking_agrees(fake_service):
    index = fake_service.index
    full = EmbeddedRetriever(index, depth=10_000)
    short = EmbeddedRetriever(index, depth=3)
    vector = fake_service.embedder.embed_queries(["drones fired overnight"])[0]
    tokens = ("drone", "fire", "overnight")
    assert short.bm25_ranking(tokens) == full.bm25_ranking(tokens)[:3]
    assert short.dense_ranking(vector) == full.dense_ranking(vector)[:3]
    spans = [c.sentences for c in index.chunks]
    assert full.dense_ranking(vector) == ranked(pooled(index.sentence_vectors @ vector, index.chunk_vectors @ vector,
                                                       spans, full.dense_passage_share))
    whole = EmbeddedRetriever(index, depth=10_000, dense_passage_share=1.0)  # whole passages: the vector index's ranking
    assert whole.dense_ranking(vector) == ranked(index.chunk_vectors @ vector)
    assert len(full.dense_ranking(vector)) == len(index.chunks)
