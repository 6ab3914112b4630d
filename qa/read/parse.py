"""A read sentence's parse as plain values, taken from its stored spaCy analysis once per sentence.

Ranking asks the same things of a sentence for every question (which tokens use the question's words,
how far each token is from them in the parse, which clause each verb heads). Asked of the `Doc`, every
`token.head`, `token.children` and `token.lemma_` builds a new Cython `Token`: about 0.4 ms of the 2.3 ms
a question spent ranking went there (bench/reader.py, CPU time). The answers come from the same parse, so they are the same
(tests/test_read_parse.py compares these with the same figures computed on the `Doc`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True, slots=True)
class Parse:
    lemmas: tuple[str, ...]  # each token's lemma, lowercased
    lowers: tuple[str, ...]  # each token's text, lowercased
    neighbours: tuple[tuple[int, ...], ...]  # each token's head and children: the parse's edges
    verbs: tuple[int, ...]  # tokens heading a clause with a stored embedding, in token order
    rows: np.ndarray  # their rows of the index's clause vectors (int64, aligned with `verbs`)


def of(doc, clause_rows: Mapping[int, int]) -> Parse:
    """`doc`'s parse; `clause_rows`: verb token -> its clause's row in the index's clause vectors."""
    verbs = tuple(v for v in range(len(doc)) if v in clause_rows)
    return Parse(tuple(t.lemma_.lower() for t in doc), tuple(t.lower_ for t in doc),
                 tuple((t.head.i, *(c.i for c in t.children)) for t in doc),
                 verbs, np.array([clause_rows[v] for v in verbs], dtype=np.int64))


def positions(p: Parse, asked: frozenset[str]) -> dict[str, list[int]]:
    """Question lemma -> the positions of the tokens with that lemma, in token order."""
    out: dict[str, list[int]] = {}
    for i, lemma in enumerate(p.lemmas):
        if lemma in asked:
            out.setdefault(lemma, []).append(i)
    return out


def distances(p: Parse, asked: frozenset[str], far: int) -> tuple[int, ...]:
    """Tree distance (edges of the parse) from every token to the nearest token whose lemma or text the
    question uses; `far` for a token no such token is connected to."""
    dist = [far] * len(p.lemmas)
    queue = deque()
    for i, (lemma, lower) in enumerate(zip(p.lemmas, p.lowers)):
        if lemma in asked or lower in asked:
            dist[i] = 0
            queue.append(i)
    while queue:
        i = queue.popleft()
        step = dist[i] + 1
        for n in p.neighbours[i]:
            if dist[n] > step:
                dist[n] = step
                queue.append(n)
    return tuple(dist)


def clause_cosines(p: Parse, clause_vectors: np.ndarray | None, vector: np.ndarray | None) -> dict[int, float]:
    """Verb token -> cosine between the question and the clause that verb heads."""
    if vector is None or clause_vectors is None or not p.verbs:
        return {}
    return dict(zip(p.verbs, (clause_vectors[p.rows] @ vector).tolist()))
