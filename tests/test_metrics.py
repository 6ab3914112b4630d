"""Exact-value tests for qa.metrics, and a cross-check of the ranking metrics against trec_eval."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from qa.metrics import (
    ANSWERABLE_KINDS,
    GOLD_KINDS,
    AbstentionScores,
    BestThreshold,
    abstention_scores,
    best_threshold,
    exact_match,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    token_f1,
)


def test_gold_kinds():
    assert GOLD_KINDS[-1] == "unanswerable"
    assert len(set(GOLD_KINDS)) == len(GOLD_KINDS) == 12
    assert "unanswerable" not in ANSWERABLE_KINDS and len(ANSWERABLE_KINDS) == 11


# ---------------------------------------------------------------- exact match
@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("Sochi", ["Sochi"], 1.0),
        ("sochi.", ["Sochi"], 1.0),  # case and punctuation
        ("\u201cSochi\u201d", ["Sochi"], 1.0),  # typographic double quotes
        ("The Kremlin\u2019s spokesman", ["kremlin's spokesman"], 1.0),  # typographic apostrophe, article
        ("an impasse", ["impasse"], 1.0),  # article dropped
        ("  two   hours ", ["two hours"], 1.0),  # whitespace collapsed
        ("two-hour-long", ["two hour long"], 0.0),  # hyphens are removed, not turned into spaces
        ("Sochi resort", ["Sochi"], 0.0),
        ("two hours", ["more than two hours", "two hours"], 1.0),  # best over gold
        ("Washington", ["Sochi", "Moscow"], 0.0),
        ("", ["Sochi"], 0.0),
        (None, ["Sochi"], 0.0),
    ],
)
def test_exact_match(prediction, gold, expected):
    assert exact_match(prediction, gold) == expected


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [("", 1.0), (None, 1.0), ("   ", 1.0), ("the", 1.0), ("Sochi", 0.0)],
)
def test_exact_match_unanswerable(prediction, expected):
    # No gold answers: only an empty prediction (after normalization, as SQuAD v2) is right.
    assert exact_match(prediction, []) == expected


def test_gold_answers_that_normalize_to_nothing_mean_no_answer():
    # SQuAD v2 drops gold answers that normalize to the empty string.
    assert exact_match("", ["the", "..."]) == 1.0
    assert exact_match("Sochi", ["the"]) == 0.0
    assert exact_match("Sochi", ["", "Sochi"]) == 1.0


# ---------------------------------------------------------------- token F1
@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("Sochi", ["Sochi"], 1.0),
        ("Putin", ["Trump"], 0.0),
        # 4 predicted tokens, 2 gold tokens, 2 shared: P=1/2, R=1 -> F1=2/3
        ("more than two hours", ["two hours"], 2 / 3),
        # "the" is dropped: kremlin spokesman dmitry peskov vs dmitry peskov
        ("the Kremlin spokesman Dmitry Peskov", ["Dmitry Peskov"], 2 / 3),
        # best over gold: vs "approximately two and a half hours" P=4/4, R=4/5 -> 8/9 (vs 1/2 for the other)
        ("two and a half hours", ["more than two hours", "approximately two and a half hours"], 8 / 9),
        # tokens are a bag: repeated tokens count once per gold occurrence -> P=1/3, R=1 -> 1/2
        ("no no no", ["no"], 0.5),
        # typographic apostrophe: "Russia’s" and "Russia's" both become "russias"; P=4/4, R=4/6 -> 0.8
        ("Russia\u2019s Black Sea resort", ["Russia's Black Sea resort in Sochi"], 0.8),
        ("", ["Sochi"], 0.0),
        (None, ["Sochi"], 0.0),
    ],
)
def test_token_f1(prediction, gold, expected):
    assert token_f1(prediction, gold) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("prediction", "expected"), [("", 1.0), (None, 1.0), ("a", 1.0), ("Sochi", 0.0)])
def test_token_f1_unanswerable(prediction, expected):
    assert token_f1(prediction, []) == expected


def test_f1_is_at_least_exact_match():
    for pred, gold in [("two hours", ["more than two hours"]), ("Sochi", ["sochi"]), ("x", ["y"])]:
        assert token_f1(pred, gold) >= exact_match(pred, gold)


# ---------------------------------------------------------------- ranked retrieval
RANKED = ["d3", "d1", "d7", "d2", "d5"]
RELEVANT = {"d1", "d2", "d9"}


@pytest.mark.parametrize(("k", "expected"), [(1, 0.0), (2, 1 / 3), (3, 1 / 3), (4, 2 / 3), (10, 2 / 3)])
def test_recall_at_k(k, expected):
    assert recall_at_k(RANKED, RELEVANT, k) == pytest.approx(expected, abs=1e-15)


def test_mrr_at_k():
    assert mrr_at_k(RANKED, RELEVANT) == 0.5
    assert mrr_at_k(RANKED, RELEVANT, k=1) == 0.0
    assert mrr_at_k(["d1"], {"d1"}) == 1.0
    assert mrr_at_k(RANKED, {"d5"}, k=5) == 0.2
    assert mrr_at_k(RANKED, {"d5"}, k=4) == 0.0


def test_ndcg_at_k():
    # Relevant at ranks 2 and 4; three relevant in total, so the ideal puts them at ranks 1-3.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT) == pytest.approx(dcg / idcg, abs=1e-15)
    # At k=2 the ideal DCG is capped at two relevant items.
    assert ndcg_at_k(RANKED, RELEVANT, k=2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)), abs=1e-15)
    assert ndcg_at_k(["d1", "d2"], {"d1", "d2"}) == 1.0
    assert ndcg_at_k(["x", "y"], {"d1"}) == 0.0


def test_retrieval_edge_cases():
    # No relevant ids: every score is 0.0 rather than a division by zero.
    assert recall_at_k(RANKED, set(), 5) == 0.0
    assert mrr_at_k(RANKED, set()) == 0.0
    assert ndcg_at_k(RANKED, set()) == 0.0
    # Empty ranking.
    assert recall_at_k([], RELEVANT, 5) == 0.0
    assert ndcg_at_k([], RELEVANT) == 0.0
    # A repeated id counts once and does not take a rank.
    assert recall_at_k(["d1", "d1", "d2"], {"d1", "d2"}, 2) == 1.0
    assert ndcg_at_k(["d1", "d1", "d2"], {"d1", "d2"}, k=2) == 1.0
    # relevant may be any collection
    assert recall_at_k(RANKED, ["d1", "d2", "d9"], 4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        recall_at_k(RANKED, RELEVANT, 0)


def _random_run(seed: int):
    """Queries with strictly ordered rankings (distinct scores) and several relevant docs."""
    rng = random.Random(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    n_relevant = [1, 2, 3, 5, 8, 12, 15, 4]  # 12 and 15 exceed the cutoff of 10 (ideal DCG is capped)
    for qi, n_rel in enumerate(n_relevant):
        qid = f"q{qi}"
        docs = [f"d{i:03d}" for i in range(60)]
        rng.shuffle(docs)
        retrieved = docs[:30]
        scores = rng.sample(range(1, 100_000), len(retrieved))  # distinct: trec_eval breaks ties by docno
        run[qid] = {doc: float(s) / 7.0 for doc, s in zip(retrieved, scores)}
        relevant = rng.sample(docs, n_rel)  # some relevant docs may be missing from the run
        judged_nonrelevant = rng.sample([d for d in docs if d not in relevant], 5)
        qrels[qid] = {d: 1 for d in relevant} | {d: 0 for d in judged_nonrelevant}
    # A query whose relevant documents were never retrieved.
    run["q_miss"] = {f"d{i:03d}": float(100 - i) for i in range(20)}
    qrels["q_miss"] = {"zzz": 1, "d000": 0}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_trec_eval(seed):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = _random_run(seed)
    ranked = {q: sorted(docs, key=docs.__getitem__, reverse=True) for q, docs in run.items()}
    cut_run = {q: {d: run[q][d] for d in ranked[q][:10]} for q in run}

    cutoffs = (1, 3, 5, 10, 20)
    full = pytrec_eval.RelevanceEvaluator(
        qrels, {"recall." + ",".join(map(str, cutoffs)), "ndcg_cut.5,10"}
    ).evaluate(run)
    cut = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut_run)

    checked = 0
    for qid in run:
        relevant = {d for d, rel in qrels[qid].items() if rel > 0}
        for k in cutoffs:
            assert recall_at_k(ranked[qid], relevant, k) == pytest.approx(full[qid][f"recall_{k}"], abs=1e-9)
        assert ndcg_at_k(ranked[qid], relevant, 10) == pytest.approx(full[qid]["ndcg_cut_10"], abs=1e-9)
        assert ndcg_at_k(ranked[qid], relevant, 5) == pytest.approx(full[qid]["ndcg_cut_5"], abs=1e-9)
        assert mrr_at_k(ranked[qid], relevant, 10) == pytest.approx(cut[qid]["recip_rank"], abs=1e-9)
        checked += 1
    assert checked == len(run) == 9
    # The data must exercise the interesting cases, not just zeros.
    assert any(0 < full[q]["ndcg_cut_10"] < 1 for q in run)
    assert any(0 < cut[q]["recip_rank"] < 1 for q in run)


# ---------------------------------------------------------------- abstention
def test_abstention_scores():
    rows = [
        (True, False),  # correct abstention
        (True, True),  # abstained on an answerable question
        (False, False),  # answered an unanswerable question
        (True, False),  # correct abstention
        (False, True),  # answered an answerable question
    ]
    scores = abstention_scores(rows)
    assert isinstance(scores, AbstentionScores)
    assert scores == AbstentionScores(precision=2 / 3, recall=2 / 3, f1=pytest.approx(2 / 3), abstained=3,
                                      unanswerable=3, correct=2)


def test_abstention_scores_edge_cases():
    assert abstention_scores([]) == AbstentionScores(0.0, 0.0, 0.0, 0, 0, 0)
    never = abstention_scores([(False, False), (False, True)])
    assert (never.precision, never.recall, never.f1) == (0.0, 0.0, 0.0)
    perfect = abstention_scores([(True, False), (False, True)])
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    always = abstention_scores([(True, False), (True, True), (True, True), (True, True)])
    assert (always.precision, always.recall) == (0.25, 1.0)
    assert always.f1 == pytest.approx(0.4)
    with pytest.raises(AttributeError):
        always.precision = 1.0  # frozen


# ---------------------------------------------------------------- threshold sweep
def test_best_threshold():
    rows = [
        (0.9, 1.0, True),
        (0.8, 0.5, True),
        (0.3, 0.0, False),  # answered an unanswerable question
        (0.2, 0.0, True),  # answered wrongly
        (0.1, 0.0, False),
    ]
    # t=0.1: 1.5/5; t=0.2: 2.5/5; t=0.3: 2.5/5; t=0.8: 3.5/5; t=0.9: 3.0/5
    result = best_threshold(rows)
    assert isinstance(result, BestThreshold)
    assert result == (0.8, pytest.approx(0.7))
    threshold, f1 = result  # unpacks like a tuple
    assert (threshold, f1) == (result.threshold, result.f1)


def test_best_threshold_ties_go_to_the_lowest():
    # t=0.5: 1.0/2; t=0.7: abstains on an answerable question it got wrong anyway -> 1.0/2 too.
    assert best_threshold([(0.7, 1.0, True), (0.5, 0.0, True)]) == (0.5, 0.5)
    # All equal: every threshold gives the same F1.
    assert best_threshold([(0.2, 1.0, False), (0.6, 0.0, True)]).threshold == 0.2


def test_best_threshold_float_rounding_ties_go_to_the_lowest():
    # t=0.3 and t=0.5 both give 3.0/5 on paper, but 1 - 0.7 != 0.3 in binary floating point.
    rows = [(0.1, 0.1, True), (0.2, 0.0, False), (0.3, 0.3, True), (0.4, 0.7, False), (0.5, 1.0, True)]
    assert best_threshold(rows) == (0.3, pytest.approx(0.6))


def test_best_threshold_does_not_depend_on_row_order():
    rng = random.Random(7)
    rows = [(round(rng.random(), 2), rng.choice([0.0, 0.25, 1 / 3, 0.5, 2 / 3, 1.0]), rng.random() < 0.7)
            for _ in range(200)]
    expected = best_threshold(rows)
    for _ in range(5):
        rng.shuffle(rows)
        assert best_threshold(rows) == expected
    # Brute force: no candidate threshold beats the chosen one.
    def overall(t):
        return sum((f if c >= t else (0.0 if a else 1.0)) for c, f, a in rows) / len(rows)
    assert expected.f1 == pytest.approx(overall(expected.threshold), abs=1e-12)
    assert all(overall(c) <= expected.f1 + 1e-9 for c, _, _ in rows)
    assert all(overall(c) < expected.f1 - 1e-9 for c, _, _ in rows if c < expected.threshold)


def test_best_threshold_edge_cases():
    assert best_threshold([(0.4, 1.0, True)]) == (0.4, 1.0)
    # Same confidence for all: the only candidate answers everything.
    assert best_threshold([(0.5, 0.0, False), (0.5, 1.0, True)]) == (0.5, 0.5)
    with pytest.raises(ValueError):
        best_threshold([])
    with pytest.raises(ValueError):
        best_threshold([(float("nan"), 1.0, True)])


# ---------------------------------------------------------------- percentile
@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([10, 20, 30, 40, 50], 90, 46.0),
        ([50, 10, 40, 20, 30], 90, 46.0),  # order does not matter
        ([3, 1, 2], 0, 1.0),
        ([3, 1, 2], 100, 3.0),
        ([7.5], 95, 7.5),
        ([1, 2], 25, 1.25),
    ],
)
def test_percentile(values, p, expected):
    assert percentile(values, p) == expected


def test_percentile_matches_numpy():
    rng = random.Random(3)
    values = [rng.expovariate(1 / 40) for _ in range(101)]
    for p in (0, 1, 50, 90, 95, 99, 99.9, 100):
        assert percentile(values, p) == float(np.percentile(values, p))
    assert isinstance(percentile(iter(values), 50), float)


def test_percentile_rejects_bad_input():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([1.0], -1)
