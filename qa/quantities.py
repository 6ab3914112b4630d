"""Numbers, amounts, durations and ages in news text, and the value each one states.

`find_*` return (start, end) offsets of the expressions in a text; `value` reads one expression as a
comparable `Quantity`, so "more than two hours" and "over-two-hour-long" are the same value, and
"approximately two and a half hours" is another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
          "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1, "dozen": 12}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_TIME_UNITS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0, "week": 168.0, "month": 730.0, "year": 8766.0}

_WORD_NUMBER = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
                r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?")
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
NUMBER = rf"(?:{_DIGITS}|{_WORD_NUMBER}(?:[- ](?:hundred|thousand|million|billion))?|(?:a |one )?(?:dozen|hundred|thousand|million|billion)s?|dozens|hundreds|thousands|millions)"
# Words before a number that qualify it; kept in the span because they change the value.
QUALIFIER = (r"(?:more than|less than|fewer than|at least|at most|up to|over|under|nearly|almost|about|around|"
             r"approximately|roughly|some|just over|just under|as many as|as few as)")
_TIME_UNIT = r"(?:minute|hour|day|week|month|year)s?"

NUMBER_RE = re.compile(rf"(?<![\w$.,-])(?:{QUALIFIER}[- ])?(?:{NUMBER})(?![\w,]*\d)(?!-(?:{_TIME_UNIT}|year-old))\b", re.IGNORECASE)
DURATION_RE = re.compile(
    rf"(?<![\w-])(?:(?:{QUALIFIER})[- ])?(?:{NUMBER}|a|an)(?:[- ]and[- ]a[- ]half)?[- ]{_TIME_UNIT}(?:-long)?\b(?!-old)",
    re.IGNORECASE,
)
AGE_RE = re.compile(rf"(?<![\w-])(?:{NUMBER})[- ]years?[- ]old\b|\baged? (?:{NUMBER})\b", re.IGNORECASE)
AMOUNT_RE = re.compile(
    rf"(?:(?:{QUALIFIER}) )?(?:[$\u20ac\u00a3]\s?(?:{_DIGITS})(?: (?:million|billion|trillion))?"
    rf"|(?:{_DIGITS})(?: (?:million|billion))? ?(?:%|percent|per cent|dollars|euros|pounds|rubles|roubles))",
    re.IGNORECASE,
)


def find(pattern: re.Pattern, text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    hi = len(text) if hi is None else hi
    return [m.span() for m in pattern.finditer(text, lo, hi)]


@dataclass(frozen=True, slots=True)
class Quantity:
    """What an expression states: `amount` (hours for durations), its unit class, and how it is
    qualified: "=" exact, ">" more than / over / at least, "<" less than / under, "~" about."""

    amount: float
    unit: str
    qualifier: str


def value(expression: str) -> Quantity | None:
    """The Quantity an expression states, or None when it holds no number."""
    text = expression.lower().replace("-", " ")
    qualifier = "="
    m = re.match(rf"({QUALIFIER})\s+", text)
    if m:
        word = m.group(1)
        qualifier = (">" if word in ("more than", "at least", "over", "just over", "as many as")
                     else "<" if word in ("less than", "fewer than", "at most", "up to", "under", "just under", "as few as")
                     else "~")
        text = text[m.end():]
    amount = _number(text)
    if amount is None:
        return None
    if re.search(r"\band a half\b", text):
        amount += 0.5
    unit_match = re.search(rf"\b({_TIME_UNIT})\b", text)
    if unit_match and not re.search(r"\byears? old\b|\baged?\b", text):
        return Quantity(round(amount * _TIME_UNITS[unit_match.group(1).rstrip("s")], 6), "hours", qualifier)
    if re.search(r"%|\bper ?cent\b", text):
        return Quantity(amount, "percent", qualifier)
    if re.search(r"\byears? old\b|\baged?\b", text):
        return Quantity(amount, "years old", qualifier)
    return Quantity(amount, "count", qualifier)


def _number(text: str) -> float | None:
    m = re.search(_DIGITS, text)
    if m:
        amount = float(m.group().replace(",", ""))
        scale = re.match(r"\s*(million|billion|thousand|hundred)\b", text[m.end():])
        return amount * _SCALES[scale.group(1)] if scale else amount
    total, current, seen = 0.0, 0.0, False
    for word in re.findall(r"[a-z]+", text):
        word_singular = word[:-1] if word.endswith("s") and word[:-1] in _SCALES else word
        if word in _UNITS and not (word in ("a", "an") and seen):
            current += _UNITS[word]
            seen = True
        elif word_singular in _SCALES:
            current = max(current, 1.0) * _SCALES[word_singular]
            if _SCALES[word_singular] >= 1000:
                total, current = total + current, 0.0
            seen = True
        elif seen and word not in ("and",):
            break
    return total + current if seen else None
