"""The retrieval structures derived from an index: made when it is built or loaded, carried through updates.

    bm25             the chunks' BM25 matrix (qa/bm25.py): combined at load from the segments' term counts
                     (qa/segments.py), the corpus-wide statistics computed then
    sentence_bm25    the sentences' matrix, likewise: below `exact_below` chunks each leg scores a passage by
                     its best sentence (qa/retrieve.py)
    dense.hnsw       the chunks' HNSW graph (qa/vectors.py), from `exact_below` chunks on: saved with the
                     build (the one corpus-sized file an add still writes, above the threshold), loaded
                     memory-mapped

They depend on the index and on retrieval settings (BM25 variant and parameters, the exact/HNSW threshold,
the graph's M, efConstruction and storage), which the manifest records under `retrieval`. A service whose settings
differ makes what differs in memory (BM25 reweighted from the stored term frequencies, a graph built
again) rather than use a file made for other settings. An incremental update (qa/update.py) moves the
unchanged documents' postings and counts only the new ones (`BM25Matrix.updated`). The graph takes the
new chunks' vectors when they only follow the old ones (faiss numbers a graph's vectors in the order they
were added: a copy of the graph, plus the new vectors); any other change (a removal, an article sorting
before others) builds it again. A graph grown this way is not the one a full build makes (HNSW's links
depend on the order vectors arrive), only as good: exact results are compared on the BM25 side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.bm25 import BM25Matrix, BM25Params
from qa.text import tokenize
from qa.vectors import HnswParams, build_hnsw

log = logging.getLogger(__name__)

BM25_DIR, SENTENCE_BM25_DIR, GRAPH = "bm25", "sentence_bm25", "dense.hnsw"


@dataclass(frozen=True, slots=True)
class RetrievalParams:
    bm25: BM25Params = field(default_factory=BM25Params)
    exact_below: int = 100_000  # chunks: exact dense search and sentence pooling below, the HNSW graph from here
    hnsw: HnswParams = field(default_factory=HnswParams)

    def manifest(self) -> dict:
        """What the saved structures depend on (efSearch is a query-time setting, not among them)."""
        return {"bm25": self.bm25.resolved(), "exact_below": self.exact_below,
                "hnsw": {"m": self.hnsw.m, "ef_construction": self.hnsw.ef_construction, "storage": self.hnsw.storage}}


@dataclass(frozen=True, slots=True)
class Derived:
    bm25: BM25Matrix | None = None
    sentence_bm25: BM25Matrix | None = None
    graph: object | None = None  # a faiss HNSW index over the chunk vectors
    params: dict | None = None  # the RetrievalParams.manifest() they were made for


def complete(index, params: RetrievalParams, sentences: bool = True) -> Derived:
    """`index.derived` where it fits `params` and the index's size, the rest made now. `sentences`: make
    the sentence matrix too (when the corpus is below the threshold)."""
    have = index.derived or Derived()
    n_chunks = len(index.chunks)
    bm25 = _fitting(have.bm25, params.bm25, n_chunks, lambda: index.chunk_tokens, "chunk")
    sentence_bm25 = None
    if sentences and n_chunks < params.exact_below:
        sentence_bm25 = _fitting(have.sentence_bm25, params.bm25, len(index.sentences),
                                 lambda: [tokenize(s.text) for s in index.sentences], "sentence")
    graph, wanted = None, params.manifest()
    if n_chunks >= params.exact_below:
        graph = have.graph
        saved_hnsw = {"storage": "flat", **(have.params or {}).get("hnsw", {})}  # graphs from before `storage`: flat
        if graph is None or saved_hnsw != wanted["hnsw"] or graph.ntotal != n_chunks:
            log.info("building the HNSW graph over %d chunks (M=%d, %s)", n_chunks, params.hnsw.m, params.hnsw.storage)
            graph = build_hnsw(index.chunk_vectors, params.hnsw)
    return Derived(bm25, sentence_bm25, graph, wanted)


def _fitting(matrix: BM25Matrix | None, params: BM25Params, n_docs: int, tokens, what: str) -> BM25Matrix:
    if matrix is not None and matrix.n_docs == n_docs:
        if matrix.params.resolved() == params.resolved():
            return matrix
        if matrix.tf is not None:
            return matrix.reweighted(params)
    log.info("building the %s BM25 matrix from the tokens", what)
    return BM25Matrix.build(tokens(), params)


def updated(base: Derived | None, chunk_rows: np.ndarray, new_chunk_tokens: Sequence[Sequence[str]],
            sentence_rows: np.ndarray, new_sentences: Sequence[str], chunk_vectors: np.ndarray) -> Derived:
    """The structures of an updated index: row j of the new index is row `rows[j]` of the base, or (where
    that is -1) the next new chunk or sentence. What cannot be carried over is left to `complete`."""
    if base is None:
        return Derived()
    bm25 = base.bm25.updated(chunk_rows, new_chunk_tokens) if _countable(base.bm25) else None
    sentence_bm25 = None
    if _countable(base.sentence_bm25):
        sentence_bm25 = base.sentence_bm25.updated(sentence_rows, [tokenize(t) for t in new_sentences])
    return Derived(bm25, sentence_bm25, _grown(base.graph, np.asarray(chunk_rows), chunk_vectors), base.params)


def _grown(graph, rows: np.ndarray, vectors: np.ndarray):
    """A copy of `graph` with the new rows' vectors added, when the old rows are all kept, in order, first."""
    if graph is None:
        return None
    n = graph.ntotal
    if len(rows) < n or not np.array_equal(rows[:n], np.arange(n)) or (rows[n:] >= 0).any():
        return None
    import faiss

    grown = faiss.clone_index(graph)  # the loaded graph is a read-only memory map
    if len(rows) > n:
        grown.add(np.ascontiguousarray(vectors[n:], dtype=np.float32))
    return grown


def _countable(matrix: BM25Matrix | None) -> bool:
    return matrix is not None and matrix.tf is not None


# ---------------------------------------------------------------- files
def write(derived: Derived, folder: Path) -> list[str]:
    """Save the graph (if any) into a build folder; the names written, relative to it (for the manifest's
    checksums). The BM25 matrices are not saved: each segment saves its term counts (qa/segments.py) and
    loading combines them (`BM25Matrix.combined`)."""
    if derived.graph is None:
        return []
    import faiss

    faiss.write_index(derived.graph, str(folder / GRAPH))
    return [GRAPH]


def read(build: Path, manifest: dict):
    """The build's saved graph (its checksum already verified), memory-mapped; None when it saved none."""
    if GRAPH not in manifest["files"]:
        return None
    import faiss

    return faiss.read_index(str(build / GRAPH), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)


def sizes(derived: Derived) -> list[tuple[str, str, int]]:
    """(file, the manifest count it must equal, documents it holds) of each saved structure."""
    out = []
    if derived.bm25 is not None:
        out.append((f"{BM25_DIR}/bm25.json", "chunks", derived.bm25.n_docs))
    if derived.sentence_bm25 is not None:
        out.append((f"{SENTENCE_BM25_DIR}/bm25.json", "sentences", derived.sentence_bm25.n_docs))
    if derived.graph is not None:
        out.append((GRAPH, "chunks", derived.graph.ntotal))
    return out
