"""The extractive reader: retrieved passages -> answers with citations, or an abstention.

Each sentence of the top passages is scored against the question:
    score = w * max(0, cos(question, sentence)) + (1 - w) * lexical
where `lexical` is the idf-weighted share of the question's content tokens that the sentence
contains (question tokens the corpus never uses count against it, which is what makes an
off-topic question weak). The best score is the confidence; below the threshold the reader abstains.
An answer's text is a verbatim span; the same words reported by several articles become one answer
with a citation for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from qa.index import Index
from qa.text import is_negated, is_yes_no, negates_any
from qa.types import Answer, Citation, Hit, Sentence

_EDGE_PUNCT = " \t\n\"'\u201c\u201d\u2018\u2019.,;:!?"
MIN_MERGE_WORDS = 4
# A sentence that negates what the question asks ("Putin did not agree" for "what did Putin agree
# to?") states what did not happen; it still answers a yes/no question, so only others are damped.
NEGATION_PENALTY = 0.75


@dataclass(frozen=True, slots=True)
class ReaderParams:
    dense_weight: float = 0.7
    abstain_threshold: float = 0.35
    read_passages: int = 5


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    sentence: Sentence
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class Reading:
    answers: tuple[Answer, ...]
    confidence: float
    abstained: bool
    scored: tuple[ScoredSentence, ...]  # every candidate sentence, best first


class Reader:
    def __init__(self, index: Index, idf: Callable[[str], float], params: ReaderParams, tokenize: Callable[[str], list[str]]):
        self.index, self.idf, self.params = index, idf, params
        self._tokens = tuple(frozenset(tokenize(s.text)) for s in index.sentences)

    def score(self, question: str, tokens: Sequence[str], vector: np.ndarray | None, hits: Sequence[Hit]) -> list[ScoredSentence]:
        candidates: list[int] = []
        for hit in hits[: self.params.read_passages]:
            for i in range(*hit.chunk.sentences):
                if i not in candidates:
                    candidates.append(i)
        if not candidates:
            return []
        wanted = {t: self.idf(t) for t in set(tokens)}
        total = sum(wanted.values())
        dense = (self.index.sentence_vectors[candidates] @ vector) if vector is not None else None
        w = self.params.dense_weight if vector is not None else 0.0
        damp = not is_yes_no(question) and not is_negated(question)
        out = []
        for row, i in enumerate(candidates):
            sentence = self.index.sentences[i]
            lexical = sum(v for t, v in wanted.items() if t in self._tokens[i]) / total if total else 0.0
            d = float(dense[row]) if dense is not None else 0.0
            score = w * max(d, 0.0) + (1 - w) * lexical
            if damp and negates_any(sentence.text, set(wanted)):
                score *= NEGATION_PENALTY
            out.append(ScoredSentence(sentence, score, d, lexical))
        out.sort(key=lambda s: (-s.score, s.sentence.index))
        return out

    def read(self, question: str, tokens: Sequence[str], vector: np.ndarray | None, hits: Sequence[Hit], top_k: int) -> Reading:
        scored = self.score(question, tokens, vector, hits)
        confidence = min(1.0, max(0.0, scored[0].score)) if scored else 0.0
        if confidence < self.params.abstain_threshold:
            return Reading((), confidence, True, tuple(scored))
        return Reading(tuple(self._answers(scored, top_k)), confidence, False, tuple(scored))

    def _answers(self, scored: list[ScoredSentence], top_k: int) -> list[Answer]:
        answers: list[Answer] = []
        used: set[int] = set()
        for best in scored:
            if len(answers) == top_k:
                break
            if best.sentence.index in used:
                continue
            text, group = best.sentence.text, [best.sentence]
            used.add(best.sentence.index)
            for other in scored:
                s = other.sentence
                if s.index in used or s.doc_id in {g.doc_id for g in group}:
                    continue
                shared = _shared_core(text, s.text)
                if shared is not None:
                    text = shared
                    group.append(s)
                    used.add(s.index)
            score = round(min(1.0, max(0.0, best.score)), 4)
            answers.append(Answer(text, score, best.sentence.text, tuple(self.citation(s) for s in group)))
        return answers

    def citation(self, s: Sentence) -> Citation:
        a = self.index.articles[s.doc_id]
        return Citation(a.doc_id, a.source, a.title, a.date, s.start, s.end, a.text[s.start : s.end])


def core(text: str) -> str:
    """A sentence without its edge quotes and final punctuation: the part other outlets may repeat."""
    return text.strip(_EDGE_PUNCT)


def _shared_core(a: str, b: str) -> str | None:
    """The words two sentences share verbatim, when one's core stands whole inside the other."""
    for shorter, longer in ((core(a), b), (core(b), a)):
        if len(shorter.split()) >= MIN_MERGE_WORDS and shorter in longer:
            if shorter in a and shorter in b:
                return shorter
    return None
