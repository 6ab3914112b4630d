import numpy as np
import pytest

from qa.read import Reader, ReaderParams, _shared_core, core
from qa.text import tokenize


def test_core_strips_edge_quotes_and_final_punctuation():
    assert core('"The tone and spirit of the conversation were excellent,"') == (
        "The tone and spirit of the conversation were excellent")


def test_shared_core_needs_whole_containment_and_four_words():
    a = "The tone and spirit of the conversation were excellent."
    b = '"The tone and spirit of the conversation were excellent," Trump wrote on social media.'
    assert _shared_core(a, b) == "The tone and spirit of the conversation were excellent"
    assert _shared_core("Talks began.", "Talks began today.") is None  # too short to be the same report
    assert _shared_core("Putin spoke with Trump.", "Trump spoke with Putin for hours.") is None


def test_answers_are_verbatim_with_valid_citations(fake_service):
    result = fake_service.ask("How many drones did Russia fire overnight?", top_k=3)
    assert not result.abstained
    assert "112 drones" in result.answers[0].text
    for answer in result.answers:
        for c in answer.citations:
            text = fake_service.index.articles[c.doc_id].text
            assert text[c.start:c.end] == c.quote
            assert answer.text in c.quote


def test_the_same_words_from_two_outlets_become_one_answer_with_two_citations(fake_service):
    result = fake_service.ask("How was the tone and spirit of the conversation?", top_k=3)
    merged = [a for a in result.answers if len(a.citations) > 1]
    assert merged, [a.text for a in result.answers]
    assert merged[0].text == "The tone and spirit of the conversation were excellent"
    assert {c.doc_id[:3] for c in merged[0].citations} == {"000", "001"}


def test_abstains_below_the_threshold_and_answers_above_it(fake_service):
    hits = fake_service.search("drones overnight", 5, "hybrid")
    vector = fake_service.embedder.embed_queries(["drones overnight"])[0]
    args = ("drones overnight", tokenize("drones overnight"), vector, hits, 2)
    strict = Reader(fake_service.index, fake_service.retriever.idf, ReaderParams(abstain_threshold=0.99), tokenize)
    lenient = Reader(fake_service.index, fake_service.retriever.idf, ReaderParams(abstain_threshold=0.0), tokenize)
    no, yes = strict.read(*args), lenient.read(*args)
    assert no.abstained and no.answers == () and no.confidence == yes.confidence > 0
    assert not yes.abstained and len(yes.answers) == 2


def test_negated_sentences_are_damped_except_for_yes_no_questions(fake_service):
    reader = fake_service.reader
    hits = fake_service.search("Putin agree immediate ceasefire", 5, "bm25")
    q_tokens = tokenize("What did Putin agree to?")
    by_text = {s.sentence.text: s for s in reader.score("What did Putin agree to?", q_tokens, None, hits)}
    yes_no = {s.sentence.text: s for s in reader.score("Did Putin agree to a ceasefire?", q_tokens, None, hits)}
    negated = next(t for t in by_text if t.startswith("Putin did not agree"))
    assert by_text[negated].score == pytest.approx(0.75 * yes_no[negated].score)


def test_lexical_only_reading_without_a_vector(fake_service):
    hits = fake_service.search("drones overnight", 3, "bm25")
    reading = fake_service.reader.read("drones overnight", tokenize("drones overnight"), None, hits, 1)
    top = reading.scored[0]
    assert top.dense == 0.0 and top.score == pytest.approx(top.lexical)


# ---------------------------------------------------------------- whose words a "said" answer is
VOICES = {
    "a.txt": ("Talks resumed in Geneva on Tuesday. Spokeswoman Maria Lind said the mayor would call "
              "Ostrova after his meeting with the council. The council met for an hour."),
    "b.txt": ("Ostrova spoke to the press after the meeting. \"We will rebuild the bridge by June,\" she said. "
              "The council approved the budget."),
}


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    from qa.embed import HashingEmbedder
    from qa.service import QAService
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("voices")
    seeds = tmp / "seeds"
    seeds.mkdir()
    for name, text in VOICES.items():
        (seeds / name).write_text(text + "\n")
    settings = make_settings(tmp, seeds_dir=seeds, model="hashing-test-embedder", abstain_threshold=0.1)
    return QAService.open(settings, embedder=HashingEmbedder())


def test_a_said_answer_is_the_named_subjects_own_words(voices):
    # Lind's sentence shares the most words with the question and names Ostrova, but it is Lind's
    # report: never given as Ostrova's words.
    result = voices.ask("What did Ostrova say after his meeting with the council?", mode="bm25", top_k=5)
    assert result.abstained and result.abstain_reason == "not_in_corpus"
    lenient = Reader(voices.index, voices.retriever.idf, ReaderParams(abstain_threshold=0.0, needs_span=False), tokenize)
    q = "What did Ostrova say after his meeting with the council?"
    reading = lenient.read(q, tokenize(q), None, voices.search(q, 5, "bm25"), 5)
    assert reading.answers and all("Lind" not in a.context for a in reading.answers)
    result = voices.ask("What did Ostrova say about the bridge?", mode="bm25")
    assert result.answers[0].text == "We will rebuild the bridge by June"
    assert result.answers[0].speaker.text == "Ostrova"


def test_a_said_question_whose_subject_says_nothing_here_abstains(voices):
    result = voices.ask("What did Lind say about the bridge budget?", mode="bm25")
    assert result.abstained or all("Lind" in a.context for a in result.answers)
    result = voices.ask("What did Petrov say about the council meeting?", mode="bm25")
    assert result.abstained and result.abstain_reason == "not_in_corpus"


# ---------------------------------------------------------------- typed questions need their type
SUMMIT = {
    "c.txt": ("The Oslo summit drew protests. The Oslo summit ended after about three hours, officials said. "
              "Delegates at the Oslo summit praised the hosts."),
}


@pytest.fixture(scope="module")
def summit(tmp_path_factory):
    from qa.embed import HashingEmbedder
    from qa.service import QAService
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("summit")
    (tmp / "seeds").mkdir()
    for name, text in SUMMIT.items():
        (tmp / "seeds" / name).write_text(text + "\n")
    settings = make_settings(tmp, seeds_dir=tmp / "seeds", model="hashing-test-embedder", abstain_threshold=0.3)
    return QAService.open(settings, embedder=HashingEmbedder())


def _read_with_scores(service, question, scores):
    """The reader on the summit article's sentences, scored as given (best first)."""
    from qa.read import ScoredSentence

    reader = service.reader
    sentences = service.index.sentences
    crafted = [ScoredSentence(sentences[i], s, s, s) for i, s in scores]
    reader_score = reader.score
    reader.score = lambda *a: crafted
    try:
        return reader.read(question, tokenize(question), None, [], 3)
    finally:
        reader.score = reader_score


def test_a_typed_question_is_answered_by_a_close_second_sentence_holding_its_type(summit):
    # The best sentence holds no duration; the second, nearly as good, has one right after the question's words.
    reading = _read_with_scores(summit, "How long did the Oslo summit last?", [(0, 0.60), (1, 0.50), (2, 0.40)])
    assert not reading.abstained and reading.answers[0].text == "about three hours"


def test_a_typed_question_abstains_when_only_a_weak_sentence_holds_its_type(summit):
    reading = _read_with_scores(summit, "How long did the Oslo summit last?", [(0, 0.60), (2, 0.55), (1, 0.40)])
    assert reading.abstained and reading.abstain_reason == "not_in_corpus" and reading.answers == ()


def test_what_did_x_verb_abstains_when_no_sentence_holds_the_verb(voices):
    from dataclasses import replace

    q = "What did Ostrova promise the council after the meeting?"
    hits = voices.search(q, 5, "bm25")
    params = replace(voices.reader.params, abstain_threshold=0.0)
    strict = Reader(voices.index, voices.retriever.idf, params, tokenize)
    lenient = Reader(voices.index, voices.retriever.idf, replace(params, needs_span=False), tokenize)
    no, yes = strict.read(q, tokenize(q), None, hits, 3), lenient.read(q, tokenize(q), None, hits, 3)
    assert no.abstained and no.abstain_reason == "not_in_corpus"
    # Without the rule the best sentence, which says nothing of a promise, would be the answer.
    assert not yes.abstained and yes.answers[0].text == yes.answers[0].context


def test_a_list_question_needs_an_enumeration(summit):
    from dataclasses import replace

    reading = _read_with_scores(summit, "Which protesters did the Oslo summit draw?", [(0, 0.60), (2, 0.50)])
    assert reading.abstained and reading.abstain_reason == "not_in_corpus"
    summit.reader.params = replace(summit.reader.params, needs_span=False)
    try:
        reading = _read_with_scores(summit, "Which protesters did the Oslo summit draw?", [(0, 0.60), (2, 0.50)])
    finally:
        summit.reader.params = replace(summit.reader.params, needs_span=True)
    assert not reading.abstained and reading.answers[0].text == "The Oslo summit drew protests."
