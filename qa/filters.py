"""Filters: which articles retrieval may return passages from.

`check` validates a Filters against the served articles (a bad date or a source naming nothing is a
clear InvalidQuestion); `Catalog.mask` says, per article of the index, whether it passes. Both read the
articles' filterable fields from a `Catalog`, laid out as arrays once per served index (the embedded
retriever keeps it), so a filtered question costs numpy passes, not a Python pass over every
article (`matches` defines one article's answer; the catalog is held to it by the tests). Retrieval applies
the mask inside each leg before taking its top k (qa/retrieve.py), so the passages returned are the best of
the filtered set, not what is left of the unfiltered top.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Sequence

import numpy as np

from qa import metadata
from qa.errors import InvalidQuestion
from qa.types import Article, Filters

MAX_SOURCES = 100


def make(sources: Iterable[str] | None = None, published_from: str | None = None,
         published_to: str | None = None) -> Filters | None:
    """A Filters from loose values (a request's, the CLI's); None when nothing filters."""
    filters = Filters(tuple(s.strip() for s in (sources or ()) if s and s.strip()), published_from or None,
                      published_to or None)
    return None if filters.empty else filters


def check(filters: Filters | None, articles: Mapping[str, Article], known: "Catalog | None" = None) -> Filters | None:
    """The filters, validated; None when they filter nothing. Dates must be YYYY-MM-DD with from <= to;
    each source must be a doc id or an outlet of the served articles (`known`: their catalog, when the caller
    keeps one; else made here)."""
    if filters is None or filters.empty:
        return None
    for name in ("published_from", "published_to"):
        value = getattr(filters, name)
        if value is not None:
            try:
                if len(value) != 10:
                    raise ValueError
                dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidQuestion(f"{name} {str(value)[:40]!r} is not a date; use YYYY-MM-DD (inclusive)") from None
    if filters.published_from and filters.published_to and filters.published_from > filters.published_to:
        raise InvalidQuestion(f"published_from {filters.published_from} is after published_to {filters.published_to}")
    if len(filters.sources) > MAX_SOURCES:
        raise InvalidQuestion(f"sources lists {len(filters.sources)} names; the limit is {MAX_SOURCES}")
    outlets = (known if known is not None else Catalog(list(articles.values()))).outlet_code
    unknown = [s for s in filters.sources if s not in articles and s.casefold() not in outlets]
    if unknown:
        shown = ", ".join(repr(s[:60]) for s in unknown[:5])
        raise InvalidQuestion(f"sources {shown} name(s) no document id or outlet; list them with GET /documents")
    return filters


def matches(article: Article, filters: Filters) -> bool:
    if filters.sources:
        wanted = {s.casefold() for s in filters.sources}
        if article.doc_id not in filters.sources and (not article.outlet or article.outlet.casefold() not in wanted):
            return False
    if filters.published_from or filters.published_to:
        if article.published is None:
            return False  # an undated article cannot be shown to fall inside the range
        day = metadata.day(article.published)
        if filters.published_from and day < filters.published_from:
            return False
        if filters.published_to and day > filters.published_to:
            return False
    return True


class Catalog:
    """The filterable fields of a sequence of articles, as arrays: each one's position by doc id, its outlet
    (casefolded) as a code, its publication day (YYYY-MM-DD; "" when undated)."""

    def __init__(self, articles: Sequence[Article]):
        self.n = len(articles)
        self.position = {a.doc_id: i for i, a in enumerate(articles)}
        self.outlet_code: dict[str, int] = {}
        self.outlets = np.fromiter((self.outlet_code.setdefault(a.outlet.casefold(), len(self.outlet_code))
                                    if a.outlet else -1 for a in articles), dtype=np.int64, count=self.n)
        self.days = np.array([metadata.day(a.published) if a.published is not None else "" for a in articles],
                             dtype="U10")

    def mask(self, filters: Filters) -> np.ndarray:
        keep = np.ones(self.n, dtype=bool)
        if filters.sources:
            chosen = np.zeros(self.n, dtype=bool)
            chosen[[self.position[s] for s in filters.sources if s in self.position]] = True
            codes = [self.outlet_code[o] for o in {s.casefold() for s in filters.sources} if o in self.outlet_code]
            chosen |= np.isin(self.outlets, codes)
            keep &= chosen
        if filters.published_from or filters.published_to:
            keep &= self.days != ""  # an undated article cannot be shown to fall inside the range
            if filters.published_from:
                keep &= self.days >= filters.published_from
            if filters.published_to:
                keep &= self.days <= filters.published_to
        return keep
