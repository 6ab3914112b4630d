"""qa/bm25.py against rank-bm25's own scores (the oracle), on the seed chunks and on a synthetic corpus."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from qa.bm25 import BM25Matrix, BM25Params, top_k_of

ORACLES = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}
TINY = [["putin", "call", "trump"], ["call", "call", "hour"], ["drone", "kyiv", "putin", "putin"], []]


def synthetic_corpus(n_docs: int, vocab: int, seed: int) -> list[list[str]]:
    """Zipf-distributed words, lengths 0..40: common words in most documents (negative Okapi idf), rare ones once."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab + 1)
    p = (1 / ranks) / (1 / ranks).sum()
    return [[f"w{i}" for i in rng.choice(vocab, size=rng.integers(0, 41), p=p)] for _ in range(n_docs)]


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_tiny_corpus_scores_exactly(variant):
    ours = BM25Matrix.build(TINY, BM25Params(variant, k1=1.2, b=0.75))
    oracle = ORACLES[variant](TINY, k1=1.2, b=0.75)
    for query in (["putin"], ["call", "call", "putin"], ["nothing"], [], ["hour", "kyiv", "trump"]):
        assert np.abs(ours.scores(query) - oracle.get_scores(query)).max() <= 1e-9, query


def test_tiny_corpus_l_values():
    """Hand-checked: N=4, avgdl=10/4, "putin" in 2 docs -> idf = ln 5 - ln 2.5 = ln 2."""
    scores = BM25Matrix.build(TINY, BM25Params("l", k1=1.2, b=0.75)).scores(["putin"])
    c0 = 1 / (0.25 + 0.75 * 3 / 2.5)
    c2 = 2 / (0.25 + 0.75 * 4 / 2.5)
    expected = [np.log(2) * 1 * 2.2 * (c0 + 0.5) / (1.2 + c0 + 0.5), 0.0,
                np.log(2) * 2 * 2.2 * (c2 + 0.5) / (1.2 + c2 + 0.5), 0.0]
    assert scores.tolist() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_seed_chunks_match_rank_bm25(fake_service, variant):
    corpus = [list(t) for t in fake_service.index.chunk_tokens]
    ours = BM25Matrix.build(corpus, BM25Params(variant, k1=1.2, b=0.75))
    oracle = ORACLES[variant](corpus, k1=1.2, b=0.75)
    queries = [list(t) for t in fake_service.index.chunk_tokens[::7]] + [["putin", "putin", "unseenword"]]
    for query in queries:
        assert np.abs(ours.scores(query) - oracle.get_scores(query)).max() <= 1e-9


def _built_and_reloaded(corpus, params: BM25Params, folder) -> tuple[BM25Matrix, BM25Matrix]:
    built = BM25Matrix.build(corpus, params)
    built.save(folder / "bm25")
    return built, BM25Matrix.load(folder / "bm25")


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_synthetic_corpus_matches_rank_bm25_and_survives_saving(tmp_path, variant):
    corpus = synthetic_corpus(2000, 300, seed=7)
    built, loaded = _built_and_reloaded(corpus, BM25Params(variant, k1=1.5, b=0.6), tmp_path)
    assert isinstance(loaded.weights, np.memmap)
    oracle = ORACLES[variant](corpus, k1=1.5, b=0.6)
    rng = np.random.default_rng(3)
    for _ in range(25):
        query = [f"w{i}" for i in rng.integers(0, 320, size=rng.integers(1, 8))]  # some beyond the vocabulary
        expected = oracle.get_scores(query)
        assert np.abs(built.scores(query) - expected).max() <= 1e-9
        assert np.array_equal(loaded.scores(query), built.scores(query))


def test_okapi_floors_negative_idf_like_rank_bm25():
    corpus = [["a", "b"], ["a", "c"], ["a"], ["d"]]  # "a" is in 3 of 4 documents: negative idf, floored
    ours = BM25Matrix.build(corpus, BM25Params("okapi"))
    oracle = BM25Okapi(corpus, k1=1.2, b=0.75)
    assert ours.idf[0] == pytest.approx(oracle.idf["a"], abs=1e-15) and ours.idf[0] > 0


def test_top_k_orders_by_score_then_id_and_keeps_positive_only():
    scores = np.array([0.5, 2.0, 0.0, 2.0, 1.0, -1.0, 0.5])
    ids, values = top_k_of(scores, 4, positive_only=True)
    assert ids.tolist() == [1, 3, 4, 0] and values.tolist() == [2.0, 2.0, 1.0, 0.5]
    assert top_k_of(scores, 10, positive_only=True)[0].tolist() == [1, 3, 4, 0, 6]
    assert top_k_of(scores, 2)[0].tolist() == [1, 3]
    assert top_k_of(scores, 0)[0].tolist() == []


def test_top_k_equals_a_full_sort_on_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=500).astype(float)
    full = sorted(range(500), key=lambda i: (-scores[i], i))
    full = [i for i in full if scores[i] > 0]
    for k in (1, 10, 99, 1000):
        assert top_k_of(scores, k, positive_only=True)[0].tolist() == full[:k]


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="unknown BM25 variant 'bm26'; choose one of okapi, l, plus"):
        BM25Params("bm26")


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_an_updated_matrix_scores_as_one_built_from_the_changed_corpus(tmp_path, variant):
    corpus = synthetic_corpus(400, 120, seed=11)
    params = BM25Params(variant, k1=1.2, b=0.75)
    _, base = _built_and_reloaded(corpus, params, tmp_path)  # as a service holds it: memory-mapped, with its counts
    added = [["w1", "brandnew", "w1"], [], ["w7", "w0"]]
    # document 5 removed, two added after 9 (one empty), the rest kept in order, one added last
    changed = corpus[:5] + corpus[6:10] + added[:2] + corpus[10:] + added[2:]
    rows = np.array([*range(5), *range(6, 10), -1, -1, *range(10, 400), -1])
    updated = base.updated(rows, added)
    fresh = BM25Matrix.build(changed, params)
    shuffled = np.random.default_rng(5).permutation(400)  # documents reordered: postings sorted again
    reordered = base.updated(shuffled, [])
    fresh_order = BM25Matrix.build([corpus[i] for i in shuffled], params)
    tolerance = 1e-12 if variant == "okapi" else 0.0  # Okapi's mean idf: summed in another vocabulary order
    for query in (["w1"], ["brandnew", "w0", "w0"], ["w3", "w50", "unseen"], *changed[::37]):
        assert np.abs(updated.scores(query) - fresh.scores(query)).max() <= tolerance
        assert np.abs(reordered.scores(query) - fresh_order.scores(query)).max() <= tolerance
    assert updated.n_docs == len(changed) and updated.doc_len.tolist() == [len(d) for d in changed]


def test_a_matrix_without_counts_cannot_be_updated(tmp_path):
    old = BM25Matrix.build(TINY, BM25Params())
    no_counts = BM25Matrix(old.params, old.vocab, old.indptr, old.indices, old.weights, old.idf, old.n_docs)
    with pytest.raises(ValueError, match="no term frequencies"):
        no_counts.updated(np.arange(4), [])


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_a_chain_of_adds_and_removes_keeps_the_matrix_a_fresh_build_would_give(variant):
    """Postings moved in place (an article added last, one removed, one put in between, new terms) are the
    very arrays the sorting path gives, and score as a matrix built from the corpus of the moment."""
    params = BM25Params(variant)
    corpus = synthetic_corpus(300, 90, seed=3)
    matrix = BM25Matrix.build(corpus, params)
    steps = [
        ([*range(300), -1], [["w2", "fresh1", "w2"]]),  # added last: the old columns kept as they are
        ([*range(40), *range(41, 301)], []),  # one removed
        ([*range(100), -1, -1, *range(100, 299)], [["w5", "fresh2"], []]),  # two put in between, one empty
        ([-1, *range(1, 301), -1], [["w0"], ["fresh1", "w89"]]),  # the first replaced, one added last
    ]
    steps_sorted_again = [
        ([*range(302), 7, 7], []),  # one document taken twice more (copies of an article)
        ([*range(150, 304), *range(150)], [])]  # reordered
    tolerance = 1e-12 if variant == "okapi" else 0.0
    for rows, added in steps + steps_sorted_again:
        rows = np.array(rows)
        corpus = [corpus[r] if r >= 0 else None for r in rows]
        fill = iter(added)
        corpus = [d if d is not None else next(fill) for d in corpus]
        sorted_again = matrix._resorted(rows, *matrix._counted(rows, added))
        matrix = matrix.updated(rows, added)
        for name in ("indptr", "indices", "tf", "weights", "idf", "doc_len"):
            assert np.array_equal(getattr(matrix, name), getattr(sorted_again, name)), name
        assert matrix.vocab == sorted_again.vocab
        fresh = BM25Matrix.build(corpus, params)
        for query in (["w1"], ["fresh1", "w0", "w0"], ["fresh2", "w89", "unseen"], *corpus[::29]):
            assert np.abs(matrix.scores(query) - fresh.scores(query)).max() <= tolerance


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_posting_weights_are_the_formula_bit_for_bit(variant):
    from qa.bm25 import _posting_weights, _weights

    rng = np.random.default_rng(2)
    doc_len = rng.integers(0, 60, 500)
    col = np.sort(rng.integers(0, 500, 4000)).astype(np.int32)
    tf = rng.integers(1, 6, 4000).astype(np.int32)
    p, avgdl = BM25Params(variant, k1=1.3, b=0.7), float(doc_len.sum()) / 500
    assert _posting_weights(p, tf, doc_len, col, avgdl).tobytes() == \
           _weights(p, tf.astype(np.float64), doc_len[col], avgdl).tobytes()
