import pytest

from qa import dates
from qa.dates import find_dates, resolve

MONDAY = "2025-05-19"  # the date of two seed articles; a Monday


def found(text: str) -> list[str]:
    return [text[a:b] for a, b in find_dates(text)]


def test_find_dates_returns_exact_spans_of_days_dates_and_times():
    text = ("Trump spoke on Monday (19 May) after 10 a.m. ET; they last spoke on March 18, in March, "
            "and met last week, over the weekend, since February 2022 and in 2022.")
    assert found(text) == ["Monday", "19 May", "10 a.m. ET", "March 18", "March", "last week", "the weekend",
                           "February 2022", "2022"]


def test_find_dates_keeps_a_closing_abbreviation_period_and_drops_a_sentence_period():
    assert found("It began at 10 a.m.") == ["10 a.m."]
    assert found("They spoke in March.") == ["March"]


def test_find_dates_ignores_the_modal_may_numbers_and_money():
    assert found("Russia may agree to 1,000 prisoners for $2020 or 2,022 rubles.") == []


@pytest.mark.parametrize("expression, expected", [
    ("Monday", "2025-05-19"),  # the article's own weekday is that day
    ("on Monday", None),  # resolve takes the expression itself, not its preposition
    ("Sunday", "2025-05-18"),
    ("Friday", "2025-05-16"),
    ("Monday morning", "2025-05-19"),
    ("last Monday", "2025-05-12"),
    ("next Monday", "2025-05-26"),
    ("next Tuesday", "2025-05-20"),
    ("today", "2025-05-19"),
    ("yesterday", "2025-05-18"),
    ("tomorrow", "2025-05-20"),
    ("last week", "2025-W20"),
    ("this week", "2025-W21"),
    ("the weekend", "2025-05-17/2025-05-18"),
    ("last month", "2025-04"),
    ("this year", "2025"),
    ("May 19", "2025-05-19"),
    ("19 May", "2025-05-19"),
    ("March 18", "2025-03-18"),
    ("December 5", "2024-12-05"),  # the year that puts it closest to the article's date
    ("March", "2025-03"),
    ("February 2022", "2022-02"),
    ("May 19, 2025", "2025-05-19"),
    ("2022", "2022"),
    ("10 a.m. ET", None),
])
def test_resolve_against_the_article_date(expression, expected):
    assert resolve(expression, MONDAY) == expected


def test_without_an_article_date_only_absolute_expressions_resolve():
    assert resolve("Monday", None) is None
    assert resolve("May 19", None) is None
    assert resolve("February 2022", None) == "2022-02"
    assert resolve("Monday", "not a date") is None


@pytest.mark.parametrize("text, expected", [
    ("shortly after 7.15 p.m.", {"time"}),
    ("at 9 a.m. on Thursday", {"time", "day"}),
    ("late on Saturday", {"day"}),
    ("on 3 October", {"day"}),
    ("the last weekend", {"day"}),
    ("in 1964", {"year"}),
    ("since March 2019", {"month"}),
    ("in early November", {"month"}),
    ("next week", {"week"}),
    ("four decades", set()),
    ("the opening season", set()),
])
def test_units_name_the_calendar_unit_each_expression_is_given_in(text, expected):
    assert dates.units(text) == frozenset(expected)


def test_a_question_noun_names_the_unit_it_asks_in():
    assert {n: dates.UNIT_NOUNS.get(n) for n in ("year", "date", "hour", "season")} == {
        "year": "year", "date": "day", "hour": "time", "season": None}
