"""Text utilities shared by every stage: tokenizing for BM25, splitting sentences, normalizing answers.

Nothing here rewrites an article: the splitter returns character offsets into the raw text,
and the tokenizer's output is only ever used for scoring.
"""

from __future__ import annotations

import re
import string
import unicodedata

# ---------------------------------------------------------------- tokenizer
# Version of the tokenizer rules below; saved in the index manifest so an index built with
# other rules is seen as stale.
TOKENIZER_VERSION = "words-v1"

# A small English stopword list: question words and function words that carry no topic.
STOPWORDS = frozenset(
    """a about after an and any are as at be been being but by can could did do does doing
    for from had has have having he her hers him his how i if in into is it its itself just me
    my of on or our ours over own said says say she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we
    were what when where which while who whom whose why will with would you your yours""".split()
)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)


def _stem(token: str) -> str:
    """Harman's S-stemmer: folds plurals only, so 'talks' matches 'talk' but 'agreed' stays."""
    if len(token) <= 3 or token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
        return token[:-1]
    if token.endswith("s"):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lowercased content tokens for BM25.

    Rules: typographic apostrophes fold to "'"; possessive "'s" is dropped ("Russia's" -> "russia");
    other apostrophes are removed ("don't" -> "dont"); numbers keep their digits without
    separators ("1,000" -> "1000"); stopwords are dropped; plurals are folded by an S-stemmer.
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
            out.append(_stem(token))
    return out


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
