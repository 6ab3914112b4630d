"""qa/read/features.py: the feature matrix, computed a column at a time over all of a question's candidates,
equals the features as defined one candidate at a time (written out below, as the reader computed them
before), on a corpus written for the test (tests/data/reader) and questions written here."""

import math

import numpy as np
import pytest

from qa import dates, nlp
from qa.embed import HashingEmbedder
from qa.read.candidates import candidates
from qa.read import features, parse
from qa.read.features import NAMES, SentenceView
from qa.read.reader import FAR, answers_as
from qa.text import tokenize
from tests.helpers import READER_CORPUS, hashing_service

QUESTIONS = ["Who said the ferry crews would return to work?", "When did the strike end?",
             "How many ferries sailed on Monday?", "Which ministry announced the pay deal?",
             "What did the union say about the harbour?", "How long did the dispute last?",
             "Where did the lighthouse keeper retire?", "What did he say?", "Which regions were flooded?",
             "Which minister spoke for the government?", "How much did the strike cost the authority?",
             "On what day did the strike end?"]
_COARSE = features._COARSE


# ---------------------------------------------------------------- the definition, one candidate at a time
def scalar(q, c, s, reporting, prior=None):
    asked = q.content | q.subject
    in_question = len(c.lemmas & asked) / len(c.lemmas) if c.lemmas else 0.0
    labelled = c.kind in ("ent", "list")
    n_words = max(1, len(c.tokens))
    f = {"bias": 1.0, "rel": s.rel, "dense": max(0.0, s.dense), "lexical": s.lexical, "rank": 1.0 / s.rank,
         "type": float(labelled and c.label in q.types), "loose": float(labelled and c.label in q.loose),
         "untyped_for_typed": float(q.typed and not labelled), "in_question": in_question,
         "near": 1.0 / (1.0 + near(c, s.distance)), "verb": float(q.verb is not None and c.verb_lemma == q.verb),
         "subject": float(bool(q.subject & c.verb_subject)), "speaker": float(bool(q.subject & c.speaker_lemmas)),
         "reported": float(q.verb in reporting and c.label in ("arg:ccomp", "quote") and not q.typed),
         "focus": float(q.focus is not None and q.focus in c.nearby), "role": float(q.role is not None and c.role == q.role),
         **{f"kind_{k}": float(c.kind == k) for k in ("ent", "list", "np", "arg", "quote", "sentence")},
         "list_for_plural": float(c.kind == "list" and q.plural),
         "length": min(1.0, math.log1p(n_words) / math.log1p(40)), "long": float(n_words > 12),
         "typed_question": float(q.typed), "rel_ratio": s.rel_ratio, "context": s.context,
         "heading": float(s.heading), "lead": float(s.lead),
         "window4": window(c, s.positions, len(asked), 4), "window10": window(c, s.positions, len(asked), 10),
         "contains_type": float(not labelled and bool(c.labels & q.types)),
         "clause_dense": max(0.0, s.clauses.get(c.verb, s.dense) if c.verb is not None else s.dense),
         "duration_for_how_long": float(q.wh == "how long" and c.duration),
         "point_for_when": float(q.wh == "when" and labelled and c.label in ("DATE", "TIME") and not c.duration),
         "modifies_asked": float(c.modifies is not None and c.modifies < len(s.distance) and s.distance[c.modifies] == 0),
         "unit": float(q.focus is not None and dates.UNIT_NOUNS.get(q.focus) in c.units)}
    f["type_x_near"], f["type_x_rel"] = f["type"] * f["near"], f["type"] * f["rel"]
    f["arg_for_untyped"] = f["kind_arg"] * (1.0 - f["typed_question"])
    f["np_for_untyped"] = f["kind_np"] * (1.0 - f["typed_question"])
    f["verb_x_arg"], f["verb_x_role"] = f["verb"] * f["kind_arg"], f["verb"] * f["role"]
    f["speaker_x_reported"], f["subject_x_verb"] = f["speaker"] * f["reported"], f["subject"] * f["verb"]
    f["ent_x_in_question"] = f["in_question"] * (f["kind_ent"] + f["kind_list"])
    f["window_x_type"], f["clause_x_type"] = f["window10"] * f["type"], f["clause_dense"] * f["type"]
    f["coarse_role"] = float(q.role is not None and _COARSE.get(c.role) is not None
                             and _COARSE.get(c.role) == _COARSE.get(q.role))
    f["verb_x_coarse_role"] = f["verb"] * f["coarse_role"]
    f["label_prior"] = prior.feature(features.question_class(q), features.candidate_class(c)) if prior else 0.0
    f["other_speaker"] = float(bool(q.subject) and q.verb in reporting and bool(c.speaker_lemmas)
                               and not q.subject & c.speaker_lemmas)
    return [f[n] for n in NAMES]


def window(c, positions, n_asked, width):
    """The share of the question's words with a token within `width` tokens of the candidate, outside it."""
    if not n_asked or not c.tokens:
        return 0.0
    lo, hi, inside = c.tokens[0], c.tokens[-1], set(c.tokens)
    return sum(1 for spots in positions.values() if any(lo - width <= i <= hi + width and i not in inside
                                                        for i in spots)) / n_asked


def near(c, distance):
    """Tree distance from the candidate's root to the nearest question word; one inside it counts as one."""
    best = distance[c.root] if c.root < len(distance) else FAR
    if best == 0 or any(distance[i] == 0 for i in c.tokens):
        best = max(best, 1)
    return min(best, FAR)


# ---------------------------------------------------------------- the matrix against it
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    return hashing_service(READER_CORPUS, tmp_path_factory.mktemp("features"))


def views(service, text):
    """Every sentence of the corpus as read for `text` (made-up relevance figures, one per sentence)."""
    reader, index = service.reader, service.index
    q, vector = reader.question(text), HashingEmbedder().embed_queries([text])[0]
    asked = q.content | q.subject
    read = []
    for n in range(len(index.sentences)):
        p = reader.parse(n)
        rel, dense = 1.0 / (n + 2), 0.3 - 0.05 * n  # some sentences with a negative cosine
        view = SentenceView(rel, dense, rel / 2, n + 1, parse.distances(p, asked, FAR), rel * 2,
                            parse.positions(p, asked), parse.clause_cosines(p, index.clause_vectors, vector),
                            rel / 3, *reader.layout(n))
        read.append((view, [c for c in reader.candidates(n) if answers_as(q, c)]))
    return q, read


def test_the_matrix_equals_the_features_defined_one_candidate_at_a_time(service):
    seen = np.zeros(len(NAMES), dtype=bool)
    for text in QUESTIONS:
        q, read = views(service, text)
        prior = service.reader.scorer.prior  # the production label prior
        got = features.matrix(q, read, service.reader.reporting, prior)
        expected = np.array([scalar(q, c, v, service.reader.reporting, prior) for v, cs in read for c in cs])
        assert got.shape == expected.shape == (sum(len(cs) for _, cs in read), len(NAMES)) and len(got) >= 5
        assert np.array_equal(got, expected), text  # exactly: the scorer's weights were fitted on these values
        seen |= got.any(axis=0)
    # the questions exercise the figures that need the parse, not only zeros
    for name in ("near", "window4", "window10", "in_question", "clause_dense", "type", "verb", "reported",
                 "label_prior", "other_speaker", "context", "heading", "lead", "unit"):
        assert seen[NAMES.index(name)], name


def test_sentences_written_here_and_a_modifier_of_an_asked_word(service):
    pipeline = nlp.load("en_core_web_sm")
    docs = [pipeline(text) for text in ("Danish envoy Lars Holm met the Norwegian trade minister in Oslo on Friday.",
                                        "Talks between the two delegations lasted three hours, a spokeswoman said.")]
    q = service.reader.question("Which envoy met the minister in Oslo?")
    asked = q.content | q.subject
    read = []
    for n, doc in enumerate(docs, 1):
        p = parse.of(doc, {})
        view = SentenceView(0.5 / n, 0.4 / n, 0.3, n, parse.distances(p, asked, FAR), 1.0 / n, parse.positions(p, asked), {})
        read.append((view, list(candidates(doc))))
    got = features.matrix(q, read, service.reader.reporting)
    expected = np.array([scalar(q, c, v, service.reader.reporting) for v, cs in read for c in cs])
    assert np.array_equal(got, expected)
    modifiers = [c.text(docs[0]) for c, row in zip(read[0][1], got) if row[NAMES.index("modifies_asked")]]
    assert "Norwegian" in modifiers  # of "minister", a word the question uses


def test_sentences_without_candidates_and_a_question_without_words(service):
    q, read = views(service, "What?")
    assert not (q.content | q.subject)
    read = [(v, cs) if i % 2 else (v, []) for i, (v, cs) in enumerate(read)]
    got = features.matrix(q, read, service.reader.reporting)
    expected = np.array([scalar(q, c, v, service.reader.reporting) for v, cs in read for c in cs])
    assert np.array_equal(got, expected) and not got[:, NAMES.index("window10")].any()
    assert features.matrix(q, [(v, []) for v, _ in read], service.reader.reporting).shape == (0, len(NAMES))


def test_the_reader_ranks_with_the_matrix(service):
    # tokens from qa.text, as the service passes them
    text = QUESTIONS[0]
    q, vector = service.reader.question(text), HashingEmbedder().embed_queries([text])[0]
    hits = service.search(text, 5, "hybrid")
    scored = service.reader.relevance(tokenize(text), vector, hits, text)
    ranked = service.reader.rank(q, scored, vector)
    assert ranked and all(r.features.shape == (len(NAMES),) for r in ranked)
    p = service.reader.scorer.probability(np.stack([r.features for r in ranked]))
    # (the softmax here sums in the ranked order, not the reader's: equal to the last bits)
    assert [r.probability for r in ranked] == pytest.approx(p.tolist(), rel=1e-12, abs=0)
    assert [r.probability for r in ranked] == sorted((r.probability for r in ranked), reverse=True)
