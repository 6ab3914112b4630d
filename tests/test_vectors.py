"""qa/vectors.py: exact search on small data, the HNSW graph against it, saving and loading the graph."""

from __future__ import annotations

import numpy as np
import pytest

from qa.bm25 import top_k_of
from qa.vectors import HnswParams, VectorIndex, recall_at_k

SMALL = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0], [0.6, 0.8]], dtype=np.float32)


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_top_k_orders_by_score_then_id():
    index = VectorIndex(SMALL, exact_below=100)
    ids, scores = index.top_k(np.array([0.8, 0.6], dtype=np.float32), 4)
    assert index.exact and index.graph is None
    assert ids.tolist() == [1, 4, 0, 2]  # 0.96, 0.96 (tie: lower id first), 0.8, 0.6
    assert scores.tolist() == pytest.approx([0.96, 0.96, 0.8, 0.6])
    assert index.top_k(np.array([1, 0], dtype=np.float32), 10)[0].tolist() == [0, 1, 4, 2, 3]


def test_hnsw_finds_the_exact_neighbours_and_survives_a_save(tmp_path):
    vectors = unit_rows(3000, 32, seed=5)
    approx = VectorIndex(vectors, exact_below=1000, hnsw=HnswParams(m=16, ef_construction=80, ef_search=64))
    assert not approx.exact and approx.graph is not None
    queries = unit_rows(50, 32, seed=6)
    recalls = [recall_at_k(approx.top_k(q, 10)[0], approx.exact_top_k(q, 10)[0]) for q in queries]
    assert np.mean(recalls) >= 0.95
    ids, scores = approx.top_k(queries[0], 10)
    assert scores.tolist() == pytest.approx((vectors[ids] @ queries[0]).tolist(), abs=1e-5)
    assert scores.tolist() == sorted(scores.tolist(), reverse=True)
    approx.save(tmp_path / "dense.hnsw")
    np.save(tmp_path / "v.npy", vectors)
    loaded = VectorIndex.load(np.load(tmp_path / "v.npy", mmap_mode="r"), tmp_path / "dense.hnsw", exact_below=1000,
                              hnsw=HnswParams(m=16, ef_search=64))
    assert loaded.top_k(queries[0], 10)[0].tolist() == ids.tolist()


def test_a_graph_of_another_size_is_refused(tmp_path):
    vectors = unit_rows(300, 8, seed=1)
    VectorIndex(vectors, exact_below=10).save(tmp_path / "g")
    with pytest.raises(ValueError, match="holds 300 vectors, not 200"):
        VectorIndex.load(vectors[:200], tmp_path / "g", exact_below=10)


def test_recall_at_k():
    assert recall_at_k(np.array([1, 2, 3]), np.array([3, 4, 1])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("allowed_rows", [slice(100, None), slice(1, None, 7)])
def test_a_filtered_search_looks_among_the_allowed_rows_only(allowed_rows):
    """Most rows allowed (one product over all, then the allowed ones) or few (the allowed rows gathered first):
    the same top 5 as a search of the allowed rows alone."""
    vectors = unit_rows(300, 16, seed=7)
    query = vectors[0] + 0.1 * vectors[1]
    mask = np.zeros(300, dtype=bool)
    mask[allowed_rows] = True  # row 0, the best match overall, is not allowed
    allowed = np.flatnonzero(mask)
    exact_ids, exact_scores = top_k_of(vectors[allowed] @ query, 5)
    for exact_below in (1_000, 30):  # below: exact over the allowed rows; above: the graph with a selector
        index = VectorIndex(vectors, exact_below=exact_below)
        assert (index.graph is None) == (exact_below == 1_000)
        ids, scores = index.top_k(query, 5, mask)
        assert ids.tolist() == allowed[exact_ids].tolist()
        assert np.allclose(scores, exact_scores, atol=1e-6)


def near_copies(n: int, dim: int, step: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A query and `n` rows around it whose cosines with it differ by less than one 8-bit step."""
    rng = np.random.default_rng(seed)
    query = unit_rows(1, dim, seed)[0]
    rows = query + step * np.arange(1, n + 1)[:, None] * rng.standard_normal((n, dim)).astype(np.float32)
    return query, (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_an_8_bit_graph_rescores_its_candidates_on_the_float_vectors():
    query, close = near_copies(8, 16, 1e-4, seed=3)
    vectors = np.concatenate([unit_rows(1500, 16, seed=4), close])
    exact_ids, exact_scores = top_k_of(vectors @ query, 5)
    assert set(exact_ids.tolist()) <= set(range(1500, 1508))  # the near copies, in an order below 8 bits
    index = VectorIndex(vectors, exact_below=1000, hnsw=HnswParams(m=16, ef_search=64, storage="sq8", rescore=10))
    approx_scores, approx_ids = index.graph.search(query.reshape(1, -1), 5)
    assert approx_ids[0].tolist() != exact_ids.tolist()  # the codes alone: neither the exact order
    assert not np.allclose(approx_scores[0], exact_scores, atol=1e-6)  # nor the exact scores
    assert not index.exact_scores
    ids, scores = index.top_k(query, 5)
    assert ids.tolist() == exact_ids.tolist()
    assert scores.tolist() == pytest.approx(exact_scores.tolist(), abs=1e-6)
    flat = VectorIndex(vectors, exact_below=1000, hnsw=HnswParams(m=16, ef_search=64, storage="flat"))
    assert flat.exact_scores and flat.top_k(query, 5)[0].tolist() == exact_ids.tolist()


def test_the_graph_storage_and_rescore_are_validated():
    from pydantic import ValidationError

    from qa.config import Settings
    from qa.service import hnsw_params

    with pytest.raises(ValueError, match="'pq' is not one of flat, sq8"):
        HnswParams(storage="pq")
    with pytest.raises(ValueError, match="rescore must be >= 0, not -1"):
        HnswParams(rescore=-1)
    with pytest.raises(ValidationError, match="hnsw_storage"):
        Settings(_env_file=None, hnsw_storage="pq")
    assert hnsw_params(Settings(_env_file=None, hnsw_storage="flat")).storage == "flat"
    assert hnsw_params(Settings(_env_file=None)) == HnswParams()


@pytest.mark.parametrize("storage", ["sq8", "flat"])
def test_a_graph_mapped_onto_moved_removed_and_new_rows_searches_as_exact_search_does(storage):
    """A graph built over 800 vectors, then its index changed as updates change it: the first 100 rows
    removed (their vectors stay in the graph), 50 new rows placed first and 50 last (the graph does not
    hold them: the tail). Every query's top 10 is the exact top 10 of the live rows, with or without a mask,
    and never a removed vector."""
    from qa.vectors import build_hnsw

    params = HnswParams(m=16, ef_search=200, storage=storage)
    old = unit_rows(800, 24, seed=11)
    graph = build_hnsw(old, params)
    first, last = unit_rows(50, 24, seed=12), unit_rows(50, 24, seed=13)
    vectors = np.concatenate([first, old[100:], last])  # rows: 50 new, 700 kept, 50 new
    rows = np.concatenate([np.full(100, -1), np.arange(50, 750)])
    index = VectorIndex(vectors, exact_below=10, hnsw=params, graph=graph, graph_rows=rows)
    assert index._tail.tolist() == list(range(50)) + list(range(750, 800))
    mask = np.zeros(len(vectors), dtype=bool)
    mask[::3] = True  # 267 rows allowed: more than exact_below, so the graph is searched with a selector
    queries = np.concatenate([unit_rows(20, 24, seed=14), old[:5], first[:5], last[:5]])
    for q in queries:
        ids, scores = index.top_k(q, 10)
        exact_ids, exact_scores = top_k_of(vectors @ q, 10)
        assert recall_at_k(ids, exact_ids) == 1.0 and np.allclose(scores, exact_scores, atol=1e-6)
        masked, _ = index.top_k(q, 10, mask)
        allowed = np.flatnonzero(mask)
        assert set(masked.tolist()) == set(allowed[top_k_of(vectors[allowed] @ q, 10)[0]].tolist())
    with pytest.raises(ValueError, match="do not map"):
        VectorIndex(vectors[:700], exact_below=10, hnsw=params, graph=graph, graph_rows=rows)
