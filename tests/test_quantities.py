import pytest

from qa.quantities import AGE_RE, AMOUNT_RE, DURATION_RE, NUMBER_RE, Quantity, find, value


def found(pattern, text: str) -> list[str]:
    return [text[a:b] for a, b in find(pattern, text)]


def test_durations_with_qualifiers_hyphens_and_halves():
    text = ("for more than two hours, a two-hour-long call, the over-two-hour-long talk, approximately two and a "
            "half hours, a 30-day ceasefire, within 24 hours, the three-year-old war")
    assert found(DURATION_RE, text) == ["more than two hours", "two-hour-long", "over-two-hour-long",
                                        "approximately two and a half hours", "30-day", "24 hours"]


def test_numbers_skip_durations_ages_and_words_glued_to_digits():
    text = "exchange 1,000 prisoners, at least 11 people, 273 drones, a 30-day truce, the 78-year-old, COVID19"
    assert found(NUMBER_RE, text) == ["1,000", "at least 11", "273"]


def test_ages_and_amounts():
    assert found(AGE_RE, "The 78-year-old Republican, aged 78, and a man 40 years old") == [
        "78-year-old", "aged 78", "40 years old"]
    assert found(AMOUNT_RE, "just $2 a month, 5 percent, 3.5% and $1.2 billion") == ["$2", "5 percent", "3.5%",
                                                                                      "$1.2 billion"]


@pytest.mark.parametrize("expression, expected", [
    ("more than two hours", Quantity(2.0, "hours", ">")),
    ("over-two-hour-long", Quantity(2.0, "hours", ">")),
    ("two-hour-long", Quantity(2.0, "hours", "=")),
    ("approximately two and a half hours", Quantity(2.5, "hours", "~")),
    ("less than two hours", Quantity(2.0, "hours", "<")),
    ("30-day", Quantity(720.0, "hours", "=")),
    ("1,000 prisoners", Quantity(1000.0, "count", "=")),
    ("at least 11 people", Quantity(11.0, "count", ">")),
    ("twenty-five thousand", Quantity(25000.0, "count", "=")),
    ("78-year-old", Quantity(78.0, "years old", "=")),
    ("5 percent", Quantity(5.0, "percent", "=")),
    ("no number here", None),
])
def test_value_reads_amount_unit_and_qualifier(expression, expected):
    assert value(expression) == expected


def test_the_same_duration_worded_differently_has_one_value():
    assert value("more than two hours") == value("over-two-hour-long") != value("approximately two and a half hours")
