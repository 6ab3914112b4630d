"""Text utilities shared by every stage: tokenizing for BM25, splitting sentences, normalizing answers.

Nothing here rewrites an article: the splitter returns character offsets into the raw text,
and the tokenizer's output is only ever used for scoring.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

import snowballstemmer

# ---------------------------------------------------------------- tokenizer
# Version of the tokenizer rules below; saved in the index manifest so an index built with
# other rules is seen as stale.
TOKENIZER_VERSION = "words-snowball-v2"

# A small English stopword list: question words and function words that carry no topic.
STOPWORDS = frozenset(
    """a about after an and any are as at be been being but by can could did do does doing
    for from had has have having he her hers him his how i if in into is it its itself just me
    my of on or our ours over own said says say she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we
    were what when where which while who whom whose why will with would you your yours""".split()
)

# Past forms the stemmer cannot bring back to their verb ("spoke" -> "speak").
IRREGULAR = {
    "spoke": "speak", "spoken": "speak", "met": "meet", "told": "tell", "held": "hold", "began": "begin",
    "begun": "begin", "took": "take", "taken": "take", "went": "go", "gone": "go", "sent": "send", "left": "leave",
    "made": "make", "gave": "give", "given": "give", "won": "win", "fought": "fight", "brought": "bring",
    "thought": "think", "came": "come", "saw": "see", "seen": "see", "knew": "know", "known": "know",
    "wrote": "write", "written": "write", "ran": "run", "led": "lead", "sought": "seek", "struck": "strike",
    "chose": "choose", "chosen": "choose", "drew": "draw", "drawn": "draw", "flew": "fly", "flown": "fly",
    "grew": "grow", "grown": "grow", "lost": "lose", "paid": "pay", "kept": "keep", "felt": "feel", "found": "find",
    "stood": "stand", "understood": "understand", "broke": "break", "broken": "break", "fell": "fall",
    "fallen": "fall", "rose": "rise", "risen": "rise", "shot": "shoot", "sold": "sell", "bought": "buy",
    "caught": "catch", "taught": "teach", "built": "build", "spent": "spend", "withdrew": "withdraw",
    "withdrawn": "withdraw", "became": "become", "forgave": "forgive", "undertook": "undertake",
}


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    """Snowball (Porter 2) English stem: 'agreed' and 'agree' meet, as do 'talks' and 'talk'."""
    return _STEMMER.stemWord(token)


def tokenize(text: str) -> list[str]:
    """Lowercased content tokens for BM25.

    Rules: typographic apostrophes fold to "'"; possessive "'s" is dropped ("Russia's" -> "russia");
    other apostrophes are removed ("don't" -> "dont"); numbers keep their digits without
    separators ("1,000" -> "1000"); stopwords are dropped; irregular past forms become their verb
    ("led" -> "lead", "spoke" -> "speak"); words are reduced to their Snowball stem.
    """
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.translate(_APOSTROPHES).lower()):
        token = match.group()
        if token[0].isdigit():
            out.append(token.replace(",", ""))
            continue
        if token.endswith("'s"):
            token = token[:-2]
        token = token.replace("'", "")
        if token and token not in STOPWORDS:
            out.append(_stem(IRREGULAR.get(token, token)))
    return out


# The words of a question's opening that say what kind of answer it wants, not what it is about:
# "how LONG did the talks last", "what KIND of delegation", "on what DATE", "what is the NAME of".
_ASKING_RE = re.compile(
    r"^\W*(?:how (?P<how>long|many|much|old|far|often|soon|quickly)"
    r"|(?:what|which) (?P<kind>kind|sort|type) of"
    r"|(?:on |at |in |by |from )?(?:what|which) (?P<unit>time|date|day|year|month|week)"
    r"|what(?: is|'s| was) the (?P<name>name) of)\b",
    re.IGNORECASE,
)


_SOURCE_RE = re.compile(r"^\s*according to [^,?]+,\s*", re.IGNORECASE)


def without_source(question: str) -> str:
    """The question after a leading source: "According to Trump, how many ...?" -> "how many ...?"."""
    return _SOURCE_RE.sub("", question)


def query_tokens(question: str) -> list[str]:
    """A question's tokens for search and scoring: `tokenize` without the words that only say what
    kind of answer is wanted ("long" in "how long did the call last?" is not a word to look for, nor
    after a source: "According to TASS, how long ...?")."""
    tokens = tokenize(question)
    m = _ASKING_RE.match(without_source(question))
    asking = tokenize(next(g for g in m.groups() if g)) if m else []
    if asking and asking[0] in tokens:
        tokens.remove(asking[0])  # its first use: the opening's
    return tokens


# ---------------------------------------------------------------- answer normalization
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026"}
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lowercase, strip punctuation (typographic quotes too), drop a/an/the,
    collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


# ---------------------------------------------------------------- sentence splitting
# Titles that are followed by a name, never by a new sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr gen sen rep gov lt col capt prof vs mt ft inc corp ltd co".split()
)
_TERMINATOR_RE = re.compile(r"[.!?\u2026]+")
_CLOSERS = "\"'\u201d\u2019)]"
_OPENERS = "\"'\u201c\u2018(["
_INITIALISM_RE = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$|^[A-Z]$")


def _is_abbreviation(word: str) -> bool:
    """'Mr', 'U.S', 'a.m', 'J': a period after these does not end the sentence.
    `word` is the run of letters and periods before the period ("attended.Mr" counts as "Mr")."""
    return bool(_INITIALISM_RE.match(word)) or word.rsplit(".", 1)[-1].lower() in ABBREVIATIONS


def _word_before(text: str, lo: int, end: int) -> str:
    start = end
    while start > lo and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    return text[start:end]


def _boundaries(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in (lo, hi) where a sentence ends inside one paragraph."""
    cuts: list[int] = []
    for m in _TERMINATOR_RE.finditer(text, lo, hi):
        j = m.end()
        while j < hi and text[j] in _CLOSERS:
            j += 1
        if j >= hi:
            break
        word_text = _word_before(text, lo, m.start())
        nxt = text[j]
        if nxt.isspace():
            k = j
            while k < hi and text[k].isspace():
                k += 1
            if k >= hi:
                break
            follower = text[k]
            if not (follower.isupper() or follower.isdigit() or follower in _OPENERS):
                continue
            if m.group() == "." and _is_abbreviation(word_text):
                continue
            cuts.append(j)
        elif nxt.isupper() and m.group() == "." and len(word_text) >= 2 and word_text.islower():
            # A missing space after a full stop ("attended.Mr. Trump"): a lowercase word of
            # two letters or more cannot be an initialism, so this is a sentence end.
            cuts.append(j)
    return cuts


def split_sentences(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of text[lo:hi], trimmed of whitespace, never rewriting text.

    A line break always ends a sentence (headlines and paragraphs stand alone). Inside a line, a
    sentence ends at . ! ? or an ellipsis, after any closing quotes, when the next word starts with a
    capital, a digit or an opening quote, unless the period closes a title or an initialism
    ("Mr.", "U.S.", "a.m."); a period glued to a capital after a lowercase word also ends one.
    Dashes never split.
    """
    hi = len(text) if hi is None else hi
    spans: list[tuple[int, int]] = []
    line_start = lo
    while line_start < hi:
        nl = text.find("\n", line_start, hi)
        line_end = hi if nl == -1 else nl
        start = line_start
        for cut in _boundaries(text, line_start, line_end) + [line_end]:
            span = _trim(text, start, cut)
            if span:
                spans.append(span)
            start = cut
        line_start = line_end + 1
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


_CLOSING = ".!?:;\"'\u201d\u2019)"


def is_heading(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a line of its own (a headline, a subheading) rather than a sentence of
    a paragraph: nothing else on its line, and no closing punctuation."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    own_line = not text[line_start:start].strip() and not text[end:line_end].strip()
    words = text[start:end].rstrip()
    return own_line and bool(words) and words[-1] not in _CLOSING


def strip_edges(text: str, start: int, end: int, chars: str = " \t\n\"'\u201c\u201d\u2018\u2019,;:.!?") -> tuple[int, int]:
    """Shrink (start, end) past edge quotes and punctuation; a period closing "a.m." or "U.S." stays."""
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        if text[end - 1] == "." and _is_abbreviation(_word_before(text, start, end - 1)):
            break
        end -= 1
    return start, end
