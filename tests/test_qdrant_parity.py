"""Engine parity: Qdrant's own Rust engine (qdrant-edge-py, the server's shard code in process) ranks the
collection's points as qdrant-client's local mode does. Local mode re-implements the engine in Python;
this checks its BM25 (sparse vectors with Modifier.IDF), dense, pooled dense (formula) and fused (RRF
with an explicit k) rankings against the real engine on the seeds, queried with each article's title."""

from __future__ import annotations

import pytest

from qa import qdrant_store as store
from qa.qdrant_retrieve import QdrantRetriever
from qa.retrieve import Query
from qa.text import query_tokens

edge = pytest.importorskip("qdrant_edge", reason="qdrant-edge-py is not installed (pip install qdrant-edge-py)")


@pytest.fixture(scope="module")
def shard(qdrant_service, tmp_path_factory):
    """An edge shard holding exactly the local collection's points (vectors and payloads as stored there)."""
    dim = qdrant_service.index.chunk_vectors.shape[1]
    config = edge.EdgeConfig(
        vectors={store.PASSAGE: edge.EdgeVectorParams(dim, edge.Distance.Cosine),
                 store.SENTENCES: edge.EdgeVectorParams(dim, edge.Distance.Cosine, multivector_config=edge.MultiVectorConfig(
                     edge.MultiVectorComparator.MaxSim))},
        sparse_vectors={store.SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf),
                        store.SENTENCE_SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)})
    s = edge.EdgeShard.create(str(tmp_path_factory.mktemp("edge") / "shard"), config)
    target = qdrant_service.retriever.target
    client = store.client_for(target)
    points, offset = [], None
    while True:
        page, offset = client.scroll(target.collection, limit=256, offset=offset, with_payload=["doc_id", "kind"],
                                     with_vectors=True)
        for p in page:
            vectors = {name: (edge.SparseVector(v.indices, v.values) if name in (store.SPARSE, store.SENTENCE_SPARSE) else v)
                       for name, v in (p.vector or {}).items()}
            points.append(edge.Point(p.id, vectors, p.payload))
        if offset is None:
            break
    s.update(edge.UpdateOperation.upsert_points(points))
    yield s
    s.close()


def _queries(service):
    out = []
    for article in service.index.articles.values():
        vector = service.embedder.embed_queries([article.title])[0]
        out.append(Query(article.title, tuple(query_tokens(article.title)), vector))
    return out


def _edge_leg(leg: str, q: Query, depth: int):
    ids, values = store.sparse_query(q.tokens)
    vector = [float(x) for x in q.vector]
    if leg == "bm25":
        return edge.Query.Nearest(edge.SparseVector(ids, values), using=store.SPARSE), None
    if leg == "dense":
        return edge.Query.Nearest(vector, using=store.PASSAGE), None
    # pooled: 0.8 * best sentence + 0.2 * passage, as QdrantRetriever asks local mode
    prefetches = [edge.Prefetch(depth, edge.Query.Nearest(vector, using=store.PASSAGE)),
                  edge.Prefetch(depth, edge.Query.Nearest([vector], using=store.SENTENCES))]
    formula = edge.Formula(edge.Expression.Sum([
        edge.Expression.Mult([edge.Expression.Constant(0.8), edge.Expression.Variable("$score[1]")]),
        edge.Expression.Mult([edge.Expression.Constant(0.2), edge.Expression.Variable("$score[0]")])]),
        defaults={"$score[0]": 0.0, "$score[1]": 0.0})
    return formula, prefetches


def _edge(shard, leg: str, q: Query, k: int, rrf_k: int = 61):
    if leg == "hybrid":
        legs = []
        for name in ("bm25", "pooled"):
            query, prefetches = _edge_leg(name, q, 1000)
            legs.append(edge.Prefetch(1000, query, prefetches=prefetches))
        request = edge.QueryRequest(limit=k, query=edge.Fusion.Rrf(k=rrf_k), prefetches=legs)
    else:
        query, prefetches = _edge_leg(leg, q, 1000)
        request = edge.QueryRequest(limit=k, query=query, prefetches=prefetches)
    return [(str(p.id), p.score) for p in shard.query(request)]


def _local(service, leg: str, q: Query, k: int):
    r = service.retriever
    share = {"dense": 1.0}.get(leg, 0.2)
    mode = {"pooled": "dense", "dense": "dense"}.get(leg, leg)
    local = QdrantRetriever(r.index, r.target, fusion="rrf", rrf_k=60, passage_share=share, bm25_passage_share=1.0)
    return [(store.point_id(h.chunk.chunk_id), h.score) for h in local.search(q, k, mode)]


@pytest.mark.parametrize("leg", ["bm25", "dense", "pooled", "hybrid"])
def test_the_engine_ranks_as_local_mode_does(qdrant_service, shard, leg):
    for q in _queries(qdrant_service):
        engine, local = _edge(shard, leg, q, 10), _local(qdrant_service, leg, q, 10)
        assert len(engine) == (10 if leg != "bm25" else len(local)) and engine, q.text
        assert [i for i, _ in engine] == [i for i, _ in local], q.text
        assert [s for _, s in engine] == pytest.approx([s for _, s in local], rel=1e-5, abs=1e-6), q.text


def test_the_engine_bm25_scores_are_bm25l(passage_bm25_service, shard):
    fake_service = passage_bm25_service  # the embedded BM25 leg over whole passages, as the engine scores
    """The real engine's sparse IDF times our weights is rank-bm25's BM25L (the embedded BM25 leg)."""
    for q in _queries(fake_service):
        engine = _edge(shard, "bm25", q, 42)
        embedded = fake_service.retriever.bm25_ranking(q.tokens)
        chunks = fake_service.index.chunks
        assert dict(engine) == pytest.approx({store.point_id(chunks[d].chunk_id): s for d, s in embedded}, rel=1e-5)


def test_the_engine_sentence_scores_are_the_sentence_corpus_bm25l(fake_service, qdrant_service, shard):
    """The sentence points' sparse vector, in the same collection as the passages: the real engine's IDF counts
    only the points holding it (N = the sentences), so its scores are the embedded sentence BM25's."""
    from qa.retrieve import EmbeddedRetriever

    sentence_bm25 = EmbeddedRetriever(fake_service.index, bm25_passage_share=0.0).sentence_bm25
    index = qdrant_service.index
    first: dict[str, int] = {}
    for s in index.sentences:
        first.setdefault(s.doc_id, s.index)
    ids = {store.sentence_point_id(s.doc_id, s.index - first[s.doc_id]): s.index for s in index.sentences}
    for q in _queries(qdrant_service):
        query_ids, values = store.sparse_query(q.tokens)
        request = edge.QueryRequest(limit=len(ids), query=edge.Query.Nearest(edge.SparseVector(query_ids, values),
                                                                              using=store.SENTENCE_SPARSE))
        engine = {ids[str(p.id)]: p.score for p in shard.query(request)}
        expected = sentence_bm25.scores(q.tokens)
        assert engine and engine == pytest.approx({i: float(expected[i]) for i in engine}, rel=1e-5)
        assert set(engine) == {i for i, v in enumerate(expected) if v > 0}
