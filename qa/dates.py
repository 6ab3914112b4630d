"""Dates in news text: finding day and date expressions, and resolving relative ones against the
article's date ("on Monday" in an article dated 2025-05-19 is 2025-05-19).

Pure functions: nothing here reads a clock; "today" is always the article's date.

Resolution rules (`resolve`), each tested:
    weekday ("Monday", "Monday morning")   the latest such day on or before the article's date
    "last Monday" / "next Monday"           strictly before / strictly after
    today, tonight, this morning            the article's date; yesterday / tomorrow: one day off
    "last week", "this week", "next week"   the ISO week (2025-W20)
    "the weekend", "this/last weekend"      the latest Saturday-Sunday on or before: 2025-05-17/2025-05-18
    "May 19", "19 May", bare "March"        the year that puts it closest to the article's date
    "last month", "this year" ...           YYYY-MM or YYYY
    "May 19, 2025", "February 2022", "2022" their ISO form, with or without an article date
A clock time ("10 a.m. ET") names no day and resolves to nothing.
"""

from __future__ import annotations

import datetime as dt
import re

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")

_WD = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MO = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_MO_NOT_MAY = r"(?:January|February|March|April|June|July|August|September|October|November|December)"
_YEAR = r"(?:19|20)\d{2}"

# Longest forms first: the regex engine takes the first alternative that matches at a position.
DATE_RE = re.compile(
    rf"""
    \b(?:
        {_MO}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?(?!\d)      # May 19, May 19, 2025
      | \d{{1,2}}\s+{_MO}(?:\s+{_YEAR})?                              # 19 May, 19 May 2025
      | {_MO}\s+{_YEAR}                                               # February 2022
      | (?:(?:[Ll]ast|[Nn]ext|[Tt]his)\s+)?{_WD}(?:\s+(?:morning|afternoon|evening|night))?
      | (?:[Ll]ast|[Nn]ext|[Tt]his)\s+(?:week|month|year|weekend)
      | (?:[Tt]he|[Tt]his)\s+weekend
      | [Ee]arlier\s+this\s+(?:week|month|year)
      | [Tt]his\s+(?:morning|afternoon|evening)
      | (?:[Tt]oday|[Tt]onight|[Yy]esterday|[Tt]omorrow)
      | (?:(?:[Ll]ast|[Tt]his|[Nn]ext|[Ee]arly|[Ll]ate)\s+)?{_MO_NOT_MAY}
      | \d{{1,2}}(?::\d{{2}})?\s*(?:a\.m\.|p\.m\.|[ap]m\b|[AP]M\b)(?:\s+(?:ET|EST|EDT|GMT|UTC|BST|CET|MSK|PT))?
      | (?<![\d$,.]){_YEAR}(?!\d|,\d)
    )(?:(?<=\.)|\b)\.?
    """,
    re.VERBOSE,
)
_TIME_RE = re.compile(r"\d{1,2}(?::\d{2})?\s*(?:a\.m\.|p\.m\.|am|pm)", re.IGNORECASE)


def find_dates(text: str) -> list[tuple[int, int]]:
    """(start, end) of every date, day or time expression in text, left to right.
    A trailing period is kept only when it closes an abbreviation ("a.m.")."""
    out = []
    for m in DATE_RE.finditer(text):
        start, end = m.span()
        if text[end - 1] == "." and not text[start:end].endswith(("a.m.", "p.m.")):
            end -= 1
        out.append((start, end))
    return out


def is_clock_time(expression: str) -> bool:
    return bool(_TIME_RE.search(expression))


# The unit a resolved date is given in, by the length of its ISO form ("2022", "2022-02", "2022-02-24"); a
# week ("2025-W20") and an interval ("2025-05-17/2025-05-18", a weekend: days) are told apart by their marks.
_ISO_UNITS = {4: "year", 7: "month", 10: "day"}
# The unit a question asks in, by the noun it asks with ("in which *year*", "at what *time*").
UNIT_NOUNS = {"year": "year", "month": "month", "week": "week", "day": "day", "date": "day", "weekday": "day",
              "time": "time", "hour": "time"}
_ANY_DAY = "2000-06-15"  # units() resolves against a fixed day: the unit does not depend on which


def units(text: str) -> frozenset[str]:
    """The calendar units the date and time expressions in `text` are given in: "time" (a clock time),
    "day", "week", "month", "year" ("early on Sunday" -> day; "in 1987" -> year; "6 a.m. on Monday" -> time
    and day). What a "which year" or "what time" question asks in, and what a candidate answers in."""
    found = {"time"} if is_clock_time(text) else set()
    for start, end in find_dates(text):
        iso = resolve(text[start:end], _ANY_DAY)
        if iso is None:
            continue
        found.add("week" if "-W" in iso else "day" if "/" in iso else _ISO_UNITS.get(len(iso), "day"))
    return frozenset(found)


def resolve(expression: str, article_date: str | None) -> str | None:
    """The ISO 8601 date, week (YYYY-Www), month, year or interval an expression names, or None."""
    text = " ".join(expression.lower().replace(",", " ").split())
    if not text or _TIME_RE.search(text):
        return None
    absolute = _absolute(text)
    if absolute is not None:
        return absolute
    if article_date is None:
        return None
    try:
        today = dt.date.fromisoformat(article_date)
    except ValueError:
        return None
    for rule in (_weekday, _relative_day, _period, _month_day, _month):
        value = rule(text, today)
        if value is not None:
            return value
    return None


# ---------------------------------------------------------------- rules
def _absolute(text: str) -> str | None:
    m = re.fullmatch(rf"(?:(\w+) (\d{{1,2}})(?:st|nd|rd|th)?|(\d{{1,2}}) (\w+)) ({_YEAR})", text)
    if m:
        month = _month_number(m.group(1) or m.group(4))
        day = int(m.group(2) or m.group(3))
        return _iso(int(m.group(5)), month, day) if month else None
    m = re.fullmatch(rf"(\w+) ({_YEAR})", text)
    if m and _month_number(m.group(1)):
        return f"{m.group(2)}-{_month_number(m.group(1)):02d}"
    if re.fullmatch(_YEAR, text):
        return text
    return None


def _weekday(text: str, today: dt.date) -> str | None:
    m = re.fullmatch(r"(?:(last|next|this) )?(\w+)(?: (?:morning|afternoon|evening|night))?", text)
    if not m or m.group(2) not in WEEKDAYS:
        return None
    back = (today.weekday() - WEEKDAYS.index(m.group(2))) % 7  # 0..6 days back, today included
    if m.group(1) == "last":
        back = back or 7
    elif m.group(1) == "next":
        return (today + dt.timedelta(days=(7 - back) if back else 7)).isoformat()
    return (today - dt.timedelta(days=back)).isoformat()


def _relative_day(text: str, today: dt.date) -> str | None:
    offset = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
              "yesterday": -1, "tomorrow": 1}.get(text)
    if offset is None:
        return None
    return (today + dt.timedelta(days=offset)).isoformat()


def _period(text: str, today: dt.date) -> str | None:
    if text in ("the weekend", "this weekend", "last weekend", "next weekend"):
        saturday = today - dt.timedelta(days=(today.weekday() - 5) % 7)
        if text == "next weekend":
            saturday += dt.timedelta(days=7)
        return f"{saturday.isoformat()}/{(saturday + dt.timedelta(days=1)).isoformat()}"
    m = re.fullmatch(r"(last|this|next|earlier this) (week|month|year)", text)
    if not m:
        return None
    step = {"last": -1, "next": 1}.get(m.group(1), 0)
    if m.group(2) == "week":
        year, week, _ = (today + dt.timedelta(weeks=step)).isocalendar()
        return f"{year}-W{week:02d}"
    if m.group(2) == "year":
        return str(today.year + step)
    month_index = today.year * 12 + today.month - 1 + step
    return f"{month_index // 12}-{month_index % 12 + 1:02d}"


def _month_day(text: str, today: dt.date) -> str | None:
    m = re.fullmatch(r"(\w+) (\d{1,2})(?:st|nd|rd|th)?|(\d{1,2}) (\w+)", text)
    if not m:
        return None
    month = _month_number(m.group(1) or m.group(4))
    day = int(m.group(2) or m.group(3))
    if not month:
        return None
    candidates = [d for y in (today.year - 1, today.year, today.year + 1) if (d := _date(y, month, day))]
    if not candidates:
        return None
    return min(candidates, key=lambda d: abs((d - today).days)).isoformat()


def _month(text: str, today: dt.date) -> str | None:
    m = re.fullmatch(r"(?:(last|this|next|early|late) )?(\w+)", text)
    month = _month_number(m.group(2)) if m else None
    if not month:
        return None
    here = today.year * 12 + today.month - 1
    best = min((y * 12 + month - 1 for y in (today.year - 1, today.year, today.year + 1)), key=lambda i: abs(i - here))
    return f"{best // 12}-{best % 12 + 1:02d}"


# ---------------------------------------------------------------- helpers
def _month_number(word: str) -> int | None:
    return MONTHS.index(word) + 1 if word in MONTHS else None


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _iso(year: int, month: int, day: int) -> str | None:
    d = _date(year, month, day)
    return d.isoformat() if d else None
