"""The retrieval structures derived from an index: made when it is built or loaded, carried through updates.

    bm25             the chunks' BM25 matrix (qa/bm25.py): combined at load from the segments' term counts
                     (qa/segments.py), the corpus-wide statistics computed then
    sentence_bm25    the sentences' matrix, likewise: below `exact_below` chunks each leg scores a passage by
                     its best sentence (qa/retrieve.py)
    dense.hnsw       the chunks' HNSW graph (qa/vectors.py), from `exact_below` chunks on, loaded memory-mapped;
    dense_rows.npy   which row each of the graph's vectors stands for now (-1: removed), as runs, when that is
                     not vector i = row i

They depend on the index and on retrieval settings (BM25 variant and parameters, the exact/HNSW threshold,
the graph's M, efConstruction and storage), which the manifest records under `retrieval`. A service whose settings
differ makes what differs in memory (BM25 reweighted from the stored term frequencies, a graph built
again) rather than use a file made for other settings. An incremental update (qa/update.py) moves the
unchanged documents' postings and counts only the new ones (`BM25Matrix.updated`). The graph is left as
it is, the same file (a hard link in the new build, its checksum carried over): its vectors are mapped to
their new rows, a removed article's marked removed (skipped when searching), and the chunks it does not
hold are searched exactly beside it (qa/vectors.py). Once they pass `HnswParams.tail`, a copy of the graph takes them in (written once, not at
each add); once a quarter of its vectors are removed ones, the graph is built again. So an add or a removal
above the threshold costs its own chunks, and the graph's copy and write are paid once per `tail` chunks.
A graph grown this way is not the one a full build makes (HNSW's links depend on the order vectors
arrive), only as good.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.bm25 import BM25Matrix, BM25Params
from qa.text import tokenize
from qa.vectors import HnswParams, build_hnsw, unheld

log = logging.getLogger(__name__)

BM25_DIR, SENTENCE_BM25_DIR, GRAPH, GRAPH_ROWS = "bm25", "sentence_bm25", "dense.hnsw", "dense_rows.npy"
REBUILD_REMOVED_SHARE = 0.25  # a graph whose removed vectors pass this share of it is built again


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
    graph_rows: np.ndarray | None = None  # the row each graph vector stands for (-1: removed); None: its own
    graph_file: tuple[Path, str] | None = None  # the saved file the graph is, and its SHA-256: linked, not written


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
    graph, rows, file, wanted = None, None, None, params.manifest()
    if n_chunks >= params.exact_below:
        graph, rows, file = have.graph, have.graph_rows, have.graph_file
        saved_hnsw = {"storage": "flat", **(have.params or {}).get("hnsw", {})}  # graphs from before `storage`: flat
        if graph is not None and saved_hnsw == wanted["hnsw"] and (rows is not None or graph.ntotal == n_chunks):
            held = np.arange(graph.ntotal) if rows is None else rows
            removed = int((held < 0).sum())
            tail = n_chunks - (graph.ntotal - removed)
            if removed > REBUILD_REMOVED_SHARE * graph.ntotal:
                graph = None
            elif tail > params.hnsw.tail:
                graph, rows = _grown(graph, held, index.chunk_vectors)
                file = None
        else:
            graph = None
        if graph is None:
            log.info("building the HNSW graph over %d chunks (M=%d, %s)", n_chunks, params.hnsw.m, params.hnsw.storage)
            graph, rows, file = build_hnsw(index.chunk_vectors, params.hnsw), None, None
    return Derived(bm25, sentence_bm25, graph, wanted, rows, file)


def _fitting(matrix: BM25Matrix | None, params: BM25Params, n_docs: int, tokens, what: str) -> BM25Matrix:
    if matrix is not None and matrix.n_docs == n_docs:
        if matrix.params.resolved() == params.resolved():
            return matrix
        if matrix.tf is not None:
            return matrix.reweighted(params)
    log.info("building the %s BM25 matrix from the tokens", what)
    return BM25Matrix.build(tokens(), params)


def updated(base: Derived | None, chunk_rows: np.ndarray, new_chunk_tokens: Sequence[Sequence[str]],
            sentence_rows: np.ndarray, new_sentences: Sequence[str]) -> Derived:
    """The structures of an updated index: row j of the new index is row `rows[j]` of the base, or (where
    that is -1) the next new chunk or sentence. What cannot be carried over is left to `complete`."""
    if base is None:
        return Derived()
    bm25 = base.bm25.updated(chunk_rows, new_chunk_tokens) if _countable(base.bm25) else None
    sentence_bm25 = None
    if _countable(base.sentence_bm25):
        sentence_bm25 = base.sentence_bm25.updated(sentence_rows, [tokenize(t) for t in new_sentences])
    rows = None
    if base.graph is not None:
        held = np.arange(base.graph.ntotal) if base.graph_rows is None else base.graph_rows
        chunk_rows = np.asarray(chunk_rows, dtype=np.int64)
        kept = np.flatnonzero(chunk_rows >= 0)
        new_of_old = np.full(max(int(held.max(initial=-1)), int(chunk_rows.max(initial=-1))) + 1, -1, dtype=np.int64)
        new_of_old[chunk_rows[kept]] = kept
        rows = np.where(held >= 0, new_of_old[np.maximum(held, 0)], -1)
    return Derived(bm25, sentence_bm25, base.graph, base.params, rows, base.graph_file)


def _grown(graph, held: np.ndarray, vectors: np.ndarray):
    """A copy of `graph` that holds the rows it did not (added in row order), and its rows."""
    import faiss

    tail = unheld(held, len(vectors))
    log.info("the HNSW graph takes in %d chunks searched exactly until now", len(tail))
    grown = faiss.clone_index(graph)  # the loaded graph is a read-only memory map
    for start in range(0, len(tail), 50_000):
        grown.add(np.ascontiguousarray(vectors[tail[start : start + 50_000]], dtype=np.float32))
    return grown, np.concatenate([held, tail])


def _countable(matrix: BM25Matrix | None) -> bool:
    return matrix is not None and matrix.tf is not None


# ---------------------------------------------------------------- files
def write(derived: Derived, folder: Path) -> dict[str, str | None]:
    """Save the graph (if any) into a build folder: the file it was loaded from linked there when it is
    unchanged (its checksum known), else written; and its rows. The names written, relative to the folder,
    with their SHA-256 where it is known (for the manifest). The BM25 matrices are not saved: each segment
    saves its term counts (qa/segments.py) and loading combines them (`BM25Matrix.combined`)."""
    if derived.graph is None:
        return {}
    import faiss

    names: dict[str, str | None] = {GRAPH: None}
    if derived.graph_file is not None and derived.graph_file[0].is_file():
        source, names[GRAPH] = derived.graph_file
        try:
            os.link(source, folder / GRAPH)  # builds never change a file: the new build shares it
        except OSError:
            shutil.copyfile(source, folder / GRAPH)
    else:
        faiss.write_index(derived.graph, str(folder / GRAPH))
    if derived.graph_rows is not None:
        np.save(folder / GRAPH_ROWS, _runs(derived.graph_rows))
        names[GRAPH_ROWS] = None
    return names


def read(build: Path, manifest: dict) -> tuple[object | None, np.ndarray | None, tuple[Path, str] | None]:
    """The build's saved graph (its checksum already verified), memory-mapped, its rows (None: vector i is
    row i) and where it lies; (None, None, None) when it saved none."""
    if GRAPH not in manifest["files"]:
        return None, None, None
    import faiss

    graph = faiss.read_index(str(build / GRAPH), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    rows = None
    if GRAPH_ROWS in manifest["files"]:
        rows = _from_runs(np.load(build / GRAPH_ROWS, allow_pickle=False))
        if len(rows) != graph.ntotal:
            raise ValueError(f"{GRAPH_ROWS} maps {len(rows)} vectors, the graph holds {graph.ntotal}")
    return graph, rows, (build / GRAPH, manifest["files"][GRAPH])


def _runs(rows: np.ndarray) -> np.ndarray:
    """`rows` as runs (k x 2: first row or -1, length) of consecutive rows or of removed ones: a few per
    update since the graph was made, not one per chunk."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return np.zeros((0, 2), dtype=np.int64)
    step = np.diff(rows)
    same = ((step == 1) & (rows[1:] >= 0) & (rows[:-1] >= 0)) | ((rows[1:] < 0) & (rows[:-1] < 0))
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    lengths = np.diff(np.concatenate([starts, [len(rows)]]))
    return np.stack([np.maximum(rows[starts], -1), lengths], axis=1)


def _from_runs(runs: np.ndarray) -> np.ndarray:
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    first, lengths = runs[:, 0], runs[:, 1]
    if (lengths < 0).any():
        raise ValueError(f"{GRAPH_ROWS} has a run of negative length")
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(first, lengths) + offsets
    rows[np.repeat(first < 0, lengths)] = -1
    return rows


def sizes(derived: Derived) -> list[tuple[str, str, int]]:
    """(file, the manifest count it must equal, documents it holds) of each saved structure."""
    out = []
    if derived.bm25 is not None:
        out.append((f"{BM25_DIR}/bm25.json", "chunks", derived.bm25.n_docs))
    if derived.sentence_bm25 is not None:
        out.append((f"{SENTENCE_BM25_DIR}/bm25.json", "sentences", derived.sentence_bm25.n_docs))
    if derived.graph is not None and derived.graph_rows is None:
        out.append((GRAPH, "chunks", derived.graph.ntotal))
    return out
