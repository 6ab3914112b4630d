"""Candidates: the spans of an analysed sentence that could answer a question.

Read off the stored spaCy analysis (no parsing at query time):
- `ent`: a named entity, a date, a number (with its label),
- `list`: entities joined by "and"/commas ("Kyiv, Odesa and Lviv"), with each item as a part,
- `np`: a noun chunk,
- `arg`: the phrase a verb governs in some role (object, clausal complement, prepositional phrase,
  subject, …), whole and cut before a trailing relative or appositive clause,
- `quote`: words inside quotation marks,
- `sentence`: the whole sentence, for questions no phrase answers.
A sentence's news dateline ("PORTMERE, March 4 —") yields none.
Each knows its root token, the verb that governs it, and for reported words (a quote, a clause under a
verb of saying, "according to X") the speaker. Offsets are into the sentence's text (= the Doc's text).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from qa import dates
from qa.text import strip_edges

ARG_DEPS = frozenset({"dobj", "ccomp", "xcomp", "attr", "oprd", "acomp", "nsubj", "nsubjpass", "agent", "dative",
                      "npadvmod", "advcl", "conj"})
QUOTES = {"\u201c": "\u201d", '"': '"'}
EDGE = " \t\n\"'\u201c\u201d\u2018\u2019,;:.!?-\u2013\u2014"
PRONOUN_POS = frozenset({"PRON"})


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int  # character offsets into the sentence's text
    end: int
    kind: str  # ent | list | np | arg | quote | sentence
    label: str  # the entity label, "arg:<dep>", or the kind
    root: int  # token index of the span's root
    verb: int | None  # token index of the verb governing the span
    parts: tuple[tuple[int, int], ...] = ()  # a list's items
    speaker: tuple[int, int] | None = None  # who says these words, when they are reported
    # What scoring reads, worked out once per candidate (the analysis is fixed; a question only looks up):
    tokens: tuple[int, ...] = ()  # its word tokens (punctuation left out)
    lemmas: frozenset[str] = frozenset()  # lemmas of its content words
    verb_lemma: str | None = None
    verb_subject: frozenset[str] = frozenset()  # lemmas of the governing verb's subject
    speaker_lemmas: frozenset[str] = frozenset()
    role: str = ""  # its dependency: "dobj", "ccomp", "pobj", …
    nearby: frozenset[str] = frozenset()  # lemmas within three tokens of it ("envoy" in "envoy Steve Wikoff")
    counted: frozenset[str] = frozenset()  # a number's: the noun it counts and that noun's compounds ("fire engines")
    modifies: int | None = None  # the token it modifies, when it is a compound, possessive or adjective to it
    labels: frozenset[str] = frozenset()  # entity labels of the words inside it
    head_label: str = ""  # the entity label of its head word (of a preposition's object: "in *Rome*")
    duration: bool = False  # a date or time expression counting units ("two hours", "three years")
    units: frozenset[str] = frozenset()  # the calendar units its dates and times are given in (qa/dates.py: units)

    def text(self, doc) -> str:
        return doc.text[self.start : self.end]


def candidates(doc) -> tuple[Candidate, ...]:
    """Every candidate of one analysed sentence, deduplicated by (offsets, kind)."""
    found: dict[tuple[int, int, str], Candidate] = {}
    speakers = _speakers(doc)
    body = dateline_end(doc)
    labels = {i: _label(e) for e in doc.ents for i in range(e.start, e.end)}  # each word's entity label
    for c in (*_entities(doc, labels), *_lists(doc, labels), *_noun_chunks(doc), *_arguments(doc, speakers),
              *_quotes(doc, speakers), _whole(doc)):
        if c is not None and c.end > c.start and c.start >= body:
            found.setdefault((c.start, c.end, c.kind), c)
    starts = [t.idx for t in doc]
    quotes = [c for c in found.values() if c.kind == "quote" and c.speaker is not None]
    return tuple(_described(doc, _inside_quote(c, quotes), starts, labels) for c in found.values())


def _inside_quote(c: Candidate, quotes: list[Candidate]) -> Candidate:
    """Words inside a quotation are its speaker's, whatever the parse inside the quotation says."""
    for q in quotes:
        if q is not c and q.start <= c.start and c.end <= q.end:
            return replace(c, speaker=q.speaker)
    return c


def _head_label(token, labels: dict[int, str]) -> str:
    if token.dep_ == "prep":
        token = next((c for c in token.children if c.dep_ == "pobj"), token)
    return labels.get(token.i, "")


def _tokens_between(doc, starts: list[int], start: int, end: int):
    """The tokens starting in [start, end), found by bisection on the tokens' offsets."""
    return doc[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]


_CONTENT = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "NUM"})


def _described(doc, c: Candidate, starts: list[int], labels: dict[int, str]) -> Candidate:
    words = [t for t in _tokens_between(doc, starts, c.start, c.end) if not t.is_punct]
    verb = doc[c.verb] if c.verb is not None else None
    lo = words[0].i if words else c.root
    hi = words[-1].i + 1 if words else c.root + 1
    return replace(
        c,
        tokens=tuple(t.i for t in words),
        lemmas=frozenset(t.lemma_.lower() for t in words if t.pos_ in _CONTENT),
        verb_lemma=verb.lemma_.lower() if verb is not None else None,
        verb_subject=frozenset(t.lemma_.lower() for s in (verb.children if verb is not None else ())
                               if s.dep_ in ("nsubj", "nsubjpass") for t in s.subtree),
        speaker_lemmas=frozenset(t.lemma_.lower() for t in _tokens_between(doc, starts, *c.speaker)) if c.speaker else frozenset(),
        role=c.label[4:] if c.label.startswith("arg:") else doc[c.root].dep_,
        nearby=frozenset(t.lemma_.lower() for t in doc[max(0, lo - 3) : min(len(doc), hi + 3)]),
        counted=_counted(doc[c.root]),
        modifies=doc[c.root].head.i if doc[c.root].dep_ in _MODIFIER else None,
        labels=frozenset(labels[t.i] for t in words if t.i in labels),
        head_label=_head_label(doc[c.root], labels),
        duration=any(t.lemma_.lower() in TIME_UNITS for t in words) and any(t.like_num for t in words),
        units=dates.units(doc.text[c.start : c.end]) if words and any(t.ent_type_ in _WHEN for t in words) else frozenset(),
    )


_WHEN = frozenset({"DATE", "TIME"})


def _counted(root) -> frozenset[str]:
    """What a number counts, by the parse: the noun it modifies ("640" in "640 firefighters, 18 aircraft and
    95 fire engines" counts firefighters, "18" aircraft), with that noun's compounds; empty for anything else."""
    if root.dep_ != "nummod" or root.head.pos_ not in ("NOUN", "PROPN"):
        return frozenset()
    noun = root.head
    return frozenset(t.lemma_.lower() for t in (noun, *noun.children) if t is noun or t.dep_ == "compound")


TIME_UNITS = frozenset("second minute hour day week month year decade century".split())


_MODIFIER = frozenset({"compound", "poss", "amod", "nmod"})


def dateline_end(doc) -> int:
    """Where a sentence's news dateline ends ("PORTMERE, March 4 — …": the place in capitals, an
    optional date, a dash): the dateline says where and when the story was filed, it answers nothing."""
    if len(doc) < 3 or not (doc[0].text.isupper() and len(doc[0].text) > 1):
        return 0
    dash = next((t for t in doc[:10] if t.text in ("—", "–", "--", "-")), None)
    return dash.idx + len(dash.text) if dash is not None else 0


# ---------------------------------------------------------------- kinds
def _entities(doc, labels: dict[int, str]):
    for e in doc.ents:
        yield Candidate(_start(doc, e), _end(doc, e), "ent", labels[e.start], e.root.i, governing_verb(e.root))


def _label(e) -> str:
    """An entity's label, a share written "per cent" a PERCENT: the small English pipeline's recognizer labels
    "12.5 per cent", the British spelling, MONEY ("percent" and "%" it labels PERCENT), and a question for a
    percentage then passes it over."""
    if e.label_ == "MONEY" and any(t.lower_ == "cent" and t.i > e.start and t.nbor(-1).lower_ == "per" for t in e):
        return "PERCENT"
    return e.label_


def _start(doc, e) -> int:
    """Where an entity starts, an amount of money with its currency sign: the small English pipeline's
    recognizer leaves a sign other than "$" out of MONEY ("£45,000" gives "45,000", "€12" gives "12"), though
    its tagger tags the sign as one (Penn tag `$`), so the sign just before is taken in."""
    if e.label_ == "MONEY" and e.start > 0 and doc[e.start - 1].tag_ == "$":
        return doc[e.start - 1].idx
    return e.start_char


_LETTER_STOP = re.compile(r"[^\W\d_]\.")  # "U.S", "p.m": a full stop after a letter (not a decimal point)


def _end(doc, e) -> int:
    """Where an entity ends, without the sentence's full stop: the tokenizer keeps it on a short abbreviation
    that ends the sentence ("£3.5m." for "£3.5 million.", "65 km/h.", "38.5C."), so the entity would carry it
    into the answer. One with a full stop after a letter inside ("U.S.", "p.m.") keeps it: there it is the
    word's own."""
    last = e[-1]
    if (len(last.text) > 1 and last.text.endswith(".") and not _LETTER_STOP.search(last.text[:-1])
            and all(t.is_punct or t.is_space for t in doc[e.end :])):
        return e.end_char - 1
    return e.end_char


def _lists(doc, labels: dict[int, str]):
    """An entity with entities conjoined to it: the run from the first to the last, items as parts."""
    by_root = {e.root.i: e for e in doc.ents}
    for e in doc.ents:
        if e.root.dep_ == "conj":
            continue
        items = [e] + [by_root[t.i] for t in e.root.subtree if t.dep_ == "conj" and t.i in by_root and t.i != e.root.i]
        if len(items) >= 2:
            yield Candidate(_start(doc, items[0]), _end(doc, items[-1]), "list", labels[e.start], e.root.i,
                            governing_verb(e.root), tuple((_start(doc, x), _end(doc, x)) for x in items))


def _noun_chunks(doc):
    for chunk in doc.noun_chunks:
        if chunk.root.pos_ in PRONOUN_POS:
            continue
        span = _trim(doc, chunk.start, chunk.end)
        if span:
            yield Candidate(*span, "np", "np", chunk.root.i, governing_verb(chunk.root))


def _arguments(doc, speakers):
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        for child in verb.children:
            if child.dep_ in ARG_DEPS and child.pos_ not in PRONOUN_POS:
                yield from _phrase(doc, child, verb, f"arg:{child.dep_}", speakers)
            elif child.dep_ == "prep":
                yield from _phrase(doc, child, verb, f"arg:prep", speakers)
                for obj in child.children:
                    if obj.dep_ == "pobj" and obj.pos_ not in PRONOUN_POS:
                        yield from _phrase(doc, obj, verb, "arg:pobj", speakers)


def _phrase(doc, token, verb, label, speakers):
    """The subtree of `token`; also cut before its first comma (a trailing relative or appositive
    clause), and for a clausal complement without its "that"."""
    tokens = list(token.subtree)
    lo, hi = tokens[0].i, tokens[-1].i + 1
    if token.dep_ == "ccomp" and doc[lo].dep_ == "mark":
        lo += 1
    speaker = speakers.get(verb.i) if token.dep_ in ("ccomp", "dobj", "xcomp") else None
    whole = _trim(doc, lo, hi)
    if whole:
        yield Candidate(*whole, "arg", label, token.i, verb.i, speaker=speaker)
    comma = next((t.i for t in doc[lo:hi] if t.text == "," and t.i > token.i), None)
    if comma is not None:
        cut = _trim(doc, lo, comma)
        if cut and cut != whole:
            yield Candidate(*cut, "arg", label, token.i, verb.i, speaker=speaker)


def _quotes(doc, speakers):
    """Words between quotation marks, with the speaker of the verb that governs them."""
    text, at = doc.text, 0
    while True:
        opened = min((i for i in (text.find(q, at) for q in QUOTES) if i >= 0), default=-1)
        if opened < 0:
            return
        closer = QUOTES[text[opened]]
        closed = text.find(closer, opened + 1)
        if closed < 0:
            return
        span = _trim_chars(text, opened + 1, closed)
        at = closed + 1
        if span is None:
            continue
        inside = [t for t in doc if span[0] <= t.idx < span[1]]
        if not inside:
            continue
        root = min(inside, key=lambda t: _depth(t))
        verb = governing_verb(root.head) if root.head.i != root.i and root.head not in inside else governing_verb(root)
        speaker = speakers.get(verb) if verb is not None else None
        if speaker is None:  # a quotation standing beside its attribution ("…," Trump wrote): the root's speaker
            root_verb = next((t.i for t in doc if t.dep_ == "ROOT"), None)
            speaker = speakers.get(root_verb)
        yield Candidate(*span, "quote", "quote", root.i, verb, speaker=speaker)


def _whole(doc):
    span = _trim_chars(doc.text, 0, len(doc.text))
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if span is None or root is None:
        return None
    return Candidate(*span, "sentence", "sentence", root.i, root.i if root.pos_ in ("VERB", "AUX") else None)


# ---------------------------------------------------------------- speakers
def _speakers(doc) -> dict[int, tuple[int, int]]:
    """Verb token index -> the speaker's span, for verbs that report words: a verb with a clausal
    complement or a quotation and a subject ("X said that …", "… , X told reporters"), and the
    governor of "according to X"."""
    out: dict[int, tuple[int, int]] = {}
    quoted = any(ch in doc.text for ch in ("\u201c", "\u201d", '"'))
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        reports = any(c.dep_ == "ccomp" for c in verb.children) or (quoted and verb.dep_ == "ROOT")
        subject = next((c for c in verb.children if c.dep_ == "nsubj" and _names_someone(c)), None)
        if reports and subject is not None:
            out[verb.i] = _subtree_span(subject)
    for token in doc:
        if token.lemma_.lower() == "accord" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "to":
            obj = next((c for c in doc[token.i + 1].children if c.dep_ == "pobj"), None)
            if obj is not None:
                target = governing_verb(token.head) if token.head.i != token.i else None
                out.setdefault(target if target is not None else token.i, _subtree_span(obj))
    return out


# ---------------------------------------------------------------- helpers
def _names_someone(token) -> bool:
    """Whether a subject names a speaker: a proper name or a named entity in it ("Kremlin spokesman
    Dmitry Peskov", "the ministry of Ruritania"), not "the principles of a settlement"."""
    return any(t.pos_ == "PROPN" or t.ent_type_ in ("PERSON", "ORG", "NORP", "GPE") for t in token.subtree)


def governing_verb(token) -> int | None:
    """The nearest verb at or above `token` in the parse."""
    seen = 0
    while seen < 64:
        if token.pos_ in ("VERB", "AUX"):
            return token.i
        if token.head.i == token.i:
            return None
        token, seen = token.head, seen + 1
    return None


def _depth(token) -> int:
    depth = 0
    while token.head.i != token.i and depth < 64:
        token, depth = token.head, depth + 1
    return depth


def _subtree_span(token) -> tuple[int, int]:
    tokens = list(token.subtree)
    return tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)


def _trim(doc, lo: int, hi: int) -> tuple[int, int] | None:
    if hi <= lo:
        return None
    return _trim_chars(doc.text, doc[lo].idx, doc[hi - 1].idx + len(doc[hi - 1].text))


def _trim_chars(text: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) shrunk past edge punctuation and quotes; a period ending an abbreviation ("U.S.") stays."""
    start, end = strip_edges(text, start, end, EDGE)
    return (start, end) if end > start else None
