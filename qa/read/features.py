"""Features of a (question, candidate, sentence) triple, and the learned scorer that weighs them.

Every feature is in [0, 1]. The scorer is a linear model fitted on the dev sets only by `bench/fit_scorer.py`,
which writes `scorer.json` beside this module with the weights, what they were fitted on, and their scores
on the test sets; nothing here knows any question. Its `ranking` says how a question's candidates are
weighed against each other: "softmax" (a conditional logit: the probabilities of one question's candidates
sum to one, fitted to put the mass on the right ones) or "logistic" (each candidate on its own).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa import dates
from qa.read.candidates import Candidate
from qa.read.question import Question

NAMES = ("bias", "rel", "dense", "lexical", "rank", "type", "loose", "untyped_for_typed", "in_question", "near",
         "verb", "subject", "speaker", "reported", "focus", "role", "kind_ent", "kind_list", "kind_np", "kind_arg",
         "kind_quote", "kind_sentence", "list_for_plural", "length", "long", "typed_question",
         "type_x_near", "type_x_rel", "arg_for_untyped", "np_for_untyped", "verb_x_arg", "verb_x_role",
         "speaker_x_reported", "subject_x_verb", "ent_x_in_question", "rel_ratio", "modifies_asked",
         "window4", "window10", "window_x_type", "contains_type", "duration_for_how_long", "point_for_when",
         "clause_dense", "clause_x_type",
         "coarse_role", "verb_x_coarse_role", "label_prior", "other_speaker", "context", "heading", "lead", "unit")
SCORER_FILE = Path(__file__).with_name("scorer.json")
_REPORTED = ("arg:ccomp", "quote")
_COLUMN = {name: i for i, name in enumerate(NAMES)}
KINDS = ("ent", "list", "np", "arg", "quote", "sentence")  # Candidate.kind, one feature each
FAR = 99  # the tree distance of a token no question word is connected to
_LOG1P_40 = math.log1p(40)


@dataclass(frozen=True, slots=True)
class SentenceView:
    """What the features need of a read sentence: relevance figures and per-question lookups."""

    rel: float
    dense: float
    lexical: float
    rank: int  # 1-based rank among the sentences read
    distance: tuple[int, ...]  # tree distance from each token to the nearest question word (large when none)
    rel_ratio: float  # relevance as a share of the best sentence's
    positions: dict  # question lemma -> token positions in this sentence
    clauses: dict  # verb token -> cosine between the question and the clause it heads
    context: float = 0.0  # the question's word weight found only in the sentence before (reader.relevance)
    heading: bool = False  # a headline or subheading: a line of its own with no closing punctuation
    lead: bool = False  # the article's first sentence that is not a heading


def matrix(q: Question, read: Sequence[tuple[SentenceView, Sequence[Candidate]]], reporting: frozenset[str],
           prior: "LabelPrior | None" = None) -> np.ndarray:
    """The features of every candidate of one question (rows in the order given: each read sentence's
    candidates in turn), one column per name in NAMES. Computed a column at a time over all the rows:
    per candidate, the same figures cost ~15 µs of Python each, ~140 candidates a question.
    `prior`: how often candidates of each class answer questions of this question's class (the scorer's,
    learned on the dev sets); None: that column is 0."""
    cands = [c for _, cs in read for c in cs]
    views = [v for v, cs in read for _ in cs]
    f = np.zeros((len(cands), len(NAMES)), dtype=np.float64)
    if not cands:
        return f
    col = lambda name: f[:, _COLUMN[name]]  # noqa: E731  (a view: writing into it fills the matrix)
    asked = q.content | q.subject
    counts = [len(cs) for _, cs in read]
    per_sentence = lambda values: np.repeat(np.array(values, dtype=np.float64), counts)  # noqa: E731
    kinds = [c.kind for c in cands]
    labelled = np.array([k in ("ent", "list") for k in kinds])
    labels = [c.label for c in cands]
    col("bias")[:] = 1.0
    col("rel")[:] = per_sentence([v.rel for v, _ in read])
    col("dense")[:] = per_sentence([max(0.0, v.dense) for v, _ in read])
    col("lexical")[:] = per_sentence([v.lexical for v, _ in read])
    col("rank")[:] = per_sentence([1.0 / v.rank for v, _ in read])
    col("rel_ratio")[:] = per_sentence([v.rel_ratio for v, _ in read])
    col("context")[:] = per_sentence([v.context for v, _ in read])
    col("heading")[:] = per_sentence([v.heading for v, _ in read])
    col("lead")[:] = per_sentence([v.lead for v, _ in read])
    col("type")[:] = labelled & np.array([lab in q.types for lab in labels])
    col("loose")[:] = labelled & np.array([lab in q.loose for lab in labels])
    col("untyped_for_typed")[:] = q.typed & ~labelled
    col("in_question")[:] = [len(c.lemmas & asked) / len(c.lemmas) if c.lemmas else 0.0 for c in cands]
    col("verb")[:] = [q.verb is not None and c.verb_lemma == q.verb for c in cands]
    col("subject")[:] = [bool(q.subject & c.verb_subject) for c in cands]
    col("speaker")[:] = [bool(q.subject & c.speaker_lemmas) for c in cands]
    reports = q.verb in reporting and not q.typed
    col("reported")[:] = [reports and lab in _REPORTED for lab in labels]
    # the focus noun near the candidate; for a number, the noun it counts ("how many aircraft": "18 aircraft",
    # not the "95" of "18 aircraft and 95 fire engines", though "aircraft" is near both)
    col("focus")[:] = [q.focus is not None and q.focus in (c.counted or c.nearby) for c in cands]
    col("role")[:] = [q.role is not None and c.role == q.role for c in cands]
    for kind in KINDS:
        col(f"kind_{kind}")[:] = [k == kind for k in kinds]
    col("list_for_plural")[:] = [k == "list" and q.plural for k in kinds]
    words = [max(1, len(c.tokens)) for c in cands]
    col("length")[:] = [min(1.0, math.log1p(n) / _LOG1P_40) for n in words]
    col("long")[:] = [n > 12 for n in words]
    col("typed_question")[:] = float(q.typed)
    near, window4, window10 = _near_and_windows(cands, read, len(asked))
    col("near")[:] = 1.0 / (1.0 + near)
    col("window4")[:], col("window10")[:] = window4, window10
    col("contains_type")[:] = ~labelled & np.array([bool(c.labels & q.types) for c in cands])
    col("clause_dense")[:] = [max(0.0, v.clauses.get(c.verb, v.dense) if c.verb is not None else v.dense)
                              for c, v in zip(cands, views)]
    col("duration_for_how_long")[:] = [q.wh == "how long" and c.duration for c in cands]
    col("point_for_when")[:] = (q.wh == "when") & labelled & np.array(
        [lab in ("DATE", "TIME") and not c.duration for lab, c in zip(labels, cands)])
    # "in which year" is answered by a year, "at what time" by a clock time (qa/dates.py: units)
    asked_unit = dates.UNIT_NOUNS.get(q.focus) if q.focus is not None else None
    col("unit")[:] = [asked_unit is not None and asked_unit in c.units for c in cands]
    # a modifier of a word the question uses ("US" in "US Secretary of State Rubio") describes what was
    # asked about; it is not what was asked for
    col("modifies_asked")[:] = [c.modifies is not None and c.modifies < len(v.distance) and v.distance[c.modifies] == 0
                                for c, v in zip(cands, views)]
    # Interactions a linear scorer cannot form by itself: a label match counts where the question's words
    # are near and the sentence is relevant; a verb's phrase answers a question that asks for no label.
    col("type_x_near")[:] = col("type") * col("near")
    col("type_x_rel")[:] = col("type") * col("rel")
    col("arg_for_untyped")[:] = col("kind_arg") * (1.0 - col("typed_question"))
    col("np_for_untyped")[:] = col("kind_np") * (1.0 - col("typed_question"))
    col("verb_x_arg")[:] = col("verb") * col("kind_arg")
    col("verb_x_role")[:] = col("verb") * col("role")
    col("speaker_x_reported")[:] = col("speaker") * col("reported")
    col("subject_x_verb")[:] = col("subject") * col("verb")
    col("ent_x_in_question")[:] = col("in_question") * (col("kind_ent") + col("kind_list"))
    col("window_x_type")[:] = col("window10") * col("type")
    col("clause_x_type")[:] = col("clause_dense") * col("type")
    asked_coarse = _COARSE.get(q.role) if q.role is not None else None
    col("coarse_role")[:] = [asked_coarse is not None and _COARSE.get(c.role) == asked_coarse for c in cands]
    col("verb_x_coarse_role")[:] = col("verb") * col("coarse_role")
    if prior is not None:
        col("label_prior")[:] = prior.features(question_class(q), [candidate_class(c) for c in cands])
    # words someone else is reported saying, for a question about what its subject said
    asks_words = bool(q.subject) and q.verb in reporting
    col("other_speaker")[:] = [asks_words and bool(c.speaker_lemmas) and not q.subject & c.speaker_lemmas
                               for c in cands]
    return f


# Question-level features for abstention: how good the best candidate is, and how much the best
# sentence is about the question.
ABSTAIN_NAMES = ("bias", "top", "second", "margin", "rel", "lexical", "dense", "typed_question", "candidates",
                 "missing", "score")
# What the abstention model tells apart: the top answer right, wrong, or the question unanswerable.
OUTCOMES = ("correct", "wrong", "unanswerable")


def abstain_vector(q: Question, probabilities: Sequence[float], best_rel: float, best_lexical: float,
                   best_dense: float, missing: float = 0.0, score: float = 0.0) -> np.ndarray:
    """`missing`: the weight of the rarest question word no sentence read contains (idf over the largest
    idf): a question about something the articles never mention ("security guarantees") misses one.
    `score`: the top candidate's own evidence, the logistic of its linear score (a softmax's probabilities
    say how it compares with the other candidates, not how good it is)."""
    top = probabilities[0] if probabilities else 0.0
    second = probabilities[1] if len(probabilities) > 1 else 0.0
    f = {"bias": 1.0, "top": top, "second": second, "margin": top - second, "rel": best_rel,
         "lexical": best_lexical, "dense": max(0.0, best_dense), "typed_question": float(q.typed),
         "candidates": min(1.0, len(probabilities) / 100), "missing": missing, "score": score}
    return np.array([f[n] for n in ABSTAIN_NAMES], dtype=np.float64)


RANKINGS = ("softmax", "logistic")


def question_class(q: Question) -> str:
    """What a question asks for, coarsely: its wh-word and the labels it expects ("who|ORG/PERSON")."""
    return f"{q.wh}|{'/'.join(sorted(q.types))}"


def candidate_class(c: Candidate) -> str:
    """What a candidate is, coarsely: its kind and label ("ent:PERSON", "arg:arg:dobj", "quote:quote")."""
    return f"{c.kind}:{c.label}"


@dataclass(frozen=True, slots=True)
class LabelPrior:
    """How often a candidate of each class is a right answer to a question of each class, counted on the
    dev sets' candidates (a who-question is answered by a person more often than by an organisation; "how
    much" by a sum of money more often than by a percentage), smoothed towards the candidate class's rate
    over all questions, and that towards the rate of all candidates (`smoothing` candidates' worth); a
    class the dev sets never saw takes the coarser estimate as it is.
    Learned, so it holds whatever the dev questions show, with no list of who-means-what written here."""

    pairs: dict  # "question class\tcandidate class" -> [right, seen]
    classes: dict  # candidate class -> [right, seen]
    right: int
    seen: int
    smoothing: float = 10.0

    def probability(self, question: str, candidate: str) -> float:
        p = (self.right + 1.0) / (self.seen + 2.0)
        for r, n in (self.classes.get(candidate, (0, 0)), self.pairs.get(f"{question}\t{candidate}", (0, 0))):
            p = (r + self.smoothing * p) / (n + self.smoothing)
        return p

    def feature(self, question: str, candidate: str) -> float:
        """The probability on a log scale in [0, 1]: 1 at certainty, 0 at one in a thousand or less."""
        return max(0.0, 1.0 + math.log10(self.probability(question, candidate)) / 3.0)

    def features(self, question: str, candidates: Sequence[str]) -> list[float]:
        """`feature` of each candidate class for one question class (each distinct class worked out once)."""
        known: dict[str, float] = {}
        return [known[c] if c in known else known.setdefault(c, self.feature(question, c)) for c in candidates]

    @classmethod
    def count(cls, examples, smoothing: float = 10.0) -> "LabelPrior":
        """`examples`: (question class, candidate class, right) for every candidate seen."""
        pairs: dict = {}
        classes: dict = {}
        right = seen = 0
        for question, candidate, ok in examples:
            for table, key in ((pairs, f"{question}\t{candidate}"), (classes, candidate)):
                entry = table.setdefault(key, [0, 0])
                entry[0] += int(ok)
                entry[1] += 1
            right, seen = right + int(ok), seen + 1
        return cls(pairs, classes, right, seen, smoothing)

    def to_json(self) -> dict:
        return {"pairs": self.pairs, "classes": self.classes, "right": self.right, "seen": self.seen,
                "smoothing": self.smoothing}

    @classmethod
    def from_json(cls, data: dict) -> "LabelPrior":
        return cls(dict(data["pairs"]), dict(data["classes"]), int(data["right"]), int(data["seen"]),
                   float(data["smoothing"]))


@dataclass(frozen=True, slots=True)
class Scorer:
    weights: np.ndarray
    meta: dict
    abstention: np.ndarray | None = None  # len(OUTCOMES) x len(ABSTAIN_NAMES), a multinomial logistic model
    ranking: str = "softmax"
    prior: LabelPrior | None = None  # None: the label_prior feature is 0 for every candidate

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(correct answer) for each row of `features` (n x len(NAMES)): all the candidates of one question."""
        z = features @ self.weights
        if self.ranking == "logistic" or not len(z):
            return 1.0 / (1.0 + np.exp(-z))
        e = np.exp(z - z.max())
        return e / e.sum()

    def evidence(self, features: np.ndarray) -> float:
        """The logistic of a candidate's linear score (its features: one row)."""
        return float(1.0 / (1.0 + np.exp(-(features @ self.weights))))

    def confidence(self, g: np.ndarray) -> float:
        """P(the top answer is right) / (P(right) + P(unanswerable)): at least 0.5 when answering is
        the better bet for F1 (a right answer scores 1, an abstention on an unanswerable question 1)."""
        if self.abstention is None:
            return float(g[ABSTAIN_NAMES.index("top")])
        z = self.abstention @ g
        p = np.exp(z - z.max())
        p /= p.sum()
        right, none = p[OUTCOMES.index("correct")], p[OUTCOMES.index("unanswerable")]
        return float(right / (right + none)) if right + none > 0 else 0.0

    @classmethod
    def load(cls, path: Path = SCORER_FILE) -> "Scorer":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != NAMES:
            raise ValueError(f"{path}: its features {data['features']} are not this reader's {list(NAMES)}; "
                             f"refit with bench/fit_scorer.py")
        abstention = data.get("abstention")
        if abstention is not None and (tuple(abstention["features"]) != ABSTAIN_NAMES
                                       or tuple(abstention["outcomes"]) != OUTCOMES):
            raise ValueError(f"{path}: its abstention model does not match this reader's; refit with bench/fit_scorer.py")
        ranking = data.get("ranking", "logistic")
        if ranking not in RANKINGS:
            raise ValueError(f"{path}: ranking {ranking!r} is not one of {', '.join(RANKINGS)}")
        prior = data.get("label_prior")
        return cls(np.array(data["weights"], dtype=np.float64), data,
                   None if abstention is None else np.array(abstention["weights"], dtype=np.float64), ranking,
                   None if prior is None else LabelPrior.from_json(prior))


# Dependency roles grouped: what does the verb (subject) and what the verb takes (complement), so
# "what did X agree to" (pobj) meets "agreed to work …" (xcomp).
_COARSE = {**dict.fromkeys(("nsubj", "nsubjpass", "agent", "csubj"), "subject"),
           **dict.fromkeys(("dobj", "pobj", "attr", "oprd", "dative", "xcomp", "ccomp", "acomp", "prep"), "complement"),
           **dict.fromkeys(("advmod", "npadvmod", "advcl"), "modifier")}


# ---------------------------------------------------------------- helpers
def _near_and_windows(cands: Sequence[Candidate], read: Sequence[tuple[SentenceView, Sequence[Candidate]]],
                      n_asked: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: the tree distance from its root to the nearest question word (a question word inside
    the candidate counts as one step away: the answer is beside what was asked, not what was asked; at most
    FAR), and the shares of the question's words within 4 and 10 tokens of it (outside it). The sentences'
    tokens are laid end to end, so one set of array operations covers every candidate of the question."""
    counts = [len(cs) for _, cs in read]
    sizes = np.array([len(v.distance) for v, _ in read], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    distance = np.array([d for v, _ in read for d in v.distance], dtype=np.int64)
    row_start, row_size = np.repeat(starts, counts), np.repeat(sizes, counts)
    n = len(cands)
    spans = [len(c.tokens) for c in cands]
    inside = np.zeros((n, len(distance)), dtype=bool)  # each candidate's word tokens
    inside[np.repeat(np.arange(n), spans),
           np.repeat(row_start, spans) + np.array([i for c in cands for i in c.tokens], dtype=np.int64)] = True

    roots = np.array([c.root for c in cands], dtype=np.int64)
    known = roots < row_size
    near = np.where(known, distance[np.where(known, row_start + roots, 0)], FAR)
    touches = (inside & (distance == 0)).any(axis=1)
    near = np.minimum(np.where((near == 0) | touches, np.maximum(near, 1), near), FAR)

    # every token using a question word: its position and which word it uses
    lemma_ids: dict[str, int] = {}
    at, uses = [], []
    for (v, _), start in zip(read, starts.tolist()):
        for lemma, where in v.positions.items():
            at.extend(start + i for i in where)
            uses.extend([lemma_ids.setdefault(lemma, len(lemma_ids))] * len(where))
    if not n_asked or not at:
        return near, np.zeros(n), np.zeros(n)
    spots = np.array(at, dtype=np.int64)
    which = np.zeros((len(at), len(lemma_ids)))  # token using a question word x that word
    which[np.arange(len(at)), uses] = 1.0
    first = row_start + np.array([c.tokens[0] if c.tokens else 0 for c in cands], dtype=np.int64)
    last = row_start + np.array([c.tokens[-1] if c.tokens else 0 for c in cands], dtype=np.int64)
    candidate_sentence = (spots >= row_start[:, None]) & (spots < (row_start + row_size)[:, None]) & ~inside[:, spots]
    has_words = np.array(spans) > 0
    windows = []
    for width in (4, 10):
        near_words = candidate_sentence & (spots >= first[:, None] - width) & (spots <= last[:, None] + width)
        found = ((near_words @ which) > 0).sum(axis=1)  # question words with a token there
        windows.append(np.where(has_words, found / n_asked, 0.0))
    return near, windows[0], windows[1]
