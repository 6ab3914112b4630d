"""Incremental index updates: only new or changed articles are chunked, embedded and analysed.

An index built with the same model, tokenizer, spaCy pipeline, chunking and index code holds, for
every article, its chunks and their BM25 tokens, its chunk and sentence vectors and its sentences'
spaCy analysis. These depend on the article's text alone, so they are reused for any article whose
text has the same SHA-256 (whatever its name or metadata now); the rest are computed as a build
would. The article list is walked once, a dictionary lookup an article: runs of unchanged articles are
taken as runs of the live index's sentences, chunks, tokens, Docs and analysis (`_Plan`); where an article
added or removed before them moved their rows, a run carries the shift its numbers take and its rows are
numbered when read (qa/renumbered.py), not copied. The BM25 matrices move the
reused rows' postings and count only the new rows' tokens, the clause table moves the reused rows
(qa/derived.py, qa/tables.py). The new index carries its row bounds (`Index.rows`) and its lineage
(`Index.lineage`: the live index's Docs, and where each sentence came from), so what a service made over
the live index (reporting verbs, the reader's candidates and parses) is carried over, not made again.
The result is an ordinary Index, saved with `save_index(..., reuse=True)` (qa/index.py): the articles the
live build's segments hold stay there, the added or changed ones are written as one new segment
(qa/segments.py), the removed ones become tombstones in the new manifest, swapped in atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Callable, Iterable, Sequence

import numpy as np

from qa import analysis, derived, renumbered, segments, stacked, tables
from qa.chunk import ChunkParams, chunk_article
from qa.embed import Embedder
from qa.index import Index, Lineage, _embed, _manifest, by_id, nlp_fingerprint, settings_reason
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
    return settings_reason(base.manifest, model_name, params, nlp)


def update_index(base: Index, articles: list[Article], embedder: Embedder, params: ChunkParams, nlp,
                 progress: Callable[[Iterable, int, str], Iterable] | None = None) -> tuple[Index, UpdateStats]:
    """An index of `articles` that takes from `base` everything an unchanged text allows (check
    `reusable` first). Returns it (not saved) and what was reused and computed."""
    wrap = progress or (lambda it, total, label: it)
    plan = _plan(base, articles, params)
    sent_from, chunk_from = plan.sentence_rows(), plan.chunk_rows()
    new_sent, new_chunk = np.flatnonzero(sent_from < 0), np.flatnonzero(chunk_from < 0)
    chunk_vectors = _gather(base.chunk_vectors, chunk_from,
                            _embed(embedder, [c.text for c in plan.new_chunks], wrap, "chunks"), embedder.dim)
    sentence_vectors = _gather(base.sentence_vectors, sent_from,
                               _embed(embedder, plan.new_texts, wrap, "sentences"), embedder.dim)
    texts = plan.new_texts
    new_parts = analysis.split(analysis.analyse(nlp, texts, wrap, sizes=plan.new_sizes)) if texts else []
    new_docs = analysis.load_docs(new_parts, nlp.vocab, texts)
    docs = plan.docs(base.docs, new_docs)
    fresh = iter(new_parts)
    parts = tuple(p if p is not None else next(fresh) for p in plan.parts)
    clause_table, clause_vectors = _clauses(base, docs, sent_from, new_sent, embedder, wrap)
    structures = derived.updated(base.derived, chunk_from, plan.new_tokens, sent_from, texts)

    sentences, chunks = plan.sentences(), plan.chunks()
    manifest = _manifest(articles, embedder, params, len(sentences), len(chunks), nlp_fingerprint(nlp))
    stats = UpdateStats(plan.reused, len(articles) - plan.reused, len(new_sent), len(new_chunk))
    log.info("index updated: %d articles reused, %d computed (%d sentences, %d chunks)", *(
        stats.reused, stats.computed, stats.sentences_computed, stats.chunks_computed))
    index = Index(by_id(articles), sentences, chunks, plan.tokens(),
                  chunk_vectors, sentence_vectors, manifest, None, docs, parts, clause_vectors=clause_vectors,
                  clause_table=clause_table, derived=structures, rows=plan.rows(articles, clause_table),
                  lineage=Lineage(base.docs, sent_from))
    return index, stats


class _Plan:
    """The rows of an updated index, as pieces: runs of the base's rows taken as they are, moved or not (no
    Python pass over them: a moved run's rows are numbered when read, qa/renumbered.py), articles whose rows
    are copied under a new name, and new articles (chunked here; embedded and analysed by the caller).
    Unchanged articles cost a dictionary lookup each; their sentences, chunks and Docs are not walked."""

    def __init__(self, base: Index):
        self.base = base
        self.bounds = segments.rows_of(base)
        self.sentence_pieces: list[tuple[Sequence[Sentence], int, int, int]] = []  # (table, first, last, shift)
        self.chunk_pieces: list[tuple[Sequence[Chunk], int, int, int]] = []
        self.token_pieces: list[Sequence[tuple[str, ...]]] = []
        self.sentence_from: list[np.ndarray] = []  # per piece: base rows, or -1 for each new sentence
        self.chunk_from: list[np.ndarray] = []
        self.doc_pieces: list[tuple[int, int] | int] = []  # (first, last) base rows, or the new article's number
        self.counts: list[np.ndarray] = []  # per piece: each article's sentences and chunks (n x 2)
        self.parts: list[bytes | None] = []  # per article: its analysis part (None: computed now)
        self.new_chunks: list[Chunk] = []
        self.new_tokens: list[tuple[str, ...]] = []
        self.new_texts: list[str] = []
        self.new_sizes: list[int] = []
        self.reused = 0
        self.n_sentences = self.n_chunks = 0

    def take_run(self, first: int, last: int) -> None:
        """Base articles [first, last), under the same names: at the same rows, their sentences and chunks
        themselves; moved by articles added or removed before them, copies numbered from here."""
        b, base = self.bounds, self.base
        s0, s1, c0, c1 = int(b.sentences[first]), int(b.sentences[last]), int(b.chunks[first]), int(b.chunks[last])
        shift = self.n_sentences - s0  # moved by the articles added or removed before them: numbered when read
        self.sentence_pieces.append((base.sentences, s0, s1, shift))
        self.chunk_pieces.append((base.chunks, c0, c1, shift))
        self.token_pieces.append(base.chunk_tokens[c0:c1])
        self._rows(np.arange(s0, s1), np.arange(c0, c1), (s0, s1))
        self.counts.append(np.stack([np.diff(b.sentences[first : last + 1]), np.diff(b.chunks[first : last + 1])], 1))
        if len(base.analysis_parts) == len(base.articles):
            self.parts.extend(base.analysis_parts[first:last])
        else:
            self.parts.extend(analysis.serialize(base.docs[b.sentences[p] : b.sentences[p + 1]]) for p in range(first, last))
        self.reused += last - first

    def take_moved(self, a: Article, p: int) -> None:
        """Base article `p`'s rows for `a` (the same text), numbered from here and named `a.doc_id`."""
        b, base, first = self.bounds, self.base, self.n_sentences
        s0, s1, c0, c1 = int(b.sentences[p]), int(b.sentences[p + 1]), int(b.chunks[p]), int(b.chunks[p + 1])
        shift = first - s0
        sentences = tuple(Sentence(first + i, a.doc_id, s.start, s.end, s.text) for i, s in enumerate(base.sentences[s0:s1]))
        chunks = tuple(Chunk(f"{a.doc_id}#{c.ordinal}", a.doc_id, c.ordinal, c.start, c.end, c.text,
                             (c.sentences[0] + shift, c.sentences[1] + shift))
                       for c in base.chunks[c0:c1])  # the constructor (dataclasses.replace: 3x slower)
        self.sentence_pieces.append((sentences, 0, len(sentences), 0))
        self.chunk_pieces.append((chunks, 0, len(chunks), 0))
        self.token_pieces.append(base.chunk_tokens[c0:c1])
        self._rows(np.arange(s0, s1), np.arange(c0, c1), (s0, s1))
        self.counts.append(np.array([[s1 - s0, c1 - c0]], dtype=np.int64))
        own = len(base.analysis_parts) == len(base.articles)
        self.parts.append(base.analysis_parts[p] if own else analysis.serialize(base.docs[s0:s1]))
        self.reused += 1

    def take_new(self, a: Article, params: ChunkParams) -> None:
        first = self.n_sentences
        chunks = tuple(chunk_article(a, params, first_sentence=first))
        sentences = tuple(Sentence(first + i, a.doc_id, start, end, a.text[start:end])
                          for i, (start, end) in enumerate(a.sentences))
        tokens = [tuple(tokenize(c.text)) for c in chunks]
        self.sentence_pieces.append((sentences, 0, len(sentences), 0))
        self.chunk_pieces.append((chunks, 0, len(chunks), 0))
        self.token_pieces.append(tokens)
        self.new_chunks.extend(chunks)
        self.new_tokens.extend(tokens)
        self.new_texts.extend(s.text for s in sentences)
        self._rows(np.full(len(sentences), -1, dtype=np.int64), np.full(len(chunks), -1, dtype=np.int64),
                   len(self.new_sizes))
        self.new_sizes.append(len(sentences))
        self.counts.append(np.array([[len(sentences), len(chunks)]], dtype=np.int64))
        self.parts.append(None)

    def _rows(self, sentence_rows: np.ndarray, chunk_rows: np.ndarray, docs: tuple[int, int] | int) -> None:
        self.sentence_from.append(sentence_rows)
        self.chunk_from.append(chunk_rows)
        self.doc_pieces.append(docs)
        self.n_sentences += len(sentence_rows)
        self.n_chunks += len(chunk_rows)

    # ------------------------------------------------------------ the new index's rows
    def sentence_rows(self) -> np.ndarray:
        return np.concatenate([np.zeros(0, np.int64), *self.sentence_from]).astype(np.int64, copy=False)

    def chunk_rows(self) -> np.ndarray:
        return np.concatenate([np.zeros(0, np.int64), *self.chunk_from]).astype(np.int64, copy=False)

    def sentences(self) -> Sequence[Sentence]:
        return renumbered.joined(self.sentence_pieces, renumbered.moved_sentence)

    def chunks(self) -> Sequence[Chunk]:
        return renumbered.joined(self.chunk_pieces, renumbered.moved_chunk)

    def tokens(self) -> tuple[tuple[str, ...], ...]:
        return tuple(chain.from_iterable(self.token_pieces))

    def docs(self, base_docs: tuple, new_docs: Sequence) -> tuple:
        """The Docs, one per sentence: slices of the base's and the new articles' (in order)."""
        starts = np.concatenate([[0], np.cumsum(self.new_sizes)]).tolist()
        return tuple(chain.from_iterable(base_docs[d[0] : d[1]] if isinstance(d, tuple) else
                                         new_docs[starts[d] : starts[d + 1]] for d in self.doc_pieces))

    def rows(self, articles: list[Article], clause_table: np.ndarray) -> segments.Rows:
        counts = np.concatenate([np.zeros((0, 2), np.int64), *self.counts])
        sentences = np.concatenate([[0], np.cumsum(counts[:, 0])]).astype(np.int64)
        return segments.Rows(dict(zip(map(attrgetter("doc_id"), articles), range(len(articles)))), sentences,
                             np.concatenate([[0], np.cumsum(counts[:, 1])]).astype(np.int64),
                             np.searchsorted(np.asarray(clause_table[:, 0]), sentences))


def _plan(base: Index, articles: list[Article], params: ChunkParams) -> _Plan:
    """Walk `articles`: an article found in the base under its own name, with the same text and sentences,
    extends a run of the base's articles (taken together, at the same rows or moved); one whose text the base
    holds under another name (renamed, copied) is copied; any other is new."""
    plan = _Plan(base)
    old = list(base.articles.values())
    position = plan.bounds.position
    by_text: dict[str, int] | None = None
    run: list[int] | None = None  # [first, last) base articles taken as they are
    s_bounds, c_bounds = plan.bounds.sentences, plan.bounds.chunks
    for a in articles:
        p = position.get(a.doc_id)
        same = p is not None and c_bounds[p + 1] > c_bounds[p] and (
            old[p] is a or (a.sha256 and old[p].sha256 == a.sha256 and old[p].sentences == a.sentences))
        if same and run is not None and run[1] == p:
            run[1] += 1
            continue
        if run is not None:
            plan.take_run(*run)
            run = None
        if same:
            run = [p, p + 1]
            continue
        if not same:
            if by_text is None:
                by_text = {o.sha256: i for i, o in enumerate(old) if o.sha256}
            p = by_text.get(a.sha256) if a.sha256 else None
        if p is not None and old[p].sentences == a.sentences and c_bounds[p + 1] > c_bounds[p] \
                and s_bounds[p + 1] > s_bounds[p]:
            plan.take_moved(a, p)
        else:
            plan.take_new(a, params)
    if run is not None:
        plan.take_run(*run)
    return plan


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
