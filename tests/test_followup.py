"""Follow-up reading (qa/followup.py) on threads written for the test, parsed by the real question pipeline."""

import pytest

from qa import nlp
from qa.followup import Reading, Turn, read_followup


@pytest.fixture(scope="module")
def read():
    pipeline = nlp.load_for_questions("en_core_web_sm")
    return lambda question, before, answer: read_followup(pipeline, question, Turn(before, answer))


# ------------------------------------------------------------------ pronouns
def test_it_is_the_previous_answer_when_that_answered_with_a_thing(read):
    r = read("and what did the ferry union say about it?", "What did the harbour board agree to?",
             "a two-year toll freeze")
    assert r == Reading("and what did the ferry union say about it?",
                        "what did the ferry union say about a two-year toll freeze?", (("it", "a two-year toll freeze"),))
    assert r.changed


def test_it_is_a_phrase_of_the_previous_question_when_the_answer_was_a_date(read):
    r = read("how much will it raise?", "When did the Velmora council vote on the bridge levy?", "3 March")
    assert (r.text, r.resolved) == ("how much will the bridge levy raise?", (("it", "the bridge levy"),))
    r = read("what ended it?", "How long did the Tarrow ferry strike last?", "nine days")
    assert r.text == "what ended the Tarrow ferry strike?"


def test_she_and_her_are_the_person_who_answered_who(read):
    r = read("what did she say about the tolls?", "Who chaired the lighthouse inquiry in Dunmore?", "Maren Oakes")
    assert (r.text, r.resolved) == ("what did Maren Oakes say about the tolls?", (("she", "Maren Oakes"),))
    r = read("what is her background?", "Who replaced the harbour master in Dunmore?", "Ines Carrow")
    assert (r.text, r.resolved) == ("what is Ines Carrow's background?", (("her", "Ines Carrow's"),))
    assert read("He resigned?", "Who leads the Saltmere rescue service?", "Tomas Hale").text == "Tomas Hale resigned?"


def test_he_is_the_person_named_in_the_previous_question_when_it_went_unanswered(read):
    r = read("what did he promise?", "Who did the mayor of Tarrow meet?", None)
    assert (r.text, r.resolved) == ("what did the mayor of Tarrow promise?", (("he", "the mayor of Tarrow"),))


def test_they_is_a_plural_answer_or_the_previous_questions_plural_subject(read):
    r = read("what did they ask for?", "Who did the mayor of Tarrow meet?", "the fishing cooperatives")
    assert r.text == "what did the fishing cooperatives ask for?"
    r = read("what did they demand?", "Where did the ferry workers strike?", "Port Alder")  # a place is not "they"
    assert (r.text, r.resolved) == ("what did the ferry workers demand?", (("they", "the ferry workers"),))
    r = read("when did they sign it?", "Who signed the Brantholm water accord?", "the three river districts")
    assert r.text == "when did the three river districts sign the Brantholm water accord?"
    assert r.resolved == (("they", "the three river districts"), ("it", "the Brantholm water accord"))


# ------------------------------------------------------------------ there, then, "when was that?"
def test_there_is_the_place_answered_or_the_place_the_previous_question_named(read):
    r = read("how many boats were stuck there?", "Where did the ferry workers strike?", "Port Alder")
    assert (r.text, r.resolved) == ("how many boats were stuck in Port Alder?", (("there", "in Port Alder"),))
    r = read("who was arrested there?", "Who chaired the lighthouse inquiry in Dunmore?", "Maren Oakes")
    assert (r.text, r.resolved) == ("who was arrested in Dunmore?", (("there", "in Dunmore"),))
    r = read("how many people live there?", "Which towns did the Quarrow flood reach?", "Elmsby and Fenwick")
    assert r.text == "how many people live in Elmsby and Fenwick?"


def test_then_is_the_date_answered_with_its_preposition(read):
    before = "When did the Velmora council vote on the bridge levy?"
    assert read("what happened then?", before, "3 March").resolved == (("then", "on 3 March"),)
    assert read("what happened then?", before, "3 March").text == "what happened on 3 March?"
    assert read("who objected then?", before, "in May 2024").text == "who objected in May 2024?"
    assert read("who objected then?", before, "2023").text == "who objected in 2023?"
    assert read("who objected then?", before, "last week").text == "who objected last week?"
    r = read("who opposed it then?", "What did Ines Carrow announce in 2025?", "a dredging plan")
    assert (r.text, r.resolved) == ("who opposed a dredging plan in 2025?",
                                    (("it", "a dredging plan"), ("then", "in 2025")))


def test_when_was_that_asks_about_the_previous_event_with_its_answer_in_place(read):
    r = read("when was that?", "What did the harbour board agree to?", "a two-year toll freeze")
    assert r.text == "when did the harbour board agree to a two-year toll freeze?"
    assert r.resolved == (("that", "did the harbour board agree to a two-year toll freeze"),)
    assert read("When was that?", "Who chaired the lighthouse inquiry in Dunmore?", "Maren Oakes").text == \
        "When did Maren Oakes chair the lighthouse inquiry in Dunmore?"
    assert read("why did that happen?", "Where did the ferry workers strike?", "Port Alder").text == \
        "why did the ferry workers strike in Port Alder?"
    assert read("when was that?", "Did the Kelso terminal reopen?", "reopened on Monday").text == \
        "when did the Kelso terminal reopen?"


# ------------------------------------------------------------------ asked as it is
def test_a_follow_up_naming_its_own_subject_is_asked_as_it_is(read):
    before, answer = "Who did the mayor of Tarrow meet?", "Idris Vance"
    for own in ("What did the Tarrow council decide about the harbour?",
                "what did the mayor of Tarrow say about his plan?",  # "his": the mayor, named in the question
                "what should I read about the levy?",  # first person: the asker, not the thread
                "Is there a deadline?"):  # existential "there": no place
        assert read(own, before, answer) == Reading(own, own, ())
        assert not read(own, before, answer).changed


def test_an_answer_too_long_for_a_phrase_gives_way_to_the_previous_questions_own(read):
    quote = "the pier would stay shut until the inspectors had checked every one of its timber piles again"
    r = read("who objected to it?", "What did the Saltmere harbour board announce about the old pier?", quote)
    assert (r.text, r.resolved) == ("who objected to the old pier?", (("it", "the old pier"),))
    r = read("who objected to it?", "What did the Saltmere harbour board announce about the old pier?", "a closure")
    assert r.text == "who objected to a closure?"


def test_a_pronoun_with_nothing_of_its_kind_before_it_is_left_as_it_is(read):
    # The previous turn named no person: "she" stays, and the question is asked as typed.
    r = read("what did she decide?", "When did the Velmora council vote on the bridge levy?", "3 March")
    assert r == Reading("what did she decide?", "what did she decide?", ())
