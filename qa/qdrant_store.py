"""The Qdrant backend's collection: written from the corpus, read back as the service's `Index` view.

One collection; a point per passage (chunk), one per sentence and one per article:
    passage  vectors  "passage" (the chunk's embedding), "sentences" (its sentences' embeddings, a
                      multivector compared by MaxSim: its best sentence), "bm25" (sparse: BM25L's
                      document-side weight of each term, the engine multiplies in the IDF: Modifier.IDF)
             payload  kind, chunk_id, doc_id, source, ordinal, start, end, the sentence range (ordinals in
                      the article), the article's metadata (title, date, outlet, url, published, language;
                      `outlet_key`, the outlet casefolded, and `day`, the date published on, for filters),
                      and each sentence's offsets with its spaCy analysis (`Doc.to_json()`) and the
                      embeddings of its clauses (qa.analysis.clauses, in order: the reader's clause_vectors)
    sentence "bm25_sentence" only (sparse: BM25L's document-side weights over the SENTENCE corpus, its own
             average length; the engine's IDF counts only points holding this vector: one per sentence,
             so N and n are the sentence corpus's); payload kind, doc_id, source, ordinal (in the article),
             chunk_ids (the passages holding it: two where passages overlap; the BM25 leg groups by it)
             and the article's metadata (the filter fields)
    article  no vectors (never a search result); payload: the text exactly as stored, sha256, excluded
             ranges, sentence spans, the metadata and its digest. Written after all its passages: it marks
             the article complete, so a resumed sync skips it and an interrupted one redoes it.
Point ids are UUID5 of the chunk id (or of the doc id for an article point): a resumed upsert overwrites
what an interrupted one wrote, never duplicates it. The collection's metadata holds the manifest: model,
tokenizer, spaCy pipeline, chunking, the code's fingerprint and the BM25 parameters (with the average
passage length the document weights were computed with). A manifest that disagrees with the settings
means a full rebuild; a changed corpus means a sync: new and changed articles upserted, removed ones deleted,
and an article whose metadata alone changed gets its points' payload rewritten (no re-embedding).
"""

from __future__ import annotations

import atexit
import logging
import time
import uuid
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np

from qa.bm25 import BM25Params, _weights
from qa.chunk import ChunkParams, chunk_article
from qa.embed import Embedder
from qa.errors import ConfigError, EngineUnavailable, IndexCorrupt, IndexMissing
from qa import analysis, metadata as meta_
from qa.index import (Index, build_index, code_fingerprint, metadata_fingerprint, nlp_fingerprint,
                      tokenizer_fingerprint)
from qa.text import tokenize
from qa.types import Article, Chunk, Sentence

log = logging.getLogger(__name__)

FORMAT = 3  # 2: article metadata (outlet, url, published, language) and clause vectors in the payload; 3: sentence points
PASSAGE, SENTENCES, SPARSE, SENTENCE_SPARSE = "passage", "sentences", "bm25", "bm25_sentence"
_NAMESPACE = uuid.UUID("5b0f1c1e-8a52-4c55-9d55-6f0a3e0e6a11")  # fixed: ids must not change between runs
Progress = Callable[[Iterable, int, str], Iterable]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the collection lives: a server URL, or a folder for qdrant-client's local mode."""

    url: str | None
    path: str | None
    api_key: str | None
    collection: str
    timeout_s: int = 10
    shards: int = 1
    replication: int = 1
    write_consistency: int = 1

    @property
    def where(self) -> str:
        return self.url if self.url else f"local folder {self.path}"

    @classmethod
    def from_settings(cls, settings, collection: str | None = None) -> "Target":
        s = settings
        if bool(s.qdrant_url) == bool(s.qdrant_path):
            raise ConfigError("QA_BACKEND=qdrant needs exactly one of QA_QDRANT_URL (a server, e.g. http://qdrant:6333) "
                              "or QA_QDRANT_PATH (a folder for local mode)")
        key = (s.qdrant_api_key.get_secret_value() if s.qdrant_api_key is not None else "") or None  # empty: none
        return cls(s.qdrant_url, str(s.qdrant_path) if s.qdrant_path else None, key,
                   collection or s.qdrant_collection, s.qdrant_timeout_s, s.qdrant_shards, s.qdrant_replication,
                   s.qdrant_write_consistency)


@lru_cache(maxsize=None)
def _client(url: str | None, path: str | None, api_key: str | None, timeout_s: int):
    from qdrant_client import QdrantClient

    if path:
        try:
            client = QdrantClient(path=path)  # local mode: one client per folder and process (it locks the folder)
        except RuntimeError as exc:  # the folder is locked by another process
            raise ConfigError(f"QA_QDRANT_PATH {path!r} is in use by another process ({exc}); local mode serves "
                              f"one process: stop it, or run a Qdrant server (QA_QDRANT_URL)") from None
    else:
        # the version check would ask the server at construction; readiness asks it (client.info) instead
        client = QdrantClient(url=url, api_key=api_key, timeout=timeout_s, check_compatibility=False)
    atexit.register(client.close)  # before the interpreter tears down what close() needs
    return client


def client_for(target: Target):
    """One client per place, shared by every collection and service of this process."""
    return _client(target.url, target.path, target.api_key, target.timeout_s)


def point_id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def term_id(token: str) -> int:
    """A sparse dimension per token: CRC-32 of its UTF-8 bytes (stable across processes and machines)."""
    return zlib.crc32(token.encode("utf-8"))


def sparse_query(tokens: Sequence[str]) -> tuple[list[int], list[float]]:
    """A query's sparse vector: each term once, valued by how often it occurs (rank-bm25 adds a repeated
    query term's score once per occurrence)."""
    counts = Counter(term_id(t) for t in tokens)
    ids = sorted(counts)
    return ids, [float(counts[i]) for i in ids]


def sparse_document(tokens: Sequence[str], params: BM25Params, avgdl: float) -> tuple[list[int], list[float]]:
    """A passage's sparse vector: BM25L's document side per term (qa/bm25.py's `_weights`, rank-bm25's
    formula). The engine's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)), is ln((N + 1) / (n + 0.5)): BM25L's own, so
    the product is rank-bm25's BM25L score (on one shard: each shard counts its own N and n)."""
    counts = Counter(tokens)
    terms = sorted(counts, key=term_id)
    tf = np.array([counts[t] for t in terms], dtype=np.float64)
    weights = _weights(params, tf, np.full(len(terms), len(tokens), dtype=np.float64), avgdl)
    return [term_id(t) for t in terms], weights.tolist()


# ---------------------------------------------------------------- errors from the engine
def engine_errors(target: Target):
    """The exceptions that mean the engine did not answer, and a function naming the target in an error."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    def translate(exc: Exception) -> Exception:
        if isinstance(exc, UnexpectedResponse) and exc.status_code == 404:
            return IndexMissing(f"Qdrant at {target.where} has no collection {target.collection!r}; "
                                f"build it with `qa index --backend qdrant`")
        return EngineUnavailable(f"Qdrant at {target.where} did not answer ({type(exc).__name__}: {exc}); "
                                 f"check that it runs and QA_QDRANT_URL")

    return (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError, ConnectionError, TimeoutError), translate


def call(target: Target, fn, *args, **kwargs):
    """`fn(*args, **kwargs)`, with the engine's transport errors turned into EngineUnavailable / IndexMissing."""
    caught, translate = engine_errors(target)
    try:
        return fn(*args, **kwargs)
    except caught as exc:
        raise translate(exc) from exc


# ---------------------------------------------------------------- manifest
def manifest(embedder: Embedder, params: ChunkParams, nlp: dict, bm25: BM25Params, avgdl: float,
             sentence_avgdl: float = 1.0) -> dict:
    return {"format": FORMAT, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "model": {"name": embedder.name, "dimension": embedder.dim},
            "tokenizer": tokenizer_fingerprint(), "nlp": nlp, "chunking": asdict(params), "code": code_fingerprint(),
            "bm25": {"variant": bm25.variant, "k1": bm25.k1, "b": bm25.b, "delta": bm25.delta_, "avgdl": avgdl,
                     "sentence_avgdl": sentence_avgdl}}


def rebuild_reason(stored: dict | None, wanted: dict) -> str | None:
    """Why the collection must be rebuilt from scratch, or None when a sync is enough. The average
    passage length is left out: a corpus that changes keeps the one the collection was built with."""
    if not stored:
        return "no manifest in the collection's metadata"
    for field in ("format", "model", "tokenizer", "nlp", "chunking", "code"):
        if stored.get(field) != wanted[field]:
            return f"{field} changed ({stored.get(field)} -> {wanted[field]})"
    lengths = ("avgdl", "sentence_avgdl")
    if {k: v for k, v in stored.get("bm25", {}).items() if k not in lengths} != \
            {k: v for k, v in wanted["bm25"].items() if k not in lengths}:
        return f"BM25 parameters changed ({stored.get('bm25')} -> {wanted['bm25']})"
    return None


def average_length(articles: Sequence[Article], params: ChunkParams) -> float:
    lengths = [len(tokenize(c.text)) for a in articles for c in chunk_article(a, params)]
    return sum(lengths) / len(lengths) if lengths else 1.0


def average_sentence_length(articles: Sequence[Article]) -> float:
    """The sentence corpus's average length in tokens (the embedded retriever's sentence BM25: every sentence
    of every article, qa/index.py's `Index.sentences`)."""
    lengths = [len(tokenize(a.text[s:e])) for a in articles for s, e in a.sentences]
    return sum(lengths) / len(lengths) if lengths else 1.0


# ---------------------------------------------------------------- collection
def create_collection(target: Target, dim: int, meta: dict) -> None:
    from qdrant_client import models as m

    client = client_for(target)
    if call(target, client.collection_exists, target.collection):
        call(target, client.delete_collection, target.collection)
    call(target, client.create_collection, target.collection,
         vectors_config={PASSAGE: m.VectorParams(size=dim, distance=m.Distance.COSINE),
                         SENTENCES: m.VectorParams(size=dim, distance=m.Distance.COSINE,
                                                   multivector_config=m.MultiVectorConfig(
                                                       comparator=m.MultiVectorComparator.MAX_SIM))},
         sparse_vectors_config={SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF),
                                SENTENCE_SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
         shard_number=target.shards, replication_factor=target.replication,
         write_consistency_factor=target.write_consistency, metadata=meta)
    log.info("created collection %r at %s (%d shard(s), replication %d)", target.collection, target.where,
             target.shards, target.replication)
    if target.path:
        return  # local mode scans every point regardless of payload indexes (and warns about them)
    # Filters run in the engine; a server uses these indexes.
    for field, schema in (("kind", m.PayloadSchemaType.KEYWORD), ("doc_id", m.PayloadSchemaType.KEYWORD),
                          ("source", m.PayloadSchemaType.KEYWORD), ("published", m.PayloadSchemaType.DATETIME),
                          ("outlet_key", m.PayloadSchemaType.KEYWORD), ("day", m.PayloadSchemaType.DATETIME),
                          ("ordinal", m.PayloadSchemaType.INTEGER), ("chunk_ids", m.PayloadSchemaType.KEYWORD)):
        call(target, client.create_payload_index, target.collection, field, schema)


def stored_manifest(target: Target) -> dict | None:
    client = client_for(target)
    if not call(target, client.collection_exists, target.collection):
        return None
    return call(target, client.get_collection, target.collection).config.metadata or {}


def stored_articles(target: Target) -> dict[str, tuple[str, str | None]]:
    """doc_id -> (sha256, metadata digest) of every article marked complete in the collection."""
    return {p["doc_id"]: (p["sha256"], p.get("meta")) for p, _ in
            scroll(target, _kind("article"), ["doc_id", "sha256", "meta"], False)}


def scroll(target: Target, flt, payload, vectors, page: int = 256):
    """(payload, vectors) of every point matching `flt`, page by page."""
    client, offset = client_for(target), None
    while True:
        points, offset = call(target, client.scroll, target.collection, scroll_filter=flt, limit=page, offset=offset,
                              with_payload=payload, with_vectors=vectors)
        for p in points:
            yield p.payload, p.vector
        if offset is None:
            return


def _kind(kind: str):
    from qdrant_client import models as m

    return m.Filter(must=[m.FieldCondition(key="kind", match=m.MatchValue(value=kind))])


def delete_articles(target: Target, doc_ids: Iterable[str]) -> None:
    """Every point (passages and article) of these articles."""
    from qdrant_client import models as m

    doc_ids = sorted(doc_ids)
    if doc_ids:
        flt = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchAny(any=doc_ids))])
        call(target, client_for(target).delete, target.collection, points_selector=m.FilterSelector(filter=flt), wait=True)
        log.info("deleted the points of %s", ", ".join(doc_ids))


# ---------------------------------------------------------------- points
def points(index: Index, bm25: BM25Params, avgdl: float, sentence_avgdl: float | None = None) -> list:
    """Every point of a freshly built index, each article's passages and sentences followed by its article
    point. `sentence_avgdl` None: no sentence points (the collection predates them)."""
    from qdrant_client import models as m

    out = []
    by_doc: dict[str, list[int]] = {}
    for row, c in enumerate(index.chunks):
        by_doc.setdefault(c.doc_id, []).append(row)
    first_sentence: dict[str, int] = {}
    for s in index.sentences:
        first_sentence.setdefault(s.doc_id, s.index)
    clause_rows: dict[int, list[int]] = {}  # sentence -> its rows of clause_vectors
    if index.clause_vectors is not None:
        for row, (n, _, _, _) in enumerate(analysis.clauses(index.docs)):
            clause_rows.setdefault(n, []).append(row)
    for doc_id, article in index.articles.items():
        rows = by_doc.get(doc_id, [])
        first = first_sentence.get(doc_id, 0)
        for row in rows:
            c = index.chunks[row]
            a, b = c.sentences
            ids, values = sparse_document(index.chunk_tokens[row], bm25, avgdl)
            vectors = {PASSAGE: index.chunk_vectors[row].tolist(), SENTENCES: index.sentence_vectors[a:b].tolist(),
                       SPARSE: m.SparseVector(indices=ids, values=values)}
            out.append(m.PointStruct(id=point_id(c.chunk_id), vector=vectors,
                                     payload=_passage_payload(article, c, index, first, clause_rows)))
        if sentence_avgdl is not None:
            out.extend(_sentence_points(index, article, [index.chunks[r] for r in rows], first, bm25, sentence_avgdl))
        out.append(m.PointStruct(id=point_id(doc_id + "#article"), vector={},
                                 payload=_article_payload(article, len(rows))))
    return out


def sentence_point_id(doc_id: str, ordinal: int) -> str:
    return point_id(f"{doc_id}#sentence{ordinal}")


def _sentence_points(index: Index, article: Article, chunks: Sequence[Chunk], first: int, bm25: BM25Params,
                     avgdl: float) -> list:
    """A point per sentence of the article (each once, so the engine's IDF counts the sentence corpus), with
    the chunk ids of the passages that hold it (none, one, or two where passages overlap)."""
    from qdrant_client import models as m

    holders: dict[int, list[str]] = {}
    for c in chunks:
        for i in range(*c.sentences):
            holders.setdefault(i, []).append(c.chunk_id)
    out = []
    for n in range(len(article.sentences)):
        i = first + n
        ids, values = sparse_document(tokenize(index.sentences[i].text), bm25, avgdl)
        out.append(m.PointStruct(
            id=sentence_point_id(article.doc_id, n), vector={SENTENCE_SPARSE: m.SparseVector(indices=ids, values=values)},
            payload={"kind": "sentence", "doc_id": article.doc_id, "source": article.source, "ordinal": n,
                     "chunk_ids": holders.get(i, []), **_metadata(article)}))
    return out


def _metadata(article: Article) -> dict:
    """The article's metadata as payload fields, with the two qa/filters.py compares: `outlet_key` (the
    outlet casefolded) and `day` (the date it was published on; absent when undated: no date filter passes)."""
    meta = {"title": article.title, "date": article.date, "outlet": article.outlet, "url": article.url,
            "published": article.published, "language": article.language,
            "outlet_key": article.outlet.casefold() if article.outlet else None,
            "day": meta_.day(article.published) if article.published else None}
    return {k: v for k, v in meta.items() if v is not None} | {"title": article.title, "date": article.date}


def _meta_digest(article: Article) -> str:
    return metadata_fingerprint([article])


def _passage_payload(article: Article, c: Chunk, index: Index, first: int,
                     clause_rows: dict[int, list[int]] | None = None) -> dict:
    a, b = c.sentences
    sentences = [{"start": index.sentences[i].start, "end": index.sentences[i].end, "analysis": index.docs[i].to_json()}
                 for i in range(a, b)]
    if clause_rows is not None and index.clause_vectors is not None:
        for i, sentence in zip(range(a, b), sentences):
            sentence["clauses"] = [index.clause_vectors[r].tolist() for r in clause_rows.get(i, ())]
    return {"kind": "passage", "chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": article.source,
            "ordinal": c.ordinal, "start": c.start, "end": c.end, "sentence_range": [a - first, b - first],
            **_metadata(article), "sentences": sentences}


def _article_payload(article: Article, n_chunks: int) -> dict:
    return {"kind": "article", "doc_id": article.doc_id, "source": article.source, **_metadata(article),
            "sha256": article.sha256, "meta": _meta_digest(article), "text": article.text, "excluded": [list(r) for r in article.excluded],
            "sentence_spans": [list(s) for s in article.sentences], "chunks": n_chunks}


def upsert(target: Target, batch: Sequence, progress: Progress | None, batch_size: int) -> None:
    """In batches, each acknowledged before the next (`wait`), so an interruption loses at most one."""
    client = client_for(target)
    wrap = progress or (lambda it, total, label: it)
    starts = range(0, len(batch), batch_size)
    for start in wrap(starts, len(starts), "upsert"):
        call(target, client.upsert, target.collection, points=list(batch[start : start + batch_size]), wait=True)


def trim(target: Target, doc_id: str, n_chunks: int, n_sentences: int | None = None) -> None:
    """Delete passages (and sentences) of `doc_id` past its last one: left by an older version of the article."""
    from qdrant_client import models as m

    for kind, n in (("passage", n_chunks), ("sentence", n_sentences)):
        if n is None:
            continue
        flt = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchValue(value=doc_id)),
                             m.FieldCondition(key="kind", match=m.MatchValue(value=kind)),
                             m.FieldCondition(key="ordinal", range=m.Range(gte=n))])
        call(target, client_for(target).delete, target.collection, points_selector=m.FilterSelector(filter=flt),
             wait=True)


# ---------------------------------------------------------------- sync
def sync(target: Target, articles: list[Article], embedder: Embedder, params: ChunkParams, bm25: BM25Params,
         nlp, rebuild: bool = False, progress: Progress | None = None, batch_size: int = 64) -> dict:
    """Make the collection hold exactly `articles`. Returns what was done: {"rebuilt", "upserted", "deleted"}."""
    fingerprint = nlp_fingerprint(nlp)
    stored = stored_manifest(target)
    if stored is not None and stored.get("format") is None:  # never drop a collection this service did not write
        raise ConfigError(f"Qdrant at {target.where} has a collection {target.collection!r} without this service's "
                          f"manifest; set QA_QDRANT_COLLECTION to another name, or delete that collection")
    wanted = manifest(embedder, params, fingerprint, bm25, average_length(articles, params),
                      average_sentence_length(articles))
    reason = "rebuild requested" if rebuild else "no collection yet" if stored is None else rebuild_reason(stored, wanted)
    if stored is None or reason:
        log.info("building Qdrant collection %r: %s", target.collection, reason)
        create_collection(target, embedder.dim, wanted)
        stored = wanted
    avgdl, sentence_avgdl = stored["bm25"]["avgdl"], stored["bm25"].get("sentence_avgdl")
    have = stored_articles(target)
    wanted_ids = {a.doc_id: a.sha256 for a in articles}
    removed = sorted(set(have) - set(wanted_ids))
    delete_articles(target, removed)
    todo = [a for a in articles if have.get(a.doc_id, (None,))[0] != a.sha256]
    relabel = [a for a in articles if a.doc_id in have and have[a.doc_id][0] == a.sha256
               and have[a.doc_id][1] != _meta_digest(a)]
    for a in relabel:  # the text is unchanged: its vectors and analysis stay, its metadata is rewritten
        set_metadata(target, a)
    if todo:
        log.info("upserting %d article(s): %s", len(todo), ", ".join(a.doc_id for a in todo))
        built = build_index(todo, embedder, params, progress, nlp)
        upsert(target, points(built, bm25, avgdl, sentence_avgdl), progress, batch_size)
        counts = Counter(c.doc_id for c in built.chunks)
        for a in todo:
            trim(target, a.doc_id, counts.get(a.doc_id, 0), len(a.sentences))
    return {"rebuilt": bool(reason), "upserted": [a.doc_id for a in todo], "deleted": removed,
            "relabelled": [a.doc_id for a in relabel]}


def set_metadata(target: Target, article: Article) -> None:
    """Rewrite the metadata in the payload of every point of `article` (its text unchanged)."""
    from qdrant_client import models as m

    client = client_for(target)
    flt = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchValue(value=article.doc_id))])
    stale = ["outlet", "url", "published", "language", "outlet_key", "day"]
    call(target, client.delete_payload, target.collection, keys=stale, points=m.FilterSelector(filter=flt), wait=True)
    call(target, client.set_payload, target.collection, payload=_metadata(article), points=m.FilterSelector(filter=flt),
         wait=True)
    call(target, client.set_payload, target.collection, payload={"meta": _meta_digest(article)},
         points=m.FilterSelector(filter=m.Filter(must=flt.must + _kind("article").must)), wait=True)
    log.info("rewrote the metadata of %s", article.doc_id)


# ---------------------------------------------------------------- load the Index view
def load(target: Target, vocab=None) -> Index:
    """The service's `Index` from the collection alone: articles, sentences (with vectors and analysis),
    chunks (with vectors and BM25 tokens). Passages of an article not marked complete are left out."""
    from spacy.tokens import Doc

    meta = stored_manifest(target)
    if meta is None:
        raise IndexMissing(f"Qdrant at {target.where} has no collection {target.collection!r}; "
                           f"build it with `qa index --backend qdrant`")
    if vocab is None:
        import spacy

        vocab = spacy.blank("en").vocab
    rows = {p["doc_id"]: p for p, _ in scroll(target, _kind("article"), True, False)}
    articles = {d: _article(rows[d]) for d in sorted(rows, key=lambda d: rows[d]["source"])}
    passages: dict[str, list] = {d: [] for d in articles}
    for payload, vectors in scroll(target, _kind("passage"), True, [PASSAGE, SENTENCES]):
        if payload["doc_id"] in passages:
            passages[payload["doc_id"]].append((payload, vectors))
    sentences, chunks, tokens, chunk_vecs = [], [], [], []
    sentence_vecs: dict[int, list[float]] = {}
    docs: dict[int, object] = {}
    clause_vecs: dict[int, list] = {}  # sentence -> its clauses' embeddings (None: the payload has none)
    for doc_id, article in articles.items():
        found = sorted(passages[doc_id], key=lambda pv: pv[0]["ordinal"])
        if len(found) != rows[doc_id]["chunks"]:
            raise IndexCorrupt(f"collection {target.collection!r}", f"doc {doc_id}",
                               f"{len(found)} passages stored, its article point says {rows[doc_id]['chunks']}")
        first = len(sentences)
        sentences.extend(Sentence(first + n, doc_id, s, e, article.text[s:e]) for n, (s, e) in enumerate(article.sentences))
        for payload, vectors in found:
            a, b = (first + i for i in payload["sentence_range"])
            for i, row, sentence in zip(range(a, b), vectors[SENTENCES], payload["sentences"]):
                sentence_vecs.setdefault(i, row)
                if i not in docs:
                    docs[i] = Doc(vocab).from_json(sentence["analysis"])
                    clause_vecs[i] = sentence.get("clauses")
            text = article.text[payload["start"] : payload["end"]]
            chunks.append(Chunk(payload["chunk_id"], doc_id, payload["ordinal"], payload["start"], payload["end"], text, (a, b)))
            tokens.append(tuple(tokenize(text)))
            chunk_vecs.append(vectors[PASSAGE])
    missing = [s.index for s in sentences if s.index not in docs]
    if missing:
        raise IndexCorrupt(f"collection {target.collection!r}", f"sentence {missing[0]}", "no passage holds this sentence")
    dim = meta["model"]["dimension"]
    view = dict(meta, built_at=meta.get("built_at", ""), format_version=meta.get("format", FORMAT),
                counts={"articles": len(articles), "sentences": len(sentences), "chunks": len(chunks)},
                backend={"kind": "qdrant", "where": target.where, "collection": target.collection})
    docs_ = tuple(docs[i] for i in range(len(sentences)))
    return Index(articles, tuple(sentences), tuple(chunks), tuple(tokens), _matrix(chunk_vecs, dim),
                 _matrix([sentence_vecs[i] for i in range(len(sentences))], dim), view, None, docs_,
                 clause_vectors=_clause_matrix(docs_, clause_vecs, dim))


def _clause_matrix(docs: tuple, by_sentence: dict[int, list | None], dim: int) -> np.ndarray | None:
    """clause_vectors for the view, rows aligned with analysis.clauses(docs); None when a sentence's
    clauses were not stored (or do not match its analysis): the reader then reads without them."""
    rows, taken = [], {}
    for n, _, _, _ in analysis.clauses(docs):
        stored = by_sentence.get(n)
        k = taken.get(n, 0)
        if stored is None or k >= len(stored):
            return None
        rows.append(stored[k])
        taken[n] = k + 1
    if any(len(stored or ()) != taken.get(n, 0) for n, stored in by_sentence.items()):
        return None
    return _matrix(rows, dim)


def _matrix(rows: list, dim: int) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), dim)


def _article(p: dict) -> Article:
    return Article(p["doc_id"], p["source"], p["text"], p.get("date"), p["title"],
                   tuple(tuple(r) for r in p["excluded"]), tuple(tuple(s) for s in p["sentence_spans"]), p["sha256"],
                   p.get("outlet"), p.get("url"), p.get("published"), p.get("language"))
