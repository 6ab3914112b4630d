"""Evaluation metrics: answer overlap (SQuAD v2), ranked retrieval (trec_eval), abstention.

Every function is pure: it takes predictions and gold labels as plain values and returns numbers,
so the evaluation harness and the tests can use them without building the service. Nothing here
reads the gold file; the gold file is only read by the evaluation harness and its tests.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from qa.text import normalize_answer

# Question kinds of the gold QA set, each defined in eval/README.md.
GOLD_KINDS: tuple[str, ...] = (
    "who",
    "what",
    "when",
    "where",
    "how_many",
    "how_long",
    "yes_no",
    "said",
    "list",
    "corroborated",
    "paraphrase",
    "unanswerable",
)
# Kinds whose questions the articles answer; every one must appear in the gold set.
ANSWERABLE_KINDS: tuple[str, ...] = tuple(k for k in GOLD_KINDS if k != "unanswerable")


# ---------------------------------------------------------------- answer overlap (SQuAD v2)
def _gold_or_empty(gold_answers: Iterable[str]) -> list[str]:
    """SQuAD v2 drops gold answers that normalize to nothing; none left means 'no answer'."""
    kept = [g for g in gold_answers if normalize_answer(g)]
    return kept or [""]


def _tokens(text: str | None) -> list[str]:
    return normalize_answer(text or "").split()


def _f1_one(prediction: str | None, gold: str) -> float:
    pred_toks, gold_toks = _tokens(prediction), _tokens(gold)
    if not pred_toks or not gold_toks:
        # One side is empty: right only if both are (SQuAD v2's no-answer rule).
        return float(pred_toks == gold_toks)
    same = sum((Counter(pred_toks) & Counter(gold_toks)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_toks)
    recall = same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str | None, gold_answers: Iterable[str]) -> float:
    """1.0 if the normalized prediction equals any normalized gold answer.

    With no gold answers (an unanswerable question) only an empty or None prediction scores 1.0.
    """
    pred = normalize_answer(prediction or "")
    return float(any(pred == normalize_answer(g) for g in _gold_or_empty(gold_answers)))


def token_f1(prediction: str | None, gold_answers: Iterable[str]) -> float:
    """SQuAD token F1 (bag of normalized tokens), best over the gold answers.

    With no gold answers only an empty or None prediction scores 1.0.
    """
    return max(_f1_one(prediction, g) for g in _gold_or_empty(gold_answers))


# ---------------------------------------------------------------- ranked retrieval (trec_eval)
def _top_k(ranked: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids: a repeated id must not count twice."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranked:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
            if len(out) == k:
                break
    return out


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant ids found in the top k (trec_eval recall_k); 0.0 if none are relevant."""
    top = _top_k(ranked, k)
    if not relevant:
        return 0.0
    return sum(1 for doc in top if doc in relevant) / len(relevant)


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 if any relevant id is in the top k, else 0.0 (trec_eval success_k). Unlike recall it does not
    ask for every relevant passage: a fact two overlapping passages hold is found by either."""
    return float(any(doc in relevant for doc in _top_k(ranked, k)))


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the top k, else 0.0 (trec_eval recip_rank on a cut run)."""
    for rank, doc in enumerate(_top_k(ranked, k), start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k with a log2(rank + 1) discount, as trec_eval's ndcg_cut.

    The ideal DCG ranks min(|relevant|, k) relevant ids first; 0.0 if none are relevant.
    """
    top = _top_k(ranked, k)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(top, start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


# ---------------------------------------------------------------- abstention
@dataclass(frozen=True, slots=True)
class AbstentionScores:
    """How well the system abstains exactly on the unanswerable questions."""

    precision: float  # of the questions it abstained on, the share that were unanswerable
    recall: float  # of the unanswerable questions, the share it abstained on
    f1: float
    abstained: int
    unanswerable: int
    correct: int  # abstained on an unanswerable question


def abstention_scores(rows: Iterable[tuple[bool, bool]]) -> AbstentionScores:
    """Precision and recall of abstaining, from (abstained, answerable) per question.

    An empty denominator gives 0.0, so a system that never abstains gets precision 0.0.
    """
    abstained = unanswerable = correct = 0
    for did_abstain, answerable in rows:
        abstained += bool(did_abstain)
        unanswerable += not answerable
        correct += bool(did_abstain) and not answerable
    precision = correct / abstained if abstained else 0.0
    recall = correct / unanswerable if unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return AbstentionScores(precision, recall, f1, abstained, unanswerable, correct)


# Mean-F1 differences at or below this are ties: F1 values are floats, so totals that are equal
# on paper can differ in the last bits.
_TIE_EPS = Fraction(1, 10**9)


class BestThreshold(NamedTuple):
    """Unpacks as (threshold, f1); named so callers need not remember the order."""

    threshold: float
    f1: float


def best_threshold(rows: Iterable[tuple[float, float, bool]]) -> BestThreshold:
    """The confidence threshold that maximizes overall F1, like SQuAD 2.0's best_f1_thresh.

    Each row is (confidence of the top answer, its F1 if answered, is_answerable). At threshold t
    the system abstains when confidence < t; a question scores its F1 when answered, and when
    abstaining 1.0 if unanswerable else 0.0. Candidates are the distinct confidences; a higher
    threshold must beat the best so far by more than 1e-9 in F1, so ties (up to float rounding)
    go to the lowest threshold and the choice is deterministic.
    """
    items = [(float(c), float(f), bool(a)) for c, f, a in rows]
    if not items:
        raise ValueError("best_threshold needs at least one row")
    if any(math.isnan(c) or not math.isfinite(f) for c, f, _ in items):
        raise ValueError("confidences must not be NaN and F1 values must be finite")
    items.sort(key=lambda r: r[0])
    n = len(items)
    # Exact sums (Fraction) so the result does not depend on the order of the rows.
    # At the lowest threshold every question is answered; raising t past a confidence group
    # switches that group from its F1 to its abstention score.
    score = sum((Fraction(f) for _, f, _ in items), Fraction(0))
    best_t, best_score = items[0][0], score
    i = 0
    while i < n:
        conf = items[i][0]
        while i < n and items[i][0] == conf:
            _, f, answerable = items[i]
            score += (0 if answerable else 1) - Fraction(f)
            i += 1
        if i < n and score - best_score > _TIE_EPS * n:
            best_t, best_score = items[i][0], score
    return BestThreshold(best_t, float(best_score / n))


# ---------------------------------------------------------------- latency and other summaries
def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation, exactly numpy's default method."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"p must be within [0, 100], got {p}")
    return float(np.percentile(data, p))
