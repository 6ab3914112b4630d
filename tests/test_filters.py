"""qa/filters.py and filtered retrieval: the top passages are the best of the filtered set."""

from __future__ import annotations

import random

import pytest

from qa import filters
from qa.errors import InvalidQuestion
from qa.retrieve import EmbeddedRetriever, Query
from qa.types import Article, Filters


def _article(doc_id, outlet=None, published=None):
    return Article(doc_id, f"{doc_id}.txt", "Text.", published[:10] if published else None, "T", outlet=outlet,
                   published=published)


ARTICLES = {a.doc_id: a for a in [
    _article("a", "Harbour News", "2025-05-31T23:30:00-04:00"),
    _article("b", "harbour news", "2025-06-01"),
    _article("c", "Kyiv Post", "2025-06-02"),
    _article("d")]}


@pytest.mark.parametrize("given,expected", [
    (Filters(("Harbour News",)), [True, True, False, False]),  # outlets match without regard to case
    (Filters(("c", "d")), [False, False, True, True]),
    (Filters((), "2025-06-01"), [False, True, True, False]),  # a's own date is May 31; undated d never passes
    (Filters((), None, "2025-06-01"), [True, True, False, False]),
    (Filters(("HARBOUR NEWS", "c"), "2025-06-01", "2025-06-01"), [False, True, False, False]),
])
def test_article_mask(given, expected):
    assert filters.check(given, ARTICLES) == given
    assert filters.Catalog(list(ARTICLES.values())).mask(given).tolist() == expected


def test_catalog_answers_as_the_article_by_article_definition():
    """The arrays a retriever keeps give, for every article, what `matches` says of it: outlets in any case,
    ids exactly, dated and undated articles, days at the range's ends, zones kept as written."""
    rng = random.Random(5)
    outlets = ["Lakeside Courier", "LAKESIDE COURIER", "Mountain Wire", None]
    days = ["2024-12-31", "2025-01-01", "2025-01-01T23:10:00+09:00", "2025-02-14", None]
    articles = [_article(f"n{i}", rng.choice(outlets), rng.choice(days)) for i in range(60)]
    known = filters.Catalog(articles)
    wanted = [(), ("lakeside courier",), ("Mountain Wire", "n3", "n7"), ("n0",), ("nobody", "Unknown Outlet")]
    ranges = [(None, None), ("2025-01-01", None), (None, "2025-01-01"), ("2025-01-01", "2025-02-14"),
              ("2026-01-01", None)]
    for sources in wanted:
        for lo, hi in ranges:
            given = Filters(sources, lo, hi)
            if given.empty:
                continue
            assert known.mask(given).tolist() == [filters.matches(a, given) for a in articles], given


@pytest.mark.parametrize("given,message", [
    (Filters((), "2025-6-1"), "published_from '2025-6-1' is not a date; use YYYY-MM-DD (inclusive)"),
    (Filters((), None, "2025-02-30"), "published_to '2025-02-30' is not a date; use YYYY-MM-DD (inclusive)"),
    (Filters((), "2025-06-02", "2025-06-01"), "published_from 2025-06-02 is after published_to 2025-06-01"),
    (Filters(("nowhere",)), "sources 'nowhere' name(s) no document id or outlet; list them with GET /documents"),
])
def test_bad_filters_are_refused_with_what_to_fix(given, message):
    with pytest.raises(InvalidQuestion) as caught:
        filters.check(given, ARTICLES)
    assert str(caught.value) == message


def test_empty_filters_filter_nothing():
    assert filters.make([" ", ""], "", None) is None
    assert filters.check(Filters(), ARTICLES) is None
    assert filters.make(["a "], "2025-06-01") == Filters(("a",), "2025-06-01")


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filtered_legs_return_the_best_of_the_filtered_set(fake_service, mode):
    """With depth 2, the unfiltered top 2 of either leg holds none of the wanted article's passages; filtered,
    each leg's top 2 is exactly the wanted article's best passages in their unfiltered order."""
    index = fake_service.index
    full = EmbeddedRetriever(index, depth=10_000)
    short = EmbeddedRetriever(index, depth=2)
    vector = fake_service.embedder.embed_queries(["memorandum peace accord"])[0]
    tokens = ("memorandum", "peac", "accord")
    query = Query("memorandum peace accord", tokens, vector)
    top = {index.chunks[i].doc_id for i, _ in short.bm25_ranking(tokens) + short.dense_ranking(vector)}
    lexical = {index.chunks[i].doc_id for i, _ in full.bm25_ranking(tokens)}
    wanted = next(doc for doc in index.articles if doc not in top and doc in lexical)
    only = Filters((wanted,))
    mask = short.chunk_mask(only)
    expected_bm25 = [(i, s) for i, s in full.bm25_ranking(tokens) if index.chunks[i].doc_id == wanted][:2]
    expected_dense = [(i, s) for i, s in full.dense_ranking(vector) if index.chunks[i].doc_id == wanted][:2]
    assert len(expected_bm25) >= 1 and len(expected_dense) == 2
    assert short.bm25_ranking(tokens, mask) == expected_bm25
    assert short.dense_ranking(vector, mask) == expected_dense
    hits = short.search(query, 5, mode, only)
    assert hits and {h.chunk.doc_id for h in hits} == {wanted}
    assert short.search(query, 5, mode, Filters((), "2030-01-01")) == []  # nothing is that recent
