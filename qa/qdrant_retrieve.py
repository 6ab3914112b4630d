"""Retrieval by a Qdrant collection (qa/qdrant_store.py): the `Retriever` seam, served by the engine.

The legs and their fusion run in the engine, in one query:
    bm25    the sparse vector of the query's terms (each valued by its count) against BM25L document
            weights; the engine multiplies in its IDF (equal to BM25L's on one shard). As the embedded leg:
            (1 - s) * the passage's best sentence's score (the sentence points, grouped by passage in the
            engine: query_points_groups, group_size 1) + s * the passage's own, s = QA_BM25_PASSAGE_SHARE;
            combined here. s = 1: the passages alone, in the engine.
    dense   (1 - share) * the best sentence's cosine (MaxSim over the "sentences" multivector)
            + share * the passage's cosine: a formula over two prefetches, the embedded dense leg's pooling
    hybrid  the embedded default's weighted sum of min-max normalized leg scores, as a formula whose
            constants (each leg's min and max) come from the legs, asked first; or RRF (k explicit); or DBSF
Filters (qa.types.Filters: sources as doc ids or outlets, a published range; qa/filters.py's meaning) are
applied by the engine to every leg, so each leg ranks only the filtered articles' passages.
Each leg's rank of the returned passages comes from the same batch request. With sentence pooling (s < 1)
the BM25 leg's scores are combined here, so hybrid is fused here too, with qa.retrieve's own `weighted` and
`rrf` (ties by passage position, as embedded); DBSF then stays the engine's over whole passages (s = 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.errors import EngineUnavailable
from qa.index import Index
from qa.qdrant_store import (PASSAGE, SENTENCE_SPARSE, SENTENCES, SPARSE, Target, call, client_for, point_id,
                             sparse_query)
from qa.retrieve import Query, fused_hits
from qa.types import Filters as QueryFilters, Hit

log = logging.getLogger(__name__)

FUSIONS = ("weighted", "rrf", "dbsf")


@dataclass(frozen=True, slots=True)
class Filters:
    """The engine's filter fields; None: any. `QueryFilters` (qa.types.Filters, what the service passes) is
    mapped onto them by `engine_filter`: a source is a doc id or an outlet (either matches)."""

    doc_ids: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    published_from: str | None = None  # ISO date, inclusive
    published_to: str | None = None  # ISO date, inclusive


@dataclass(frozen=True, slots=True)
class EngineHealth:
    where: str
    version: str
    collection: str
    status: str  # the collection's: green, yellow, grey or red
    points: int


class QdrantRetriever:
    def __init__(self, index: Index, target: Target, fusion: str = "weighted", rrf_k: int = 60, alpha: float = 0.5,
                 depth: int = 1000, passage_share: float = 0.2, bm25_passage_share: float = 0.0,
                 pool_below: int = 100_000):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown Qdrant fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.index, self.target = index, target
        self.fusion, self.rrf_k, self.alpha = fusion, rrf_k, alpha
        self.depth, self.passage_share = depth, passage_share
        # The BM25 leg pools sentence scores as the embedded one does (below `pool_below` passages, as its
        # `exact_below`), from the sentence points; a collection without them (format < 3) scores passages.
        self.bm25_passage_share = bm25_passage_share
        has_sentences = index.manifest.get("bm25", {}).get("sentence_avgdl") is not None
        self.pool_bm25 = bm25_passage_share < 1.0 and len(index.chunks) < pool_below and has_sentences
        if bm25_passage_share < 1.0 and not self.pool_bm25:
            log.info("QA_BM25_PASSAGE_SHARE=%s: the Qdrant BM25 leg scores whole passages (share 1)", bm25_passage_share)
        if self.pool_bm25 and fusion == "dbsf":
            log.info("QA_QDRANT_FUSION=dbsf: hybrid's BM25 leg scores whole passages (the engine fuses)")
        self._rows = {point_id(c.chunk_id): row for row, c in enumerate(index.chunks)}
        self._chunk_rows = {c.chunk_id: row for row, c in enumerate(index.chunks)}
        self._holders: dict[int, list[int]] = {}  # sentence -> the rows of the passages holding it
        for row, c in enumerate(index.chunks):
            for i in range(*c.sentences):
                self._holders.setdefault(i, []).append(row)
        # The reader's idf comes from the loaded view, as the embedded retriever's does: log((N + 1) / (n + 0.5)).
        df: dict[str, int] = {}
        for tokens in index.chunk_tokens:
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        self._df, self._n = df, len(index.chunk_tokens)

    def idf(self, token: str) -> float:
        import math

        df = self._df.get(token)
        return math.log((self._n + 1) / ((0 if df is None else df) + 0.5))

    # ------------------------------------------------------------ queries
    def search(self, query: Query, k: int, mode: str, filters: QueryFilters | Filters | None = None) -> list[Hit]:
        """The k best passages. One round trip: the fused (or single-leg) query with each leg's ranking
        beside it; weighted fusion needs the legs' score ranges first, so it takes two."""
        flt = engine_filter(filters)
        if self.pool_bm25 and mode in ("bm25", "hybrid") and not (mode == "hybrid" and self.fusion == "dbsf"):
            return self._search_pooled(query, k, mode, flt)
        legs = {"bm25": self._bm25_leg(query, flt) if mode in ("bm25", "hybrid") else None,
                "dense": self._dense_leg(query, flt) if mode in ("dense", "hybrid") else None}
        legs = {name: leg for name, leg in legs.items() if leg is not None}
        if not legs:
            return []
        if mode == "hybrid" and len(legs) == 2 and self.fusion == "weighted":
            rankings = self._query([self._leg_request(leg, flt) for leg in legs.values()])
            scored = {name: [float(p.score) for p in r.points] for name, r in zip(legs, rankings)}
            top = self._top_request(legs, flt, k, scored)
            answers = self._query([top]) + rankings if top is not None else [rankings[0]] + rankings
        else:
            answers = self._query([self._top_request(legs, flt, k, None)] +
                                  [self._leg_request(leg, flt) for leg in legs.values()])
        ranks = {name: {p.id: r for r, p in enumerate(a.points, 1)} for name, a in zip(legs, answers[1:])}
        return self._hits(answers[0].points, ranks)

    # ------------------------------------------------------------ the sentence-pooled BM25 leg
    def _search_pooled(self, query: Query, k: int, mode: str, flt) -> list[Hit]:
        """bm25 or hybrid with the pooled BM25 leg: the legs from the engine, pooled and fused here."""
        lexical = self.bm25_ranking(query, flt)
        dense: list[tuple[int, float]] = []
        if mode == "hybrid":
            leg = self._dense_leg(query, flt)
            if leg is not None:
                answer = self._query([self._leg_request(leg, flt)])[0]
                dense = [(self._rows[str(p.id)], float(p.score)) for p in answer.points if str(p.id) in self._rows]
        return fused_hits(self.index.chunks, lexical, dense, mode, self.fusion, self.alpha, self.rrf_k, k)

    def bm25_ranking(self, query: Query, flt) -> list[tuple[int, float]]:
        """(row, score) of the top `depth` passages by (1 - s) * best sentence + s * passage (qa.retrieve.pooled),
        positive scores only, ties by row: EmbeddedRetriever.bm25_ranking's. Exact at any depth: each list is
        read `limit` deep, a passage one list left out is asked for its score there, and the lists are read
        deeper (x4) until `depth` passages score above what a passage in neither could reach (or both end)."""
        if not query.tokens or not self.index.chunks:
            return []
        s = self.bm25_passage_share
        limit = self.depth
        while True:
            best, n_best, last_best = self._best_sentences(query, flt, None, limit)
            passages, n_passages, last_passage = self._passage_scores(query, flt, None, limit) if s > 0 else ({}, 0, 0.0)
            if s > 0:
                if set(passages) - set(best):
                    best.update(self._best_sentences(query, flt, sorted(set(passages) - set(best)))[0])
                if set(best) - set(passages):
                    passages.update(self._passage_scores(query, flt, sorted(set(best) - set(passages)))[0])
            for row in set(passages) | set(best):  # a passage without sentences scores as a whole (pooled)
                if not self._spans_nonempty(row):
                    best[row] = passages.get(row, 0.0)
            scores = {row: (1.0 - s) * best.get(row, 0.0) + s * passages.get(row, 0.0)
                      for row in set(best) | set(passages)}
            ranked = sorted(((row, v) for row, v in scores.items() if v > 0), key=lambda rv: (-rv[1], rv[0]))
            full_best, full_passages = n_best >= limit, s > 0 and n_passages >= limit
            if not full_best and not full_passages:
                return ranked[: self.depth]  # every passage with a positive score was seen
            # a passage in neither list scores at most the lists' last scores (one tying the cut-off may be left
            # out for another of the same score: ties are the engine's)
            bound = (1.0 - s) * (last_best if full_best else 0.0) + s * (last_passage if full_passages else 0.0)
            if sum(1 for _, v in ranked if v >= bound) >= self.depth or limit >= len(self.index.chunks):
                return ranked[: self.depth]
            limit *= 4

    def _neighbourhood(self, rows: list[int]) -> int:
        """How many passages share a sentence with `rows` (themselves included): the groups a query for the
        sentences of `rows` can return, a sentence naming every passage that holds it."""
        return len({h for r in rows for i in range(*self.index.chunks[r].sentences) for h in self._holders.get(i, ())})

    def _spans_nonempty(self, row: int) -> bool:
        a, b = self.index.chunks[row].sentences
        return b > a

    def _best_sentences(self, query: Query, flt, rows: list[int] | None, limit: int = 0) -> tuple[dict[int, float], int, float]:
        """row -> its best sentence's BM25L score, for the top `limit` passages (or for `rows`); how many groups
        the engine returned, and the last one's score."""
        from qdrant_client import models as m

        ids, values = sparse_query(query.tokens)
        must = [m.FieldCondition(key="kind", match=m.MatchValue(value="sentence"))] + ([flt] if flt is not None else [])
        if rows is not None:
            must.append(m.FieldCondition(key="chunk_ids", match=m.MatchAny(
                any=[self.index.chunks[r].chunk_id for r in rows])))
        client = client_for(self.target)
        result = call(self.target, client.query_points_groups, self.target.collection, group_by="chunk_ids",
                      query=m.SparseVector(indices=ids, values=values), using=SENTENCE_SPARSE,
                      query_filter=m.Filter(must=must), limit=limit if rows is None else self._neighbourhood(rows),
                      group_size=1, with_payload=False)
        last = float(result.groups[-1].hits[0].score) if result.groups and result.groups[-1].hits else 0.0
        out = {}
        for group in result.groups:
            row = self._chunk_rows.get(str(group.id))
            if row is not None and group.hits and (rows is None or row in rows):
                out[row] = float(group.hits[0].score)
        return out, len(result.groups), last

    def _passage_scores(self, query: Query, flt, rows: list[int] | None, limit: int = 0) -> tuple[dict[int, float], int, float]:
        """row -> the passage's own BM25L score, for the top `limit` passages (or for `rows`); how many the
        engine returned, and the last one's score."""
        from qdrant_client import models as m

        ids, values = sparse_query(query.tokens)
        must = [flt] if flt is not None else []
        if rows is not None:
            must.append(m.HasIdCondition(has_id=[point_id(self.index.chunks[r].chunk_id) for r in rows]))
        client = client_for(self.target)
        answer = call(self.target, client.query_points, self.target.collection,
                      query=m.SparseVector(indices=ids, values=values), using=SPARSE,
                      query_filter=m.Filter(must=must) if must else None,
                      limit=limit if rows is None else len(rows), with_payload=False)
        last = float(answer.points[-1].score) if answer.points else 0.0
        return ({self._rows[str(p.id)]: float(p.score) for p in answer.points if str(p.id) in self._rows},
                len(answer.points), last)

    def _query(self, requests: list) -> list:
        client = client_for(self.target)
        return call(self.target, client.query_batch_points, self.target.collection, requests=requests)

    def _leg_request(self, leg, flt):
        from qdrant_client import models as m

        return m.QueryRequest(prefetch=leg.prefetch, query=leg.query, using=leg.using, filter=flt, limit=self.depth)

    def _top_request(self, legs: dict, flt, k: int, scored: dict[str, list[float]] | None):
        """The request whose answer is the result: one leg alone, or the legs fused (`scored`: each leg's
        scores, for weighted fusion; None when a leg found nothing and the other stands alone)."""
        from qdrant_client import models as m

        if len(legs) == 1:
            only = next(iter(legs.values()))
            return m.QueryRequest(prefetch=only.prefetch, query=only.query, using=only.using, filter=flt, limit=k)
        if scored is None:
            return m.QueryRequest(prefetch=list(legs.values()), query=self._fusion_query(), filter=flt, limit=k)
        found = [name for name in legs if scored[name]]
        if len(found) < 2:  # weighted fusion of one leg keeps its order: ask for that leg alone
            return None if not found else self._top_request({found[0]: legs[found[0]]}, flt, k, None)
        weights = {"bm25": 1.0 - self.alpha, "dense": self.alpha}
        formula = weighted_formula([(weights[n], min(scored[n]), max(scored[n])) for n in legs])
        return m.QueryRequest(prefetch=list(legs.values()), query=formula, filter=flt, limit=k)

    def _hits(self, points, ranks: dict[str, dict]) -> list[Hit]:
        hits = []
        for p in points:
            row = self._rows.get(str(p.id))
            if row is None:  # written after this view was loaded (a sync in progress): not servable yet
                log.warning("passage %s is not in the loaded view; skipped", p.id)
                continue
            hits.append(Hit(self.index.chunks[row], float(p.score), ranks.get("bm25", {}).get(p.id),
                            ranks.get("dense", {}).get(p.id)))
        return hits

    def _bm25_leg(self, query: Query, flt):
        from qdrant_client import models as m

        if not query.tokens:
            return None
        ids, values = sparse_query(query.tokens)
        return m.Prefetch(query=m.SparseVector(indices=ids, values=values), using=SPARSE, filter=flt, limit=self.depth)

    def _dense_leg(self, query: Query, flt):
        from qdrant_client import models as m

        if query.vector is None:
            return None
        vector = [float(x) for x in query.vector]
        passage = m.Prefetch(query=vector, using=PASSAGE, filter=flt, limit=self.depth)
        if self.passage_share >= 1.0:
            return passage
        best = m.Prefetch(query=[vector], using=SENTENCES, filter=flt, limit=self.depth)
        share = self.passage_share
        # $score[0]: the passage's cosine, $score[1]: its best sentence's; a passage one prefetch missed scores 0 there
        formula = m.FormulaQuery(formula=m.SumExpression(sum=[m.MultExpression(mult=[1.0 - share, "$score[1]"]),
                                                              m.MultExpression(mult=[share, "$score[0]"])]),
                                 defaults={"$score[0]": 0.0, "$score[1]": 0.0})
        return m.Prefetch(prefetch=[passage, best], query=formula, filter=flt, limit=self.depth)

    def _fusion_query(self):
        from qdrant_client import models as m

        if self.fusion == "dbsf":
            return m.FusionQuery(fusion=m.Fusion.DBSF)
        # The engine ranks from 0 (1 / (k + rank0)); ours from 1 (1 / (k + rank1)): k + 1 gives our scores.
        return m.RrfQuery(rrf=m.Rrf(k=self.rrf_k + 1))

    # ------------------------------------------------------------ health
    def health(self) -> EngineHealth:
        client = client_for(self.target)
        version = call(self.target, client.info).version
        info = call(self.target, client.get_collection, self.target.collection)
        return EngineHealth(self.target.where, version, self.target.collection, str(info.status.value),
                            int(info.points_count or 0))


def weighted_formula(legs: list[tuple[float, float, float]]):
    """qa.retrieve.weighted as an engine formula: sum over legs of weight * (score - lo) / (hi - lo), from
    each leg's (weight, lo, hi). A passage a leg did not return gets lo there (0 after normalizing), as in
    `weighted`; a leg whose scores are all equal gives each of its passages the whole weight."""
    from qdrant_client import models as m

    terms, defaults = [], {}
    for n, (weight, lo, hi) in enumerate(legs):
        if hi <= lo:
            lo, hi = lo - 1.0, lo  # every returned passage normalizes to 1, a missing one to 0
        var = f"$score[{n}]"
        terms.append(m.MultExpression(mult=[weight / (hi - lo), m.SumExpression(sum=[var, -lo])]))
        defaults[var] = lo
    return m.FormulaQuery(formula=m.SumExpression(sum=terms), defaults=defaults)


def engine_filter(filters: QueryFilters | Filters | None):
    """The engine's filter for the service's Filters (qa.types.Filters) or the engine's own fields."""
    from qdrant_client import models as m

    if filters is None:
        return None
    if isinstance(filters, QueryFilters):
        if filters.empty:
            return None
        must = []
        if filters.sources:
            # qa/filters.py: a source is a doc id, or an outlet compared without regard to case
            must.append(m.Filter(should=[
                m.FieldCondition(key="doc_id", match=m.MatchAny(any=list(filters.sources))),
                m.FieldCondition(key="outlet_key", match=m.MatchAny(any=[s.casefold() for s in filters.sources]))]))
        if filters.published_from or filters.published_to:
            # the day the article was published on (qa.metadata.day); an undated article has none: never passes
            must.append(m.FieldCondition(key="day", range=m.DatetimeRange(gte=filters.published_from,
                                                                           lte=filters.published_to)))
        return m.Filter(must=must)
    must = []
    if filters.doc_ids is not None:
        must.append(m.FieldCondition(key="doc_id", match=m.MatchAny(any=list(filters.doc_ids))))
    if filters.sources is not None:
        must.append(m.FieldCondition(key="source", match=m.MatchAny(any=list(filters.sources))))
    if filters.published_from or filters.published_to:
        must.append(m.FieldCondition(key="published", range=m.DatetimeRange(gte=filters.published_from,
                                                                             lte=filters.published_to)))
    return m.Filter(must=must) if must else None


__all__ = ["EngineHealth", "EngineUnavailable", "Filters", "QdrantRetriever", "engine_filter"]
