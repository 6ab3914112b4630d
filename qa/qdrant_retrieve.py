"""Retrieval by a Qdrant collection (qa/qdrant_store.py): the `Retriever` seam, served by the engine.

The legs and their fusion run in the engine, in one query:
    bm25    the sparse vector of the query's terms (each valued by its count) against the passages'
            BM25L document weights; the engine multiplies in its IDF (equal to BM25L's on one shard)
    dense   (1 - share) * the best sentence's cosine (MaxSim over the "sentences" multivector)
            + share * the passage's cosine: a formula over two prefetches, the embedded dense leg's pooling
    hybrid  RRF over both legs (k explicit), or DBSF
Filters (doc ids, sources, a published range) are applied by the engine to every leg.
Each leg's rank of the returned passages comes from the same batch request (one round trip).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.errors import EngineUnavailable
from qa.index import Index
from qa.qdrant_store import PASSAGE, SENTENCES, SPARSE, Target, call, client_for, point_id, sparse_query
from qa.retrieve import Query, _doc_freqs
from qa.types import Hit

log = logging.getLogger(__name__)

FUSIONS = ("rrf", "dbsf")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which passages may be returned; None: any."""

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
    def __init__(self, index: Index, target: Target, fusion: str = "rrf", rrf_k: int = 60, depth: int = 1000,
                 passage_share: float = 0.2):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown Qdrant fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.index, self.target = index, target
        self.fusion, self.rrf_k, self.depth, self.passage_share = fusion, rrf_k, depth, passage_share
        self._rows = {point_id(c.chunk_id): row for row, c in enumerate(index.chunks)}
        # The reader's idf comes from the loaded view, as the embedded retriever's does: log((N + 1) / (n + 0.5)).
        corpus = [list(t) for t in index.chunk_tokens]
        self._df, self._n = _doc_freqs(corpus), len(corpus)

    def idf(self, token: str) -> float:
        import math

        df = self._df.get(token)
        return math.log((self._n + 1) / ((0 if df is None else df) + 0.5))

    # ------------------------------------------------------------ queries
    def search(self, query: Query, k: int, mode: str, filters: Filters | None = None) -> list[Hit]:
        from qdrant_client import models as m

        flt = engine_filter(filters)
        legs = {"bm25": self._bm25_leg(query, flt) if mode in ("bm25", "hybrid") else None,
                "dense": self._dense_leg(query, flt) if mode in ("dense", "hybrid") else None}
        present = [leg for leg in legs.values() if leg is not None]
        if not present:
            return []
        if mode == "hybrid" and len(present) == 2:
            top = m.QueryRequest(prefetch=present, query=self._fusion_query(), filter=flt, limit=k)
        else:
            only = present[0]
            top = m.QueryRequest(prefetch=only.prefetch, query=only.query, using=only.using, filter=flt, limit=k)
        requests = [top] + [m.QueryRequest(prefetch=leg.prefetch, query=leg.query, using=leg.using, filter=flt,
                                           limit=self.depth) for leg in present]
        client = client_for(self.target)
        answers = call(self.target, client.query_batch_points, self.target.collection, requests=requests)
        names = [name for name, leg in legs.items() if leg is not None]
        ranks = {name: {p.id: r for r, p in enumerate(a.points, 1)} for name, a in zip(names, answers[1:])}
        hits = []
        for p in answers[0].points:
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


def engine_filter(filters: Filters | None):
    from qdrant_client import models as m

    if filters is None:
        return None
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
