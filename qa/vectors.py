"""Dense search: the k vectors with the largest inner product with a query (cosine: the rows are normalized).

Below `exact_below` rows a matrix product over every row (exact, ~54 ms at a million rows); from there on
a faiss HNSW graph. By default (`storage` "sq8", QA_HNSW_STORAGE) the graph keeps each vector as 8-bit codes
(384 bytes instead of 1,536: a quarter of the memory to read at each step of the walk, a graph file of
0.6 GB instead of 1.7 GB per million) and its top k + `rescore` are scored again on the float vectors, so
the scores returned are exact and the order is the exact order of what was found. At a million synthetic
rows and efSearch 192: recall@10 0.986 against exact, p50 0.94-1.06 ms with the 2 cores at load 3, 1.4-1.6 ms
at load 7-9; ~30 % less than the float graph at equal recall (at 200k, same load). `bench/scale.py --sizes
1000000 --ef-sweep 128,160,192,224,256 --rounds 3` prints them; docs/operations.md, "Synthetic corpora", has
the figures and what else was tried.
The vectors may be a memory-mapped `.npy`; the graph is saved beside them with `save` and read back
with `load`.

A graph need not hold every row, nor only live ones (`graph_rows`: for each of its vectors, the row it
stands for now, -1 for a removed one): the rows it does not hold (an index update's new chunks, up to
`HnswParams.tail` of them, qa/derived.py) are searched exactly beside it, and its removed vectors are
skipped by a selector. An update then leaves the graph as it is, file and all, instead of copying and
writing it; the results are the graph's and the tail's candidates scored on the float vectors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.bm25 import top_k_of

log = logging.getLogger(__name__)


STORAGES = ("flat", "sq8")


@dataclass(frozen=True, slots=True)
class HnswParams:
    m: int = 32  # neighbours per node
    ef_construction: int = 80
    ef_search: int = 192  # candidates kept while searching: recall against time (QA_HNSW_EF_SEARCH's default)
    # What the graph keeps of each vector: "flat" a float32 copy (exact scores); "sq8" one byte per dimension
    # (4x less to read per step), its top k + `rescore` then scored again on the float vectors.
    storage: str = "sq8"
    rescore: int = 10
    # Chunks an update added that the graph does not hold yet, searched exactly beside it, before the graph
    # takes them in (qa/derived.py). Each query reads them all: 2,000 x 384 floats, 3 MB (bench/graph_tail.py).
    tail: int = 2_000

    def __post_init__(self):
        if self.storage not in STORAGES:
            raise ValueError(f"HNSW storage {self.storage!r} is not one of {', '.join(STORAGES)}")
        if self.rescore < 0:
            raise ValueError(f"rescore must be >= 0, not {self.rescore}")
        if self.tail < 0:
            raise ValueError(f"tail must be >= 0, not {self.tail}")


# A filtered exact search copies the allowed rows out when they are fewer than this share of all rows, else it
# takes one product over all rows and keeps the allowed scores. Measured at 120,000 x 384 (memory-mapped, one
# thread): the two cost the same near 0.2 of the rows allowed at random and near 0.3 allowed in one block.
GATHER_SHARE = 0.25


class VectorIndex:
    """`top_k(vector, k) -> (ids, scores)`: by descending score, ties by ascending id on the exact path and
    when a quantized graph's candidates are scored again."""

    def __init__(self, vectors: np.ndarray, exact_below: int = 100_000, hnsw: HnswParams = HnswParams(),
                 graph=None, graph_rows: np.ndarray | None = None):
        """`graph_rows`: the row each of the graph's vectors stands for (-1: removed); None: vector i is row
        i, for every row."""
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array, not {vectors.ndim}-D")
        self.vectors, self.exact_below, self.hnsw = vectors, exact_below, hnsw
        self.graph, self.graph_rows = graph, graph_rows
        if graph is None and not self.exact:
            self.graph, self.graph_rows = build_hnsw(vectors, hnsw), None
        self._tail = np.zeros(0, dtype=np.int64)  # rows the graph does not hold
        self._tail_vectors: np.ndarray | None = None
        self._alive = None  # the graph's live vectors as a bitmap, when some are removed
        if self.graph is not None:
            self.graph.hnsw.efSearch = hnsw.ef_search
            n = len(vectors)
            if self.graph_rows is None:
                if self.graph.ntotal != n:
                    raise ValueError(f"the HNSW graph holds {self.graph.ntotal} vectors, not {n}")
            else:
                rows = self.graph_rows = np.asarray(self.graph_rows, dtype=np.int64)
                if len(rows) != self.graph.ntotal or (len(rows) and rows.max() >= n):
                    raise ValueError(f"the graph's {self.graph.ntotal} vectors do not map into {n} rows")
                live = rows >= 0
                self._tail = unheld(rows, n)
                # one contiguous block: a query reads it once, no gather of scattered rows
                self._tail_vectors = np.ascontiguousarray(vectors[self._tail], dtype=np.float32)
                if not live.all():
                    self._alive = np.packbits(live, bitorder="little")
        # A quantized graph's scores are approximate: its candidates are scored again on the float vectors.
        self.exact_scores = self.graph is None or _stores_floats(self.graph)

    @property
    def exact(self) -> bool:
        return len(self.vectors) < self.exact_below

    def top_k(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`mask`: the rows that may be returned (None: all). A filtered search looks among those rows
        only: exactly when they are fewer than `exact_below`, else in the graph with a selector."""
        vector = np.asarray(vector, dtype=np.float32)
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) < self.exact_below or self.graph is None:
                every = len(allowed) >= GATHER_SHARE * len(self.vectors)  # then one product over all rows
                ids, scores = top_k_of((self.vectors @ vector)[allowed] if every else self.vectors[allowed] @ vector, k)
                return allowed[ids], scores
        if self.exact or self.graph is None:
            return self.exact_top_k(vector, k)
        k = min(k, len(self.vectors))
        mapped = self.graph_rows is not None
        wanted = k if self.exact_scores and not mapped else k + self.hnsw.rescore
        wanted = min(wanted, self.graph.ntotal)
        import faiss

        selector, keep = None, None
        if mask is not None:
            held = self.graph_rows if mapped else np.arange(self.graph.ntotal)
            keep = np.flatnonzero((held >= 0) & mask[np.maximum(held, 0)])
            selector = faiss.IDSelectorBatch(keep)
        elif self._alive is not None:
            keep = self._alive
            selector = faiss.IDSelectorBitmap(self.graph.ntotal, faiss.swig_ptr(keep))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.hnsw.ef_search) if selector else None
        scores, ids = self.graph.search(vector.reshape(1, -1), wanted, params=params)
        found = ids[0] >= 0  # faiss pads with -1 when it finds fewer than asked
        ids, scores = ids[0][found].astype(np.int64), scores[0][found].astype(np.float32)
        if mapped:
            ids = self.graph_rows[ids]
            ids = ids[ids >= 0]
        elif self.exact_scores:
            return ids, scores
        ids = np.sort(ids)  # the rows read in file order; ties then go to the lower id, as on the exact path
        scores = self.vectors[ids] @ vector
        if len(self._tail):  # the rows the graph does not hold: scored exactly, their best k join
            allowed = slice(None) if mask is None else mask[self._tail]
            tail_ids, tail_scores = top_k_of(self._tail_vectors[allowed] @ vector, k)
            tail_ids = self._tail[allowed][tail_ids]
            ids = np.concatenate([ids, tail_ids])
            scores = np.concatenate([scores, tail_scores])
            order = np.argsort(ids, kind="stable")
            ids, scores = ids[order], scores[order]
        best, scores = top_k_of(scores, k)
        return ids[best], scores

    def exact_top_k(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return top_k_of(self.vectors @ np.asarray(vector, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        """The HNSW graph (nothing to save on the exact path)."""
        import faiss

        if self.graph is not None:
            faiss.write_index(self.graph, str(path))

    @classmethod
    def load(cls, vectors: np.ndarray, path: Path, exact_below: int = 100_000,
             hnsw: HnswParams = HnswParams()) -> "VectorIndex":
        """`vectors` and, when the path exists and the index is not exact, the graph saved there."""
        import faiss

        graph = None
        if len(vectors) >= exact_below and path.is_file():
            graph = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            if graph.ntotal != len(vectors):
                raise ValueError(f"HNSW graph {str(path)!r} holds {graph.ntotal} vectors, not {len(vectors)}")
        return cls(vectors, exact_below, hnsw, graph)


def unheld(graph_rows: np.ndarray, n: int) -> np.ndarray:
    """The rows of an index of `n` rows that no vector of a graph mapped by `graph_rows` stands for."""
    held = np.zeros(n, dtype=bool)
    held[graph_rows[graph_rows >= 0]] = True
    return np.flatnonzero(~held)


def build_hnsw(vectors: np.ndarray, params: HnswParams, batch: int = 50_000, progress=None, train_rows: int = 100_000):
    """A faiss HNSW graph over inner product, added in batches (a memory map is read a batch at a time).
    With "sq8" storage each dimension's 8-bit range is fitted on the first `train_rows` vectors."""
    import faiss

    dim = vectors.shape[1]
    if params.storage == "flat":
        graph = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
    else:
        graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, params.m, faiss.METRIC_INNER_PRODUCT)
        graph.train(np.ascontiguousarray(vectors[:train_rows], dtype=np.float32))
    graph.hnsw.efConstruction = params.ef_construction
    for start in range(0, len(vectors), batch):
        graph.add(np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32))
        if progress:
            progress(min(start + batch, len(vectors)), len(vectors))
    return graph


def _stores_floats(graph) -> bool:
    import faiss

    return isinstance(graph, faiss.IndexHNSWFlat)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top k that the approximate top k found."""
    return len(set(found.tolist()) & set(exact.tolist())) / max(len(exact), 1)
