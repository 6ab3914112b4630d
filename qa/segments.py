"""Segments: the immutable folders an index's per-article data lives in (as Lucene keeps its index).

    segments/<segment-id>/articles.jsonl    its articles, one a line, text exactly as in the seed file
    segments/<segment-id>/rows.npy          per article: its sentences, chunks and clauses (int64, n x 3)
    segments/<segment-id>/sentences.jsonl   doc_id, start, end of each sentence
    segments/<segment-id>/chunks.jsonl      chunk id, offsets, sentence range (from its article's first
                                            sentence) and BM25 tokens
    segments/<segment-id>/chunk_vectors.npy, sentence_vectors.npy, clause_vectors.npy   float32 embeddings
    segments/<segment-id>/analysis.spacy    spaCy's analysis, one DocBin per article (qa/analysis.py)
    segments/<segment-id>/bm25/, sentence_bm25/   the term counts of its chunks and sentences (qa/bm25.py)

Everything in a segment depends on its articles' texts (and metadata) alone, so it is written once, when its
articles are added (or when segments are merged), and never changed. A build's manifest lists the segments
it is made of, the SHA-256 of each of their files and the articles each no longer serves (`deleted`: a
removed or changed article is a tombstone, its rows stay until a merge). Adding an article writes a segment
of that article and a manifest; removing one writes a manifest. Corpus-wide statistics (BM25's document
frequencies and lengths) are arithmetic over the segments' counts, done when the index is loaded.

Merges (`plan`) keep the number of segments logarithmic: segments are sorted into tiers by size (powers of
`FACTOR`, in articles), and `FACTOR` segments of a tier become one of the next. An article is rewritten
once per tier it climbs, so the amortized cost of an add is O(log N) of its own rows; a merge is never
bigger than `MERGE_MAX` articles, so no add pays for the whole corpus (above that, segments stay as they
are until a full build, `qa index --force`). A segment more than half deleted is rewritten with what it
still serves.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from qa import analysis, build_files as files
from qa.bm25 import BM25Matrix, BM25Params
from qa.errors import IndexCorrupt
from qa.text import tokenize
from qa.types import Article, Chunk

SEGMENTS = "segments"
BM25_DIR, SENTENCE_BM25_DIR = "bm25", "sentence_bm25"
FILES = ("articles.jsonl", "rows.npy", "sentences.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy",
         analysis.ARTIFACT, analysis.CLAUSE_VECTORS, *BM25Matrix.files(BM25_DIR), *BM25Matrix.files(SENTENCE_BM25_DIR))
FACTOR = 10  # segments per tier before they are merged into one of the next tier
MERGE_MAX = 2_000  # articles: no merge writes more on an update (bounds the cost of one add)


def article_key(a: Article) -> tuple:
    """What a segment's rows of an article depend on, besides settings: equal keys, same rows."""
    return (a.source, a.sha256, a.date, a.title, a.outlet, a.url, a.published, a.language, a.excluded, a.sentences)


_MEMBERS: dict[str, dict[str, tuple]] = {}  # segment id -> its articles' keys, by doc id (segments never change)
_MEMBERS_LOCK = threading.Lock()


def members(index_dir: Path, entry: dict) -> dict[str, tuple]:
    """The article keys of a segment, by doc id, in its order: remembered when it was written or read."""
    with _MEMBERS_LOCK:
        found = _MEMBERS.get(entry["id"])
    if found is None:
        rows = read_jsonl(index_dir / SEGMENTS / entry["id"], "articles.jsonl")
        found = _remember(entry["id"], [article_from_row(r) for r in rows])
    return found


def _remember(seg_id: str, articles: Sequence[Article]) -> dict[str, tuple]:
    found = {a.doc_id: article_key(a) for a in articles}
    with _MEMBERS_LOCK:
        _MEMBERS[seg_id] = found
        _MATCHED[seg_id] = {a.doc_id: a for a in articles}
    return found


_MATCHED: dict[str, dict[str, Article]] = {}  # segment id -> the Article last found to match each of its keys


def forget(seg_id: str) -> None:
    """Drop what is remembered of a segment (removed from disk: its articles are not kept alive)."""
    with _MEMBERS_LOCK:
        _MEMBERS.pop(seg_id, None)
        _MATCHED.pop(seg_id, None)


def serving(seg_id: str, held: dict[str, tuple], articles: Mapping[str, Article], skip: set[str]) -> set[str]:
    """The doc ids (`held`: the segment's keys, by doc id) whose rows in the segment serve `articles`, `skip`
    aside: those whose Article is the one last matched, found with set operations and one identity test each,
    then the others by key (`holds`)."""
    matched = _MATCHED.get(seg_id, {})
    left = held.keys() - skip
    same = {d for d in left if articles.get(d, held) is matched.get(d)}  # `held`: never an Article
    same.update(d for d in left - same if holds(seg_id, held[d], articles.get(d)))
    return same


def holds(seg_id: str, key: tuple, article: Article | None) -> bool:
    """Whether a segment's article of key `key` has `article`'s rows: the same Article object as last time
    answers at once (an updated index keeps its unchanged articles' objects), another is compared by key
    and, when equal, remembered."""
    if article is None:
        return False
    matched = _MATCHED.get(seg_id)
    if matched is not None and matched.get(article.doc_id) is article:
        return True
    if article_key(article) != key:
        return False
    if matched is not None:
        matched[article.doc_id] = article
    return True


# ---------------------------------------------------------------- rows of an index
@dataclass(frozen=True, slots=True)
class Rows:
    """Where each article's rows sit in an in-memory Index (articles in its order): article i owns sentences
    [sentences[i], sentences[i+1]), and likewise chunks and clauses (rows of the clause table)."""

    position: dict[str, int]
    sentences: np.ndarray
    chunks: np.ndarray
    clauses: np.ndarray

    def of(self, kind: str, positions: Sequence[int]) -> np.ndarray:
        bounds = getattr(self, kind)
        parts = [np.arange(bounds[p], bounds[p + 1]) for p in positions]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def rows_of(index) -> Rows:
    """The index's own (an update carries them) or, when it has none, counted from its articles and chunks."""
    if getattr(index, "rows", None) is not None:
        return index.rows
    counts = np.fromiter((len(a.sentences) for a in index.articles.values()), dtype=np.int64, count=len(index.articles))
    sentences = np.concatenate([[0], np.cumsum(counts)])
    first = np.fromiter((c.sentences[0] for c in index.chunks), dtype=np.int64, count=len(index.chunks))
    owner = np.searchsorted(sentences, first, side="right") - 1  # the article of each chunk
    chunks = np.searchsorted(owner, np.arange(len(counts) + 1))
    clauses = np.searchsorted(np.asarray(index.clause_table[:, 0]), sentences)
    return Rows({doc_id: i for i, doc_id in enumerate(index.articles)}, sentences, chunks, clauses)


# ---------------------------------------------------------------- write
def write(index, rows: Rows, doc_ids: Sequence[str], index_dir: Path) -> dict:
    """A new segment of `doc_ids`' rows of `index`, complete on disk (written as `<id>.partial`, renamed);
    its manifest entry."""
    folder = index_dir / SEGMENTS
    folder.mkdir(parents=True, exist_ok=True)
    seg_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    partial = folder / f"{seg_id}.partial"
    partial.mkdir()
    positions = [rows.position[d] for d in doc_ids]
    articles = [index.articles[d] for d in doc_ids]
    s_idx, c_idx, k_idx = rows.of("sentences", positions), rows.of("chunks", positions), rows.of("clauses", positions)
    counts = np.stack([np.diff(getattr(rows, kind))[positions] for kind in ("sentences", "chunks", "clauses")],
                      axis=1) if positions else np.zeros((0, 3), dtype=np.int64)
    _lines(partial / "articles.jsonl", (article_row(a) for a in articles))
    np.save(partial / "rows.npy", counts.astype(np.int64), allow_pickle=False)
    _lines(partial / "sentences.jsonl", ({"doc_id": s.doc_id, "start": s.start, "end": s.end}
                                         for s in (index.sentences[i] for i in s_idx)))
    first = {d: int(rows.sentences[p]) for d, p in zip(doc_ids, positions)}
    _lines(partial / "chunks.jsonl", (_chunk_row(index.chunks[i], index.chunk_tokens[i], first[index.chunks[i].doc_id])
                                      for i in c_idx))
    np.save(partial / "chunk_vectors.npy", np.asarray(index.chunk_vectors[c_idx], dtype=np.float32), allow_pickle=False)
    np.save(partial / "sentence_vectors.npy", np.asarray(index.sentence_vectors[s_idx], dtype=np.float32),
            allow_pickle=False)
    np.save(partial / analysis.CLAUSE_VECTORS, np.asarray(index.clause_vectors[k_idx], dtype=np.float32),
            allow_pickle=False)
    own = len(index.analysis_parts) == len(index.articles)
    parts = [index.analysis_parts[p] if own else
             analysis.serialize(index.docs[rows.sentences[p] : rows.sentences[p + 1]]) for p in positions]
    (partial / analysis.ARTIFACT).write_bytes(analysis.pack(parts))
    BM25Matrix.build([index.chunk_tokens[i] for i in c_idx], BM25Params()).save(partial / BM25_DIR)
    BM25Matrix.build([tokenize(index.sentences[i].text) for i in s_idx], BM25Params()).save(partial / SENTENCE_BM25_DIR)
    digests = {name: _synced_digest(partial / name) for name in FILES}
    for sub in (BM25_DIR, SENTENCE_BM25_DIR):
        files.fsync_dir(partial / sub)
    files.fsync_dir(partial)
    os.rename(partial, folder / seg_id)
    files.fsync_dir(folder)
    _remember(seg_id, articles)
    return {"id": seg_id, "articles": len(articles), "deleted": [],
            "counts": {"sentences": len(s_idx), "chunks": len(c_idx), "clauses": len(k_idx)}, "files": digests}


def _lines(path: Path, rows) -> None:
    with open(path, "wb") as f:
        f.write(b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in rows))


def article_row(a: Article) -> dict:
    return {"doc_id": a.doc_id, "source": a.source, "date": a.date, "title": a.title, "sha256": a.sha256,
            "outlet": a.outlet, "url": a.url, "published": a.published, "language": a.language,
            "excluded": [list(r) for r in a.excluded], "sentences": [list(s) for s in a.sentences], "text": a.text}


def article_from_row(row: dict) -> Article:
    return Article(row["doc_id"], row["source"], row["text"], row["date"], row["title"],
                   tuple(tuple(r) for r in row["excluded"]), tuple(tuple(s) for s in row["sentences"]), row["sha256"],
                   row.get("outlet"), row.get("url"), row.get("published"), row.get("language"))


def _chunk_row(c: Chunk, tokens: tuple[str, ...], first: int) -> dict:
    return {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "ordinal": c.ordinal, "start": c.start, "end": c.end,
            "sentences": [c.sentences[0] - first, c.sentences[1] - first], "tokens": list(tokens)}


def _synced_digest(path: Path) -> str:
    """The file's SHA-256, after making it durable (a segment is written once: hashed once)."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    return files.sha256_file(path)


# ---------------------------------------------------------------- read
@dataclass(frozen=True, slots=True)
class Stored:
    """A segment as read (checksums verified)."""

    entry: dict
    articles: list[Article]
    rows: np.ndarray  # per article: sentences, chunks, clauses
    sentences: list[dict]
    chunks: list[dict]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    clause_vectors: np.ndarray
    parts: list[bytes]
    bm25: BM25Matrix
    sentence_bm25: BM25Matrix


def read_jsonl(folder: Path, name: str) -> list[dict]:
    rows = []
    with open(folder / name, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IndexCorrupt(name, f"line {n}", f"not valid JSON ({exc.msg})") from None
    return rows


def read_npy(folder: Path, name: str) -> np.ndarray:
    try:
        array = np.load(folder / name, mmap_mode="r", allow_pickle=False)  # pages shared between processes
    except ValueError as exc:
        raise IndexCorrupt(name, "-", f"not a readable .npy array ({exc})") from None
    if array.dtype != np.float32 or array.ndim != 2:
        raise IndexCorrupt(name, "dtype", f"expected a 2-D float32 array, found {array.dtype} with {array.ndim} dims")
    return array


def verify(index_dir: Path, entry: dict) -> None:
    """Every file of the segment present, with the checksum the manifest records."""
    folder = index_dir / SEGMENTS / entry["id"]
    for name in FILES:
        path, label = folder / name, f"{SEGMENTS}/{entry['id']}/{name}"
        if not path.is_file():
            raise IndexCorrupt(label, "files", "file is missing")
        if files.sha256_file(path) != entry["files"].get(name):
            raise IndexCorrupt(label, f"files.{name}", "checksum does not match the manifest (file changed or truncated)")


def read(index_dir: Path, entry: dict) -> Stored:
    folder = index_dir / SEGMENTS / entry["id"]
    label = f"{SEGMENTS}/{entry['id']}/"
    try:
        counts = np.load(folder / "rows.npy", allow_pickle=False)
        bm25, sentence_bm25 = BM25Matrix.load(folder / BM25_DIR), BM25Matrix.load(folder / SENTENCE_BM25_DIR)
    except (ValueError, KeyError, OSError) as exc:
        raise IndexCorrupt(label, "-", f"a segment's arrays are unreadable ({exc})") from None
    stored = Stored(entry, [article_from_row(r) for r in read_jsonl(folder, "articles.jsonl")], counts,
                    read_jsonl(folder, "sentences.jsonl"), read_jsonl(folder, "chunks.jsonl"),
                    read_npy(folder, "chunk_vectors.npy"), read_npy(folder, "sentence_vectors.npy"),
                    read_npy(folder, analysis.CLAUSE_VECTORS), analysis.split((folder / analysis.ARTIFACT).read_bytes()),
                    bm25, sentence_bm25)
    _remember(entry["id"], stored.articles)
    n = len(stored.articles)
    for name, found, expected in (
        ("rows.npy", counts.shape, (n, 3)), (analysis.ARTIFACT, len(stored.parts), n),
        ("sentences.jsonl", len(stored.sentences), int(counts[:, 0].sum())),
        ("chunks.jsonl", len(stored.chunks), int(counts[:, 1].sum())),
        ("clause_vectors.npy", len(stored.clause_vectors), int(counts[:, 2].sum())),
        ("chunk_vectors.npy", len(stored.chunk_vectors), len(stored.chunks)),
        ("sentence_vectors.npy", len(stored.sentence_vectors), len(stored.sentences)),
        (f"{BM25_DIR}/bm25.json", bm25.n_docs, len(stored.chunks)),
        (f"{SENTENCE_BM25_DIR}/bm25.json", sentence_bm25.n_docs, len(stored.sentences)),
    ):
        if found != expected:
            raise IndexCorrupt(label + name, "rows", f"found {found}, the segment's articles need {expected}")
    return stored


# ---------------------------------------------------------------- merges
def tier(articles: int, factor: int) -> int:
    """floor(log_factor(articles)): segments of a tier hold factor**t to factor**(t+1) - 1 articles."""
    t = 0
    while articles >= factor:
        articles //= factor
        t += 1
    return t


def plan(segments: Sequence[tuple[str, int, int]], factor: int | None = None, most: int | None = None) -> list[list[str]]:
    """Which segments to merge, each group into one: `segments` holds (id, articles served, articles deleted).
    A segment more than half deleted is rewritten alone; the lowest tier holding `factor` segments merges its
    `factor` smallest (one tier a save: a merge that fills the next tier is the next save's). No group serves
    more than `most` articles. None: FACTOR, MERGE_MAX."""
    factor, most = FACTOR if factor is None else factor, MERGE_MAX if most is None else most
    groups = [[s] for s, served, deleted in segments if deleted > served and 0 < served <= most]
    taken = {g[0] for g in groups}
    by_tier: dict[int, list[tuple[int, str]]] = {}
    for s, served, _ in segments:
        if s not in taken and served > 0:
            by_tier.setdefault(tier(served, factor), []).append((served, s))
    for t in sorted(by_tier):
        members = sorted(by_tier[t])[:factor]
        if len(members) == factor and sum(n for n, _ in members) <= most:
            groups.append([s for _, s in members])
            break
    return groups
