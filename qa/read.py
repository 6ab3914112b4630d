"""The extractive reader: retrieved passages -> answers with citations, or an abstention.

Each sentence of the top passages is scored against the question:
    score = w * max(0, cos(question, sentence)) + (1 - w) * lexical
where `lexical` is the idf-weighted share of the question's content tokens that the sentence
contains (question tokens the corpus never uses count against it, which is what makes an
off-topic question weak). An optional cross-encoder blends its own score in. The best score is the
confidence; below the threshold the reader abstains, and says why (`abstain_reason`).

Above it, every sentence scoring at least the threshold is read for a short answer (qa/spans.py:
one rule per kind of question, or the optional transformer reader), then the findings are grouped:
the same answer from several articles is one answer with a citation per article, each citation
locating that article's own wording (`answer_start`/`answer_end`); answers of a valued kind (a number,
a duration, a day) that state different values are kept apart and marked as differing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

import numpy as np

from qa import attribution, dates, spans
from qa.index import Index
from qa.phrases import lowercase_words, strip_edges
from qa.text import is_negated, is_yes_no, negates_any, normalize_answer, words
from qa.types import Answer, Citation, Hit, Mention, Sentence

_EDGE_PUNCT = " \t\n\"'\u201c\u201d\u2018\u2019.,;:!?"
MIN_MERGE_WORDS = 4
# A sentence that negates what the question asks ("Putin did not agree" for "what did Putin agree
# to?") states what did not happen; it still answers a yes/no question, so only others are damped.
NEGATION_PENALTY = 0.75
POOL_SIZE = 15  # sentences read for spans, at most
NEAR_SPAN_SCORE = 0.2  # a span at most four words from the question's words (score 1 / (1 + words))
RIVAL_SPAN_SCORE = 0.3  # a differing value must sit this close to the question's words (1 / (1 + words))
PRONOUNS = frozenset("he she they it him her them his their its".split())
ABSTAIN_REASONS = ("not_in_corpus", "low_confidence", "ambiguous")


@dataclass(frozen=True, slots=True)
class ReaderParams:
    dense_weight: float = 0.7
    abstain_threshold: float = 0.35
    read_passages: int = 5
    merge_similarity: float = 0.9  # span embeddings at least this alike are one answer
    spanless_penalty: float = 0.75  # a sentence where the question's rule finds no span counts this much
    differ_ratio: float = 0.8  # another value scoring this share of the top answer is reported as differing
    list_ratio: float = 0.8  # list items are gathered from sentences scoring this share of the best
    not_in_corpus_lexical: float = 0.5  # abstaining, a best lexical coverage below this means not_in_corpus
    reranker_weight: float = 0.5  # score = (1 - w) * score + w * cross-encoder probability
    needs_span: bool = True  # a question whose rule needs a span (spans.needs_span) answers only with one
    continuation: float = 0.7  # a sentence pointing back scores at least this share of the one before


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
    abstain_reason: str | None = None


class SpanModel(Protocol):
    """An extractive model: the best answer span of each sentence (offsets into the article's text)."""

    def find(self, question: str, passages: Sequence[tuple[str, int, int]]) -> list[tuple[int, int, float] | None]: ...


class Reranker(Protocol):
    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class _Finding:
    scored: ScoredSentence
    key: float  # the sentence's score, lowered when the question's rule finds no span in it
    span: tuple[int, int]  # the answer's wording: a short span, or the sentence's core
    candidate: spans.Candidate | None

    @property
    def doc_id(self) -> str:
        return self.scored.sentence.doc_id


class Reader:
    def __init__(self, index: Index, idf: Callable[[str], float], params: ReaderParams,
                 tokenize: Callable[[str], list[str]], embed: Callable[[list[str]], np.ndarray] | None = None,
                 span_model: SpanModel | None = None, reranker: Reranker | None = None):
        self.index, self.idf, self.params = index, idf, params
        self.embed, self.span_model, self.reranker = embed, span_model, reranker
        self._tokens = tuple(frozenset(tokenize(s.text)) for s in index.sentences)
        self._common = {doc: lowercase_words(a.text) for doc, a in index.articles.items()}

    # ------------------------------------------------------------ scoring
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
        out = self._continued(out)
        if self.reranker is not None:
            out = self._rerank(question, out)
        out.sort(key=lambda s: (-s.score, s.sentence.index))
        return out

    def _continued(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """A sentence that goes on from the one before ("The strikes hit ...", "He said ...") is about
        what that one is about: it scores at least `continuation` times the sentence it continues."""
        by_index = {s.sentence.index: s for s in scored}
        out = []
        for s in scored:
            before = by_index.get(s.sentence.index - 1)
            if (before is not None and before.sentence.doc_id == s.sentence.doc_id
                    and continues(s.sentence.text)):
                s = replace(s, score=max(s.score, self.params.continuation * before.score))
            out.append(s)
        return out

    def _rerank(self, question: str, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        probabilities = self.reranker.scores(question, [s.sentence.text for s in scored])
        w = self.params.reranker_weight
        return [replace(s, score=(1 - w) * s.score + w * float(p)) for s, p in zip(scored, probabilities)]

    # ------------------------------------------------------------ reading
    def read(self, question: str, tokens: Sequence[str], vector: np.ndarray | None, hits: Sequence[Hit], top_k: int) -> Reading:
        scored = self.score(question, tokens, vector, hits)
        confidence = min(1.0, max(0.0, scored[0].score)) if scored else 0.0
        if is_ambiguous(question, tokens):
            return Reading((), confidence, True, tuple(scored), "ambiguous")
        if confidence < self.params.abstain_threshold:
            best_lexical = max((s.lexical for s in scored), default=0.0)
            reason = "not_in_corpus" if best_lexical < self.params.not_in_corpus_lexical else "low_confidence"
            return Reading((), confidence, True, tuple(scored), reason)
        q = spans.parse(question)
        answers = self._answers(q, scored, top_k, use_embeddings=vector is not None)
        if not answers:  # no sentence read gives what was asked: the articles talk about the subject without it
            return Reading((), confidence, True, tuple(scored), "not_in_corpus")
        return Reading(tuple(answers), confidence, False, tuple(scored))

    def _answers(self, q: spans.Question, scored: list[ScoredSentence], top_k: int, use_embeddings: bool) -> list[Answer]:
        # Every sentence read may corroborate; only one scoring at least the threshold answers alone.
        pool = scored[:POOL_SIZE]
        findings = sorted(self._findings(q, pool), key=lambda f: (-f.key, f.scored.sentence.index))
        if q.kind == "list" and any(f.candidate and f.candidate.parts and f.scored.score >= self.params.abstain_threshold
                                    for f in findings):
            return self._list_answers(q, findings, top_k)
        if self.params.needs_span and spans.needs_span(q.kind) and findings and findings[0].candidate is None:
            # A who/when/where/how-many answer is a name, a date, a number; a "what did X say" answer
            # is X's words. The best sentence holds none: a lower one answers only if it holds one
            # right beside the question's words and scores at least as well as the best counts for
            # holding none (its score times spanless_penalty).
            best = findings[0].scored.score
            findings = [f for f in findings if f.candidate is not None and f.candidate.score >= NEAR_SPAN_SCORE
                        and f.scored.score >= self.params.spanless_penalty * best]
        groups = self._answering(self._group(q, findings, use_embeddings))
        order = self._order(q, groups, top_k)
        differs = self._differs(q, [groups[i] for i in order])
        return [self._answer(q, groups[i], differs.get(n, ())) for n, i in enumerate(order)]

    def _findings(self, q: spans.Question, pool: list[ScoredSentence]) -> list[_Finding]:
        model_spans = self._model_spans(q, pool)
        out = []
        for n, s in enumerate(pool):
            article = self.index.articles[s.sentence.doc_id]
            candidate = model_spans[n] if model_spans is not None else None
            if model_spans is None:
                passage = spans.Passage(article.text, s.sentence.start, s.sentence.end, self._common[article.doc_id])
                found = spans.extract(q, passage)
                candidate = found[0] if found else None
            ruled = q.kind in spans.RULES_BY_KIND or model_spans is not None
            key = s.score * self._trust(candidate) if ruled else s.score
            span = (candidate.start, candidate.end) if candidate else (s.sentence.start, s.sentence.end)
            if not self._voices_subject(q, s.sentence, span):
                continue
            out.append(_Finding(s, key, span, candidate))
        return out

    def _voices_subject(self, q: spans.Question, sentence: Sentence, span: tuple[int, int]) -> bool:
        """For "what did X say / how did X describe": are these X's words? When the sentence
        attributes them to a speaker, X must be named in the speaker or the words before it ("White
        House press secretary Karoline Leavitt said" voices the press secretary, not Zelenskyy after
        "... said Trump would call Zelenskyy"); otherwise X must be named in the sentence, or in the
        one before it when the sentence speaks of someone by pronoun."""
        if q.kind != "said" or not q.subject:
            return True
        article = self.index.articles[sentence.doc_id]
        whole = span == (sentence.start, sentence.end)
        found = (attribution.sentence_speaker(article.text, (sentence.start, sentence.end)) if whole
                 else attribution.speaker(article.text, article.sentences, span))
        if found is not None:
            return _names_any(q.subject, article.text[min(sentence.start, found[0]) : found[1]])
        if _names_any(q.subject, sentence.text):
            return True
        before = self.index.sentences[sentence.index - 1] if sentence.index > 0 else None
        if before is None or before.doc_id != sentence.doc_id or not PRONOUNS & set(words(sentence.text)):
            return False
        # the pronoun stands for the one speaking in the sentence before, if it has a speaker
        spoke = attribution.sentence_speaker(article.text, (before.start, before.end))
        return _names_any(q.subject, article.text[before.start : spoke[1]] if spoke else before.text)

    def _trust(self, candidate: spans.Candidate | None) -> float:
        """How much a sentence's score counts: fully when its rule found a span it is sure of, down to
        `spanless_penalty` when it found none (the sentence is weaker evidence for a span question)."""
        p = self.params.spanless_penalty
        return p + (1 - p) * (min(1.0, max(0.0, candidate.score)) if candidate else 0.0)

    def _model_spans(self, q: spans.Question, pool: list[ScoredSentence]) -> list[spans.Candidate | None] | None:
        if self.span_model is None or q.kind in ("yes_no", "list"):
            return None
        passages = [(self.index.articles[s.sentence.doc_id].text, s.sentence.start, s.sentence.end) for s in pool]
        found = self.span_model.find(q.text, passages)
        return [spans.Candidate(f[0], f[1], "model_reader", f[2]) if f else None for f in found]

    # ------------------------------------------------------------ grouping
    def _group(self, q: spans.Question, findings: list[_Finding], use_embeddings: bool) -> list[list[_Finding]]:
        """Findings that say the same thing become one group (one finding per article; a repeat within
        an article is absorbed). Same: equal normalized words; for a valued kind, the same value; else,
        when embeddings are available, span embeddings at least `merge_similarity` alike; two sentence
        answers are the same when one's core stands whole inside the other."""
        vectors = _Vectors(self.embed if use_embeddings and not spans.is_valued(q.kind) else None)
        groups: list[list[_Finding]] = []
        for f in findings:
            for g in groups:
                wording = self._same(q, g[0], f, vectors)
                if wording is None:
                    continue
                if f.doc_id not in {x.doc_id for x in g}:
                    g.append(replace(f, span=wording))
                break
            else:
                groups.append([f])
        return [self._shared_wording(g) for g in groups]

    def _answering(self, groups: list[list[_Finding]]) -> list[list[_Finding]]:
        """Groups led by a sentence scoring at least the threshold; the others only corroborate."""
        return [g for g in groups if g[0].scored.score >= self.params.abstain_threshold]

    def _same(self, q: spans.Question, a: _Finding, b: _Finding, vectors: "_Vectors") -> tuple[int, int] | None:
        """b's wording of a's answer, or None when b says something else."""
        ta, tb = self._text(a), self._text(b)
        if a.candidate is None and b.candidate is None:
            return b.span if _shared_core(ta, tb) is not None else None
        if a.candidate is not None and b.candidate is not None:
            if normalize_answer(ta) == normalize_answer(tb):
                return b.span
            if spans.is_valued(q.kind):
                date_a, date_b = self.index.articles[a.doc_id].date, self.index.articles[b.doc_id].date
                return b.span if spans.same_value(q.kind, ta, date_a, tb, date_b) else None
            return b.span if vectors.similarity(ta, tb) >= self.params.merge_similarity else None
        if a.candidate is not None:  # b is a whole sentence: does it hold a's words, or say them otherwise?
            text = self.index.articles[b.doc_id].text
            at = text.find(ta, b.scored.sentence.start, b.scored.sentence.end)
            if at >= 0 and len(words(ta)) >= 2:
                return at, at + len(ta)
            return self._paraphrase(ta, b, vectors)
        return None

    def _paraphrase(self, answer: str, b: _Finding, vectors: "_Vectors") -> tuple[int, int] | None:
        """The phrase of b's sentence that words `answer` otherwise: of the phrases opening with the
        answer's first word and running to the end of their clause, the most alike, when its embedding
        is at least `merge_similarity` alike ("to work on a memorandum with Ukraine ..." for "to work
        with the Ukrainian side on a memorandum ...")."""
        first = words(answer)[:1]
        if not vectors or not first or len(words(answer)) < 3:
            return None
        text, (lo, hi) = self.index.articles[b.doc_id].text, (b.scored.sentence.start, b.scored.sentence.end)
        phrases = []
        for m in re.finditer(rf"(?<!\w){re.escape(first[0])}(?!\w)", text[lo:hi], re.IGNORECASE):
            start = lo + m.start()
            span = strip_edges(text, start, spans.clause_end(text, start + len(first[0]), hi))
            if len(words(text[span[0] : span[1]])) >= 3:
                phrases.append(span)
        scored = [(vectors.similarity(answer, text[x:y]), (x, y)) for x, y in phrases]
        best = max(scored, default=(0.0, None))
        return best[1] if best[0] >= self.params.merge_similarity else None

    def _shared_wording(self, group: list[_Finding]) -> list[_Finding]:
        """Sentence answers merged by their shared core: every citation's wording is that core."""
        if len(group) == 1 or group[0].candidate is not None:
            return group
        shared = self._text(group[0])
        for f in group[1:]:
            shared = _shared_core(shared, self._text(f)) or shared
        out = []
        for f in group:
            text = self.index.articles[f.doc_id].text
            at = text.find(shared, f.scored.sentence.start, f.scored.sentence.end)
            out.append(replace(f, span=(at, at + len(shared))) if at >= 0 else f)
        return out

    def _order(self, q: spans.Question, groups: list[list[_Finding]], top_k: int) -> list[int]:
        """The best group, then the groups giving another value for it (always kept: the articles
        disagree), then the rest, up to top_k."""
        if not groups:
            return []
        rivals = [i for i in range(1, len(groups)) if self._rival(q, groups[0], groups[i])]
        rest = [i for i in range(1, len(groups)) if i not in rivals]
        return [0] + rivals + rest[: max(0, top_k - 1 - len(rivals))]

    def _rival(self, q: spans.Question, top: list[_Finding], other: list[_Finding]) -> bool:
        if not spans.differs(q.kind) or top[0].candidate is None or other[0].candidate is None:
            return False
        if {f.doc_id for f in top} & {f.doc_id for f in other}:
            return False  # one article giving two values is not a disagreement between articles
        if min(top[0].candidate.score, other[0].candidate.score) < RIVAL_SPAN_SCORE:
            return False  # a value far from the question's words may answer another question
        return other[0].key >= self.params.differ_ratio * top[0].key

    def _differs(self, q: spans.Question, ordered: list[list[_Finding]]) -> dict[int, tuple[int, ...]]:
        rivals = [n for n in range(1, len(ordered)) if self._rival(q, ordered[0], ordered[n])]
        if not rivals:
            return {}
        out = {0: tuple(rivals)}
        for n in rivals:
            out[n] = (0,)
        return out

    # ------------------------------------------------------------ answers
    def _answer(self, q: spans.Question, group: list[_Finding], differs_from: tuple[int, ...]) -> Answer:
        top = group[0]
        text = self._text(top)
        c = top.candidate
        return Answer(
            text=text,
            score=round(min(1.0, max(0.0, top.key)), 4),
            context=top.scored.sentence.text,
            citations=tuple(self.citation(f.scored.sentence, f.span) for f in group),
            rule=c.rule if c else "sentence",
            label=c.label if c else None,
            speaker=self._speaker(top),
            resolved_date=self._resolved_date(group),
            support_count=len({f.doc_id for f in group}),
            differs_from=differs_from,
        )

    def _list_answers(self, q: spans.Question, findings: list[_Finding], top_k: int) -> list[Answer]:
        """One answer: the best sentence's enumeration, with every item of the enumerations in the
        sentences scoring at least `list_ratio` of it, deduplicated, each item citing its sentence."""
        listing = [f for f in findings if f.candidate and f.candidate.parts
                   and f.scored.score >= self.params.abstain_threshold]
        best = listing[0]
        gathered = [f for f in listing if f.key >= self.params.list_ratio * best.key
                    and (best.candidate.rule != "list_items" or f.candidate.rule == "list_items")]
        items: list[Mention] = []
        seen: set[str] = set()
        for f in gathered:
            text = self.index.articles[f.doc_id].text
            for start, end in f.candidate.parts:
                key = _item_key(text[start:end])
                if key in seen:
                    continue
                seen.add(key)
                items.append(Mention(text[start:end], self.citation(f.scored.sentence, (start, end))))
        head = replace(self._answer(q, [best], ()), items=tuple(items),
                       support_count=len({m.citation.doc_id for m in items}))
        rest = [f for f in findings if f not in gathered]
        others = [self._answer(q, g, ()) for g in self._answering(self._group(q, rest, False))[: top_k - 1]]
        return [head] + others

    def _speaker(self, f: _Finding) -> Mention | None:
        article = self.index.articles[f.doc_id]
        found = attribution.speaker(article.text, article.sentences, strip_edges(article.text, *f.span, _EDGE_PUNCT))
        if found is None:
            return None
        sentence = next((s for s in self.index.sentences if s.doc_id == f.doc_id and s.start <= found[0] < s.end), None)
        if sentence is None:
            return None
        return Mention(article.text[found[0] : found[1]], self.citation(sentence, found))

    def _resolved_date(self, group: list[_Finding]) -> str | None:
        """The day a date answer names, read against the first cited article that has a date."""
        for f in group:
            article = self.index.articles[f.doc_id]
            text = self._text(f)
            found = dates.find_dates(text)
            if article.date and found == [(0, len(text))]:
                value = dates.resolve(text, article.date)
                if value:
                    return value
        return None

    def _text(self, f: _Finding) -> str:
        return self.index.articles[f.doc_id].text[f.span[0] : f.span[1]]

    def citation(self, s: Sentence, wording: tuple[int, int] | None = None) -> Citation:
        a = self.index.articles[s.doc_id]
        start, end = wording if wording is not None else (s.start, s.end)
        return Citation(a.doc_id, a.source, a.title, a.date, s.start, s.end, a.text[s.start : s.end], start, end)


_CONTINUES = re.compile(r"(?:(?:He|She|They|It|This|These|Those|Such)\b|The [a-z])")


def continues(text: str) -> bool:
    """Whether a sentence opens by pointing back: a pronoun, or "the" with a common noun ("The strikes
    hit ...", not "The Kremlin said ...")."""
    return _CONTINUES.match(text.lstrip("\"\u201c ")) is not None


def is_ambiguous(question: str, tokens: Sequence[str]) -> bool:
    """A question that names nobody and refers by pronoun only ("What did he say?"): the articles
    cannot tell whom it means."""
    ws = words(question)
    named = any(w[:1].isupper() for w in question.split()[1:])
    return bool(set(ws) & PRONOUNS) and not named and len(set(tokens)) < 2


def _names_any(stems: frozenset[str], text: str) -> bool:
    return any(spans.has_stem(stems, spans.stem(w)) for w in words(text))


def _item_key(text: str) -> str:
    """Items naming the same person or place: the last word ("President Volodymyr Zelenskyy" and
    "Volodymyr Zelenskyy"), else the normalized words."""
    normalized = normalize_answer(text).split()
    return normalized[-1] if normalized else text


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


class _Vectors:
    """Embeddings of answer spans, computed once per question; none when embeddings are off."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None):
        self.embed, self._cache = embed, {}

    def __bool__(self) -> bool:
        return self.embed is not None

    def similarity(self, a: str, b: str) -> float:
        if self.embed is None:
            return 0.0
        missing = [t for t in dict.fromkeys((a, b)) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.embed(missing)))
        return float(self._cache[a] @ self._cache[b])
