from qa.text import normalize_answer, split_sentences, strip_edges, tokenize
from tests.helpers import seed_text


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_tokenize_folds_case_possessives_apostrophes_numbers_and_stems():
    assert tokenize("What did Putin agree to?") == ["putin", "agre"]
    assert tokenize("Russia\u2019s 1,000 prisoners don't") == ["russia", "1000", "prison", "dont"]
    assert tokenize("We have agreed") == ["agre"]  # meets "agree"


def test_normalize_answer_is_squads():
    assert normalize_answer("The \u201cBloodbath\u201d,  an  END!") == "bloodbath end"
    assert normalize_answer("Russia\u2019s war") == "russias war"


def test_splitter_keeps_titles_with_their_names():
    text = seed_text("003_402be4f0d307bbc3.txt")
    assert 'On Saturday, Mr. Trump said he and Putin would discuss the "bloodbath" in Ukraine.' in sentences_of(text)


def test_splitter_keeps_initialisms():
    text = seed_text("000_0909706770c7972d.txt")
    assert ("Putin did not agree to an immediate ceasefire, which has long been sought by Ukraine, "
            "the U.S. and many NATO countries.") in sentences_of(text)
    text = seed_text("003_402be4f0d307bbc3.txt")
    assert ("The president began speaking with Putin at some point after 10 a.m. ET, and will speak with "
            "Zelenskyy when the call concludes.") in sentences_of(text)


def test_splitter_handles_a_missing_space_after_a_full_stop():
    got = sentences_of(seed_text("003_402be4f0d307bbc3.txt"))
    assert "Neither Putin nor Zelenskyy attended." in got
    assert "Mr. Trump said he didn't think Putin would attend if he wasn't there." in got


def test_splitter_ends_sentences_after_closing_quotes():
    got = sentences_of(seed_text("000_0909706770c7972d.txt"))
    assert '"The tone and spirit of the conversation were excellent," Trump wrote on social media.' in got
    assert ('Putin thanked Trump for his diplomatic efforts and said the search for peace in Ukraine was '
            '"on the right track."') in got


def test_splitter_never_splits_on_dashes():
    got = sentences_of(seed_text("002_659387b4055fa8dc.txt"))
    assert ("Trump has directed much of his frustration towards Ukraine \u2014 including during a blazing Oval "
            "Office row with Zelensky in February \u2014 while abstaining from extensively criticizing Putin.") in got
    got = sentences_of(seed_text("004_7493b927a45f9d56.txt"))
    assert any("joint U.S.\u2013EU ultimatum" in s for s in got)


def test_splitter_offsets_are_trimmed_and_verbatim():
    text = "  One here. Two there!\n\n\"Three,\" he said.  "
    assert split_sentences(text) == [(2, 11), (12, 22), (24, 41)]
    assert sentences_of(text) == ["One here.", "Two there!", '"Three," he said.']


def test_irregular_past_forms_meet_their_verb():
    assert tokenize("Medinsky led the talks") == tokenize("Medinsky leads the talks") == ["medinski", "lead", "talk"]
    assert tokenize("Trump spoke with Putin")[1] == tokenize("Trump will speak with Putin")[1] == "speak"
    assert tokenize("They met in Rome")[0] == tokenize("They meet in Rome")[0]


def test_query_tokens_drop_the_words_that_only_ask_for_a_kind_of_answer():
    from qa.text import query_tokens

    assert query_tokens("How long did the call last?") == ["call", "last"]
    assert query_tokens("According to TASS, how long did the call last?") == ["accord", "tass", "call", "last"]
    assert query_tokens("How many drones did Russia fire?") == ["drone", "russia", "fire"]
    assert query_tokens("What kind of delegation did Russia send?") == ["deleg", "russia", "send"]
    assert query_tokens("On what date was the pope inaugurated?") == ["pope", "inaugur"]
    assert query_tokens("What is the name of the minister?") == ["minist"]
    # Only the opening asks; the same word elsewhere is content.
    assert query_tokens("How long has the war been long?") == ["war", "long"]
    assert query_tokens("Why did the long talks fail?") == tokenize("Why did the long talks fail?")


def test_strip_edges_keeps_an_abbreviation_s_period():
    text = '"They met in the U.S." said Ana.'
    assert text[slice(*strip_edges(text, 0, 21))] == "They met in the U.S."
    assert text[slice(*strip_edges(text, 22, 32))] == "said Ana"


def test_a_heading_is_a_line_of_its_own_without_closing_punctuation():
    from qa.text import is_heading

    text = ("Tram fares frozen for a second year\n\nBRELLIN — The city froze tram fares on Monday. Riders welcomed it.\n\n"
            "What the freeze means\n\nSeason tickets keep their price.\n")
    spans = split_sentences(text)
    found = {text[s:e]: is_heading(text, s, e) for s, e in spans}
    assert found["Tram fares frozen for a second year"] and found["What the freeze means"]
    assert not found["Season tickets keep their price."]  # a line of its own, but a sentence
    assert not found["Riders welcomed it."]  # shares its line with another sentence
