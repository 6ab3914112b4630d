"""qa/renumbered.py: tables of moved rows read as the rows copied under their new numbers would be."""

from __future__ import annotations

import random

import numpy as np
import pytest

from qa import renumbered
from qa.renumbered import Renumbered, joined, moved_chunk, moved_sentence, sentence_spans
from qa.types import Chunk, Sentence


def _sentences(doc: str, n: int, first: int = 0) -> tuple[Sentence, ...]:
    return tuple(Sentence(first + i, doc, 10 * i, 10 * i + 9, f"{doc} line {i}.") for i in range(n))


def _chunks(doc: str, n: int, first: int = 0) -> tuple[Chunk, ...]:
    return tuple(Chunk(f"{doc}#{i}", doc, i, 20 * i, 20 * i + 19, f"{doc} part {i}", (first + 2 * i, first + 2 * i + 2))
                 for i in range(n))


def _copied(pieces, move) -> list:
    """The definition: each piece's rows copied one by one under their moved numbers."""
    return [move(row, shift) for seq, lo, hi, shift in pieces for row in list(seq)[lo:hi]]


def test_moved_runs_read_as_their_copies():
    harbour, mill = _sentences("harbour", 6), _sentences("mill", 4, first=6)
    new = _sentences("ferry", 3)
    pieces = [(new, 0, 3, 0), (harbour, 0, 6, 3), (mill, 1, 4, 2)]
    table = joined(pieces, moved_sentence)

    assert isinstance(table, Renumbered)
    expected = _copied(pieces, moved_sentence)
    assert [s.index for s in expected] == list(range(3)) + list(range(3, 9)) + [9, 10, 11]
    assert len(table) == 12 and list(table) == expected
    assert [table[i] for i in range(12)] == expected and table[-1] == expected[-1]
    assert table[2:7] == tuple(expected[2:7]) and table[::5] == tuple(expected[::5])
    assert table == tuple(expected) and tuple(expected) == table and table != tuple(expected[:-1])
    with pytest.raises(IndexError):
        table[12]


def test_a_table_made_of_moved_tables_is_one_level_deep_and_numbers_add_up():
    rng = random.Random(7)
    leaf = _sentences("tide", 40)
    table, reference = leaf, list(leaf)
    for step in range(30):  # updates that each move a random run and add rows in front of it
        lo = rng.randrange(len(reference))
        hi = rng.randrange(lo + 1, len(reference) + 1)
        added = _sentences(f"new{step}", rng.randrange(0, 4))
        pieces = [(added, 0, len(added), 0), (table, lo, hi, len(added) - lo)]
        table, reference = joined(pieces, moved_sentence), list(added) + [moved_sentence(s, len(added) - lo) for s in reference[lo:hi]]
        assert list(table) == reference
        if isinstance(table, Renumbered):
            assert all(isinstance(p[0], tuple) and not isinstance(p[0], Renumbered) for p in table.pieces)


def test_adjacent_runs_of_one_tuple_merge_and_an_unmoved_whole_tuple_comes_back_as_itself():
    leaf = _sentences("quay", 8)
    assert joined([(leaf, 0, 8, 0)], moved_sentence) is leaf
    assert joined([(leaf, 0, 3, 0), (leaf, 3, 8, 0)], moved_sentence) is leaf  # one run again
    assert joined([], moved_sentence) == () and joined([(leaf, 4, 4, 9)], moved_sentence) == ()
    two = joined([(leaf, 0, 3, 1), (leaf, 3, 8, 1)], moved_sentence)
    assert isinstance(two, Renumbered) and len(two.pieces) == 1 and list(two) == [moved_sentence(s, 1) for s in leaf]


def test_past_max_pieces_the_table_is_one_tuple_again(monkeypatch):
    monkeypatch.setattr(renumbered, "MAX_PIECES", 3)
    leaves = [_sentences(f"d{i}", 2) for i in range(4)]
    pieces = [(leaf, 0, 2, 2 * i) for i, leaf in enumerate(leaves)]
    table = joined(pieces, moved_sentence)
    assert type(table) is tuple and list(table) == _copied(pieces, moved_sentence)
    assert isinstance(joined(pieces[:3], moved_sentence), Renumbered)


def _unmade(row, shift):
    raise AssertionError("a moved row was made")


def test_chunks_move_their_sentence_ranges_and_the_spans_are_read_without_making_rows():
    front, back = _chunks("lock", 3), _chunks("weir", 2, first=6)
    pieces = [(front, 0, 3, 4), (back, 0, 2, -1)]
    table = joined(pieces, moved_chunk)
    expected = _copied(pieces, moved_chunk)
    assert list(table) == expected
    assert [c.sentences for c in expected] == [(4, 6), (6, 8), (8, 10), (5, 7), (7, 9)]
    assert [c.chunk_id for c in table] == ["lock#0", "lock#1", "lock#2", "weir#0", "weir#1"]
    spans = sentence_spans(Renumbered(table.pieces, _unmade))  # the ranges, read without making a moved Chunk
    assert spans.dtype == np.int64 and spans.tolist() == [list(c.sentences) for c in expected]
    assert sentence_spans(front).tolist() == [[0, 2], [2, 4], [4, 6]]
    assert sentence_spans(()).shape == (0, 2)


def test_the_ranges_of_a_large_tuple_are_remembered_and_still_follow_each_table(monkeypatch):
    """A table read once gives its ranges to every later table made of its pieces; another table replacing it
    (a compaction, a rebuild) is read anew, and a small one is never remembered."""
    monkeypatch.setattr(renumbered, "REMEMBER_SPANS_FROM", 3)
    monkeypatch.setattr(renumbered, "_SPANS", {})
    live, added = _chunks("quay", 5), _chunks("mill", 2, first=10)
    assert sentence_spans(live).tolist() == [list(c.sentences) for c in live]
    assert [entry[0] for entry in renumbered._SPANS.values()] == [live]
    for pieces in ([(live, 0, 5, 0), (added, 0, 2, 0)], [(added, 0, 2, -10), (live, 0, 5, 4)],
                   [(live, 0, 2, 0), (live, 3, 5, -2)]):
        table = joined(pieces, moved_chunk)
        spans = sentence_spans(Renumbered(table.pieces, _unmade))
        assert spans.tolist() == [list(c.sentences) for c in _copied(pieces, moved_chunk)]
        spans[:] = -1  # the caller's own array: the remembered ranges are not touched
    assert [entry[0] for entry in renumbered._SPANS.values()] == [live]  # the small tuple was not remembered
    compacted = tuple(joined([(live, 1, 5, 7)], moved_chunk))
    assert sentence_spans(compacted).tolist() == [[9, 11], [11, 13], [13, 15], [15, 17]]
    assert [entry[0] for entry in renumbered._SPANS.values()] == [compacted]  # the replaced table let go
    assert sentence_spans(live).tolist() == [list(c.sentences) for c in live]
