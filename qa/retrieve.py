"""Retrieval: a BM25 leg, a dense leg, and their fusion.

`Retriever` is the seam the service and reader use; `EmbeddedRetriever` serves it from the in-memory
index. An external search engine can stand in by implementing `search` and `idf`. `filters` (qa/filters.py)
restrict each leg's candidates before its top k is taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from qa import filters as filtering
from qa.bm25 import VARIANTS as BM25_VARIANTS, BM25Params, top_k_of
from qa.derived import RetrievalParams, complete
from qa.index import Index
from qa.renumbered import sentence_spans
from qa.types import Filters, Hit
from qa.vectors import HnswParams, VectorIndex


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    tokens: tuple[str, ...]
    vector: np.ndarray | None  # None in bm25 mode: no encoder call is needed


class Retriever(Protocol):
    def search(self, query: Query, k: int, mode: str, filters: Filters | None = None) -> list[Hit]: ...

    def idf(self, token: str) -> float: ...


# ---------------------------------------------------------------- fusion (pure)
def fused_hits(chunks, lexical: list[tuple[int, float]], dense: list[tuple[int, float]], mode: str, fusion: str,
               alpha: float, rrf_k: int, k: int) -> list[Hit]:
    """The top k passages of one leg ("bm25", "dense") or of both fused (rrf or weighted), each with its
    rank in each leg (1-based; None where the leg did not find it)."""
    if mode == "bm25":
        fused = lexical
    elif mode == "dense":
        fused = dense
    elif fusion == "rrf":
        fused = rrf([[d for d, _ in lexical], [d for d, _ in dense]], rrf_k)
    else:
        fused = weighted([dict(lexical), dict(dense)], [1 - alpha, alpha])
    bm25_rank = {doc: r for r, (doc, _) in enumerate(lexical, 1)}
    dense_rank = {doc: r for r, (doc, _) in enumerate(dense, 1)}
    return [Hit(chunks[doc], score, bm25_rank.get(doc), dense_rank.get(doc)) for doc, score in fused[:k]]


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank), rank from 1.
    Ties are broken by id, so the order is strict and repeatable."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, 1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def weighted(legs: Sequence[dict[int, float]], weights: Sequence[float]) -> list[tuple[int, float]]:
    """Weighted sum of min-max normalized scores; a document missing from a leg scores 0 there. Worked out
    over arrays (legs of a thousand passages each), the same additions in the same order as a loop would."""
    arrays = [(np.fromiter(scores.keys(), np.int64, len(scores)), np.fromiter(scores.values(), np.float64, len(scores)))
              for scores in legs]
    docs = np.unique(np.concatenate([np.zeros(0, np.int64), *(ids for ids, _ in arrays)]))
    fused = np.zeros(len(docs))
    for (ids, scores), weight in zip(arrays, weights):
        if not len(ids):
            continue
        lo, hi = scores.min(), scores.max()
        span = hi - lo
        norm = (scores - lo) / span if span > 0 else np.ones(len(scores))
        fused[np.searchsorted(docs, ids)] += weight * norm  # a leg names a passage once
    order = np.lexsort((docs, -fused))
    return list(zip(docs[order].tolist(), fused[order].tolist()))


class Spans:
    """Each passage's [first, last) rows of the sentence scores, laid out once so that every passage's best
    sentence is one numpy gather and one `maximum.reduceat` (a Python pass over 30,000 passages took 20 ms)."""

    def __init__(self, spans: Sequence[tuple[int, int]]):
        bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        lengths = bounds[:, 1] - bounds[:, 0]
        self.held = np.flatnonzero(lengths > 0)  # passages with sentences (the others keep their own score)
        held = lengths[self.held]
        self.offsets = np.concatenate([[0], np.cumsum(held)[:-1]]).astype(np.int64) if len(held) else held
        self.rows = (np.repeat(bounds[self.held, 0] - self.offsets, held) + np.arange(int(held.sum()))
                     if len(held) else np.zeros(0, np.int64))

    def best(self, sentence_scores: np.ndarray, passage_scores: np.ndarray) -> np.ndarray:
        """Per passage: its best sentence's score, or its own where it has no sentence (float64, a new array)."""
        out = np.array(passage_scores, dtype=np.float64)
        if len(self.held):
            out[self.held] = np.maximum.reduceat(np.asarray(sentence_scores)[self.rows], self.offsets)
        return out


def pooled(sentence_scores: np.ndarray, passage_scores: np.ndarray, spans: Spans | Sequence[tuple[int, int]],
           passage_share: float) -> np.ndarray:
    """A passage's score from its sentences: (1 - share) * its best sentence's score + share * the whole
    passage's score. `spans[i]` is passage i's [first, last) range of rows in `sentence_scores` (or those
    ranges laid out as `Spans`, as the retriever keeps them).
    For the dense leg: MiniLM was trained on texts up to 128 word pieces; most passages are longer, most
    sentences are not, so a sentence's vector says what it is about and the passage's what is around it."""
    passages = np.asarray(passage_scores, dtype=np.float64)
    best = (spans if isinstance(spans, Spans) else Spans(spans)).best(sentence_scores, passages)
    return (1.0 - passage_share) * best + passage_share * passages


def ranked(scores: np.ndarray, positive_only: bool = False) -> list[tuple[int, float]]:
    """(id, score) by descending score, ties by id."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return [(i, float(scores[i])) for i in order if not positive_only or scores[i] > 0]


# ---------------------------------------------------------------- the embedded retriever
class EmbeddedRetriever:
    def __init__(self, index: Index, variant: str = "l", k1: float = 1.2, b: float = 0.75,
                 fusion: str = "weighted", rrf_k: int = 60, alpha: float = 0.5, depth: int = 1000,
                 exact_below: int = 100_000, hnsw: HnswParams = HnswParams(), dense_passage_share: float = 0.2,
                 bm25_passage_share: float = 0.0):
        if variant not in BM25_VARIANTS:
            raise ValueError(f"unknown BM25 variant {variant!r}; choose one of {sorted(BM25_VARIANTS)}")
        self.index = index
        # rank-bm25's scores, from a term-document matrix (qa/bm25.py); each leg hands fusion its top `depth`.
        # The matrices and the graph come with the index when it was saved for these settings (qa/derived.py).
        # Below `exact_below` passages each leg scores a passage by its best sentence (plus a share of the
        # passage's own score): in passages of a hundred words on one event, the sentence that holds the
        # question's words stands out. Above it, whole passages (the HNSW graph and top-k stay sublinear).
        self.pooling = len(index.chunks) < exact_below
        made = complete(index, RetrievalParams(BM25Params(variant, k1, b), exact_below, hnsw),
                        sentences=self.pooling and bm25_passage_share < 1.0 and bool(index.sentences))
        self.bm25, self.sentence_bm25 = made.bm25, made.sentence_bm25
        self.vectors = VectorIndex(index.chunk_vectors, exact_below, hnsw, made.graph, made.graph_rows)
        self.depth, self.exact_below = depth, exact_below
        self.fusion, self.rrf_k, self.alpha = fusion, rrf_k, alpha
        self.dense_passage_share, self.bm25_passage_share = dense_passage_share, bm25_passage_share
        self._spans = Spans(sentence_spans(index.chunks))
        n = len(index.chunk_tokens)
        # Reader-side idf (always positive, unlike Okapi's): log((N + 1) / (n_t + 0.5)); document
        # frequencies are the matrix's row lengths, read when asked for (no table of the vocabulary).
        self._unseen_idf = math.log((n + 1) / 0.5)
        self._n = n
        self._articles = list(index.articles.values())
        self._catalog: filtering.Catalog | None = None
        if index.rows is not None:  # an update says how many chunks each article has
            self._chunk_article = np.repeat(np.arange(len(self._articles), dtype=np.int64), np.diff(index.rows.chunks))
        else:
            position = {a.doc_id: i for i, a in enumerate(self._articles)}
            self._chunk_article = np.fromiter((position[c.doc_id] for c in index.chunks), dtype=np.int64,
                                              count=len(index.chunks))

    def chunk_mask(self, filters: Filters | None) -> np.ndarray | None:
        """Per chunk: may it be returned; None when nothing is filtered."""
        if filters is None or filters.empty:
            return None
        return self.catalog().mask(filters)[self._chunk_article]

    def catalog(self) -> filtering.Catalog:
        """The served articles' filterable fields, laid out at the first filtered question."""
        if self._catalog is None:
            self._catalog = filtering.Catalog(self._articles)
        return self._catalog

    def idf(self, token: str) -> float:
        term = self.bm25.term_ids.get(token)
        if term is None:
            return self._unseen_idf
        df = int(self.bm25.indptr[term + 1] - self.bm25.indptr[term])
        return math.log((self._n + 1) / (df + 0.5))

    def bm25_ranking(self, tokens: Sequence[str], mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """`mask`: the chunks that may be returned (None: all); the top `depth` of those."""
        if not tokens or not self.index.chunks:
            return []
        if self.sentence_bm25 is None:
            every = None if mask is None else self.bm25.scores(tokens)
        else:
            every = pooled(self.sentence_bm25.scores(tokens), self.bm25.scores(tokens), self._spans,
                           self.bm25_passage_share)
        if every is None:
            ids, scores = self.bm25.top_k(tokens, self.depth)
        else:
            if mask is not None:
                every[~mask] = 0.0  # top_k_of keeps only positive scores
            ids, scores = top_k_of(every, self.depth, positive_only=True)
        return list(zip(ids.tolist(), scores.tolist()))

    def dense_ranking(self, vector: np.ndarray, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        if not self.index.chunks:
            return []
        if self.dense_passage_share >= 1.0 or not self.pooling:
            # whole passages only, or a corpus large enough for the HNSW graph: no sentence is scored
            ids, scores = self.vectors.top_k(vector, self.depth, mask)
            return list(zip(ids.tolist(), scores.tolist()))
        passages = self.index.chunk_vectors @ vector
        scores = pooled(self.index.sentence_vectors @ vector, passages, self._spans, self.dense_passage_share)
        if mask is None:
            ids, best = top_k_of(scores, self.depth)
            return list(zip(ids.tolist(), best.tolist()))
        allowed = np.flatnonzero(mask)
        ids, best = top_k_of(scores[allowed], self.depth)
        return list(zip(allowed[ids].tolist(), best.tolist()))

    def search(self, query: Query, k: int, mode: str, filters: Filters | None = None) -> list[Hit]:
        mask = self.chunk_mask(filters)
        if mask is not None and not mask.any():
            return []
        lexical = self.bm25_ranking(query.tokens, mask) if mode in ("bm25", "hybrid") else []
        dense = self.dense_ranking(query.vector, mask) if mode in ("dense", "hybrid") else []
        return fused_hits(self.index.chunks, lexical, dense, mode, self.fusion, self.alpha, self.rrf_k, k)

