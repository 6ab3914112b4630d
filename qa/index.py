"""Build, save and load the index: a folder of plain files that explains itself.

Layout of `index_dir`:
    current -> builds/<build-id>        a symlink, swapped atomically when a build completes
    builds/<build-id>/manifest.json     format, versions, model, tokenizer, chunking, the code that
                                        shaped it, corpus checksums, counts, build time and the
                                        SHA-256 of every other file
    builds/<build-id>/articles.jsonl    one article a line, its text exactly as in the seed file
    builds/<build-id>/sentences.jsonl   doc_id, start, end of every indexed sentence
    builds/<build-id>/chunks.jsonl      chunk id, offsets, sentence range and BM25 tokens
    builds/<build-id>/chunk_vectors.npy, sentence_vectors.npy   normalized float32 embeddings
    builds/<build-id>/analysis.spacy    spaCy's analysis of every sentence (a DocBin; qa/analysis.py)
    builds/<build-id>/clause_vectors.npy   normalized float32 embeddings of every clause (qa/analysis.clauses)
    builds/<build-id>/bm25/, sentence_bm25/, dense.hnsw   the retrieval structures (qa/derived.py), for the
                                        settings in the manifest's `retrieval`; loaded memory-mapped
A build is written to `builds/<build-id>.partial` and renamed when complete, so a crash leaves
at most a `.partial` folder, which the next start removes. Each file's checksum in the manifest is the
SHA-256 of the SHA-256s of its 4 MiB blocks (`blocks` lists them): a new build hashes only the blocks whose
bytes differ from the live build's (compared, 20x faster than hashing), so adding an article re-hashes
what changed, not the corpus; loading still hashes every block. (Format 4 kept one SHA-256 per file.) Builds and clean-ups hold `build_lock`,
so a `qa index` run and a server's reindex never write or clean the same folder at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from qa import analysis, build_files as files, chunk, derived as derived_, ingest, tables, text
from qa.chunk import ChunkParams, chunk_article
from qa.embed import Embedder
from qa.errors import IndexCorrupt, IndexMissing, IndexStale
from qa.text import STOPWORDS, TOKENIZER_VERSION, tokenize
from qa.types import Article, Chunk, Sentence

log = logging.getLogger(__name__)

# 2: the sentences' spaCy analysis (analysis.spacy) and the pipeline in the manifest; 3: the analysis in one
# part per article, articles' metadata; 4: clause vectors (clause_vectors.npy); 5: the BM25 matrices and the
# HNSW graph (qa/derived.py). A format-4 build still loads (its structures are made in memory, and written
# with the next build): what it stores is the same.
FORMAT_VERSION = 5
READABLE_FORMATS = (4, 5)
MANIFEST = "manifest.json"
ARTIFACTS = ("articles.jsonl", "sentences.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy",
             analysis.ARTIFACT, analysis.CLAUSE_VECTORS)
_PACKAGES = ("newsqa", "numpy", "rank-bm25", "onnxruntime", "faiss-cpu", "sentence-transformers", "torch",
             "transformers", "spacy")


@dataclass(frozen=True, slots=True)
class Index:
    """Everything retrieval and reading need, in memory. Rows of the vector matrices line up
    with `chunks` and `sentences`."""

    articles: dict[str, Article]
    sentences: tuple[Sentence, ...]
    chunks: tuple[Chunk, ...]
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
    return Index({a.doc_id: a for a in articles}, tuple(sentences), tuple(chunks), tokens,
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
        "corpus": {a.source: a.sha256 for a in articles},
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


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------- save
def save_index(index: Index, index_dir: Path, retrieval: derived_.RetrievalParams | None = None) -> Path:
    """Write a complete build beside the live one, then point `current` at it atomically. `retrieval`: also
    save the retrieval structures for these settings (those of `index.derived` that fit, the rest made now);
    None: those `index.derived` holds, if any."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    partial = builds / f"{build_id}.partial"
    partial.mkdir()
    live = _live_blocks(index_dir)
    files.write_lines(partial / "articles.jsonl", index.articles.values(), _article_row)
    files.write_lines(partial / "sentences.jsonl", index.sentences,
                 lambda s: {"doc_id": s.doc_id, "start": s.start, "end": s.end})
    files.write_lines(partial / "chunks.jsonl", index.chunks, _chunk_row, index.chunk_tokens)
    np.save(partial / "chunk_vectors.npy", index.chunk_vectors, allow_pickle=False)
    np.save(partial / "sentence_vectors.npy", index.sentence_vectors, allow_pickle=False)
    parts = index.analysis_parts if len(index.analysis_parts) == len(index.articles) else [analysis.serialize(index.docs)]
    (partial / analysis.ARTIFACT).write_bytes(analysis.pack(parts))
    np.save(partial / analysis.CLAUSE_VECTORS, index.clause_vectors, allow_pickle=False)
    names = list(ARTIFACTS)
    manifest = dict(index.manifest, format_version=FORMAT_VERSION)
    structures = derived_.complete(index, retrieval) if retrieval is not None else index.derived
    manifest.pop("retrieval", None)
    if structures is not None and structures.params is not None:
        names += derived_.write(structures, partial)
        manifest["retrieval"] = structures.params
    blocks = {name: files.block_digests(partial / name, live.get(name)) for name in names}
    manifest["files"] = {name: files.root(digests) for name, digests in blocks.items()}
    manifest["blocks"] = blocks
    files.write_json(partial / MANIFEST, manifest)
    files.fsync_dir(partial)
    final = builds / build_id
    os.rename(partial, final)
    link = index_dir / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(Path("builds") / build_id, link)
    os.replace(link, index_dir / "current")  # atomic: readers see the old build or the new one
    files.fsync_dir(index_dir)
    log.info("index %s written: %s", build_id, manifest["counts"])
    return final


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
    """Remove what a crashed or superseded build left: `.partial` folders, stray links, old builds."""
    removed: list[str] = []
    builds = index_dir / "builds"
    live = (index_dir / "current").resolve() if (index_dir / "current").exists() else None
    for path in sorted(builds.iterdir()) if builds.is_dir() else []:
        if path.resolve() != live:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    for link in index_dir.glob(".current-*"):
        link.unlink(missing_ok=True)
        removed.append(link.name)
    if removed:
        log.info("removed index leftovers: %s", ", ".join(removed))
    return removed


def _article_row(a: Article) -> dict:
    return {"doc_id": a.doc_id, "source": a.source, "date": a.date, "title": a.title, "sha256": a.sha256,
            "outlet": a.outlet, "url": a.url, "published": a.published, "language": a.language,
            "excluded": [list(r) for r in a.excluded], "sentences": [list(s) for s in a.sentences], "text": a.text}


def metadata_fingerprint(articles: Iterable[Article]) -> str:
    """One digest of every article's metadata (a change re-labels citations without touching vectors)."""
    digest = hashlib.sha256()
    for a in articles:
        digest.update(json.dumps([a.source, a.title, a.date, a.outlet, a.url, a.published, a.language]).encode())
    return digest.hexdigest()[:16]


def _chunk_row(c: Chunk, tokens: tuple[str, ...]) -> dict:
    return {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "ordinal": c.ordinal, "start": c.start, "end": c.end,
            "sentences": list(c.sentences), "tokens": list(tokens)}


def _live_blocks(index_dir: Path) -> dict[str, tuple[Path, list[str]]]:
    """The live build's files and their block digests (none for a format-4 build, or no build)."""
    try:
        build = current_build(index_dir)
        blocks = json.loads((build / MANIFEST).read_text(encoding="utf-8")).get("blocks") or {}
    except (IndexMissing, OSError, ValueError):
        return {}
    return {name: (build / name, digests) for name, digests in blocks.items()
            if isinstance(digests, list) and (build / name).is_file()}


# ---------------------------------------------------------------- load
def current_build(index_dir: Path) -> Path:
    link = index_dir / "current"
    if not link.exists():
        raise IndexMissing(f"no index in {str(index_dir)!r}; build one with `qa index`")
    return link.resolve()


def load_index(index_dir: Path, vocab=None) -> Index:
    """Load the current build, verifying every artifact's checksum and the files' consistency.
    `vocab`: the spaCy vocabulary the stored analysis is read into (a blank English one when None)."""
    build = current_build(index_dir)
    manifest = _read_manifest(build)
    for name in dict.fromkeys([*ARTIFACTS, *manifest["files"]]):
        path = build / name
        if not path.is_file():
            raise IndexCorrupt(name, "files", "file is missing")
        expected = manifest["files"].get(name)
        if files.checksum_as(path, manifest) != expected:
            raise IndexCorrupt(name, f"files.{name}", "checksum does not match the manifest (file changed or truncated)")
    articles = {row["doc_id"]: _article_from_row(row) for row in _read_jsonl(build, "articles.jsonl")}
    sentences = tuple(
        Sentence(i, r["doc_id"], r["start"], r["end"], articles[r["doc_id"]].text[r["start"] : r["end"]])
        for i, r in enumerate(_read_jsonl(build, "sentences.jsonl"))
    )
    rows = _read_jsonl(build, "chunks.jsonl")
    chunks = tuple(
        Chunk(r["chunk_id"], r["doc_id"], r["ordinal"], r["start"], r["end"],
              articles[r["doc_id"]].text[r["start"] : r["end"]], tuple(r["sentences"]))
        for r in rows
    )
    tokens = tuple(tuple(r["tokens"]) for r in rows)
    chunk_vectors = _read_npy(build, "chunk_vectors.npy")
    sentence_vectors = _read_npy(build, "sentence_vectors.npy")
    if vocab is None:
        import spacy

        vocab = spacy.blank("en").vocab
    parts = tuple(analysis.split((build / analysis.ARTIFACT).read_bytes()))
    docs = analysis.load_docs(parts, vocab, [s.text for s in sentences])
    clause_vectors = _read_npy(build, analysis.CLAUSE_VECTORS)
    try:
        structures = derived_.read(build, manifest)
    except (ValueError, RuntimeError, KeyError) as exc:  # faiss reports a bad file as a RuntimeError
        raise IndexCorrupt("retrieval", "-", f"a saved retrieval structure is unreadable ({exc})") from None
    index = Index(articles, sentences, chunks, tokens, chunk_vectors, sentence_vectors, manifest, build, docs,
                  parts if len(parts) == len(articles) else (), clause_vectors=clause_vectors,
                  clause_table=tables.clause_table(docs), derived=structures)
    _check_consistent(index)
    return index


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
    if manifest["format_version"] not in READABLE_FORMATS:  # another format is stale (rebuilt), not corrupt
        raise IndexStale(f"index format {manifest['format_version']} is not {FORMAT_VERSION}; rebuild with `qa index`")
    for field in ("model", "tokenizer", "nlp", "chunking", "corpus", "counts", "files"):
        if field not in manifest:
            raise IndexCorrupt(MANIFEST, field, "field is missing")
    return manifest


def _read_jsonl(build: Path, name: str) -> list[dict]:
    rows = []
    with open(build / name, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IndexCorrupt(name, f"line {n}", f"not valid JSON ({exc.msg})") from None
    return rows


def _read_npy(build: Path, name: str) -> np.ndarray:
    try:
        array = np.load(build / name, mmap_mode="r", allow_pickle=False)  # pages shared between processes
    except ValueError as exc:
        raise IndexCorrupt(name, "-", f"not a readable .npy array ({exc})") from None
    if array.dtype != np.float32 or array.ndim != 2:
        raise IndexCorrupt(name, "dtype", f"expected a 2-D float32 array, found {array.dtype} with {array.ndim} dims")
    return array


def _article_from_row(row: dict) -> Article:
    return Article(row["doc_id"], row["source"], row["text"], row["date"], row["title"],
                   tuple(tuple(r) for r in row["excluded"]), tuple(tuple(s) for s in row["sentences"]), row["sha256"],
                   row.get("outlet"), row.get("url"), row.get("published"), row.get("language"))


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


def stale_reason(manifest: dict, articles: list[Article], model_name: str, params: ChunkParams,
                 nlp: dict | None = None) -> str | None:
    """Why an index no longer matches the corpus or settings, or None if it does. `nlp`: the loaded
    pipeline's fingerprint (another pipeline or version makes the index stale)."""
    corpus = {a.source: a.sha256 for a in articles}
    if manifest["corpus"] != corpus:
        changed = sorted(set(corpus.items()) ^ set(manifest["corpus"].items()))
        return f"corpus changed ({', '.join(sorted({name for name, _ in changed}))})"
    if manifest.get("metadata") != metadata_fingerprint(articles):
        return "article metadata changed"
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
