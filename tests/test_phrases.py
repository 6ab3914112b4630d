from qa.phrases import (lowercase_words, name_runs, paragraph, phrase_after, quotations, strip_edges, subject_before,
                        tokens)


def texts(text: str, spans) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_tokens_keep_abbreviations_hyphens_possessives_and_thousands_whole():
    text = "U.S. officials' two-hour-long call: Russia's 1,000-for-1,000 swap."
    assert [t.text for t in tokens(text)] == ["U.S", ".", "officials", "'", "two-hour-long", "call", ":",
                                              "Russia's", "1,000-for-1,000", "swap", "."]


def test_paragraph_is_the_line_around_a_position():
    text = "First line.\nSecond line here.\nThird."
    assert texts(text, [paragraph(text, 15)]) == ["Second line here."]


def test_quotations_pair_curly_and_straight_marks_and_keep_nested_quotes_inside():
    text = 'He wrote, "Russia wants TRADE when this \u201cbloodbath\u201d is over." Then \u201cshe said "yes" too\u201d and "open'
    assert texts(text, quotations(text, 0, len(text))) == [
        "Russia wants TRADE when this \u201cbloodbath\u201d is over.", 'she said "yes" too', "open"]


def test_name_runs_join_titles_particles_and_abbreviations_and_stop_before_a_possessive():
    text = "I have so informed President Volodymyr Zelenskyy, Ursula von der Leyen, Mr. Trump and Russia's U.S. envoy."
    assert texts(text, name_runs(text, 0, len(text))) == [
        "President Volodymyr Zelenskyy", "Ursula von der Leyen", "Mr. Trump", "Russia", "U.S."]


def test_subject_before_walks_left_to_punctuation_or_a_clause_word():
    text = '"He is weary," White House press secretary Karoline Leavitt told reporters'
    assert texts(text, [subject_before(text, 0, text.index("told"))]) == ["White House press secretary Karoline Leavitt"]
    text = "Putin thanked Trump and said"
    assert subject_before(text, 0, text.index("said")) is None  # a coordinated verb: no subject of its own


def test_subject_before_skips_an_adverb_and_one_parenthetical():
    text = "Following the call, Trump, in a post on Truth Social, wrote"
    assert texts(text, [subject_before(text, 0, text.index("wrote"))]) == ["Trump"]
    text = "He further wrote"
    assert texts(text, [subject_before(text, 0, text.index("wrote"))]) == ["He"]


def test_phrase_after_stops_at_punctuation_but_not_at_an_abbreviation():
    text = "according to Russia's state-owned news agency TASS, the call"
    assert texts(text, [phrase_after(text, 13, len(text))]) == ["Russia's state-owned news agency TASS"]
    text = "said a spokesman for U.K. Prime Minister Keir Starmer."
    assert texts(text, [phrase_after(text, 5, len(text))]) == ["a spokesman for U.K. Prime Minister Keir Starmer"]


def test_strip_edges_drops_quotes_and_punctuation_but_keeps_an_abbreviation_period():
    text = '"on the right track."'
    assert texts(text, [strip_edges(text, 0, len(text))]) == ["on the right track"]
    text = "after 10 a.m."
    assert texts(text, [strip_edges(text, 0, len(text))]) == ["after 10 a.m."]


def test_lowercase_words_are_the_words_spelled_in_lowercase_somewhere():
    assert lowercase_words("Negotiations began. The negotiations and Putin.") == {"began", "negotiations", "and"}
