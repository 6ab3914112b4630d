"""Tables of sentences or chunks whose rows moved, held as pieces of the tables they came from.

An update that adds an article before others, or removes one, moves every row after it: sentence n becomes
n + k, and each chunk's range of sentences with it. Copying those rows under their new numbers made a Python
object a row (about 1 µs each: 0.13 s at 10,000 articles, on every add that did not sort last and on every
removal), the one part of an update that grew with the corpus rather than with the article. A `Renumbered`
table holds them as pieces instead: a run of rows of an earlier table and the shift their numbers take. A
row of a shifted piece is made when it is read (a question reads tens); a pass over the whole table (a BM25
matrix built from scratch, the Qdrant store) makes each row once.

Pieces are always runs of plain tuples, never of other `Renumbered` tables, so a read is one bisection
deep however many updates made the table; past `MAX_PIECES` pieces the table is made one tuple again (about
once every `MAX_PIECES` updates).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from operator import attrgetter
from typing import Callable, Iterator

import numpy as np

from qa.types import Chunk, Sentence

MAX_PIECES = 64


def moved_sentence(s: Sentence, shift: int) -> Sentence:
    return Sentence(s.index + shift, s.doc_id, s.start, s.end, s.text)


def moved_chunk(c: Chunk, shift: int) -> Chunk:
    return Chunk(c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.text, (c.sentences[0] + shift, c.sentences[1] + shift))


class Renumbered(Sequence):
    """A read-only sequence of rows: runs of other tuples' rows, each with the shift its numbers take
    (`move(row, shift)` makes the moved row). Equal to any sequence of the same rows."""

    __slots__ = ("pieces", "_starts", "_move", "_n")

    def __init__(self, pieces: Sequence[tuple[tuple, int, int, int]], move: Callable):
        self.pieces = tuple(pieces)  # (leaf, first, last, shift): rows leaf[first:last], numbers moved by shift
        starts, n = [], 0
        for _, lo, hi, _ in self.pieces:
            starts.append(n)
            n += hi - lo
        self._starts, self._n, self._move = tuple(starts), n, move

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(self._n)))
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("row out of range")
        p = bisect_right(self._starts, i) - 1
        leaf, lo, _, shift = self.pieces[p]
        row = leaf[lo + i - self._starts[p]]
        return row if shift == 0 else self._move(row, shift)

    def __iter__(self) -> Iterator:
        for leaf, lo, hi, shift in self.pieces:
            rows = leaf[lo:hi]
            if shift == 0:
                yield from rows
            else:
                move = self._move
                yield from (move(r, shift) for r in rows)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  (equal to tuples, so not hashable as one)

    def __repr__(self) -> str:
        return f"Renumbered({self._n} rows in {len(self.pieces)} pieces)"


def joined(pieces: Sequence[tuple[Sequence, int, int, int]], move: Callable) -> Sequence:
    """The rows `seq[lo:hi]` of each piece in turn, numbers moved by its shift, without a pass over them: a
    `Renumbered` table, or a plain tuple when that is what the pieces are (one whole tuple unmoved, no rows,
    or more than MAX_PIECES runs, made one tuple here)."""
    flat: list[tuple[tuple, int, int, int]] = []
    for seq, lo, hi, shift in pieces:
        if hi <= lo:
            continue
        inner = _runs(seq, lo, hi)
        for leaf, a, b, s in inner:
            s += shift
            if flat and flat[-1][0] is leaf and flat[-1][2] == a and flat[-1][3] == s:
                flat[-1] = (leaf, flat[-1][1], b, s)  # continues the run before it
            else:
                flat.append((leaf, a, b, s))
    if not flat:
        return ()
    if len(flat) == 1 and flat[0][1] == 0 and flat[0][2] == len(flat[0][0]) and flat[0][3] == 0:
        return flat[0][0]
    table = Renumbered(flat, move)
    return tuple(table) if len(flat) > MAX_PIECES else table


def _runs(seq: Sequence, lo: int, hi: int) -> list[tuple[tuple, int, int, int]]:
    """`seq[lo:hi]` as runs of plain tuples: (leaf, first, last, shift)."""
    if not isinstance(seq, Renumbered):
        return [(seq if isinstance(seq, tuple) else tuple(seq), lo, hi, 0)]
    out = []
    for (leaf, a, b, s), start in zip(seq.pieces, seq._starts):
        end = start + b - a
        if end > lo and start < hi:
            out.append((leaf, a + max(lo, start) - start, a + min(hi, end) - start, s))
    return out


def sentence_spans(chunks: Sequence[Chunk]) -> np.ndarray:
    """Each chunk's [first, last) sentence rows as an (n, 2) array, without making a moved chunk's row. A large
    tuple's ranges are read once and remembered (`_leaf_spans`): an update's table is pieces of the live
    table's tuple, so the retriever of each new index slices them instead of reading every chunk again."""
    if not isinstance(chunks, Renumbered):
        return _leaf_spans(chunks).copy()
    parts = [_leaf_spans(leaf)[lo:hi] + shift for leaf, lo, hi, shift in chunks.pieces]
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)


REMEMBER_SPANS_FROM = 1024  # rows: a smaller tuple (an added article's chunks) is read each time, cheaply
_SPANS: dict[int, tuple[Sequence[Chunk], np.ndarray]] = {}  # id(tuple) -> (the tuple, its ranges): the last large one


def _leaf_spans(leaf: Sequence[Chunk]) -> np.ndarray:
    """`leaf`'s chunks' sentence ranges, (n, 2), read-only. Only the last large tuple asked about is
    remembered (with a reference to it, so its id cannot be taken by another), so a table replaced by a
    compaction or a rebuild is let go at the next one."""
    found = _SPANS.get(id(leaf))
    if found is not None and found[0] is leaf:
        return found[1]
    spans = np.asarray(list(map(attrgetter("sentences"), leaf)), dtype=np.int64).reshape(-1, 2)
    spans.flags.writeable = False
    if isinstance(leaf, tuple) and len(leaf) >= REMEMBER_SPANS_FROM:
        _SPANS.clear()
        _SPANS[id(leaf)] = (leaf, spans)
    return spans
