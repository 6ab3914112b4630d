"""Retrieval by a Qdrant collection (qa/qdrant_store.py): the `Retriever` seam, served by the engine.

The legs and their fusion run in the engine, in one query:
    bm25    the sparse vector of the query's terms (each valued by its count) against the passages'
            BM25L document weights; the engine multiplies in its IDF (equal to BM25L's on one shard)
    dense   (1 - share) * the best sentence's cosine (MaxSim over the "sentences" multivector)
            + share * the passage's cosine: a formula over two prefetches, the embedded dense leg's pooling
    hybrid  the embedded default's weighted sum of min-max normalized leg scores, as a formula whose
            constants (each leg's min and max) come from the legs, asked first; or RRF (k explicit); or DBSF
Filters (qa.types.Filters: sources as doc ids or outlets, a published range; qa/filters.py's meaning) are
applied by the engine to every leg, so each leg ranks only the filtered articles' passages.
Each leg's rank of the returned passages comes from the same batch request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.errors import EngineUnavailable
from qa.index import Index
from qa.qdrant_store import PASSAGE, SENTENCES, SPARSE, Target, call, client_for, point_id, sparse_query
from qa.retrieve import Query
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
                 depth: int = 1000, passage_share: float = 0.2, bm25_passage_share: float = 0.0):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown Qdrant fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.index, self.target = index, target
        self.fusion, self.rrf_k, self.alpha = fusion, rrf_k, alpha
        self.depth, self.passage_share = depth, passage_share
        # The BM25 leg scores whole passages (the engine's sparse index holds passages, not sentences):
        # main's embedded default, QA_BM25_PASSAGE_SHARE=0, pools sentence scores instead; a difference
        # bench/qdrant_backends.py shows.
        self.bm25_passage_share = bm25_passage_share
        if bm25_passage_share < 1.0:
            log.info("QA_BM25_PASSAGE_SHARE=%s: the Qdrant BM25 leg scores whole passages (share 1)", bm25_passage_share)
        self._rows = {point_id(c.chunk_id): row for row, c in enumerate(index.chunks)}
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
