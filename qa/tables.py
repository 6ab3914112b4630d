"""Tables the reader and the updater look things up in, made without walking the whole corpus again.

- The clause table: (sentence, verb token, start, end) of every clause (qa/analysis.clauses), as one
  int64 array whose rows line up with `clause_vectors.npy`. Made once when an index is built or loaded,
  then carried through updates by moving rows (`moved`), never by walking every Doc again.
- `ClauseRows`: the row of a (sentence, verb) in that table, by binary search (no dict of every clause).
- Reporting verbs: the lemmas of verbs that report words ("X said that …") anywhere in the corpus; each
  sentence's are remembered by its Doc (the very object an updated index reuses) and counted, so a new
  service walks only the Docs it has not seen (and finds them by a difference of id sets).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from qa import analysis


def clause_table(docs) -> np.ndarray:
    """analysis.clauses(docs) as an (n, 4) int64 array."""
    found = analysis.clauses(docs)
    return np.asarray(found, dtype=np.int64).reshape(len(found), 4)


def moved(table: np.ndarray, sentence_rows: np.ndarray, new_docs: dict[int, object]) -> tuple[np.ndarray, np.ndarray]:
    """The clause table of an updated index, and for each of its rows the row of `table` it comes from
    (-1: a new clause). `sentence_rows[j]`: the base row of the new index's sentence j, or -1 for a new
    sentence, whose Doc is `new_docs[j]`. A kept sentence's clauses are its base clauses, in the base's order,
    each sentence's placed by counting (no sort of the table); a base row taken twice (two articles of the
    same text) gives its clauses to both."""
    sentence_rows = np.asarray(sentence_rows, dtype=np.int64)
    table = np.asarray(table, dtype=np.int64).reshape(-1, 4)
    counts = np.bincount(table[:, 0], minlength=int(sentence_rows.max(initial=-1)) + 1)  # clauses per base sentence
    starts = np.concatenate([[0], np.cumsum(counts)])
    fresh = {j: analysis.clauses([new_docs[j]]) for j in sorted(new_docs)}
    per = np.zeros(len(sentence_rows), dtype=np.int64)  # clauses of each new sentence
    kept = np.flatnonzero(sentence_rows >= 0)
    per[kept] = counts[sentence_rows[kept]]
    for j, found in fresh.items():
        per[j] = len(found)
    at = np.concatenate([[0], np.cumsum(per)])
    rows = np.empty((int(at[-1]), 4), dtype=np.int64)
    source = np.full(len(rows), -1, dtype=np.int64)
    n = per[kept]
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # each clause's place in its sentence
    src = np.repeat(starts[sentence_rows[kept]], n) + within
    dst = np.repeat(at[kept], n) + within
    rows[dst] = table[src]
    rows[dst, 0] = np.repeat(kept, n)
    source[dst] = src
    for j, found in fresh.items():
        if found:
            rows[at[j] : at[j + 1]] = [(j, v, a, b) for _, v, a, b in found]
    return rows, source


class ClauseRows:
    """(sentence, verb token) -> row of the clause table; `in` and `[]` like the dict it replaces."""

    def __init__(self, table: np.ndarray):
        self._keys = table[:, 0] * (1 << 20) + table[:, 1] if len(table) else np.zeros(0, dtype=np.int64)
        if len(self._keys) > 1 and not np.all(self._keys[1:] > self._keys[:-1]):
            raise ValueError("the clause table is not ordered by sentence, then verb")

    def _find(self, key: tuple[int, int]) -> int:
        k = key[0] * (1 << 20) + key[1]
        at = int(np.searchsorted(self._keys, k))
        return at if at < len(self._keys) and self._keys[at] == k else -1

    def __contains__(self, key: tuple[int, int]) -> bool:
        return self._find(key) >= 0

    def __getitem__(self, key: tuple[int, int]) -> int:
        at = self._find(key)
        if at < 0:
            raise KeyError(key)
        return at


def _reporting_lemmas(doc) -> frozenset[str]:
    """A verb with a subject and a clausal complement ("X said that …", "X told reporters …")."""
    return frozenset(t.lemma_.lower() for t in doc if t.pos_ == "VERB"
                     and any(c.dep_ == "ccomp" for c in t.children) and any(c.dep_ == "nsubj" for c in t.children))


class _ReportingVerbs:
    """The reporting lemmas of the Docs last asked about, each Doc's remembered (kept alive by its entry, so
    its id is not reused) and each lemma counted: asked again with mostly the same Docs (an updated index
    keeps the Doc objects of the rows it kept), only the Docs that came or went are walked. Given the
    update's lineage (qa/index.py) from the very Docs asked about last, those are found from the rows the
    update changed, with no pass over the others; otherwise by a difference of id sets."""

    def __init__(self):
        self._by_doc: dict[int, tuple[object, frozenset[str]]] = {}
        self._counts: Counter = Counter()
        self._last: tuple | None = None  # the Docs asked about last
        self._lock = threading.Lock()

    def of(self, docs, lineage=None) -> frozenset[str]:
        """The reporting lemmas of `docs`; entries for Docs not among them are dropped. `lineage`: how
        `docs` came from the Docs of an earlier index (qa.index.Lineage), or None."""
        with self._lock:
            changed = self._changed(docs, lineage) if lineage is not None else None
            if changed is None:
                now = dict(zip(map(id, docs), docs))
                gone = [self._by_doc[key][0] for key in self._by_doc.keys() - now.keys()]
                changed = gone, [now[key] for key in now.keys() - self._by_doc.keys()]
            gone, came = changed
            for doc in gone:
                self._counts.subtract(self._by_doc.pop(id(doc))[1])
            for doc in came:
                lemmas = _reporting_lemmas(doc)
                self._by_doc[id(doc)] = (doc, lemmas)
                self._counts.update(lemmas)
            if gone:
                self._counts = +self._counts  # drop the lemmas no Doc has any more
            self._last = docs if isinstance(docs, tuple) else None
            return frozenset(lemma for lemma, n in self._counts.items() if n > 0)

    def _changed(self, docs, lineage) -> tuple[list, list] | None:
        """(Docs gone, Docs come) from the lineage's rows, when the Docs remembered are exactly its base's,
        each once, and the update took each base row at most once; else None (then the id sets decide)."""
        base, rows = lineage.docs, np.asarray(lineage.sentence_rows)
        if base is not self._last or len(self._by_doc) != len(base) or len(rows) != len(docs):
            return None
        kept = rows[rows >= 0]
        taken = np.bincount(kept, minlength=len(base))
        if len(kept) and taken.max() > 1:
            return None
        return [base[i] for i in np.flatnonzero(taken == 0).tolist()], [docs[j] for j in np.flatnonzero(rows < 0).tolist()]


REPORTING_VERBS = _ReportingVerbs()


class TokenSets:
    """The token set of sentence i, made when first asked for (a reader reads a few sentences a question)."""

    def __init__(self, sentences: Sequence, tokenize: Callable[[str], Sequence[str]]):
        self._sentences, self._tokenize = sentences, tokenize
        self._sets: dict[int, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._sentences)

    def __getitem__(self, i: int) -> frozenset[str]:
        found = self._sets.get(i)
        if found is None:
            found = self._sets[i] = frozenset(self._tokenize(self._sentences[i].text))
        return found
