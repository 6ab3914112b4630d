import numpy as np
import pytest

from qa.read import Reader, ReaderParams, ScoredSentence, _shared_core, continues, core
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


def _tiny_service(tmp_path_factory, name: str, texts: dict[str, str], threshold: float):
    """A service over a few articles written for the test, with the hashing embedder."""
    from qa.embed import HashingEmbedder
    from qa.service import QAService
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp(name)
    (tmp / "seeds").mkdir()
    for file, text in texts.items():
        (tmp / "seeds" / file).write_text(text + "\n")
    settings = make_settings(tmp, seeds_dir=tmp / "seeds", model="hashing-test-embedder", abstain_threshold=threshold)
    return QAService.open(settings, embedder=HashingEmbedder())


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    return _tiny_service(tmp_path_factory, "voices", VOICES, 0.1)


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


REPEATED = {
    "e.txt": ("Spokeswoman Maria Lind said the mayor would call Ostrova after the vote. "
              "She also repeated that the mayor was \"very frustrated with the council\" but hopeful."),
}


def test_a_pronoun_speaks_for_the_speaker_of_the_sentence_before(tmp_path_factory):
    # "She" is Lind, who spoke in the sentence before; Ostrova is only named there, not speaking.
    service = _tiny_service(tmp_path_factory, "repeated", REPEATED, 0.1)
    reading = _read_with_scores(service, "What did Ostrova say after the vote?", [(0, 0.8), (1, 0.7)])
    assert reading.abstained
    reading = _read_with_scores(service, "What did Lind say about the mayor?", [(0, 0.8), (1, 0.7)])
    assert [a.text for a in reading.answers] == ["the mayor would call Ostrova after the vote",
                                                 "very frustrated with the council"]


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
    return _tiny_service(tmp_path_factory, "summit", SUMMIT, 0.3)


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


# ---------------------------------------------------------------- a sentence that goes on from the one before
STORM = {
    "d.txt": ("The strongest storm of the decade battered the northern coast on Sunday, the weather office said. "
              "The gales hit several areas, including Alna, Brevik, and Corran. Rail services resumed on Monday."),
}


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    return _tiny_service(tmp_path_factory, "storm", STORM, 0.3)


@pytest.mark.parametrize("text, expected", [
    ("The gales hit several areas.", True),
    ("He said the port would reopen.", True),
    ("\u201cThey left at dawn,\u201d she said.", True),
    ("These talks failed.", True),
    ("The Kremlin said the call was useful.", False),  # "The" with a name starts afresh
    ("Officials opened shelters.", False),
    ("Theodore Lind spoke first.", False),
])
def test_continues_knows_a_sentence_that_points_back(text, expected):
    assert continues(text) is expected


def test_a_sentence_pointing_back_scores_with_the_one_before(storm):
    s = storm.index.sentences
    lifted = storm.reader._continued([ScoredSentence(s[0], 0.6, 0.6, 0.6), ScoredSentence(s[1], 0.2, 0.2, 0.2),
                                      ScoredSentence(s[2], 0.1, 0.1, 0.1)])
    assert [round(x.score, 3) for x in lifted] == [0.6, 0.42, 0.1]  # 0.7 x 0.6; "Rail services" starts afresh
    assert lifted[1].lexical == 0.2  # its own figures are kept
    # the list, said in the sentence after the one naming the storm, answers the question about the storm
    question = "Which towns did the strongest storm of the decade hit?"
    reading = _read_with_scores(storm, question, [(0, 0.6), (1, 0.42), (2, 0.1)])
    assert reading.answers[0].text == "Alna, Brevik, and Corran"
    assert [m.text for m in reading.answers[0].items] == ["Alna", "Brevik", "Corran"]
    # scored on its own (0.2, under the threshold of 0.3) it would not be read for the list
    reading = _read_with_scores(storm, question, [(0, 0.6), (1, 0.2), (2, 0.1)])
    assert reading.abstained
