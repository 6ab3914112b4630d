"""Each row of qa.spans.RULES on small sentences written for these tests, with exact spans."""

import pytest

from qa.spans import RULES, Passage, extract, parse, same_stem, same_value, stem


def cut(question: str, sentence: str):
    """The best candidate's words, rule and label, or None when the rule finds nothing."""
    found = extract(parse(question), Passage.of(sentence, 0, len(sentence)))
    if not found:
        return None
    c = found[0]
    return sentence[c.start : c.end], c.rule, c.label


@pytest.mark.parametrize("question, kind", [
    ("Did the minister resign?", "yes_no"),
    ("Is the bridge open?", "yes_no"),
    ("Which cities did the storm hit?", "list"),
    ("What kind of deal did the unions sign?", "kind_of"),
    ("What types of ships sank?", "kind_of"),
    ("Name the ministers who resigned.", "list"),
    ("Which news agency reported it?", "who"),
    ("How many ships sank?", "how_many"),
    ("How much did the bridge cost?", "how_much"),
    ("How long did the strike last?", "how_long"),
    ("How quickly did the port reopen?", "how_long"),
    ("How would the city pay for the bridge?", "manner"),
    ("How old is the mayor?", "how_old"),
    ("When did the bridge open?", "when"),
    ("On what day did the strike end?", "when"),
    ("Where did the ministers meet?", "where"),
    ("In which city did they meet?", "where"),
    ("In which regions did the floods strike?", "where"),
    ("What did the mayor say about the bridge?", "said"),
    ("How did the mayor describe the bridge?", "said"),
    ("What did the unions agree to?", "object"),
    ("Who opened the bridge?", "who"),
    ("Why did the bridge close?", "other"),
    ("What is a bridge?", "other"),
])
def test_parse_finds_the_kind_from_the_question_form(question, kind):
    assert parse(question).kind == kind


def test_parse_reads_verb_particle_subject_and_focus():
    q = parse("What did European leaders urge Trump to do?")
    assert (q.verb, q.particle, set(q.subject)) == ("urg", "to", {"european", "leader"})
    q = parse("How many prisoners of war did each side release?")
    assert (q.kind, q.focus, q.verb) == ("how_many", ("prison", "war"), "releas")
    assert parse("Who hosted the talks?").verb == "host"


def test_what_did_x_want_y_to_do_asks_for_the_second_verbs_object():
    q = parse("What did the unions want the Mayor to cut?")
    assert (q.kind, q.verb, set(q.subject)) == ("object", "cut", {"union"})
    assert parse("What did the unions urge Lind to do?").verb == "urg"  # "to do": the first verb's complement
    sentence = "The unions have pressed the mayor to join them in cutting the new toll on drivers."
    c = extract(q, Passage.of(sentence, 0, len(sentence)))[0]
    assert sentence[c.start : c.end] == "the new toll on drivers"


def test_a_noun_run_before_of_or_who_is_the_subject_not_the_verb():
    # "the strongest storm of the decade" names a thing; the action asked about comes after it
    assert parse("Which towns did the strongest storm of the decade hit?").verb == "hit"
    assert parse("What is the name of the Danish prime minister who opened the summit?").verb == "open"
    assert parse("What did the leaders agree to?").verb == "agre"  # one run: it is the verb


@pytest.mark.parametrize("question, sentence, expected", [
    # who
    ("Who hosted the summit?", "The summit hosted by Norway's foreign minister was short.",
     ("Norway's foreign minister", "who_agent", None)),
    ("Who did the king appoint?", "The king declined and appointed his aide, Olaf Berg, to lead.",
     ("Olaf Berg", "who_object", None)),
    ("Who heads the Energy Council?", '"Prices will fall," Ivan Lind, head of the Energy Council, said.',
     ("Ivan Lind", "who_subject", None)),
    ("Who is the harbour master?", "Meanwhile, harbour master Anna Holt closed the port on Friday.",
     ("Anna Holt", "who_object", None)),
    ("Who did the mayor call?", "The mayor called Chief Ana Ruiz, Judge Tom Bell, and Senator Lee Park.",
     ("Chief Ana Ruiz, Judge Tom Bell, and Senator Lee Park", "who_list", None)),
    # where: after the question's verb, the last of a chain of places; near the question's words
    ("Where did the minister speak from?", "The minister was speaking from Norway's Arctic port in Tromso, while "
     "the king was in Oslo.", ("Tromso", "where_verb", None)),
    ("Where was the king during the storm?", "The minister was in Tromso, while the king was in Oslo.",
     ("Oslo", "where_verb", None)),
    ("Where do the ministers live?", "Earlier in Bergen, the ministers met.", ("Bergen", "where_place", 0.25)),
    # when
    ("When did the strike end?", "The strike ended on Friday after talks in Oslo.", ("Friday", "when_verb", None)),
    ("When was the port closed?", "Anna Holt closed the port Monday morning.", ("Monday", "when_verb", None)),
    ("Which news agency reported the vote?", "Mayor Ivan Lind won, the state news agency Baltinfo reported.",
     ("Baltinfo", "who_typed", None)),  # the name called what the question asks for, not the nearest
    ("In which regions did the army capture villages?",
     "The army captured two villages in Norway's northern Alna and Brevik districts.",
     ("Alna and Brevik", "where_verb", None)),  # places joined by "and" answer together
    ("Who did the mayor meet in Oslo?", "In Oslo, the mayor met with Ola Berg and UN Envoy of Peace Kari Lund, as well as others.",
     ("Ola Berg and UN Envoy of Peace Kari Lund", "who_object", None)),  # names joined by "and" answer together
    ("How did the city pay for the bridge?", "The city paid for the bridge through a new toll on drivers, officials said.",
     ("through a new toll on drivers", "manner_means", None)),
    # kind of
    ("What kind of deal did the unions sign?", 'The unions signed a "final" deal of three clauses on Friday.',
     ('a "final" deal of three clauses', "kind_of_verb", None)),
    ("What kind of truce did the mayor demand?", "The mayor pressed for a full and lasting truce before the vote.",
     ("a full and lasting truce", "kind_of_noun", None)),
    ("When did the mayor have the tense budget meeting?",
     "The mayor met on Sunday with unions, their first talks since the tense budget meeting in March.",
     ("March", "when_date", None)),  # as near to a question word as "Sunday", with more of them close by
    # how many / much / long / old
    ("How many prisoners of war were freed?", "Both sides freed 1,000 prisoners of war on Friday.",
     ("1,000 prisoners of war", "how_many_number", None)),
    ("How many of the ships were repelled?", "They sent 112 ships, 76 of which were repelled.",
     ("76", "how_many_number", None)),
    ("How many of the ships the navy sent overnight did officials say were repelled?",
     "The navy sent 112 ships overnight, 76 of which were repelled, officials said.",
     ("76", "how_many_number", None)),  # "112 ships" is the whole the question takes a part of
    ("How much does the pass cost?", "The pass costs $2 a month, up 5 percent.", ("$2", "how_much_amount", None)),
    ("How long did the strike last?", "The strike lasted more than two hours.",
     ("more than two hours", "how_long_duration", None)),
    ("How old is the mayor?", "The 61-year-old mayor resigned.", ("61-year-old", "how_old_age", None)),
    # said: the quoted words nearest the question's words, else the reported clause
    ("What did the mayor say about the bridge?", 'The mayor said the bridge was "perfectly safe" and "cheap."',
     ("perfectly safe", "said_quote", None)),
    ("What did Holt say about the port?", "Asked about the port, Holt said everything is under control.",
     ("everything is under control", "said_clause", None)),
    ("What did Holt tell the mayor?", "Holt told the mayor that the port would reopen.",
     ("the port would reopen", "said_clause", None)),
    # object: the complement of an asserted occurrence of the verb
    ("What did the unions agree to?", "We have agreed with the city that the unions are ready to end the strike "
     "on Friday, which pleased everyone.", ("to end the strike on Friday", "object_complement", None)),
    ("What did the unions agree to?", "The unions agreed to a new contract this week.",
     ("a new contract this week", "object_complement", None)),
    ("What did the city propose?", "After the city proposed to hold talks in Oslo, the unions agreed.",
     ("to hold talks in Oslo", "object_complement", None)),
    # yes / no: the clause holding every word of the question, its verb asserted
    ("Did the mayor approve the budget?", "The mayor did not approve the budget, which angered the unions.",
     ("The mayor did not approve the budget", "yes_no_clause", "No")),
    ("Did the mayor approve the budget?", "After a vote, the mayor approved the budget.",
     ("the mayor approved the budget", "yes_no_clause", "Yes")),
    ("Did the sides agree to a truce?", "Both sides failed to agree to a truce.",
     ("Both sides failed to agree to a truce", "yes_no_clause", "No")),
    ("Did Holt meet the mayor?", "Holt met the mayor on Friday.", ("Holt met the mayor", "yes_no_clause", "Yes")),
    # list: the enumeration after the question's verb, without the list's head and appositives
    ("Which cities did the storm hit?", "The storm hit several cities, including Oslo, Bergen, and Tromso.",
     ("Oslo, Bergen, and Tromso", "list_items", None)),
    ("Which leaders did the king inform?", "I informed President Ana Ruiz, of Spain, Chancellor Tom Bell, of "
     "Austria, and Premier Lee Park, during a call.", ("President Ana Ruiz, of Spain, Chancellor Tom Bell, of "
                                                       "Austria, and Premier Lee Park", "list_items", None)),
])
def test_each_rule_cuts_its_span(question, sentence, expected):
    words, rule, label_or_score = expected
    got = cut(question, sentence)
    assert got is not None and got[:2] == (words, rule), got
    if isinstance(label_or_score, str):
        assert got[2] == label_or_score


@pytest.mark.parametrize("question, sentence", [
    ("How many ships sank?", "The storm hit Oslo on Friday."),  # no number
    ("Where did the ministers meet?", "The ministers met on Friday."),  # no place
    ("When did the port close?", "The port closed after the storm."),  # no date
    ("What did the unions agree to?", "The unions did not agree to a truce."),  # negated: no agreement
    ("What did the unions agree to?", "The city hopes to get the unions to agree to a truce."),  # a wish
    ("What did the city propose?", "The unions rejected a proposal from the city."),  # the noun, not the verb
    ("Did the mayor approve the budget?", "The mayor spoke on Friday."),  # the evidence must state it
    ("Did the mayor approve the budget?", "If the mayor approves the budget, the unions will strike."),
    ("Which cities did the storm hit?", "The storm hit Oslo."),  # one item is no list
    ("Who won the race?", "The race was cancelled."),  # no name
    ("Why did the bridge close?", "The bridge closed on Friday."),  # no rule for why: the sentence stays
])
def test_a_rule_that_finds_nothing_leaves_the_sentence(question, sentence):
    assert cut(question, sentence) is None


def test_list_candidates_carry_each_item():
    sentence = "The storm hit several cities, including Oslo, Bergen, and Tromso."
    c = extract(parse("Which cities did the storm hit?"), Passage.of(sentence, 0, len(sentence)))[0]
    assert [sentence[a:b] for a, b in c.parts] == ["Oslo", "Bergen", "Tromso"]


def test_an_abbreviation_is_one_word_in_the_question_as_in_the_sentence():
    sentence = "The vote was calm, with U.N. monitors also attending."
    q = parse("Did U.N. monitors attend the vote?")
    assert "u" in q.stems and "n" not in q.stems  # "U.N." is one word, stemmed "u", as the articles' words are
    assert extract(q, Passage.of(sentence, 0, len(sentence)))[0].label == "Yes"


def test_a_place_far_from_every_question_word_is_no_answer():
    sentence = ("The mayor signed the deal on Friday after weeks of long and difficult talks with unions, "
                "lawyers, bankers and several of the largest employers in Oslo.")
    assert extract(parse("Where did the mayor sign the deal?"), Passage.of(sentence, 0, len(sentence))) == []
    near = "The mayor signed the deal in Oslo on Friday."
    assert extract(parse("Where did the mayor sign the deal?"), Passage.of(near, 0, len(near)))[0].rule == "where_verb"


def test_a_rate_answers_only_a_question_asking_for_one():
    sentence = "The war is killing, on average, more than 5000 soldiers a week, the mayor said."
    since = parse("How many soldiers have been killed since the war began?")
    assert extract(since, Passage.of(sentence, 0, len(sentence))) == []  # a week's toll is not the total
    c = extract(parse("How many soldiers is the war killing each week?"), Passage.of(sentence, 0, len(sentence)))[0]
    assert sentence[c.start : c.end] == "more than 5000 soldiers"


def test_a_bare_noun_says_nothing_of_its_kind():
    sentence = "Talks between Danish and Swedish delegations ended early."
    assert extract(parse("What kind of delegation did Norway send?"), Passage.of(sentence, 0, len(sentence))) == []


def test_a_leading_source_does_not_hide_the_question_form():
    q = parse("According to the mayor, how many ships did the storm sink?")
    assert (q.kind, q.focus) == ("how_many", ("ship",))
    assert {"mayor", "ship", "storm"} <= q.stems  # the source still counts for search and scoring


def test_list_items_skip_introducing_words_and_may_run_to_eight_words():
    sentence = ("The plan sets out several goals, such as, for example, the repair of the old harbour, "
                "the building of a new northern bridge, the mayor said.")
    c = extract(parse("What goals does the plan set out?"), Passage.of(sentence, 0, len(sentence)))[0]
    assert [sentence[a:b] for a, b in c.parts] == ["the repair of the old harbour", "the building of a new northern bridge"]


def test_a_list_introduced_by_including_leaves_its_head_out():
    # the head ("several areas") is left out whatever noun the question used for it
    sentence = "The gales hit several areas, including Alna, Brevik, and Corran."
    c = extract(parse("Which towns did the storm hit?"), Passage.of(sentence, 0, len(sentence)))[0]
    assert [sentence[a:b] for a, b in c.parts] == ["Alna", "Brevik", "Corran"]


def test_spans_are_offsets_into_the_whole_article_text():
    text = "Headline\nThe strike lasted more than two hours. It ended on Friday."
    start = text.index("The strike")
    c = extract(parse("How long did the strike last?"), Passage.of(text, start, text.index(" It ended")))[0]
    assert text[c.start : c.end] == "more than two hours" and c.start > start


def test_every_rule_of_the_table_is_exercised_here():
    tested = {parse(q).kind for q, _, _ in test_each_rule_cuts_its_span.pytestmark[0].args[1]}
    assert tested == {r.kind for r in RULES}


def test_stems_bring_irregular_verbs_and_demonyms_together():
    assert stem("spoke") == stem("speak") == "speak"
    assert same_stem(stem("Russian"), stem("Russia")) and not same_stem(stem("agree"), stem("agreement"))


def test_same_value_compares_quantities_and_days():
    assert same_value("how_long", "more than two hours", None, "over-two-hour-long", None)
    assert not same_value("how_long", "more than two hours", None, "approximately two and a half hours", None)
    assert same_value("when", "Monday", "2025-05-19", "May 19", None)
    assert same_value("when", "Monday", "2025-05-19", "Monday", None)
    assert not same_value("when", "Sunday", "2025-05-19", "Monday", "2025-05-19")


def test_a_day_question_takes_no_clock_time_and_a_time_question_prefers_one():
    sentence = "The talks began at 10 a.m. on Monday."
    assert cut("On what day did the talks begin?", sentence)[0] == "Monday"
    assert cut("At what time did the talks begin?", sentence)[0] == "10 a.m."


def test_an_object_from_a_sentence_naming_the_subject_is_surer():
    q = parse("What did the mayor agree to?")
    named = "The mayor agreed to a new budget."
    other = "Both sides agreed to a new budget."
    assert extract(q, Passage.of(named, 0, len(named)))[0].score == 1.0
    assert extract(q, Passage.of(other, 0, len(other)))[0].score == 0.5


def test_auxiliaries_after_what_are_not_plural_nouns():
    # "was", "does", "has" end in s but are verbs: these questions ask for one thing, not a list.
    from qa.spans import parse

    assert parse("What was the tone of the call?").kind != "list"
    assert parse("What does Ukraine insist on?").kind != "list"
    assert parse("Which leaders did Trump inform?").kind == "list"
    assert parse("What was the name of the town?").kind == "who"


def test_a_demonym_matches_the_place_it_names_and_nothing_else():
    from qa.spans import same_stem, stem

    assert same_stem(stem("Turkish"), stem("Turkey")) and same_stem(stem("British"), stem("Britain"))
    assert same_stem(stem("Russian"), stem("Russia"))
    assert not same_stem(stem("published"), stem("public")) and not same_stem(stem("finish"), stem("final"))


def test_a_span_made_of_the_questions_own_words_is_no_answer():
    from qa.spans import Passage, extract, parse

    text = "The talks hosted by Turkey's foreign minister lasted an hour."
    q = parse("Who is the Turkish foreign minister who hosted the talks?")
    assert all(text[c.start:c.end] != "Turkey's foreign minister" for c in extract(q, Passage.of(text, 0, len(text))))
    text = "The talks were hosted by Hakan Fidan, Turkey's foreign minister."
    found = extract(q, Passage.of(text, 0, len(text)))
    assert found and text[found[0].start:found[0].end] == "Hakan Fidan"


def test_what_did_x_say_reads_say_as_the_verb_and_x_as_the_subject():
    from qa.spans import parse

    q = parse("What did Ostrova say about the bridge?")
    assert (q.kind, q.verb, q.subject) == ("said", "say", frozenset({"ostrova"}))


def test_a_saying_word_used_as_a_noun_introduces_no_reported_clause():
    from qa.spans import Passage, extract, parse

    q = parse("What did Ostrova say after the vote?")
    text = "Ostrova will meet the press when the call concludes."
    assert extract(q, Passage.of(text, 0, len(text))) == []
    text = "Ostrova said the vote was fair."
    found = extract(q, Passage.of(text, 0, len(text)))
    assert text[found[0].start:found[0].end] == "the vote was fair"


def test_a_coordinated_saying_verb_reports_its_clauses_subject_up_to_the_clause_end():
    from qa.spans import Passage, extract, parse

    q = parse("What did Ostrova declare at the summit?")
    assert (q.verb, q.subject) == ("declar", frozenset({"ostrova"}))
    text = ("At the summit, which Lind hosted, Ostrova rejected the offer of a loan but declared a freeze on "
            "new tolls, which the council opposed.")
    found = extract(q, Passage.of(text, 0, len(text)))
    assert found and text[found[0].start:found[0].end] == "a freeze on new tolls"
    # Someone else's coordinated verb is not the subject's claim.
    text = "Ostrova spoke first. Lind rejected the offer but declared a freeze on new tolls."
    start = text.index("Lind")
    assert extract(q, Passage.of(text, start, len(text))) == []


def test_who_did_it_is_also_the_one_appointed_to_do_it():
    from qa.spans import Passage, extract, parse

    q = parse("Who led the delegation at the summit?")
    text = "The minister stayed home and appointed his deputy, Ivo Marsh, to lead the delegation."
    found = extract(q, Passage.of(text, 0, len(text)))
    assert found and (text[found[0].start:found[0].end], found[0].rule) == ("Ivo Marsh", "who_subject")


def test_when_the_doer_is_named_only_as_the_question_names_it_no_other_name_answers():
    from qa.spans import Passage, extract, parse

    q = parse("What is the name of the Turkish foreign minister who hosted the talks?")
    text = "The talks hosted by Turkey's foreign minister were the first between Russia and Ukraine."
    assert extract(q, Passage.of(text, 0, len(text))) == []
