"""qa/tables.py: the clause table moved through an update equals the one found anew; lookups by search."""

from __future__ import annotations

import numpy as np
import pytest

from qa import analysis, tables


def test_the_clause_table_is_analysis_clauses(fake_service):
    docs = fake_service.index.docs
    table = tables.clause_table(docs)
    assert [tuple(r) for r in table.tolist()] == analysis.clauses(docs)
    assert np.array_equal(fake_service.index.clause_table, table)


def test_moving_rows_equals_finding_the_clauses_of_the_new_order(fake_service):
    docs = fake_service.index.docs
    table = tables.clause_table(docs)
    n = len(docs)
    # the new index: sentences 10.. of the old one, then two new ones (old 0 and 1 standing in), then 0..9 minus 5
    rows = np.array([*range(10, n), -1, -1, *[i for i in range(10) if i != 5]])
    new_docs = {n - 10: docs[0], n - 9: docs[1]}
    order = [r if r >= 0 else {n - 10: 0, n - 9: 1}[j] for j, r in enumerate(rows)]
    moved, source = tables.moved(table, rows, new_docs)
    assert np.array_equal(moved, tables.clause_table([docs[i] for i in order]))
    old_rows = {(s, v): r for r, (s, v, _, _) in enumerate(table.tolist())}
    for (s, v, _, _), src in zip(moved.tolist(), source.tolist()):
        assert src == (old_rows[(rows[s], v)] if rows[s] >= 0 else -1)


def test_clause_rows_find_rows_like_a_dict(fake_service):
    table = fake_service.index.clause_table
    rows = tables.ClauseRows(table)
    expected = {(s, v): r for r, (s, v, _, _) in enumerate(table.tolist())}
    assert all(rows[key] == row and key in rows for key, row in expected.items())
    assert (0, 999) not in rows
    with pytest.raises(KeyError):
        rows[(0, 999)]


def test_reporting_verbs_are_remembered_by_doc(fake_service):
    from qa.tables import REPORTING_VERBS, _reporting_lemmas

    docs = fake_service.index.docs
    expected = frozenset().union(*(_reporting_lemmas(d) for d in docs))
    assert "say" in expected
    assert REPORTING_VERBS.of(docs) == expected
    assert REPORTING_VERBS.of(docs[:3]) == frozenset().union(*(_reporting_lemmas(d) for d in docs[:3]))
    assert REPORTING_VERBS.of(docs[2:] + docs[:1]) == frozenset().union(*(_reporting_lemmas(d) for d in docs[2:] + docs[:1]))
    assert REPORTING_VERBS.of(()) == frozenset() and REPORTING_VERBS.of(docs) == expected


def test_only_the_docs_that_came_are_walked(fake_service, monkeypatch):
    from qa import tables

    docs = fake_service.index.docs
    tables.REPORTING_VERBS.of(docs)
    walked = []
    real = tables._reporting_lemmas
    monkeypatch.setattr(tables, "_reporting_lemmas", lambda doc: (walked.append(doc), real(doc))[1])
    tables.REPORTING_VERBS.of(docs[1:])
    assert walked == []
    tables.REPORTING_VERBS.of(docs)
    assert walked == [docs[0]]
