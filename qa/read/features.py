"""Features of a (question, candidate, sentence) triple, and the learned scorer that weighs them.

Every feature is in [0, 1]. The scorer is a logistic regression fitted on the dev split only by `bench/fit_scorer.py`, which writes `scorer.json` beside this module with the
weights, what they were fitted on, and their scores on the test split; nothing here knows any question.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.read.candidates import Candidate
from qa.read.question import Question

NAMES = ("bias", "rel", "dense", "lexical", "rank", "type", "loose", "untyped_for_typed", "in_question", "near",
         "verb", "subject", "speaker", "reported", "focus", "role", "kind_ent", "kind_list", "kind_np", "kind_arg",
         "kind_quote", "kind_sentence", "list_for_plural", "length", "long", "typed_question",
         "type_x_near", "type_x_rel", "arg_for_untyped", "np_for_untyped", "verb_x_arg", "verb_x_role",
         "speaker_x_reported", "subject_x_verb", "ent_x_in_question")
SCORER_FILE = Path(__file__).with_name("scorer.json")
_REPORTED = ("arg:ccomp", "quote")


@dataclass(frozen=True, slots=True)
class SentenceView:
    """What the features need of a read sentence: its Doc, relevance figures, and per-question lookups."""

    doc: object
    rel: float
    dense: float
    lexical: float
    rank: int  # 1-based rank among the sentences read
    distance: tuple[int, ...]  # tree distance from each token to the nearest question word (large when none)
    lemmas: tuple[str, ...]


def vector(q: Question, c: Candidate, s: SentenceView, reporting: frozenset[str]) -> np.ndarray:
    doc = s.doc
    words = [t for t in doc if c.start <= t.idx < c.end and not t.is_punct]
    content = [t.lemma_.lower() for t in words if t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ", "NUM")]
    asked = q.content | q.subject
    in_question = sum(1 for w in content if w in asked) / len(content) if content else 0.0
    labelled = c.kind in ("ent", "list")
    verb = doc[c.verb] if c.verb is not None else None
    subject = _subject_lemmas(verb) if verb is not None else set()
    speaker = _speaker_lemmas(doc, c.speaker)
    n_words = max(1, len(words))
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
        "near": 1.0 / (1.0 + _near(c, words, s.distance)),
        "verb": float(verb is not None and q.verb is not None and verb.lemma_.lower() == q.verb),
        "subject": float(bool(q.subject & subject)),
        "speaker": float(bool(q.subject & speaker)),
        "reported": float(q.verb in reporting and c.label in _REPORTED and not q.typed),
        "focus": float(q.focus is not None and _called(doc, c, q.focus)),
        "role": float(q.role is not None and _role(doc, c) == q.role),
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
    return np.array([f[n] for n in NAMES], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Scorer:
    weights: np.ndarray
    meta: dict

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(correct answer) for each row of `features` (n x len(NAMES))."""
        z = features @ self.weights
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def load(cls, path: Path = SCORER_FILE) -> "Scorer":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != NAMES:
            raise ValueError(f"{path}: its features {data['features']} are not this reader's {list(NAMES)}; "
                             f"refit with bench/fit_scorer.py")
        return cls(np.array(data["weights"], dtype=np.float64), data)


# ---------------------------------------------------------------- helpers
def _near(c: Candidate, words, distance: tuple[int, ...]) -> int:
    """Tree distance from the candidate to the nearest question word outside it."""
    inside = {t.i for t in words}
    best = distance[c.root] if c.root < len(distance) else 99
    for t in words:  # a question word inside the candidate does not count; its edge's neighbours do
        if t.i in inside and distance[t.i] == 0:
            best = max(best, 1)
    return min(best, 99)


def _subject_lemmas(verb) -> set[str]:
    return {t.lemma_.lower() for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") for t in c.subtree}


def _speaker_lemmas(doc, span) -> set[str]:
    if span is None:
        return set()
    return {t.lemma_.lower() for t in doc if span[0] <= t.idx < span[1]}


def _called(doc, c: Candidate, focus: str) -> bool:
    """Whether the sentence calls the candidate a `focus` ("envoy Steve Wikoff", "Medinsky, an aide")."""
    lo = next((t.i for t in doc if t.idx >= c.start), 0)
    hi = next((t.i for t in doc if t.idx >= c.end), len(doc))
    window = doc[max(0, lo - 3) : min(len(doc), hi + 3)]
    return any(t.lemma_.lower() == focus for t in window)


def _role(doc, c: Candidate) -> str:
    if c.label.startswith("arg:"):
        return c.label[4:]
    return doc[c.root].dep_
