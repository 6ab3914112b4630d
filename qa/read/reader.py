"""The reader: retrieved passages -> answers with citations, or an abstention with its reason.

    question text --spaCy--> Question (question.py)
    hits -> sentences read, each with a relevance (dense cosine and idf-weighted word overlap)
         -> Candidates from each sentence's stored analysis (candidates.py)
         -> a probability per candidate from the learned scorer (features.py)
         -> groups: the same answer from several articles, other values, list items (group.py)
         -> Answers, or an abstention: `not_in_corpus` when no sentence is about the question (the best
            is below the relevance floor) or no
            candidate of the asked type exists, `low_confidence` when the best is below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

import numpy as np

from qa import tables
from qa.index import Index
from qa.read import features, group, parse
from qa.read.candidates import Candidate, candidates
from qa.read.question import Question, analyse
from qa.text import is_heading
from qa.types import Answer, Hit, Sentence

ABSTAIN_REASONS = ("not_in_corpus", "low_confidence", "ambiguous")
FAR = features.FAR


@dataclass(frozen=True, slots=True)
class ReaderParams:
    # The production defaults live in qa.config.Settings; these equal them so that a Reader built
    # without settings behaves as the service does.
    dense_weight: float = 0.5  # sentence relevance = w * cosine + (1 - w) * idf-weighted word overlap
    abstain_threshold: float = 0.5  # confidence below this: abstain (0.5: answering is no better a bet)
    relevance_floor: float = 0.28  # the best sentence read is less relevant: not_in_corpus (bench/fit_scorer.py)
    read_passages: int = 5
    read_sentences: int = 12  # sentences read for candidates, best first
    differ_ratio: float = 0.6  # another value at least this share of the best probability is reported
    list_ratio: float = 0.5  # list items come from candidates at least this share of the best
    reranker_weight: float = 0.5  # relevance = (1 - w) * relevance + w * cross-encoder probability


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    sentence: Sentence
    score: float
    dense: float
    lexical: float
    context: float  # what the sentence before it in its article adds to its word overlap


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate with its probability, in its sentence."""

    candidate: Candidate
    sentence: Sentence
    probability: float
    features: np.ndarray


@dataclass(frozen=True, slots=True)
class Reading:
    answers: tuple[Answer, ...]
    confidence: float
    abstained: bool
    scored: tuple[ScoredSentence, ...]  # every sentence read, best first
    abstain_reason: str | None = None


class SpanModel(Protocol):
    """An extractive model: the best answer span of each sentence (offsets into the article's text)."""

    def find(self, question: str, passages: Sequence[tuple[str, int, int]]) -> list[tuple[int, int, float] | None]: ...


class Reranker(Protocol):
    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray: ...


class Reader:
    def __init__(self, index: Index, idf: Callable[[str], float], params: ReaderParams,
                 tokenize: Callable[[str], list[str]], nlp, scorer: features.Scorer | None = None,
                 span_model: SpanModel | None = None, reranker: Reranker | None = None):
        if len(index.docs) != len(index.sentences):
            raise ValueError("the index carries no analysis for its sentences; rebuild it with `qa index`")
        self.index, self.idf, self.params, self.nlp = index, idf, params, nlp
        self.scorer = scorer or features.Scorer.load()
        self.span_model, self.reranker = span_model, reranker
        self._tokens = tables.TokenSets(index.sentences, tokenize)  # tokenized when read, not up front
        self._candidates: dict[int, tuple[Candidate, ...]] = {}
        self._parses: dict[int, parse.Parse] = {}
        self._layout: dict[int, tuple[bool, bool]] = {}
        self.reporting = tables.REPORTING_VERBS.of(index.docs, index.lineage)
        # (sentence, verb token) -> row of index.clause_vectors
        table = index.clause_table if index.clause_table is not None else tables.clause_table(index.docs)
        self._clause_table = table
        self._clause_rows = tables.ClauseRows(table)

    def carry(self, previous: "Reader") -> int:
        """Take over the candidates and parses `previous` read off the stored analysis, when this reader's
        index is an update of `previous`'s (its lineage starts from the very same Docs): a sentence the update
        kept has the same Doc, so the same candidates, and the same clauses, whose rows in the clause table
        moved together (by the same amount). Returns how many sentences were carried."""
        lineage = self.index.lineage
        if lineage is None or previous.index.docs is not lineage.docs:
            return 0
        rows = np.asarray(lineage.sentence_rows)
        new_of_old = np.full(len(lineage.docs), -1, dtype=np.int64)
        kept = np.flatnonzero(rows >= 0)
        new_of_old[rows[kept]] = kept
        found, parses = dict(previous._candidates), dict(previous._parses)  # copies: it may be reading meanwhile
        for old, c in found.items():
            if new_of_old[old] >= 0:
                self._candidates.setdefault(int(new_of_old[old]), c)
        old_rows = np.fromiter(parses, dtype=np.int64, count=len(parses))
        new_rows = new_of_old[old_rows]
        shift = (np.searchsorted(self._clause_table[:, 0], new_rows)
                 - np.searchsorted(previous._clause_table[:, 0], old_rows))
        for old, new, d in zip(old_rows.tolist(), new_rows.tolist(), shift.tolist()):
            if new >= 0:
                p = parses[old]
                self._parses.setdefault(new, p if d == 0 else replace(p, rows=p.rows + d))
        return int((new_of_old[list(found)] >= 0).sum()) if found else 0

    # ------------------------------------------------------------ stages
    def question(self, text: str) -> Question:
        return analyse(self.nlp(text))

    def relevance(self, tokens: Sequence[str], vector: np.ndarray | None, hits: Sequence[Hit],
                  question: str) -> list[ScoredSentence]:
        """The sentences of the top passages, scored for relevance, best first."""
        ids: list[int] = []
        for hit in hits[: self.params.read_passages]:
            ids.extend(i for i in range(*hit.chunk.sentences) if i not in ids)
        if not ids:
            return []
        wanted = {t: self.idf(t) for t in set(tokens)}
        total = sum(wanted.values())
        dense = self.index.sentence_vectors[ids] @ vector if vector is not None else np.zeros(len(ids))
        w = self.params.dense_weight if vector is not None else 0.0
        out = []
        for row, i in enumerate(ids):
            words = self._tokens[i]
            lexical = sum(v for t, v in wanted.items() if t in words) / total if total else 0.0
            before = self._before(i)
            # a sentence that answers often names its subject only in the sentence before ("..., she said")
            context = (sum(v for t, v in wanted.items() if t not in words and t in self._tokens[before]) / total
                       if total and before is not None else 0.0)
            d = float(dense[row])
            out.append(ScoredSentence(self.index.sentences[i], w * max(d, 0.0) + (1 - w) * lexical, d, lexical,
                                      context))
        if self.reranker is not None:
            probabilities = self.reranker.scores(question, [s.sentence.text for s in out])
            rw = self.params.reranker_weight
            out = [ScoredSentence(s.sentence, (1 - rw) * s.score + rw * float(p), s.dense, s.lexical, s.context)
                   for s, p in zip(out, probabilities)]
        out.sort(key=lambda s: (-s.score, s.sentence.index))
        return out

    def rank(self, q: Question, scored: Sequence[ScoredSentence], q_vector: np.ndarray | None = None) -> list[Scored]:
        """Every candidate of the sentences read, with its probability, best first."""
        read: list[tuple[features.SentenceView, list[Candidate]]] = []
        sentences: list[Sentence] = []
        asked = q.content | q.subject
        best = scored[0].score if scored else 0.0
        for n, s in enumerate(scored[: self.params.read_sentences], 1):
            found = [c for c in self.candidates(s.sentence.index) if answers_as(q, c)]
            if not found:
                continue
            p = self.parse(s.sentence.index)
            view = features.SentenceView(s.score, s.dense, s.lexical, n, parse.distances(p, asked, FAR),
                                         s.score / best if best > 0 else 0.0, parse.positions(p, asked),
                                         parse.clause_cosines(p, self.index.clause_vectors, q_vector),
                                         s.context, *self.layout(s.sentence.index))
            read.append((view, found))
            sentences.extend([s.sentence] * len(found))
        if not read:
            return []
        matrix = features.matrix(q, read, self.reporting, self.scorer.prior)
        p = self.scorer.probability(matrix)
        out = [Scored(c, s, float(pr), f)
               for c, s, pr, f in zip((c for _, cs in read for c in cs), sentences, p, matrix)]
        out.extend(self._model_candidates(q, scored))
        out.sort(key=lambda x: (-x.probability, x.sentence.index, x.candidate.start))
        return out

    def _before(self, sentence: int) -> int | None:
        """The sentence before `sentence` in its article (None: it is the article's first)."""
        sentences = self.index.sentences
        if sentence > 0 and sentences[sentence - 1].doc_id == sentences[sentence].doc_id:
            return sentence - 1
        return None

    def layout(self, sentence: int) -> tuple[bool, bool]:
        """(a heading: a line of its own with no closing punctuation; the lead: its article's first
        sentence that is not a heading), read off the article's text once, then looked up."""
        found = self._layout.get(sentence)
        if found is None:
            heading = self._heading(sentence)
            # all() stops at the first sentence before that is not a heading: one look, as a rule
            lead = not heading and all(self._heading(i) for i in self._all_before(sentence))
            found = self._layout[sentence] = (heading, lead)
        return found

    def _heading(self, sentence: int) -> bool:
        s = self.index.sentences[sentence]
        return is_heading(self.index.articles[s.doc_id].text, s.start, s.end)

    def _all_before(self, sentence: int):
        i = self._before(sentence)
        while i is not None:
            yield i
            i = self._before(i)

    def candidates(self, sentence: int) -> tuple[Candidate, ...]:
        found = self._candidates.get(sentence)
        if found is None:
            found = self._candidates[sentence] = candidates(self.index.docs[sentence])
        return found

    def parse(self, sentence: int) -> parse.Parse:
        """The sentence's parse as plain values (read off its stored analysis once, then looked up)."""
        found = self._parses.get(sentence)
        if found is None:
            doc = self.index.docs[sentence]
            rows = {v: self._clause_rows[(sentence, v)] for v in range(len(doc)) if (sentence, v) in self._clause_rows}
            found = self._parses[sentence] = parse.of(doc, rows)
        return found

    # ------------------------------------------------------------ reading
    def read(self, question: str, tokens: Sequence[str], vector: np.ndarray | None, hits: Sequence[Hit],
             top_k: int, parsed: Question | None = None) -> Reading:
        """`parsed`: the question already analysed (`self.question`), e.g. while its vector was computed."""
        q = self.question(question) if parsed is None else parsed
        scored = self.relevance(tokens, vector, hits, question)
        best = scored[0].score if scored else 0.0
        if q.ambiguous:
            return Reading((), round(best, 4), True, tuple(scored), "ambiguous")
        if not scored:
            return Reading((), 0.0, True, (), "not_in_corpus")
        if best < self.params.relevance_floor:  # no sentence read is about the question
            return Reading((), round(best, 4), True, tuple(scored), "not_in_corpus")
        if q.yes_no:
            answer = group.yes_no(self.index, q, scored[0].sentence, self.index.docs[scored[0].sentence.index], best)
            return Reading((answer,), best, False, tuple(scored))
        ranked = self.rank(q, scored, vector)
        confidence = self.confidence(q, ranked, scored, self.missing(tokens, scored))
        if not ranked or confidence < self.params.abstain_threshold:
            # nothing of the asked kind in sentences about the question, or something, but not likely right
            reason = "not_in_corpus" if not ranked or scored[0].lexical < 0.5 else "low_confidence"
            return Reading((), round(confidence, 4), True, tuple(scored), reason)
        answers = group.answers(self.index, q, ranked, top_k, self.params)
        return Reading(tuple(answers), round(confidence, 4), False, tuple(scored))

    def confidence(self, q: Question, ranked: Sequence[Scored], scored: Sequence[ScoredSentence],
                   missing: float = 0.0) -> float:
        """How likely the top answer is right rather than the question unanswerable (features.Scorer)."""
        best = scored[0]
        score = self.scorer.evidence(ranked[0].features) if ranked else 0.0
        g = features.abstain_vector(q, [r.probability for r in ranked[:2]], best.score, best.lexical, best.dense,
                                    missing, score)
        return self.scorer.confidence(g)

    def missing(self, tokens: Sequence[str], scored: Sequence[ScoredSentence]) -> float:
        """The idf of the rarest question token that no sentence read contains, over the idf of a token
        the corpus never uses (0: every question word is somewhere in what was read)."""
        read = [self._tokens[s.sentence.index] for s in scored[: self.params.read_sentences]]
        absent = [self.idf(t) for t in set(tokens) if not any(t in r for r in read)]
        return max(absent, default=0.0) / self.idf("\x00never-a-token")

    def _model_candidates(self, q: Question, scored: Sequence[ScoredSentence]) -> list[Scored]:
        """The optional extractive model's span in each sentence read, at the model's own probability."""
        if self.span_model is None or q.yes_no:
            return []
        pool = scored[: self.params.read_sentences]
        passages = [(self.index.articles[s.sentence.doc_id].text, s.sentence.start, s.sentence.end) for s in pool]
        out = []
        for s, found in zip(pool, self.span_model.find(q.text, passages)):
            if found is None:
                continue
            start, end, p = found
            lo = s.sentence.start
            c = Candidate(start - lo, end - lo, "model", "model", 0, None)
            out.append(Scored(c, s.sentence, float(p), np.zeros(len(features.NAMES))))
        return out


def answers_as(q: Question, c: Candidate) -> bool:
    """Whether a candidate can be the kind of answer asked for: a question expecting a name, a date or
    a number is answered by an entity (or list) of an expected or loosely expected label only."""
    if not q.typed:
        return True
    if c.kind in ("ent", "list"):
        return c.label in q.types or c.label in q.loose
    if c.kind == "np" and q.names:  # "Turkey's foreign minister", "the sidelines of the summit"
        return True
    return c.label == "arg:prep" and c.head_label in q.types  # "in Rome", "after less than two hours"


