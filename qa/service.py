"""QAService: the single entry point for HTTP, Slack, the CLI and evaluation. It delegates."""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from qa.batching import submit_queries
from qa.bm25 import BM25Params
from qa.chunk import ChunkParams
from qa.config import MODES, Settings
from qa.derived import GRAPH, RetrievalParams, complete
from qa.embed import Embedder, make_embedder
from qa.errors import ConfigError, DocumentNotFound, IndexError_, IndexMissing, InvalidQuestion, ModelError
from qa import filters as filtering, nlp
from qa.index import (MANIFEST, Index, build_index, build_lock, cleanup, load_index, nlp_fingerprint, save_index,
                      stale_reason)
from qa.ingest import load_articles
from qa.lru import LRU
from qa.read import Reader, ReaderParams, Reranker, SpanModel
from qa.retrieve import EmbeddedRetriever, Query, Retriever
from qa.documents import reading, sweep_leftovers
from qa.scan import scanner
from qa.update import reusable, update_index
from qa.vectors import HnswParams
from qa.text import query_tokens, tokenize
from qa.types import Article, Filters, Hit, Result

log = logging.getLogger(__name__)

DENSE_UNAVAILABLE = "dense_unavailable"  # Result.degraded when the query encoder failed


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(settings.chunk_min_sentences, settings.chunk_max_sentences,
                       settings.chunk_max_words, settings.chunk_overlap)


def hnsw_params(settings: Settings) -> HnswParams:
    return HnswParams(settings.hnsw_m, ef_search=settings.hnsw_ef_search, storage=settings.hnsw_storage,
                      tail=settings.hnsw_tail)


def retrieval_params(settings: Settings) -> RetrievalParams:
    """The settings the saved BM25 matrices and HNSW graph are made for (qa/derived.py)."""
    s = settings
    return RetrievalParams(BM25Params(s.bm25_variant, s.bm25_k1, s.bm25_b), s.dense_exact_below,
                           hnsw_params(s))


def ensure_index(settings: Settings, embedder: Embedder, rebuild: bool = False,
                 progress: Callable[[Iterable, int, str], Iterable] | None = None, live: Index | None = None) -> Index:
    """Load the index, bringing it up to date with the corpus first: when only articles (or their metadata)
    changed, incrementally from `live` (else the index on disk): unchanged texts keep their vectors and
    analysis (qa/update.py); when it is missing, built with other settings or code, or `rebuild` is asked
    for, by a full build. An up-to-date index saved before its retrieval structures were (format 4) is
    saved again with them, nothing embedded. A corrupt index is an error to report, never silently replaced."""
    params = chunk_params(settings)
    pipeline = nlp.load(settings.nlp_model)
    if settings.backend == "qdrant":
        with build_lock(settings.index_dir):
            return _ensure_qdrant(settings, embedder, params, pipeline, rebuild, progress)
    with build_lock(settings.index_dir):
        cleanup(settings.index_dir)
        if live is None and settings.seeds_dir.is_dir():  # a start: what crashed corpus changes left goes
            sweep_leftovers(settings.seeds_dir)
        reason = "rebuild requested" if rebuild else None
        base = live
        if reason is None and base is None:
            try:
                base = load_index(settings.index_dir, pipeline.vocab)
            except IndexMissing:
                reason = "no index yet"
            except IndexError_ as exc:
                if exc.code != "index_stale":
                    raise
                reason = str(exc)
        known = {a.sha256: a for a in base.articles.values()} if base is not None else None
        # inside the lock: the corpus as this build sees it (files unchanged since the last look are not read)
        with reading(settings.seeds_dir):
            articles = scanner(settings.corpus_watch).load(settings.seeds_dir, known)
        if reason is None:
            fingerprint = nlp_fingerprint(pipeline)
            reason = stale_reason(base.manifest, articles, embedder.name, params, fingerprint)
            if reason is None and "retrieval" not in base.manifest:
                log.info("saving the index again with its retrieval structures (format %s had none)",
                         base.manifest["format_version"])
                return saved(base, settings.index_dir, retrieval_params(settings))
            if reason is None:
                return base
            if reusable(base, articles, embedder.name, params, fingerprint) is None:
                log.info("updating the index: %s", reason)
                index, _ = update_index(base, articles, embedder, params, pipeline, progress)
                return saved(index, settings.index_dir, retrieval_params(settings))
        log.info("building the index: %s", reason)
        save_index(build_index(articles, embedder, params, progress, pipeline), settings.index_dir,
                   retrieval_params(settings))
        return load_index(settings.index_dir, pipeline.vocab)


def saved(index: Index, index_dir, retrieval: RetrievalParams | None = None) -> Index:
    """`index` written as a new build (with the retrieval structures for `retrieval`, when given) and swapped
    in, reusing the live build's segments for the articles they hold (only the others are written); the same
    index, now with its path, full manifest and those structures."""
    if retrieval is not None:
        index = replace(index, derived=complete(index, retrieval))
    path = save_index(index, index_dir, reuse=True)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    derived = index.derived
    if derived is not None and derived.graph is not None and GRAPH in manifest["files"]:
        derived = replace(derived, graph_file=(path / GRAPH, manifest["files"][GRAPH]))  # the next update links it
    return replace(index, path=path, manifest=dict(manifest, corpus=index.manifest["corpus"]), derived=derived)


def _ensure_qdrant(settings: Settings, embedder: Embedder, params: ChunkParams, pipeline,
                   rebuild: bool, progress) -> Index:
    from qa import qdrant_store as store
    from qa.bm25 import BM25Params

    target = store.Target.from_settings(settings)
    with reading(settings.seeds_dir):
        articles = load_articles(settings.seeds_dir)  # inside the lock: the corpus as this sync sees it
    if settings.bm25_variant != "l":
        raise ConfigError(f"QA_BM25_VARIANT={settings.bm25_variant} is not available with QA_BACKEND=qdrant: the "
                          f"engine's IDF is BM25L's, so Qdrant scores BM25L only; set QA_BM25_VARIANT=l")
    # BM25L's document weights: with the engine's IDF they give the embedded index's BM25L scores.
    bm25 = BM25Params("l", settings.bm25_k1, settings.bm25_b)
    done = store.sync(target, articles, embedder, params, bm25, pipeline, rebuild, progress, settings.qdrant_batch_size)
    log.info("Qdrant collection %r at %s: %s", target.collection, target.where, done)
    return store.load(target, pipeline.vocab)


def make_retriever(settings: Settings, index: Index) -> Retriever:
    """The retriever QA_BACKEND names, over `index` (for qdrant: the view loaded from its collection)."""
    s = settings
    if s.backend == "qdrant":
        from qa.qdrant_retrieve import QdrantRetriever
        from qa.qdrant_store import Target

        where = index.manifest.get("backend", {})
        return QdrantRetriever(index, Target.from_settings(s, where.get("collection")), s.qdrant_fusion or s.fusion,
                               s.rrf_k, s.fusion_alpha, s.retrieve_depth, s.dense_passage_share,
                               s.bm25_passage_share, s.dense_exact_below)
    return EmbeddedRetriever(index, s.bm25_variant, s.bm25_k1, s.bm25_b, s.fusion, s.rrf_k, s.fusion_alpha,
                             s.retrieve_depth, s.dense_exact_below, hnsw_params(s),
                             s.dense_passage_share, s.bm25_passage_share)


def embedder_for(settings: Settings) -> Embedder:
    """The encoder the settings ask for, not loaded yet (an ONNX export is kept beside the index)."""
    return make_embedder(settings.model, settings.encode_batch_size, settings.encoder_backend,
                         settings.index_dir / "models", settings.torch_threads, settings.query_cache_size,
                         settings.query_batch)


def reader_params(settings: Settings) -> ReaderParams:
    s = settings
    return ReaderParams(s.dense_weight, s.abstain_threshold, s.relevance_floor, s.read_passages, s.read_sentences,
                        s.differ_ratio, s.list_ratio, s.reranker_weight)


def optional_stages(settings: Settings) -> tuple[SpanModel | None, Reranker | None]:
    """The model stages the settings switch on, loaded (the slow part); None for those left off."""
    from qa.neural import CrossEncoderReranker, TransformerReader

    span_model = TransformerReader(settings.reader_model).load() if settings.reader_model else None
    reranker = CrossEncoderReranker(settings.reranker_model).load() if settings.reranker_model else None
    return span_model, reranker


@functools.lru_cache(maxsize=1 << 17)
def sentence_tokens(text: str) -> frozenset:
    """The reader's token set of a sentence, remembered by its text from one service to the next (the
    reader asks for the sentences it reads only, so a new service tokenizes nothing up front)."""
    return frozenset(tokenize(text))


@dataclass(frozen=True, slots=True)
class Readiness:
    articles: int
    chunks: int
    sentences: int
    format_version: int
    built_at: str
    model: str
    backend: str = "embedded"
    engine: str | None = None  # the search engine's health, when retrieval runs in one


class QAService:
    def __init__(self, settings: Settings, index: Index, embedder: Embedder, retriever: Retriever | None = None,
                 span_model: SpanModel | None = None, reranker: Reranker | None = None,
                 previous: "QAService | None" = None):
        """`previous`: the service this one replaces; when `index` is an update of its index, the reader takes
        over what it already read off the unchanged sentences (Reader.carry)."""
        self.settings, self.index, self.embedder = settings, index, embedder
        self.retriever = retriever or make_retriever(settings, index)
        self._catalog: filtering.Catalog | None = None
        self.reader = Reader(index, self.retriever.idf, reader_params(settings), sentence_tokens,
                             nlp.question_parser(settings.nlp_model, settings.question_cache_size,
                                                 settings.question_batch),
                             span_model=span_model, reranker=reranker)
        if previous is not None:
            self.reader.carry(previous.reader)
        # answers of this index, by (question, top_k, mode, filters): see Settings.answer_cache_size
        self._answers: LRU[Result] | None = (LRU(settings.answer_cache_size)
                                             if settings.answer_cache_size > 0 and settings.backend == "embedded"
                                             else None)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, rebuild: bool = False) -> "QAService":
        """Load the model and the index (building it if needed): the slow start-up step."""
        embedder = embedder or embedder_for(settings)
        load = getattr(embedder, "load", None)
        if load:
            load()
        span_model, reranker = optional_stages(settings)
        return cls(settings, ensure_index(settings, embedder, rebuild), embedder, span_model=span_model, reranker=reranker)

    def prepare_reader(self, limit: int) -> int:
        """Read the first `limit` sentences' candidates and parse off the stored analysis now instead of at
        their first question (about 1.7 ms a sentence: up to 20 ms more for a question reading 12 new
        ones). Returns how many were prepared; the others are still read at their first question."""
        n = min(limit, len(self.index.sentences))
        for i in range(n):
            self.reader.candidates(i)
            self.reader.parse(i)
        return n

    # ------------------------------------------------------------ queries
    def ask(self, question: str, top_k: int | None = None, mode: str | None = None,
            filters: Filters | None = None) -> Result:
        """`filters`: answer from these articles only (sources, publication dates); None: from all."""
        t0 = time.perf_counter()
        question, top_k, mode = self._validate(question, top_k, mode)
        filters = self.valid_filters(filters)
        key = (question, top_k, mode, filters)
        if self._answers is not None:
            known = self._answers.get(key)
            if known is not None:  # asked before of this index: the same answer, looked up
                took = (time.perf_counter() - t0) * 1e3
                return replace(known, took_ms=round(took, 3), timings={"cache_ms": took})
        t_asked = time.perf_counter()
        pending = submit_queries(self.embedder, [question])
        parsed = self.reader.question(question)  # while the encoder runs on its own thread, when it has one
        t_parsed = time.perf_counter()
        tokens, degraded = tuple(query_tokens(question)), None
        try:
            vector = pending.result()[0]
        except ModelError as exc:
            # The encoder failing at query time costs the dense leg, not the answer: BM25 and words alone.
            log.warning("query encoder failed, answering from BM25 alone: %s", exc)
            vector, degraded = None, DENSE_UNAVAILABLE
        t1 = time.perf_counter()
        hits = self._search(Query(question, tokens, vector), max(top_k, self.settings.read_passages),
                            "bm25" if degraded else mode, filters)
        t2 = time.perf_counter()
        reading = self.reader.read(question, tokens, vector, hits, top_k, parsed)
        t3 = time.perf_counter()
        # embed: from handing the question to the encoder to having its vector (the parse ran meanwhile);
        # read: the question's parse and the reading
        timings = {"embed_ms": (t1 - t_asked) * 1e3, "retrieve_ms": (t2 - t1) * 1e3,
                   "read_ms": (t3 - t2 + t_parsed - t_asked) * 1e3}
        result = Result(question, mode, reading.answers, reading.abstained, tuple(hits[:top_k]),
                        round((t3 - t0) * 1e3, 3), round(reading.confidence, 4), timings, reading.abstain_reason,
                        degraded)
        if self._answers is not None and degraded is None:
            self._answers.put(key, result)
        return result

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               filters: Filters | None = None) -> list[Hit]:
        question, k, mode = self._validate(question, k, mode)
        filters = self.valid_filters(filters)
        if mode == "bm25":  # no encoder call: BM25 search keeps working when the model does not
            return self._search(Query(question, tuple(query_tokens(question)), None), k, mode, filters)
        query = self._query(question)
        return self._search(query, k, mode, filters)

    def documents(self, offset: int = 0, limit: int = 20) -> tuple[int, list[Article]]:
        """(how many articles are served, those at [offset, offset + limit) by doc id)."""
        ids = sorted(self.index.articles)
        return len(ids), [self.index.articles[i] for i in ids[offset : offset + limit]]

    def document(self, doc_id: str) -> Article:
        try:
            return self.index.articles[doc_id]
        except KeyError:
            known = ", ".join(sorted(self.index.articles))
            raise DocumentNotFound(f"no document {doc_id!r}; known documents: {known}") from None

    def readiness(self) -> Readiness:
        """Counts of the loaded index; with an engine behind retrieval, its health (EngineUnavailable when
        it does not answer)."""
        m = self.index.manifest
        health = getattr(self.retriever, "health", None)
        engine = None
        if health is not None:
            h = health()
            engine = f"qdrant {h.version} at {h.where}: collection {h.collection!r} {h.status}, {h.points} points"
        return Readiness(m["counts"]["articles"], m["counts"]["chunks"], m["counts"]["sentences"],
                         m["format_version"], m.get("built_at", ""), m["model"]["name"],
                         self.settings.backend if health is not None else "embedded", engine)

    # ------------------------------------------------------------ helpers
    def _search(self, query: Query, k: int, mode: str, filters: Filters | None) -> list[Hit]:
        # A retriever written before filters existed is still called as it was when nothing is filtered.
        if filters is None:
            return self.retriever.search(query, k, mode)
        return self.retriever.search(query, k, mode, filters)

    def valid_filters(self, filters: Filters | None) -> Filters | None:
        """`filters` validated against the served articles: with the embedded retriever's catalog of them, or
        one of the service's own for a retriever that keeps none (made at the first filtered question)."""
        if filters is None or filters.empty:
            return None
        catalog = getattr(self.retriever, "catalog", None)
        if catalog is not None:
            return filtering.check(filters, self.index.articles, catalog())
        if self._catalog is None:
            self._catalog = filtering.Catalog(list(self.index.articles.values()))
        return filtering.check(filters, self.index.articles, self._catalog)

    def _query(self, question: str) -> Query:
        return Query(question, tuple(query_tokens(question)), self.embedder.embed_queries([question])[0])

    def _validate(self, question: str, top_k: int | None, mode: str | None) -> tuple[str, int, str]:
        s = self.settings
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestion("question is blank; ask a question in plain words")
        if len(question) > s.max_question_chars:
            raise InvalidQuestion(f"question is {len(question)} characters; the limit is {s.max_question_chars}")
        top_k = s.default_top_k if top_k is None else top_k
        if not 1 <= top_k <= s.max_top_k:
            raise InvalidQuestion(f"top_k is {top_k}; it must be between 1 and {s.max_top_k}")
        mode = s.default_mode if mode is None else mode
        if mode not in MODES:
            raise InvalidQuestion(f"mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
        return question.strip(), top_k, mode
