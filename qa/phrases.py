"""Words and phrases with their offsets: the small pieces the span rules and attribution build on.

Everything returns character offsets into the text it was given, so a phrase found here is always
`text[start:end]`, never a rewritten copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text import STOPWORDS, _is_abbreviation

_TOKEN_RE = re.compile(r"\w+(?:[-'\u2019.]\w+|,\d{3}\b)*|[^\w\s]")
OPEN_QUOTES = "\u201c"
CLOSE_QUOTES = "\u201d"
STRAIGHT_QUOTE = '"'
# Words that end a noun phrase when walking left from a verb: a clause or a coordination starts there.
CLAUSE_WORDS = frozenset(
    """that which who whom whose and but or nor as while when after before if because since then so
    where whether although though yet also however meanwhile with in on at for from by to amid
    despite during into about over than""".split()
)
# Adverbs that may stand between a subject and its verb ("He further wrote").
_ADVERBS = frozenset("further also then later earlier again previously repeatedly once still already".split())
# Words spelled with a capital that are not names.
_NOT_NAMES = frozenset(
    """i a an the this that these those it its he she they we you his her their our my your
    but and or so yet if as at by for from in into of on to with without after before since while
    when where what which who why how there here meanwhile nevertheless likewise however despite
    earlier later following according asked writing should would could will can may might must
    shortly still even then also""".split()
)
# Words opening a parenthetical between a subject and its verb ("Trump, in a post on X, wrote").
_PARENTHETICAL_OPENERS = frozenset("in on at during after before from via through speaking".split())
# Lowercase words allowed inside a name ("Ursula von der Leyen").
NAME_PARTICLES = frozenset("von van der de den du da di del la le al bin ibn".split())


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum() or self.text[0] == "_"

    @property
    def lower(self) -> str:
        return self.text.lower().replace("\u2019", "'")


def tokens(text: str, lo: int = 0, hi: int | None = None) -> list[Token]:
    """Words ("U.S", "two-hour-long", "Russia's") and single punctuation marks of text[lo:hi]."""
    hi = len(text) if hi is None else hi
    return [Token(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(text, lo, hi)]


def paragraph(text: str, pos: int) -> tuple[int, int]:
    """The line around `pos`: news paragraphs are lines."""
    lo = text.rfind("\n", 0, pos) + 1
    hi = text.find("\n", pos)
    return lo, len(text) if hi == -1 else hi


def quotations(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Contents (start, end) of the double-quoted passages of text[lo:hi], without the marks.
    A passage opened by a curly mark closes at the next closing curly mark, one opened by a straight
    mark at the next straight mark, so a quote nested in the other style stays inside. A quotation
    still open at the end of the range runs to its end (news quotes often span paragraphs)."""
    out: list[tuple[int, int]] = []
    start, closer = None, ""
    for i in range(lo, hi):
        ch = text[i]
        if start is None and ch in (OPEN_QUOTES, STRAIGHT_QUOTE):
            start, closer = i + 1, CLOSE_QUOTES if ch == OPEN_QUOTES else STRAIGHT_QUOTE
        elif start is not None and ch == closer:
            out.append((start, i))
            start = None
    if start is not None and start < hi:
        out.append((start, hi))
    return out


def inside(span: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= span[0] and span[1] <= outer[1]


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def is_name_word(tok: Token) -> bool:
    """A capitalized word that is not a function word: 'Putin', 'U.S', 'NATO', 'Mr'."""
    return tok.is_word and tok.text[0].isupper() and tok.lower not in _NOT_NAMES


def name_runs(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Runs of capitalized words (with name particles inside and "Mr."-style periods): candidate
    names of people, bodies and places. "Russia's" ends its run before the possessive."""
    toks = tokens(text, lo, hi)
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        if not is_name_word(toks[i]):
            i += 1
            continue
        j = i
        while not re.search(r"['\u2019]s$", toks[j].text):  # a possessive ends the name
            k = j + 1
            if k < len(toks) and toks[k].text == "." and _is_abbreviation(toks[j].text) and toks[k].start == toks[j].end:
                k += 1  # "Mr." / "U.S." continue the name
            p = k
            while p < len(toks) and toks[p].lower in NAME_PARTICLES:
                p += 1
            if p > k and p < len(toks) and is_name_word(toks[p]):
                k = p
            if k < len(toks) and is_name_word(toks[k]) and text[toks[k - 1].end : toks[k].start] in (" ", ""):
                j = k
                continue
            break
        start, end = toks[i].start, toks[j].end
        possessive = re.search(r"['\u2019]s$", text[start:end])
        if possessive:
            end -= 2
        if j + 1 < len(toks) and toks[j + 1].text == "." and _is_abbreviation(toks[j].text) and toks[j + 1].start == end:
            end += 1
        runs.append((start, end))
        i = j + 1
    return runs


def subject_before(text: str, lo: int, verb_start: int, max_words: int = 8) -> tuple[int, int] | None:
    """The noun phrase that ends just before a verb ("White House press secretary Karoline Leavitt
    told"): words walking left until punctuation, a clause word or `max_words`. Adverbs right before
    the verb are skipped; one parenthetical (", in a post on Truth Social,") is stepped over."""
    toks = tokens(text, lo, verb_start)
    i = len(toks) - 1
    while i >= 0 and toks[i].lower in _ADVERBS:
        i -= 1
    if i >= 1 and toks[i].text == ",":
        j = i - 1
        while j >= 0 and toks[j].is_word:
            j -= 1
        if j >= 1 and toks[j].text == "," and toks[j + 1].lower in _PARENTHETICAL_OPENERS:
            i = j - 1
    end_i = i
    while i >= 0 and end_i - i < max_words:
        t = toks[i]
        if not t.is_word:
            if t.text == "." and i > 0 and _is_abbreviation(toks[i - 1].text):
                i -= 1
                continue
            break
        if t.lower in CLAUSE_WORDS:
            break
        i -= 1
    if i == end_i:
        return None
    return toks[i + 1].start, toks[end_i].end


def phrase_after(text: str, pos: int, hi: int, max_words: int = 12) -> tuple[int, int] | None:
    """The words from `pos` up to the next punctuation mark (a comma, period, quote...), at most
    `max_words`: the noun phrase after "according to" or an inverted "said"."""
    toks = tokens(text, pos, hi)
    out: list[Token] = []
    for i, t in enumerate(toks):
        if not t.is_word:
            if t.text == "." and out and _is_abbreviation(out[-1].text) and i + 1 < len(toks) and toks[i + 1].is_word:
                continue
            break
        if len(out) == max_words:
            return None
        out.append(t)
    return (out[0].start, out[-1].end) if out else None


def strip_edges(text: str, start: int, end: int, chars: str = " \t\n\"'\u201c\u201d\u2018\u2019,;:.!?") -> tuple[int, int]:
    """Shrink (start, end) past edge quotes and punctuation; a period closing "a.m." or "U.S." stays."""
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        if text[end - 1] == "." and _is_abbreviation(_word_before(text, start, end - 1)):
            break
        end -= 1
    return start, end


def _word_before(text: str, lo: int, end: int) -> str:
    start = end
    while start > lo and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    return text[start:end]


def content_word(word: str) -> bool:
    return word.lower() not in STOPWORDS


def lowercase_words(text: str) -> frozenset[str]:
    """Words the text spells in lowercase somewhere: a capitalized one of these that opens a sentence
    ("Negotiations", "Meanwhile") is a common word, not a name."""
    return frozenset(w for w in re.findall(r"[^\W\d_]+", text) if w.islower())
