"""qa/read/parse.py: a sentence's parse as plain values gives exactly what the same questions computed
on the spaCy `Doc` give (the reader's figures before they were read off once), on a corpus written for
the test (tests/data/reader) and on sentences written here."""

from collections import deque

import numpy as np
import pytest

from qa import analysis, nlp
from qa.embed import HashingEmbedder
from qa.read import parse
from qa.read.reader import FAR
from tests.helpers import READER_CORPUS, hashing_service
# Words questions could ask about these sentences, as lemmas and as written (lowercased).
ASKED = [frozenset(), frozenset({"strike"}), frozenset({"say", "ministry", "ferry"}),
         frozenset({"portmere", "work", "return", "wednesday"}), frozenset({"crews", "told", "union", "pay"}),
         frozenset({"lighthouse", "keeper"})]


# ---------------------------------------------------------------- the same figures, asked of the Doc
def doc_positions(doc, asked):
    out = {}
    for t in doc:
        if t.lemma_.lower() in asked:
            out.setdefault(t.lemma_.lower(), []).append(t.i)
    return out


def doc_distances(doc, asked):
    dist = [FAR] * len(doc)
    queue = deque()
    for t in doc:
        if t.lemma_.lower() in asked or t.lower_ in asked:
            dist[t.i] = 0
            queue.append(t)
    while queue:
        t = queue.popleft()
        for n in (t.head, *t.children):
            if dist[n.i] > dist[t.i] + 1:
                dist[n.i] = dist[t.i] + 1
                queue.append(n)
    return tuple(dist)


def doc_clause_cosines(doc, rows, clause_vectors, vector):
    found = {v: rows[v] for v in range(len(doc)) if v in rows}
    if not found:
        return {}
    return dict(zip(found, (clause_vectors[list(found.values())] @ vector).tolist()))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    return hashing_service(READER_CORPUS, tmp_path_factory.mktemp("parse"))


def test_every_sentence_of_a_corpus_gives_the_docs_own_figures(service):
    index, reader = service.index, service.reader
    vector = HashingEmbedder().embed_queries(["did the ferry crews return to work"])[0]
    rows_by_sentence = {}
    for row, (n, v, _, _) in enumerate(analysis.clauses(index.docs)):
        rows_by_sentence.setdefault(n, {})[v] = row
    assert index.clause_vectors is not None and rows_by_sentence
    for i, doc in enumerate(index.docs):
        p = reader.parse(i)
        assert reader.parse(i) is p  # read off once
        for asked in ASKED:
            assert parse.positions(p, asked) == doc_positions(doc, asked)
            assert parse.distances(p, asked, FAR) == doc_distances(doc, asked)
        rows = rows_by_sentence.get(i, {})
        assert parse.clause_cosines(p, index.clause_vectors, vector) == doc_clause_cosines(
            doc, rows, index.clause_vectors, vector)
        assert parse.clause_cosines(p, index.clause_vectors, None) == {}
        assert parse.clause_cosines(p, None, vector) == {}


def test_tokens_in_another_part_of_the_parse_stay_far():
    # Two sentences in one Doc: two roots, and no edge between them.
    doc = nlp.load("en_core_web_sm")("The lighthouse keeper of Sorvik retired. Gulls nested on the empty tower.")
    assert sum(t.dep_ == "ROOT" for t in doc) == 2
    p = parse.of(doc, {})
    asked = frozenset({"keeper"})
    assert parse.distances(p, asked, FAR) == doc_distances(doc, asked)
    assert parse.distances(p, asked, FAR)[-2] == FAR  # "tower": nothing joins it to "keeper"
    assert parse.positions(p, frozenset({"gull", "nest"})) == {"gull": [7], "nest": [8]}
    assert p.rows.dtype == np.int64 and p.verbs == ()
