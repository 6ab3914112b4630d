"""Build, save and load the index: folders of plain files that explain themselves.

Layout of `index_dir`:
    current -> builds/<build-id>        a symlink, swapped atomically when a build completes
    builds/<build-id>/manifest.json     format, versions, model, tokenizer, chunking, the code that shaped it,
                                        counts, build time, the segments it is made of (each with the SHA-256
                                        of its files and its tombstones) and the SHA-256 of its other files
    builds/<build-id>/dense.hnsw        the chunks' HNSW graph, from `exact_below` chunks on (qa/derived.py); an
                                        update links the previous build's file
    builds/<build-id>/dense_rows.npy    the row each of the graph's vectors stands for (-1: removed), as runs
    segments/<segment-id>/...           the articles, sentences, chunks and tokens, vectors, spaCy analysis and
                                        BM25 term counts of some articles: written once, never changed
                                        (qa/segments.py)
An index is the union of its segments' articles less the deleted ones, in file-name order. A full build
writes one segment; an update (qa/update.py, saved with `reuse`) writes a segment of the added or changed
articles only, tombstones the removed or changed ones in the manifest, and now and then merges small
segments (`segments.plan`): an add writes its article's bytes (and amortized O(log N) merges), not the
corpus's. BM25's corpus-wide statistics (document frequencies, lengths, idf) are computed from the segments'
term counts when loading. Segments and builds are written to `<id>.partial` folders and renamed when
complete; `current` is swapped last, so a crash (even kill -9) leaves the previous build served and at most
leftovers, which the next start removes (`cleanup`). Loading hashes every file of every segment. Builds and
clean-ups hold `build_lock`, so a `qa index` run and a server's reindex never write or clean the same folder
at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from qa import analysis, build_files as files, chunk, derived as derived_, ingest, segments, stacked, tables, text
from qa.bm25 import BM25Matrix, BM25Params
from qa.chunk import ChunkParams, chunk_article
from qa.embed import Embedder
from qa.errors import IndexCorrupt, IndexMissing, IndexStale
from qa.text import STOPWORDS, TOKENIZER_VERSION, tokenize
from qa.types import Article, Chunk, Sentence

log = logging.getLogger(__name__)

# 2: the sentences' spaCy analysis (analysis.spacy) and the pipeline in the manifest; 3: the analysis in one
# part per article, articles' metadata; 4: clause vectors (clause_vectors.npy); 5: the BM25 matrices and the
# HNSW graph (qa/derived.py); 6: segments (qa/segments.py). Another format is stale: rebuilt.
FORMAT_VERSION = 6
MANIFEST = "manifest.json"
_PACKAGES = ("newsqa", "numpy", "rank-bm25", "onnxruntime", "faiss-cpu", "sentence-transformers", "torch",
             "transformers", "spacy")


@dataclass(frozen=True, slots=True)
class Index:
    """Everything retrieval and reading need, in memory. Rows of the vector matrices line up
    with `chunks` and `sentences`; a matrix is an array or, after an update or a load of several segments,
    a `qa.stacked.Stacked` of views of row blocks (which behaves as the array)."""

    articles: dict[str, Article]
    sentences: Sequence[Sentence]  # a tuple, or after an update a qa.renumbered.Renumbered of moved runs
    chunks: Sequence[Chunk]
    chunk_tokens: tuple[tuple[str, ...], ...]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    manifest: dict
    path: Path | None = None
    docs: tuple = ()  # spaCy Docs, one per sentence (the analysis stored in the index)
    analysis_parts: tuple[bytes, ...] = ()  # the Docs serialized, one part per article in order (or none)
    clause_vectors: np.ndarray | None = None  # rows line up with analysis.clauses(docs)
    clause_table: np.ndarray | None = None  # analysis.clauses(docs) as an (n, 4) array (qa/tables.py)
    derived: derived_.Derived | None = None  # BM25 matrices, HNSW graph (qa/derived.py); None: made when needed
    rows: segments.Rows | None = None  # where each article's rows are; None: counted when needed (segments.rows_of)
    lineage: Lineage | None = None  # how an update made it from the index before it (qa/update.py)


@dataclass(frozen=True, slots=True)
class Lineage:
    """What an updated index kept of its base: a service made over the base can carry its tables over (the
    reporting verbs, qa/tables.py) by looking at the rows that changed, not at every row."""

    docs: tuple  # the base's Docs, the very tuple
    sentence_rows: np.ndarray  # per sentence of the updated index: its row in the base, or -1 (new)


# ---------------------------------------------------------------- build
def build_index(
    articles: list[Article],
    embedder: Embedder,
    params: ChunkParams,
    progress: Callable[[Iterable, int, str], Iterable] | None = None,
    nlp=None,
) -> Index:
    """Chunk, tokenize, embed and analyse (with the spaCy pipeline `nlp`, the default one when None).
    `progress(iterable, total, label)` wraps the slow loops (a bar in the CLI)."""
    nlp = nlp if nlp is not None else _default_nlp()
    wrap = progress or (lambda it, total, label: it)
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for article in articles:
        chunks.extend(chunk_article(article, params, first_sentence=len(sentences)))
        for start, end in article.sentences:
            sentences.append(Sentence(len(sentences), article.doc_id, start, end, article.text[start:end]))
    tokens = tuple(tuple(tokenize(c.text)) for c in chunks)
    chunk_vectors = _embed(embedder, [c.text for c in chunks], wrap, "chunks")
    sentence_vectors = _embed(embedder, [s.text for s in sentences], wrap, "sentences")
    texts = [s.text for s in sentences]
    parts = tuple(analysis.split(analysis.analyse(nlp, texts, wrap, sizes=[len(a.sentences) for a in articles])))
    docs = analysis.load_docs(parts, nlp.vocab, texts)
    found = analysis.clauses(docs)
    clause_vectors = _embed(embedder, [texts[n][a:b] for n, _, a, b in found], wrap, "clauses")
    manifest = _manifest(articles, embedder, params, len(sentences), len(chunks), nlp_fingerprint(nlp))
    return Index(by_id(articles), tuple(sentences), tuple(chunks), tokens,
                 chunk_vectors, sentence_vectors, manifest, None, docs, parts, clause_vectors=clause_vectors,
                 clause_table=np.asarray(found, dtype=np.int64).reshape(len(found), 4))


def _default_nlp():
    from qa import nlp

    return nlp.load("en_core_web_sm")


def nlp_fingerprint(nlp) -> dict:
    from qa import nlp as nlp_module

    return nlp_module.fingerprint(nlp)


def _embed(embedder: Embedder, texts: list[str], wrap, label: str, batch: int = 32) -> np.ndarray:
    parts = [embedder.embed_passages(texts[i : i + batch]) for i in wrap(range(0, len(texts), batch), -(-len(texts) // batch), label)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, embedder.dim), np.float32)


def _manifest(articles: list[Article], embedder: Embedder, params: ChunkParams, n_sentences: int, n_chunks: int,
              nlp: dict) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "packages": {name: _version(name) for name in _PACKAGES},
        "model": {"name": embedder.name, "dimension": embedder.dim},
        "tokenizer": tokenizer_fingerprint(),
        "nlp": nlp,
        "chunking": asdict(params),
        "code": code_fingerprint(),
        "corpus": corpus_of(articles),
        "metadata": metadata_fingerprint(articles),
        "counts": {"articles": len(articles), "sentences": n_sentences, "chunks": n_chunks},
    }


# The modules whose rules decide what goes into an index: what is excluded from an article, where
# its sentences and chunks end, how they are tokenized. Editing one makes every index stale.
INDEX_CODE = (ingest, text, chunk, analysis)


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for module in INDEX_CODE:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def tokenizer_fingerprint() -> dict:
    stop = hashlib.sha256(" ".join(sorted(STOPWORDS)).encode()).hexdigest()[:16]
    return {"version": TOKENIZER_VERSION, "stopwords_sha256": stop}


@functools.lru_cache(maxsize=None)
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------- save
# What a live build must share with a new index for its segments to be reused (else all are written anew).
_REUSE_FIELDS = ("model", "tokenizer", "nlp", "chunking", "code")


def save_index(index: Index, index_dir: Path, retrieval: derived_.RetrievalParams | None = None,
               reuse: bool = False) -> Path:
    """Write a build and point `current` at it atomically. `reuse`: articles the live build's segments
    already hold (same name, text and metadata, same settings) stay there; only the others are written, as
    one new segment, and the segments `segments.plan` picks are merged (else every article is written, as
    one segment). `retrieval`: also save the retrieval structures for these settings (those of
    `index.derived` that fit, the rest made now); None: those `index.derived` holds, if any."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    rows = segments.rows_of(index)
    entries = _kept_segments(index, index_dir) if reuse else []
    kept = {d for e in entries for d in _served(index_dir, e)}
    new = [d for d in index.articles if d not in kept]
    if new:
        entries.append(segments.write(index, rows, new, index_dir))
    for group in segments.plan([(e["id"], e["articles"] - len(e["deleted"]), len(e["deleted"])) for e in entries]):
        merged = segments.write(index, rows, [d for e in entries if e["id"] in group for d in _served(index_dir, e)],
                                index_dir)
        at = next(i for i, e in enumerate(entries) if e["id"] in group)
        entries = [e for e in entries[:at] if e["id"] not in group] + [merged] + \
                  [e for e in entries[at:] if e["id"] not in group]
        log.info("merged %d segments into %s (%d articles)", len(group), merged["id"], merged["articles"])
    build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    partial = builds / f"{build_id}.partial"
    partial.mkdir()
    manifest = {k: v for k, v in index.manifest.items() if k not in ("corpus", "files", "retrieval", "segments")}
    manifest.update(format_version=FORMAT_VERSION, segments=entries)
    structures = derived_.complete(index, retrieval) if retrieval is not None else index.derived
    names: dict[str, str | None] = {}
    if structures is not None and structures.params is not None:
        names = derived_.write(structures, partial)
        manifest["retrieval"] = structures.params
    manifest["files"] = {name: known or files.sha256_file(partial / name) for name, known in names.items()}
    files.write_json(partial / MANIFEST, manifest)
    files.fsync_dir(partial)
    final = builds / build_id
    os.rename(partial, final)
    link = index_dir / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(Path("builds") / build_id, link)
    os.replace(link, index_dir / "current")  # atomic: readers see the old build or the new one
    files.fsync_dir(index_dir)
    log.info("index %s written: %s, %d segments, %d articles written", build_id, manifest["counts"], len(entries),
             len(new))
    return final


def _kept_segments(index: Index, index_dir: Path) -> list[dict]:
    """The live build's segments that still serve some of `index`'s articles, each with its tombstones
    (`deleted`: the articles it holds and no longer serves). None when the live build was made otherwise."""
    try:
        live = json.loads((current_build(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (IndexMissing, OSError, ValueError):
        return []
    if live.get("format_version") != FORMAT_VERSION or any(live.get(f) != index.manifest.get(f) for f in _REUSE_FIELDS):
        return []
    out, taken = [], set()
    for entry in live.get("segments", []):
        held = segments.members(index_dir, entry)
        serving = segments.serving(entry["id"], held, index.articles, taken.union(entry["deleted"]))
        if serving:
            taken |= serving
            out.append(dict(entry, deleted=[d for d in held if d not in serving]))
    return out


def _served(index_dir: Path, entry: dict) -> list[str]:
    deleted = set(entry["deleted"])
    return [d for d in segments.members(index_dir, entry) if d not in deleted]


@contextlib.contextmanager
def build_lock(index_dir: Path):
    """An exclusive lock on `index_dir/.lock`, across threads and processes. The kernel drops it when
    its holder dies, even by SIGKILL, so a killed build never blocks the next one."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def cleanup(index_dir: Path) -> list[str]:
    """Remove what a crashed or superseded build left: `.partial` folders, stray links, old builds, segments
    the live build does not list."""
    removed: list[str] = []
    builds = index_dir / "builds"
    live = (index_dir / "current").resolve() if (index_dir / "current").exists() else None
    for path in sorted(builds.iterdir()) if builds.is_dir() else []:
        if path.resolve() != live:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    listed = set()
    if live is not None:
        try:
            listed = {e["id"] for e in json.loads((live / MANIFEST).read_text(encoding="utf-8")).get("segments", [])}
        except (OSError, ValueError, KeyError, TypeError):
            return removed  # an unreadable manifest: keep every segment (loading reports what is wrong)
    folder = index_dir / segments.SEGMENTS
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name not in listed:
            shutil.rmtree(path, ignore_errors=True)
            segments.forget(path.name)
            removed.append(f"{segments.SEGMENTS}/{path.name}")
    for link in index_dir.glob(".current-*"):
        link.unlink(missing_ok=True)
        removed.append(link.name)
    if removed:
        log.info("removed index leftovers: %s", ", ".join(removed))
    return removed


def by_id(articles: Iterable[Article]) -> dict[str, Article]:
    """The articles by doc id, in their order (built in C: an update makes it for the whole corpus)."""
    articles = list(articles)
    return dict(zip(map(attrgetter("doc_id"), articles), articles))


def corpus_of(articles: list[Article]) -> dict[str, str]:
    """The manifest's `corpus`: each article's source file and the SHA-256 of its text."""
    return dict(zip(map(attrgetter("source"), articles), map(attrgetter("sha256"), articles)))


def metadata_fingerprint(articles: Iterable[Article]) -> str:
    """One digest of every article's metadata (a change re-labels citations without touching vectors). Each
    Article's part is remembered by the object (an update asks again for every article it keeps, the very
    objects): a lookup each, not a JSON encoding."""
    articles, lines, parts = list(articles), _METADATA_LINES, []
    for a in articles:
        found = lines.get(id(a))
        if found is None or found[0] is not a:
            found = lines[id(a)] = (a, json.dumps([a.source, a.title, a.date, a.outlet, a.url, a.published,
                                                   a.language]).encode())
        parts.append(found[1])
    if len(lines) > len(articles) + 1024:  # forget the articles no longer asked about (now and then)
        asked = set(map(id, articles))
        for key in [k for k in list(lines) if k not in asked]:
            lines.pop(key, None)
    return hashlib.sha256(b"".join(parts)).hexdigest()[:16]


_METADATA_LINES: dict[int, tuple[Article, bytes]] = {}  # id(article) -> (the article, its part of the digest)


# ---------------------------------------------------------------- load
def current_build(index_dir: Path) -> Path:
    link = index_dir / "current"
    if not link.exists():
        raise IndexMissing(f"no index in {str(index_dir)!r}; build one with `qa index`")
    return link.resolve()


def load_index(index_dir: Path, vocab=None) -> Index:
    """Load the current build: its segments, every file's checksum verified, their articles in file-name
    order (as ingestion orders them) less the deleted ones, the BM25 statistics computed over them.
    `vocab`: the spaCy vocabulary the stored analysis is read into (a blank English one when None)."""
    build = current_build(index_dir)
    manifest = _read_manifest(build)
    for name, expected in manifest["files"].items():
        path = build / name
        if not path.is_file():
            raise IndexCorrupt(name, "files", "file is missing")
        if files.sha256_file(path) != expected:
            raise IndexCorrupt(name, f"files.{name}", "checksum does not match the manifest (file changed or truncated)")
    for entry in manifest["segments"]:
        segments.verify(index_dir, entry)
    stored = [segments.read(index_dir, entry) for entry in manifest["segments"]]
    if vocab is None:
        import spacy

        vocab = spacy.blank("en").vocab
    index = _assembled(stored, manifest, vocab)
    try:
        graph, graph_rows, graph_file = derived_.read(build, manifest)
    except (ValueError, RuntimeError, KeyError) as exc:  # faiss reports a bad file as a RuntimeError
        raise IndexCorrupt("retrieval", "-", f"a saved retrieval structure is unreadable ({exc})") from None
    index = replace(index, path=build, derived=_derived(stored, index, manifest, graph, graph_rows, graph_file))
    _check_consistent(index)
    return index


def _assembled(stored: list[segments.Stored], manifest: dict, vocab) -> Index:
    """One Index of the segments' served articles, ordered by source; rows gathered segment by segment."""
    served = []  # (source, segment, article within it)
    for si, seg in enumerate(stored):
        deleted = set(seg.entry["deleted"])
        served.extend((a.source, si, ai) for ai, a in enumerate(seg.articles) if a.doc_id not in deleted)
    served.sort()
    bounds = [{kind: np.concatenate([[0], np.cumsum(seg.rows[:, k])]) for k, kind in enumerate(_KINDS)} for seg in stored]
    base = {kind: np.cumsum([0] + [int(seg.rows[:, k].sum()) for seg in stored]) for k, kind in enumerate(_KINDS)}
    take = {kind: [] for kind in _KINDS}
    articles: dict[str, Article] = {}
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    tokens: list[tuple[str, ...]] = []
    parts: list[bytes] = []
    for _, si, ai in served:
        seg, b = stored[si], bounds[si]
        a = seg.articles[ai]
        if a.doc_id in articles:
            raise IndexCorrupt(f"{segments.SEGMENTS}/{seg.entry['id']}/articles.jsonl", "deleted",
                               f"article {a.doc_id!r} is served by two segments")
        articles[a.doc_id] = a
        first = len(sentences)
        for r in seg.sentences[b["sentences"][ai] : b["sentences"][ai + 1]]:
            sentences.append(Sentence(len(sentences), a.doc_id, r["start"], r["end"], a.text[r["start"] : r["end"]]))
        for r in seg.chunks[b["chunks"][ai] : b["chunks"][ai + 1]]:
            chunks.append(Chunk(r["chunk_id"], a.doc_id, r["ordinal"], r["start"], r["end"], a.text[r["start"] : r["end"]],
                                (first + r["sentences"][0], first + r["sentences"][1])))
            tokens.append(tuple(r["tokens"]))
        parts.append(seg.parts[ai])
        for kind in _KINDS:
            take[kind].append(np.arange(base[kind][si] + b[kind][ai], base[kind][si] + b[kind][ai + 1]))
    rows = {kind: np.concatenate([np.zeros(0, np.int64), *take[kind]]) for kind in _KINDS}
    docs = analysis.load_docs(parts, vocab, [s.text for s in sentences])
    index = Index(articles, tuple(sentences), tuple(chunks), tuple(tokens),
                  _gathered([seg.chunk_vectors for seg in stored], rows["chunks"], manifest),
                  _gathered([seg.sentence_vectors for seg in stored], rows["sentences"], manifest),
                  dict(manifest, corpus={a.source: a.sha256 for a in articles.values()}), None, docs, tuple(parts),
                  clause_vectors=_gathered([seg.clause_vectors for seg in stored], rows["clauses"], manifest),
                  clause_table=tables.clause_table(docs))
    return index


_KINDS = ("sentences", "chunks", "clauses")


def _gathered(arrays: list[np.ndarray], rows: np.ndarray, manifest: dict):
    """Rows of the segments' matrices, stacked as views of them (qa/stacked.py): the memory maps themselves,
    shared between processes, unless the rows come in more than stacked.MAX_BLOCKS runs (then one array)."""
    dim = manifest["model"]["dimension"]
    whole = stacked.Stacked(arrays, dim) if len(arrays) != 1 else arrays[0]
    return stacked.gathered(whole, rows, np.zeros((0, dim), np.float32), dim)


def _derived(stored: list[segments.Stored], index: Index, manifest: dict, graph, graph_rows: np.ndarray | None,
             graph_file: tuple[Path, str] | None) -> derived_.Derived | None:
    """The index's BM25 matrices from its segments' term counts (the corpus-wide statistics computed here),
    for the settings in the manifest's `retrieval`, with the build's saved graph (qa/derived.py: read); None
    when the build saved none."""
    saved = manifest.get("retrieval")
    if saved is None:
        return None
    params = BM25Params(**saved["bm25"])
    first: dict[str, dict[str, int]] = {"sentences": {}, "chunks": {}}
    for n, s in enumerate(index.sentences):
        first["sentences"].setdefault(s.doc_id, n)
    for n, c in enumerate(index.chunks):
        first["chunks"].setdefault(c.doc_id, n)
    chunk_parts, sentence_parts = [], []
    for seg in stored:
        targets = []
        for k, kind in enumerate(("sentences", "chunks")):
            target = np.full(int(seg.rows[:, k].sum()), -1, dtype=np.int64)
            at = 0
            for a, n in zip(seg.articles, seg.rows[:, k].tolist()):
                if index.articles.get(a.doc_id) is a:  # served from this segment (not a tombstone)
                    target[at : at + n] = np.arange(first[kind].get(a.doc_id, 0), first[kind].get(a.doc_id, 0) + n)
                at += n
            targets.append(target)
        sentence_parts.append((seg.sentence_bm25, targets[0]))
        chunk_parts.append((seg.bm25, targets[1]))
    bm25 = BM25Matrix.combined(chunk_parts, params, len(index.chunks))
    sentence_bm25 = None
    if len(index.chunks) < saved["exact_below"]:
        sentence_bm25 = BM25Matrix.combined(sentence_parts, params, len(index.sentences))
    return derived_.Derived(bm25, sentence_bm25, graph, saved, graph_rows, graph_file)


def _read_manifest(build: Path) -> dict:
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(MANIFEST, "-", "file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(MANIFEST, "-", f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(MANIFEST, "-", "not a JSON object")
    if "format_version" not in manifest:
        raise IndexCorrupt(MANIFEST, "format_version", "field is missing")
    if manifest["format_version"] != FORMAT_VERSION:  # another format is stale (rebuilt), not corrupt
        raise IndexStale(f"index format {manifest['format_version']} is not {FORMAT_VERSION}; rebuild with `qa index`")
    for field in ("model", "tokenizer", "nlp", "chunking", "counts", "segments", "files"):
        if field not in manifest:
            raise IndexCorrupt(MANIFEST, field, "field is missing")
    return manifest


def _check_consistent(index: Index) -> None:
    counts, dim = index.manifest["counts"], index.manifest["model"]["dimension"]
    checks = (
        ("articles.jsonl", "counts.articles", len(index.articles), counts["articles"]),
        ("sentences.jsonl", "counts.sentences", len(index.sentences), counts["sentences"]),
        ("chunks.jsonl", "counts.chunks", len(index.chunks), counts["chunks"]),
        ("chunk_vectors.npy", "shape", index.chunk_vectors.shape, (counts["chunks"], dim)),
        ("sentence_vectors.npy", "shape", index.sentence_vectors.shape, (counts["sentences"], dim)),
        (analysis.CLAUSE_VECTORS, "shape", index.clause_vectors.shape, (len(index.clause_table), dim)),
        *((name, f"counts.{count}", n, counts[count]) for name, count, n in
          (derived_.sizes(index.derived) if index.derived is not None else ())),
    )
    for name, field, found, expected in checks:
        if found != expected:
            raise IndexCorrupt(name, field, f"found {found}, manifest says {expected}")
    rows = index.derived.graph_rows if index.derived is not None else None
    if rows is not None and len(rows) and int(rows.max()) >= counts["chunks"]:
        raise IndexCorrupt(derived_.GRAPH_ROWS, "counts.chunks", f"maps a vector to row {int(rows.max())}, manifest "
                           f"says {counts['chunks']} chunks")


def stale_reason(manifest: dict, articles: list[Article], model_name: str, params: ChunkParams,
                 nlp: dict | None = None) -> str | None:
    """Why an index no longer matches the corpus or settings, or None if it does. `nlp`: the loaded
    pipeline's fingerprint (another pipeline or version makes the index stale)."""
    corpus = corpus_of(articles)
    if manifest["corpus"] != corpus:
        changed = sorted(set(corpus.items()) ^ set(manifest["corpus"].items()))
        return f"corpus changed ({', '.join(sorted({name for name, _ in changed}))})"
    if manifest.get("metadata") != metadata_fingerprint(articles):
        return "article metadata changed"
    return settings_reason(manifest, model_name, params, nlp)


def settings_reason(manifest: dict, model_name: str, params: ChunkParams, nlp: dict | None = None) -> str | None:
    """Why an index was made otherwise than these settings and this code would make it (the corpus aside),
    or None."""
    if manifest["model"]["name"] != model_name:
        return f"model changed ({manifest['model']['name']!r} -> {model_name!r})"
    if manifest["tokenizer"] != tokenizer_fingerprint():
        return "tokenizer changed"
    if nlp is not None and manifest.get("nlp") != nlp:
        return f"spaCy pipeline changed ({manifest.get('nlp')} -> {nlp})"
    if manifest["chunking"] != asdict(params):
        return f"chunking changed ({manifest['chunking']} -> {asdict(params)})"
    if manifest.get("code") != code_fingerprint():
        return "the ingest, sentence or chunking code changed"
    return None
