"""Question analysis (qa/read/question.py) on questions written for the test, parsed by the real pipeline."""

import pytest

from qa import nlp
from qa.read.question import analyse


@pytest.fixture(scope="module")
def parse():
    pipeline = nlp.load("en_core_web_sm")
    return lambda text: analyse(pipeline(text))


def test_who_asks_for_a_person_or_organisation_in_the_subject_role(parse):
    q = parse("Who chaired the harbour inquiry?")
    assert q.wh == "who" and {"PERSON", "ORG"} <= q.types and q.role == "nsubj"
    assert q.verb == "chair" and {"harbour", "inquiry"} <= q.content


def test_how_many_keeps_its_counted_noun_and_asks_for_a_number(parse):
    q = parse("How many containers were stranded at the terminal?")
    assert q.wh == "how many" and q.focus == "container" and "CARDINAL" in q.types
    assert not q.plural  # a count, not a list


def test_which_with_a_class_noun_maps_to_entity_labels_and_a_plural_asks_for_a_list(parse):
    q = parse("Which towns did the storm hit?")
    assert q.wh == "which" and q.focus == "town" and "GPE" in q.types and q.plural
    assert q.subject == frozenset({"storm"})


def test_which_with_another_noun_is_open_and_names_its_focus(parse):
    q = parse("Which negotiator signed the accord?")
    assert q.focus == "negotiator" and q.types == frozenset({"PERSON"})
    q = parse("Which treaty did the senators reject?")
    assert q.focus == "treaty" and not q.types and q.loose  # what the sentence calls a treaty decides


def test_an_auxiliary_first_is_a_yes_no_question_and_negation_is_read(parse):
    q = parse("Did the council not approve the budget?")
    assert q.yes_no and q.negated and q.verb == "approve"
    assert parse("Has the bridge reopened?").yes_no


def test_when_and_how_long_ask_for_dates_and_durations(parse):
    assert parse("When will the ferries sail again?").types == frozenset({"DATE", "TIME"})
    q = parse("How long did the blockade last?")
    assert q.wh == "how long" and "TIME" in q.types and "blockade" in q.content and "last" in q.content


def test_what_did_x_say_keeps_the_speaker_as_subject(parse):
    q = parse("What did Governor Amal Tesfaye say about the levees?")
    assert q.wh == "what" and q.verb == "say" and {"amal", "tesfaye"} <= q.subject and not q.typed


def test_a_question_that_refers_by_pronoun_only_is_ambiguous(parse):
    assert parse("What did she announce?").ambiguous
    assert not parse("What did Mayor Ruiz announce?").ambiguous
