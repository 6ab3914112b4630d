"""Incremental index updates: only new or changed articles are chunked, embedded and analysed.

An index built with the same model, tokenizer, spaCy pipeline, chunking and index code holds, for
every article, its chunks and their BM25 tokens, its chunk and sentence vectors and its sentences'
spaCy analysis. These depend on the article's text alone, so they are reused for any article whose
text has the same SHA-256 (whatever its name or metadata now); the rest are computed as a build
would. The BM25 matrices move the reused rows' postings and count only the new rows' tokens, the clause
table moves the reused rows (qa/derived.py, qa/tables.py): nothing walks every article again.
The result is an ordinary Index, saved with `save_index(..., reuse=True)` (qa/index.py): the articles the
live build's segments hold stay there, the added or changed ones are written as one new segment
(qa/segments.py), the removed ones become tombstones in the new manifest, swapped in atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

from qa import analysis, derived, stacked, tables
from qa.chunk import ChunkParams, chunk_article
from qa.embed import Embedder
from qa.index import Index, _embed, _manifest, metadata_fingerprint, nlp_fingerprint, stale_reason
from qa.text import tokenize
from qa.types import Article, Chunk, Sentence

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UpdateStats:
    reused: int  # articles whose chunks, vectors and analysis came from the base index
    computed: int  # articles chunked, embedded and analysed now
    sentences_computed: int
    chunks_computed: int


def reusable(base: Index, articles: list[Article], model_name: str, params: ChunkParams, nlp: dict) -> str | None:
    """Why `base` cannot lend its work to an index of `articles` (another model, pipeline, chunking or
    code), or None when it can: only the corpus and metadata may differ."""
    same_corpus = dict(base.manifest, corpus={a.source: a.sha256 for a in articles},
                       metadata=metadata_fingerprint(articles))
    return stale_reason(same_corpus, articles, model_name, params, nlp)


@dataclass(frozen=True, slots=True)
class _Stored:
    """Where an article's rows sit in the base index."""

    article: Article
    sentences: tuple[int, int]  # [first, last) rows of sentences / sentence_vectors / docs
    chunks: tuple[int, int]  # [first, last) rows of chunks / chunk_tokens / chunk_vectors
    analysis: bytes | None  # its part of the stored analysis, as read (None: serialize its Docs again)


def _stored(base: Index) -> dict[str, _Stored]:
    """The base index's articles by the SHA-256 of their text. An index holds each article's sentences,
    then its chunks, in article order, so the rows are counted, not searched."""
    chunk_counts: dict[str, int] = {}
    for c in base.chunks:
        chunk_counts[c.doc_id] = chunk_counts.get(c.doc_id, 0) + 1
    out = {}
    parts = base.analysis_parts if len(base.analysis_parts) == len(base.articles) else [None] * len(base.articles)
    s0 = c0 = 0
    for (doc_id, a), part in zip(base.articles.items(), parts):
        s1, c1 = s0 + len(a.sentences), c0 + chunk_counts.get(doc_id, 0)
        if a.sha256 and s1 > s0 and c1 > c0:
            out[a.sha256] = _Stored(a, (s0, s1), (c0, c1), part)
        s0, c0 = s1, c1
    if (s0, c0) != (len(base.sentences), len(base.chunks)):
        raise ValueError("the base index's rows are not its articles' sentences and chunks in order")
    return out


def update_index(base: Index, articles: list[Article], embedder: Embedder, params: ChunkParams, nlp,
                 progress: Callable[[Iterable, int, str], Iterable] | None = None) -> tuple[Index, UpdateStats]:
    """An index of `articles` that takes from `base` everything an unchanged text allows (check
    `reusable` first). Returns it (not saved) and what was reused and computed."""
    wrap = progress or (lambda it, total, label: it)
    stored = _stored(base)
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    tokens: list[tuple[str, ...]] = []
    sent_from = []  # per sentence: its row in the base index, or -1 when computed now
    chunk_from = []
    parts: list[bytes | None] = []  # per article: its analysis part (None: computed below)
    new_sizes: list[int] = []
    reused = 0
    for a in articles:
        old = stored.get(a.sha256)
        first = len(sentences)
        if old is not None and old.article.sentences == a.sentences:
            reused += 1
            s0, s1 = old.sentences
            c0, c1 = old.chunks
            shift = first - s0
            if shift == 0 and old.article.doc_id == a.doc_id:  # same place, same name: the very same rows
                sentences.extend(base.sentences[s0:s1])
                chunks.extend(base.chunks[c0:c1])
            else:
                sentences.extend(Sentence(first + i, a.doc_id, s.start, s.end, s.text)
                                 for i, s in enumerate(base.sentences[s0:s1]))
                chunks.extend(replace(c, chunk_id=f"{a.doc_id}#{c.ordinal}", doc_id=a.doc_id,
                                      sentences=(c.sentences[0] + shift, c.sentences[1] + shift))
                              for c in base.chunks[c0:c1])
            tokens.extend(base.chunk_tokens[c0:c1])
            sent_from.extend(range(s0, s1))
            chunk_from.extend(range(c0, c1))
            parts.append(old.analysis if old.analysis is not None else analysis.serialize(base.docs[s0:s1]))
            continue
        new_chunks = chunk_article(a, params, first_sentence=first)
        chunks.extend(new_chunks)
        tokens.extend(tuple(tokenize(c.text)) for c in new_chunks)
        sentences.extend(Sentence(first + i, a.doc_id, start, end, a.text[start:end])
                         for i, (start, end) in enumerate(a.sentences))
        sent_from.extend([-1] * len(a.sentences))
        chunk_from.extend([-1] * len(new_chunks))
        parts.append(None)
        new_sizes.append(len(a.sentences))

    sent_from_a, chunk_from_a = np.asarray(sent_from, dtype=np.int64), np.asarray(chunk_from, dtype=np.int64)
    new_sent = np.flatnonzero(sent_from_a < 0)
    new_chunk = np.flatnonzero(chunk_from_a < 0)
    chunk_vectors = _gather(base.chunk_vectors, chunk_from_a,
                            _embed(embedder, [chunks[i].text for i in new_chunk], wrap, "chunks"), embedder.dim)
    sentence_vectors = _gather(base.sentence_vectors, sent_from_a,
                               _embed(embedder, [sentences[i].text for i in new_sent], wrap, "sentences"), embedder.dim)
    texts = [sentences[i].text for i in new_sent]
    new_parts = analysis.split(analysis.analyse(nlp, texts, wrap, sizes=new_sizes)) if texts else []
    new_docs = iter(analysis.load_docs(new_parts, nlp.vocab, texts))
    docs = tuple(base.docs[r] if r >= 0 else next(new_docs) for r in sent_from)
    fresh = iter(new_parts)
    parts = [p if p is not None else next(fresh) for p in parts]
    clause_table, clause_vectors = _clauses(base, docs, sent_from_a, new_sent, embedder, wrap)
    structures = derived.updated(base.derived, chunk_from_a, [tokens[i] for i in new_chunk], sent_from_a, texts,
                                 chunk_vectors)

    manifest = _manifest(articles, embedder, params, len(sentences), len(chunks), nlp_fingerprint(nlp))
    stats = UpdateStats(reused, len(articles) - reused, len(new_sent), len(new_chunk))
    log.info("index updated: %d articles reused, %d computed (%d sentences, %d chunks)", *(
        stats.reused, stats.computed, stats.sentences_computed, stats.chunks_computed))
    index = Index({a.doc_id: a for a in articles}, tuple(sentences), tuple(chunks), tuple(tokens),
                  chunk_vectors, sentence_vectors, manifest, None, docs, tuple(parts), clause_vectors=clause_vectors,
                  clause_table=clause_table, derived=structures)
    return index, stats


def _clauses(base: Index, docs: tuple, sent_from: np.ndarray, new_sent: np.ndarray, embedder: Embedder,
             wrap) -> tuple[np.ndarray, np.ndarray]:
    """The clause table and clause embeddings of the new index: a reused sentence's clauses keep their rows
    and vectors (the same analysis gives the same clauses), a new sentence's are found and embedded."""
    old_table = base.clause_table if base.clause_table is not None else tables.clause_table(base.docs)
    table, rows = tables.moved(old_table, sent_from, {int(j): docs[j] for j in new_sent})
    texts = [docs[n].text[a:b] for n, _, a, b in table[rows < 0].tolist()]
    return table, _gather(base.clause_vectors, rows, _embed(embedder, texts, wrap, "clauses"), embedder.dim)


def _gather(old, rows: np.ndarray, new: np.ndarray, dim: int):
    """Rows of `old` where `rows` >= 0, rows of `new` (in order) where it is -1: the kept rows are shared with
    `old`, not copied (qa/stacked.py)."""
    return stacked.gathered(old, rows, np.asarray(new, dtype=np.float32), dim)
