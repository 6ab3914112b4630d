"""BM25 from a precomputed term-document matrix: rank-bm25's own scores, in milliseconds at a million chunks.

rank-bm25 walks every document for every query term (seconds at a million chunks). Here each term's
row holds, for the documents containing it, the part of its score that does not depend on the query
(everything but the idf): a query adds `idf[t] * row[t]` for its terms, in the query's order and with
its repeats, as rank-bm25 does. The variants are rank-bm25's, formulas and quirks included:
    okapi  idf = ln(N - n + 0.5) - ln(n + 0.5), floored to epsilon * mean idf where negative;
           w = tf (k1 + 1) / (tf + k1 (1 - b + b dl/avgdl))
    l      idf = ln(N + 1) - ln(n + 0.5); c = tf / (1 - b + b dl/avgdl);
           w = tf (k1 + 1) (c + delta) / (k1 + c + delta)   (tf once more than the paper: rank-bm25's)
    plus   idf = ln((N + 1) / n); w = tf (k1 + 1) / (k1 (1 - b + b dl/avgdl) + tf), and every
           document, containing the term or not, gets idf * delta more
Saved as a folder of plain arrays (`.npy`, no pickle) and `bm25.json` with the parameters and the
vocabulary; loaded memory-mapped, so a worker reads only the rows its queries touch. The matrix also keeps
each posting's term frequency and each document's length, so it can be weighted for other parameters
(`reweighted`) and brought up to date with a changed corpus from the new documents' tokens alone
(`updated`: the other documents' postings are moved, not counted again), or combined from the counts of
several matrices (`combined`: an index's segments, qa/segments.py, the corpus-wide statistics computed then).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

VARIANTS = ("okapi", "l", "plus")
# rank-bm25's defaults for the parameters this service does not set.
DEFAULT_EPSILON, DEFAULT_DELTA = {"okapi": 0.25}, {"l": 0.5, "plus": 1.0}
FORMAT = 2  # 2: term frequencies and document lengths saved too
_ARRAYS = ("indptr", "indices", "weights", "idf")
_COUNTS = ("tf", "doc_len")


@dataclass(frozen=True, slots=True)
class BM25Params:
    variant: str = "l"
    k1: float = 1.2
    b: float = 0.75
    delta: float | None = None  # l and plus; None: rank-bm25's default
    epsilon: float | None = None  # okapi; None: rank-bm25's default

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown BM25 variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")

    @property
    def delta_(self) -> float:
        return DEFAULT_DELTA.get(self.variant, 0.0) if self.delta is None else self.delta

    @property
    def epsilon_(self) -> float:
        return DEFAULT_EPSILON.get(self.variant, 0.0) if self.epsilon is None else self.epsilon

    def resolved(self) -> dict:
        """The parameters with rank-bm25's defaults filled in: equal dicts score equally."""
        return {"variant": self.variant, "k1": self.k1, "b": self.b, "delta": self.delta_, "epsilon": self.epsilon_}


class BM25Matrix:
    """Rows are terms (`vocab` order), columns documents; `indptr`/`indices`/`weights` are the rows in CSR,
    `tf` the term frequency of each posting and `doc_len` each document's length in tokens (None in a
    matrix loaded from format 1, which can only be queried)."""

    def __init__(self, params: BM25Params, vocab: Sequence[str], indptr: np.ndarray, indices: np.ndarray,
                 weights: np.ndarray, idf: np.ndarray, n_docs: int, tf: np.ndarray | None = None,
                 doc_len: np.ndarray | None = None, term_ids: dict[str, int] | None = None):
        self.params, self.vocab = params, tuple(vocab)
        self.term_ids = term_ids if term_ids is not None else {t: i for i, t in enumerate(self.vocab)}
        self.indptr, self.indices, self.weights, self.idf = indptr, indices, weights, idf
        self.n_docs, self.tf, self.doc_len = n_docs, tf, doc_len

    # ------------------------------------------------------------ build
    @classmethod
    def build(cls, corpus: Iterable[Sequence[str]], params: BM25Params) -> "BM25Matrix":
        """From tokenized documents. Terms are numbered in order of first appearance, as rank-bm25 meets them."""
        ids: dict[str, int] = {}
        terms: list[int] = []
        lengths: list[int] = []
        for doc in corpus:
            lengths.append(len(doc))
            terms.extend(ids.setdefault(t, len(ids)) for t in doc)
        docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        return cls.from_ids(docs, np.asarray(terms, dtype=np.int64), list(ids), params, len(lengths))

    @classmethod
    def from_ids(cls, docs: np.ndarray, terms: np.ndarray, vocab: Sequence[str], params: BM25Params,
                 n_docs: int) -> "BM25Matrix":
        """From one (document, term id) pair per token, documents ascending; `vocab[term id]` names the term.
        Vocabulary order decides only the order the Okapi mean idf is summed in: pass first-appearance order
        to match rank-bm25 to the last bit."""
        doc_len = np.bincount(docs, minlength=n_docs).astype(np.int64)
        pairs, tf = np.unique(terms * max(n_docs, 1) + docs, return_counts=True)  # term-major, then document
        row, col = pairs // max(n_docs, 1), (pairs % max(n_docs, 1)).astype(np.int32)
        return cls._weighted(params, vocab, row, col, tf.astype(np.int32), doc_len, n_docs)

    @classmethod
    def _weighted(cls, params: BM25Params, vocab: Sequence[str], row: np.ndarray, col: np.ndarray, tf: np.ndarray,
                  doc_len: np.ndarray, n_docs: int, term_ids: dict[str, int] | None = None) -> "BM25Matrix":
        """From postings sorted by term, then document: the weights and idf of `params`."""
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(vocab)), out=indptr[1:])
        return cls._weighted_rows(params, vocab, indptr, col, tf, doc_len, n_docs, term_ids)

    @classmethod
    def _weighted_rows(cls, params: BM25Params, vocab: Sequence[str], indptr: np.ndarray, col: np.ndarray,
                       tf: np.ndarray, doc_len: np.ndarray, n_docs: int,
                       term_ids: dict[str, int] | None = None) -> "BM25Matrix":
        """`_weighted` of postings already in rows (`indptr`): a term's document frequency is its row's length."""
        df = np.diff(indptr)
        avgdl = float(doc_len.sum()) / n_docs if n_docs else 1.0
        weights = _posting_weights(params, tf, doc_len, col, avgdl)
        return cls(params, vocab, indptr, col, weights, _idf(params, df, n_docs), n_docs, tf, doc_len, term_ids)

    # ------------------------------------------------------------ change
    def reweighted(self, params: BM25Params) -> "BM25Matrix":
        """The same postings weighted for other parameters."""
        self._need_counts()
        row = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))
        return self._weighted(params, self.vocab, row, np.asarray(self.indices), np.asarray(self.tf),
                              np.asarray(self.doc_len), self.n_docs, self.term_ids)

    def updated(self, rows: np.ndarray, added: Sequence[Sequence[str]]) -> "BM25Matrix":
        """The matrix of a changed corpus: its document j is this matrix's document `rows[j]` where that is
        >= 0, else the next of `added` (tokenized). Only `added` is counted; the other postings are moved
        (their columns renumbered, the removed documents' dropped) and the new ones put in their places, term
        by term of `added`; then every weight is recomputed for the new lengths (numpy, O(postings)).
        New terms join the end of the vocabulary; a term no document uses any more stays with idf 0, so
        scores equal those of a matrix built from the new corpus (Okapi's mean idf up to summation order)."""
        self._need_counts()
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        kept = np.flatnonzero(rows >= 0)
        new_col = np.full(self.n_docs, -1, dtype=np.int64)
        new_col[rows[kept]] = kept
        vocab, term_ids, pairs, new_tf, doc_len = self._counted(rows, added)
        still = new_col[new_col >= 0]
        if len(still) != len(kept) or (len(still) > 1 and not np.all(still[1:] > still[:-1])):
            return self._resorted(rows, vocab, term_ids, pairs, new_tf, doc_len)  # reordered, or a document twice
        indptr, col, tf = self._moved(new_col)
        new_term, new_doc = pairs // max(n, 1), pairs % max(n, 1)
        old_terms = len(indptr) - 1
        at = np.full(len(pairs), len(col), dtype=np.int64)  # a new term's postings go last, in term order
        bounds = np.flatnonzero(np.diff(np.concatenate([[-1], new_term, [len(vocab)]])))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            t = int(new_term[a])
            if t < old_terms:
                lo, hi = int(indptr[t]), int(indptr[t + 1])
                at[a:b] = lo + np.searchsorted(col[lo:hi], new_doc[a:b])
        counts = np.zeros(len(vocab), dtype=np.int64)
        counts[:old_terms] = np.diff(indptr)
        counts += np.bincount(new_term, minlength=len(vocab))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        col = np.insert(col, at, new_doc)
        tf = np.insert(tf, at, new_tf.astype(tf.dtype))
        return self._weighted_rows(self.params, vocab, indptr, col.astype(np.int32), tf, doc_len, n, term_ids)

    def _counted(self, rows: np.ndarray, added: Sequence[Sequence[str]]):
        """What `updated` counts: the vocabulary and term ids with `added`'s new terms last, the new postings
        as sorted keys (term * len(rows) + document) with their frequencies, and every document's length."""
        n, fresh, kept = len(rows), np.flatnonzero(rows < 0), np.flatnonzero(rows >= 0)
        if len(fresh) != len(added):
            raise ValueError(f"{len(fresh)} rows ask for a new document, {len(added)} were given")
        vocab, term_ids = list(self.vocab), dict(self.term_ids)
        docs = np.repeat(fresh, [len(d) for d in added])
        terms = np.fromiter((term_ids.setdefault(t, len(term_ids)) for d in added for t in d), dtype=np.int64,
                            count=len(docs))
        vocab.extend(list(term_ids)[len(vocab):])
        pairs, new_tf = np.unique(terms * max(n, 1) + docs, return_counts=True)  # by term, then document
        doc_len = np.zeros(n, dtype=np.int64)
        doc_len[kept] = np.asarray(self.doc_len)[rows[kept]]
        doc_len[fresh] = [len(d) for d in added]
        return vocab, term_ids, pairs, new_tf, doc_len

    def _moved(self, new_col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, columns, tf) of the postings of the documents kept, renumbered by `new_col` (-1: dropped),
        their order unchanged (`new_col` keeps the documents' order). Documents kept as they are (the first
        ones, none dropped: an article added last) cost no pass over the postings but the copies."""
        indptr, indices, tf = np.asarray(self.indptr), np.asarray(self.indices), np.asarray(self.tf)
        if np.array_equal(new_col, np.arange(self.n_docs)):
            return indptr, indices, tf
        col = new_col[indices]
        keep = col >= 0
        if keep.all():
            return indptr, col, tf
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        return kept_before[indptr], col[keep], tf[keep]

    def _resorted(self, rows, vocab, term_ids, pairs, new_tf, doc_len) -> "BM25Matrix":
        """`updated` when the kept documents change order, or one is taken twice (two articles of the same
        text): each posting copied to every document that takes it, and every key sorted again."""
        n, indices = len(doc_len), np.asarray(self.indices)
        kept = np.flatnonzero(rows >= 0)
        takers = kept[np.argsort(rows[kept], kind="stable")]  # the new documents, by the old one they take
        first = np.searchsorted(rows[takers], np.arange(self.n_docs))
        times = np.searchsorted(rows[takers], np.arange(self.n_docs), side="right") - first
        m = times[indices]  # copies of each posting
        within = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m)
        row = np.repeat(np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr)), m)
        old_key = row * max(n, 1) + takers[np.repeat(first[indices], m) + within]
        order = np.argsort(old_key, kind="stable")
        old_key, tf = old_key[order], np.repeat(np.asarray(self.tf), m)[order]
        at = np.searchsorted(old_key, pairs)
        key = np.insert(old_key, at, pairs)
        tf = np.insert(tf, at, new_tf.astype(tf.dtype))
        return self._weighted(self.params, vocab, key // max(n, 1), (key % max(n, 1)).astype(np.int32), tf,
                              doc_len, n, term_ids)

    @classmethod
    def combined(cls, parts: Sequence[tuple["BM25Matrix", np.ndarray]], params: BM25Params, n_docs: int) -> "BM25Matrix":
        """One matrix from the counts of several (an index's segments): `parts` holds each matrix and, per
        its document, that document's number in the result (-1: left out). Terms are numbered in order of
        the parts' vocabularies; only the weights are computed (numpy, O(postings)), nothing is counted again."""
        term_ids: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for matrix, target in parts:
            matrix._need_counts()
            local = np.fromiter((term_ids.setdefault(t, len(term_ids)) for t in matrix.vocab), dtype=np.int64,
                                count=len(matrix.vocab))
            col = np.asarray(target, dtype=np.int64)[np.asarray(matrix.indices)]
            keep = col >= 0
            rows.append(np.repeat(local, np.diff(matrix.indptr))[keep])
            cols.append(col[keep])
            tfs.append(np.asarray(matrix.tf)[keep])
        doc_len = np.zeros(n_docs, dtype=np.int64)
        for matrix, target in parts:
            target = np.asarray(target, dtype=np.int64)
            doc_len[target[target >= 0]] = np.asarray(matrix.doc_len)[target >= 0]
        row, col = np.concatenate([np.zeros(0, np.int64), *rows]), np.concatenate([np.zeros(0, np.int64), *cols])
        tf = np.concatenate([np.zeros(0, np.int32), *tfs])
        order = np.lexsort((col, row))
        return cls._weighted(params, list(term_ids), row[order], col[order].astype(np.int32), tf[order], doc_len,
                             n_docs, term_ids)

    def _need_counts(self) -> None:
        if self.tf is None or self.doc_len is None:
            raise ValueError("this BM25 matrix carries no term frequencies (format 1); build it again from the tokens")

    # ------------------------------------------------------------ query
    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Every document's score, as rank-bm25's `get_scores(tokens)` gives it (float64). The query's rows
        become the columns of a small sparse matrix times the idf vector: scipy's loop adds them in the
        query's order, as rank-bm25 does (several times faster than numpy's scatter-add at a million chunks)."""
        rows = [t for t in (self.term_ids.get(token) for token in tokens) if t is not None]  # unknown: idf 0
        if not rows or not self.n_docs:
            return np.zeros(self.n_docs)
        lo, hi = self.indptr[rows], self.indptr[np.add(rows, 1)]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=indptr[1:])
        postings = sparse.csc_matrix(
            (np.concatenate([self.weights[a:b] for a, b in zip(lo, hi)]),
             np.concatenate([self.indices[a:b] for a, b in zip(lo, hi)]), indptr),
            shape=(self.n_docs, len(rows)))
        idf = np.asarray(self.idf[rows], dtype=np.float64)
        score = postings @ idf
        if self.params.variant == "plus":  # every document gets idf * delta per query term, containing it or not
            base = 0.0
            for value in idf:
                base += float(value) * self.params.delta_
            score += base
        return score

    def top_k(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The (at most) k documents scoring above 0, by descending score, ties by ascending id."""
        return top_k_of(self.scores(tokens), k, positive_only=True)

    # ------------------------------------------------------------ files
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS + (_COUNTS if self.tf is not None else ()):
            np.save(folder / f"{name}.npy", np.ascontiguousarray(getattr(self, name)), allow_pickle=False)
        meta = {"format": FORMAT if self.tf is not None else 1, "params": self.params.resolved(),
                "n_docs": self.n_docs, "vocab": list(self.vocab)}
        (folder / "bm25.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "BM25Matrix":
        meta = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        if meta.get("format") not in (1, FORMAT):
            raise ValueError(f"BM25 folder {str(folder)!r} has format {meta.get('format')!r}, not 1 or {FORMAT}")
        names = _ARRAYS + (_COUNTS if meta["format"] == FORMAT else ())
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
                  for name in names}
        return cls(BM25Params(**meta["params"]), meta["vocab"], arrays["indptr"], arrays["indices"],
                   arrays["weights"], arrays["idf"], int(meta["n_docs"]), arrays.get("tf"), arrays.get("doc_len"))

    @staticmethod
    def files(folder_name: str, with_counts: bool = True) -> tuple[str, ...]:
        """The files `save` writes into a folder called `folder_name`, relative to its parent."""
        names = _ARRAYS + (_COUNTS if with_counts else ())
        return tuple(f"{folder_name}/{n}.npy" for n in names) + (f"{folder_name}/bm25.json",)


def top_k_of(scores: np.ndarray, k: int, positive_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Ids and scores of the k best of `scores`, by descending score, ties by ascending id: the first k of a
    full sort, found without sorting everything."""
    n = len(scores)
    eligible = int(np.count_nonzero(scores > 0)) if positive_only else n
    if k <= 0 or eligible == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=scores.dtype)
    if eligible <= k:
        ids = np.flatnonzero(scores > 0) if positive_only else np.arange(n)
    else:  # the k-th best is above 0 here, so every tie of it, and nothing at or below 0, is kept
        kth = np.partition(scores, n - k)[n - k]
        ids = np.flatnonzero(scores >= kth)
    values = scores[ids]
    order = np.lexsort((ids, -values))[:k]
    return ids[order].astype(np.int64), values[order]


def _weights(p: BM25Params, tf: np.ndarray, dl: np.ndarray, avgdl: float) -> np.ndarray:
    """The document side of each (term, document) score, written as rank-bm25 writes it."""
    if p.variant == "okapi":
        return tf * (p.k1 + 1) / (tf + p.k1 * (1 - p.b + p.b * dl / avgdl))
    if p.variant == "l":
        ctd = tf / (1 - p.b + p.b * dl / avgdl)
        return tf * (p.k1 + 1) * (ctd + p.delta_) / (p.k1 + ctd + p.delta_)
    # plus: the delta part is added for every document at query time
    return (tf * (p.k1 + 1)) / (p.k1 * (1 - p.b + p.b * dl / avgdl) + tf)


def _posting_weights(p: BM25Params, tf: np.ndarray, doc_len: np.ndarray, col: np.ndarray, avgdl: float) -> np.ndarray:
    """`_weights` of every posting (its document `col`), with the length part worked out once per document and
    gathered, and the rest in place: the same operations on the same numbers in the same order, so the same
    bits, in fewer passes over the postings (an update reweighs them all)."""
    norm = 1 - p.b + p.b * doc_len / avgdl
    tf = tf.astype(np.float64)
    out = tf * (p.k1 + 1)
    if p.variant == "l":
        ctd = tf / norm[col]
        out *= ctd + p.delta_
        ctd += p.k1
        ctd += p.delta_
        out /= ctd
        return out
    # okapi: tf (k1 + 1) / (tf + k1 norm); plus: tf (k1 + 1) / (k1 norm + tf)
    below = (p.k1 * norm)[col]
    below += tf
    out /= below
    return out


def _idf(p: BM25Params, df: np.ndarray, n: int) -> np.ndarray:
    """Per term, in vocabulary order; computed with `math.log` term by term, as rank-bm25 does. A term in
    no document (possible only through `from_ids`) is unknown to rank-bm25: idf 0, outside the Okapi mean."""
    if p.variant == "l":
        one = lambda f: math.log(n + 1) - math.log(f + 0.5)  # noqa: E731
    elif p.variant == "plus":
        one = lambda f: math.log((n + 1) / f)  # noqa: E731
    else:
        one = lambda f: math.log(n - f + 0.5) - math.log(f + 0.5)  # noqa: E731
    values, where = np.unique(np.asarray(df, dtype=np.int64), return_inverse=True)  # each frequency's log once
    idf = np.array([one(int(f)) if f else 0.0 for f in values], dtype=np.float64)[where.reshape(-1)]
    if p.variant == "okapi":
        seen = [float(v) for v, f in zip(idf, df) if f]
        total = 0.0
        for value in seen:  # summed one by one, in vocabulary order, like rank-bm25's running sum
            total += value
        eps = p.epsilon_ * (total / len(seen)) if seen else 0.0
        idf[(idf < 0) & (df > 0)] = eps
    return idf
