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

from qa.read.candidates import Candidate
from qa.read.question import Question

NAMES = ("bias", "rel", "dense", "lexical", "rank", "type", "loose", "untyped_for_typed", "in_question", "near",
         "verb", "subject", "speaker", "reported", "focus", "role", "kind_ent", "kind_list", "kind_np", "kind_arg",
         "kind_quote", "kind_sentence", "list_for_plural", "length", "long", "typed_question",
         "type_x_near", "type_x_rel", "arg_for_untyped", "np_for_untyped", "verb_x_arg", "verb_x_role",
         "speaker_x_reported", "subject_x_verb", "ent_x_in_question", "rel_ratio", "modifies_asked",
         "window4", "window10", "window_x_type", "contains_type", "duration_for_how_long", "point_for_when",
         "clause_dense", "clause_x_type",
         "coarse_role", "verb_x_coarse_role", "label_prior", "other_speaker")
SCORER_FILE = Path(__file__).with_name("scorer.json")
_REPORTED = ("arg:ccomp", "quote")


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


def vector(q: Question, c: Candidate, s: SentenceView, reporting: frozenset[str], prior: float = 0.0) -> np.ndarray:
    """`prior`: how often candidates of this one's class answer questions of this question's class
    (`LabelPrior.feature`, learned on the dev sets)."""
    asked = q.content | q.subject
    in_question = len(c.lemmas & asked) / len(c.lemmas) if c.lemmas else 0.0
    labelled = c.kind in ("ent", "list")
    n_words = max(1, len(c.tokens))
    f = {
        "bias": 1.0,
        "rel": s.rel,
        "dense": max(0.0, s.dense),
        "lexical": s.lexical,
        "rank": 1.0 / s.rank,
        "type": float(labelled and c.label in q.types),
        "loose": float(labelled and c.label in q.loose),
        "untyped_for_typed": float(q.typed and not labelled),
        "in_question": in_question,
        "near": 1.0 / (1.0 + _near(c, s.distance)),
        "verb": float(q.verb is not None and c.verb_lemma == q.verb),
        "subject": float(bool(q.subject & c.verb_subject)),
        "speaker": float(bool(q.subject & c.speaker_lemmas)),
        "reported": float(q.verb in reporting and c.label in _REPORTED and not q.typed),
        "focus": float(q.focus is not None and q.focus in c.nearby),
        "role": float(q.role is not None and c.role == q.role),
        "kind_ent": float(c.kind == "ent"),
        "kind_list": float(c.kind == "list"),
        "kind_np": float(c.kind == "np"),
        "kind_arg": float(c.kind == "arg"),
        "kind_quote": float(c.kind == "quote"),
        "kind_sentence": float(c.kind == "sentence"),
        "list_for_plural": float(c.kind == "list" and q.plural),
        "length": min(1.0, math.log1p(n_words) / math.log1p(40)),
        "long": float(n_words > 12),
        "typed_question": float(q.typed),
        "rel_ratio": s.rel_ratio,
        # share of the question's words within 4 / 10 tokens of the candidate (outside it)
        "window4": _window(c, s.positions, len(asked), 4),
        "window10": _window(c, s.positions, len(asked), 10),
        "contains_type": float(not labelled and bool(c.labels & q.types)),
        # what is said around the candidate, against the question: the clause of its verb, else the sentence
        "clause_dense": max(0.0, s.clauses.get(c.verb, s.dense) if c.verb is not None else s.dense),
        "duration_for_how_long": float(q.wh == "how long" and c.duration),
        "point_for_when": float(q.wh == "when" and labelled and c.label in ("DATE", "TIME") and not c.duration),
        # a modifier of a word the question uses ("US" in "US Secretary of State Rubio") describes what
        # was asked about; it is not what was asked for
        "modifies_asked": float(c.modifies is not None and c.modifies < len(s.distance) and s.distance[c.modifies] == 0),
    }
    # Interactions a linear scorer cannot form by itself: a label match counts where the question's words
    # are near and the sentence is relevant; a verb's phrase answers a question that asks for no label.
    f["type_x_near"] = f["type"] * f["near"]
    f["type_x_rel"] = f["type"] * f["rel"]
    f["arg_for_untyped"] = f["kind_arg"] * (1.0 - f["typed_question"])
    f["np_for_untyped"] = f["kind_np"] * (1.0 - f["typed_question"])
    f["verb_x_arg"] = f["verb"] * f["kind_arg"]
    f["verb_x_role"] = f["verb"] * f["role"]
    f["speaker_x_reported"] = f["speaker"] * f["reported"]
    f["subject_x_verb"] = f["subject"] * f["verb"]
    f["ent_x_in_question"] = f["in_question"] * (f["kind_ent"] + f["kind_list"])
    f["window_x_type"] = f["window10"] * f["type"]
    f["clause_x_type"] = f["clause_dense"] * f["type"]
    f["coarse_role"] = float(q.role is not None and _COARSE.get(c.role) is not None
                             and _COARSE.get(c.role) == _COARSE.get(q.role))
    f["verb_x_coarse_role"] = f["verb"] * f["coarse_role"]
    f["label_prior"] = prior
    # words someone else is reported saying, for a question about what its subject said
    f["other_speaker"] = float(bool(q.subject) and q.verb in reporting and bool(c.speaker_lemmas)
                               and not q.subject & c.speaker_lemmas)
    return np.array([f[n] for n in NAMES], dtype=np.float64)


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

    def prior_feature(self, q: Question, c: Candidate) -> float:
        return 0.0 if self.prior is None else self.prior.feature(question_class(q), candidate_class(c))

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
def _window(c: Candidate, positions: dict, n_asked: int, width: int) -> float:
    if not n_asked or not c.tokens:
        return 0.0
    lo, hi = c.tokens[0], c.tokens[-1]
    inside = set(c.tokens)
    near = sum(1 for spots in positions.values()
               if any(lo - width <= i <= hi + width and i not in inside for i in spots))
    return near / n_asked
def _near(c: Candidate, distance: tuple[int, ...]) -> int:
    """Tree distance from the candidate's root to the nearest question word; a question word inside
    the candidate counts as one step away (the answer is beside what was asked, not what was asked)."""
    best = distance[c.root] if c.root < len(distance) else 99
    if best == 0 or any(distance[i] == 0 for i in c.tokens):
        best = max(best, 1)
    return min(best, 99)
