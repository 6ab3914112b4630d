import pytest

from qa.attribution import speaker
from qa.text import split_sentences
from tests.helpers import SEEDS


def who(text: str, needle: str) -> str | None:
    """The speaker the rules find for the first occurrence of `needle` in `text`."""
    start = text.index(needle)
    found = speaker(text, split_sentences(text), (start, start + len(needle)))
    return None if found is None else text[found[0] : found[1]]


@pytest.mark.parametrize("text, needle, expected", [
    # a quotation, speaker after it (subject-verb, with an appositive, inverted)
    ('"Pressure is needed," Zelenskyy said on social media.', "Pressure is needed", "Zelenskyy"),
    ('"Harm is not critical," Ivan Timofeev, head of the Council, said.', "Harm", "Ivan Timofeev"),
    ('"Take talks seriously," said a spokesman for Prime Minister Keir Starmer.', "Take talks",
     "a spokesman for Prime Minister Keir Starmer"),
    # a quotation, speaker before it, over a parenthetical and across sentences of the quote
    ('Trump, in a post on Truth Social, wrote, "Just completed my call. It went very well."', "It went very well",
     "Trump"),
    ('Putin thanked Trump and said the search was "on the right track."', "on the right track", "Putin"),
    # reported claims
    ("According to the agency TASS, the call lasted two hours.", "two hours", "the agency TASS"),
    ("Asked about sanctions, Leavitt said everything is on the table.", "everything is on the table", "Leavitt"),
    ("Russia fired 112 drones, 76 of which were repelled, the Ukrainian air force said.", "76", "the Ukrainian air force"),
    # a pronoun speaker: the name opening its sentence, else the speaker before
    ('As Vance prepared to leave, he told reporters, "He does not know how to get out."', "He does not know", "Vance"),
    ('"We have agreed," Putin said in Sochi. "Russia is for a peaceful settlement," he said.', "Russia is for",
     "Putin"),
])
def test_speaker_of_a_quotation_or_a_claim(text, needle, expected):
    assert who(text, needle) == expected


@pytest.mark.parametrize("text, needle", [
    ("Trump spoke with Putin for more than two hours on Monday.", "more than two hours"),  # nobody claims it
    ("Kremlin spokesman Dmitry Peskov said the call was important.", "Dmitry Peskov"),  # the speaker himself
    ("Talks were held in Istanbul, where both sides said they would swap prisoners.", "Istanbul"),  # not the claim
    ("The leaders were informed, including the United States.", "leaders"),  # "States" is no verb
    ("According to reports, he left.", "reports"),  # inside the attribution itself
])
def test_no_speaker_when_the_span_is_neither_quoted_nor_claimed(text, needle):
    assert who(text, needle) is None


def test_speakers_in_a_seed_article_name_whoever_says_it():
    text = (SEEDS / "000_0909706770c7972d.txt").read_text(encoding="utf-8")
    assert who(text, "on a memorandum on a possible future peace accord") == "Putin"
    assert who(text, "the largest since the conflict began") == "Ukrainian authorities"
    assert who(text, "So in a year, Ukraine") == "Ivan Timofeev"  # "he added", two sentences on
