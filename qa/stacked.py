"""A matrix kept as row blocks: an updated index shares the rows it kept with the index it came from.

An incremental update makes a new Index whose vector matrices are the old rows with an article's rows put
in (or taken out). Copied into one array, that is the corpus's bytes at every add (a few hundred MB at
10,000 articles). `Stacked` holds views of the old blocks and the new rows instead: building it copies the
article's rows only. It behaves as the (n, d) float32 array for what the index's users do with one:
`len`, `shape`, `ndim`, `dtype`, `matrix @ vector` (block by block), rows by index, slice, or array of
indexes (copies of those rows), and `np.asarray` (one array, made when asked for). A matrix of more than
`MAX_BLOCKS` blocks is made one array again (`stacked`): one copy of the corpus every ~MAX_BLOCKS/2 adds,
so an add copies 2/MAX_BLOCKS of the corpus's vectors on average, and a query multiplies at most
MAX_BLOCKS blocks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MAX_BLOCKS = 64


class Stacked:
    def __init__(self, blocks: Sequence[np.ndarray], dim: int):
        self.blocks = tuple(b for b in blocks if len(b))
        self.dim = dim
        self._starts = np.cumsum([0] + [len(b) for b in self.blocks])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._starts[-1]), self.dim

    ndim = 2
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __matmul__(self, other):
        if not self.blocks:
            return np.zeros((0, *np.shape(other)[1:]), dtype=np.float32)
        return np.concatenate([b @ other for b in self.blocks])

    def __array__(self, dtype=None, copy=None):
        whole = np.concatenate(self.blocks) if self.blocks else np.zeros((0, self.dim), dtype=np.float32)
        return whole if dtype is None else whole.astype(dtype)

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, tuple):  # rows, then columns within them
            first = self[key[0]]
            return first[key[1:]] if first.ndim == 1 else first[(slice(None), *key[1:])]
        if isinstance(key, (int, np.integer)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"row {key} is out of range for {n} rows")
            b = int(np.searchsorted(self._starts, i, side="right")) - 1
            return self.blocks[b][i - self._starts[b]]
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(n)
            pieces = self.views(start, max(start, stop))
            return np.concatenate(pieces) if pieces else np.zeros((0, self.dim), dtype=np.float32)
        rows = np.arange(n)[key] if isinstance(key, slice) else np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + n, rows).astype(np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for b in np.unique(which).tolist():
            at = which == b
            out[at] = self.blocks[b][rows[at] - self._starts[b]]
        return out

    def views(self, start: int, stop: int) -> list[np.ndarray]:
        """Rows [start, stop) as views of the blocks (no copy)."""
        out = []
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        for b in range(max(first, 0), len(self.blocks)):
            lo, hi = int(self._starts[b]), int(self._starts[b + 1])
            if lo >= stop:
                break
            out.append(self.blocks[b][max(start, lo) - lo : min(stop, hi) - lo])
        return out


def gathered(old, rows: np.ndarray, new: np.ndarray, dim: int):
    """Rows of `old` (an array or a Stacked) where `rows` >= 0, rows of `new` (in order) where it is -1: views
    of `old`'s runs of consecutive rows and of `new`, stacked; nothing is copied but to make one array again."""
    rows = np.asarray(rows, dtype=np.int64)
    n, pieces, used = len(rows), [], 0
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    fresh = rows < 0
    breaks = np.flatnonzero((fresh[1:] != fresh[:-1]) | (~fresh[1:] & (np.diff(rows) != 1))) + 1
    for a, b in zip([0, *breaks.tolist()], [*breaks.tolist(), n]):
        if fresh[a]:
            pieces.append(new[used : used + b - a])
            used += b - a
        else:
            pieces.extend(views(old, int(rows[a]), int(rows[b - 1]) + 1))
    if used != len(new):
        raise ValueError(f"{used} rows ask for a new vector, {len(new)} were given")
    return stacked(pieces, dim)


def views(matrix, start: int, stop: int) -> list[np.ndarray]:
    """Rows [start, stop) of an array or a Stacked, as views."""
    return matrix.views(start, stop) if isinstance(matrix, Stacked) else [matrix[start:stop]]


def stacked(blocks: list[np.ndarray], dim: int):
    """The blocks as one matrix: a Stacked of them, or one array when there are more than MAX_BLOCKS (or one)."""
    blocks = [b for b in blocks if len(b)]
    if len(blocks) == 1:
        return blocks[0]
    if len(blocks) > MAX_BLOCKS or not blocks:
        return np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros((0, dim), np.float32)
    return Stacked(blocks, dim)
