"""qa/stacked.py: a matrix of row blocks behaves as the array it stands for; gathering shares the kept rows."""

from __future__ import annotations

import numpy as np
import pytest

from qa import stacked
from qa.stacked import Stacked, gathered

RNG = np.random.default_rng(7)
WHOLE = RNG.standard_normal((10, 4)).astype(np.float32)


@pytest.fixture()
def matrix():
    return Stacked([WHOLE[:3], WHOLE[3:3], WHOLE[3:8], WHOLE[8:]], 4)


def test_it_behaves_as_the_array(matrix):
    assert (len(matrix), matrix.shape, matrix.ndim, matrix.dtype) == (10, (10, 4), 2, np.float32)
    assert len(matrix.blocks) == 3  # the empty block is dropped
    vector = RNG.standard_normal(4).astype(np.float32)
    np.testing.assert_array_equal(matrix @ vector, np.concatenate([WHOLE[:3] @ vector, WHOLE[3:8] @ vector,
                                                                   WHOLE[8:] @ vector]))
    np.testing.assert_array_equal(np.asarray(matrix), WHOLE)
    for key in (0, 3, 9, -1, -10, slice(2, 9), slice(None), slice(8, 100), slice(5, 2), slice(1, 9, 3),
                [9, 0, 4, 4], np.array([], dtype=np.int64), np.arange(10) % 3 == 0, (7, 2), (slice(2, 5), 1),
                ([1, 8], slice(1, 3))):
        np.testing.assert_array_equal(matrix[key], WHOLE[key])
    with pytest.raises(IndexError):
        matrix[10]


def test_views_are_views(matrix):
    pieces = matrix.views(2, 9)
    assert [len(p) for p in pieces] == [1, 5, 1] and all(np.shares_memory(p, WHOLE) for p in pieces)


def test_gathered_shares_the_kept_rows_and_copies_only_the_new():
    new = np.full((2, 4), 9.0, dtype=np.float32)
    rows = np.array([0, 1, 2, -1, -1, 5, 6, 7, 8, 9])  # rows 3 and 4 removed, two new ones in their place
    out = gathered(WHOLE, rows, new, 4)
    np.testing.assert_array_equal(np.asarray(out), np.concatenate([WHOLE[:3], new, WHOLE[5:]]))
    assert isinstance(out, Stacked) and all(np.shares_memory(b, WHOLE) or np.shares_memory(b, new) for b in out.blocks)
    again = gathered(out, np.array([-1, *range(10)]), new[:1], 4)  # a gathered matrix gathered again
    np.testing.assert_array_equal(np.asarray(again), np.concatenate([new[:1], WHOLE[:3], new, WHOLE[5:]]))
    assert gathered(WHOLE, np.arange(10), new[:0], 4) is not None and len(gathered(WHOLE, [], new[:0], 4)) == 0
    with pytest.raises(ValueError, match="1 rows ask for a new vector, 2 were given"):
        gathered(WHOLE, np.array([-1, 0]), new, 4)


def test_more_than_max_blocks_make_one_array_again(monkeypatch):
    monkeypatch.setattr(stacked, "MAX_BLOCKS", 4)
    rows = np.array([0, -1, 2, -1, 4, -1, 6])  # 7 runs: more than 4 blocks
    out = gathered(WHOLE, rows, np.zeros((3, 4), np.float32), 4)
    assert isinstance(out, np.ndarray) and out.shape == (7, 4)
    np.testing.assert_array_equal(out[::2], WHOLE[[0, 2, 4, 6]])
    assert gathered(WHOLE, np.arange(4), np.zeros((0, 4), np.float32), 4).base is WHOLE  # one run: a view
