"""Follow-up questions: a question asked after another (in a Slack thread) read with that one.

"and what did the mayor say about it?" or "when was that?" means little alone. Given the previous
turn (the question as it was read and the answer it got) the follow-up is rewritten into a question
that stands on its own, from the spaCy parse of both (no pattern per phrasing):

- third-person pronouns (`PronType=Prs`, `Person=3`: he, her, its, they, …) and demonstrative pronouns
  (that, this) are replaced by a phrase of the previous turn of the same kind: the previous answer when
  the previous question asked for that kind (a person for he/she, a thing for it/that, a list or a
  plural for they), else a noun phrase of the previous question (a name for he/she, a plural or the
  subject for they, a non-name, non-place phrase for it/that). Possessives become `X's`.
- the demonstrative adverbs "there" and "then" become a place or a time: the previous answer when the
  previous question asked where or when ("in Port Alder", "on 3 March"), else a prepositional phrase of
  the previous question naming a place ("in Dunmore") or a date ("in 2024").
- "when was that?", "why did that happen?" (a when/where/why/how question whose subject is the
  demonstrative and which says nothing else) ask about the previous event: the previous question is
  turned into a statement with its answer in the gap ("the board agreed to a toll freeze") and asked
  with the new question word ("When did the board agree to a toll freeze?").

A pronoun the follow-up itself binds ("what did the mayor say about *her* plan?": a possessive after a
name of its kind) is left alone, and so is a follow-up with nothing to resolve: it is asked as it is.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from qa.read.question import CLASS_TYPES, Question, analyse

# Prepositions that put their object at a place: "in Dunmore", "near the port".
LOCATIVE = frozenset({"in", "at", "near", "outside", "inside", "across"})
_PLACE_TYPES = frozenset({"GPE", "LOC", "FAC"})
_TIME_TYPES = frozenset({"DATE", "TIME"})
_NUMBER_TYPES = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
_MODIFIERS = frozenset({"det", "compound", "amod", "nummod", "poss", "nmod", "case", "quantmod"})
_WH_WORDS = frozenset("who whom whose what which when where why how".split())
_CIRCUMSTANCE = frozenset({"when", "where", "why", "how"})  # wh-words that ask about an event's circumstances
# A longer answer (a clause, a quotation) is no phrase to put in a pronoun's place: the follow-up then
# takes a phrase of the previous question instead.
MAX_ANSWER_WORDS = 12
_WEEKDAYS = frozenset(d.lower() for d in calendar.day_name)
_MONTHS = frozenset(m.lower() for m in calendar.month_name if m)


@dataclass(frozen=True, slots=True)
class Turn:
    """A question as it was read and the answer shown for it (None: the articles did not answer)."""

    question: str
    answer: str | None


@dataclass(frozen=True, slots=True)
class Reading:
    """How a follow-up was read: `text` is the question to ask; `resolved` pairs each replaced word with
    what it was read as (empty when the follow-up was asked as it is)."""

    asked: str
    text: str
    resolved: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> bool:
        return self.text != self.asked


@dataclass(frozen=True, slots=True)
class _Mention:
    """A noun phrase of the previous question."""

    text: str
    dep: str
    person: bool  # a name, or a noun for a person ("the mayor")
    place: bool  # the object of a locative preposition, or a noun for a place
    plural: bool


@dataclass(frozen=True, slots=True)
class _Previous:
    """The previous turn, analysed: its question's parse, wh-phrase and noun phrases; its answer and the answer's kind."""

    doc: object  # the spaCy Doc
    skip: frozenset[int]  # the wh-phrase's token indexes
    mentions: tuple[_Mention, ...]
    answer: str | None
    kind: str | None


def read_followup(nlp, question: str, previous: Turn) -> Reading:
    """`question` read with the previous turn of its thread (`nlp`: the question pipeline, qa.nlp)."""
    doc, prev = nlp(question), _analyse_previous(nlp, previous)
    event = _event_reference(doc)
    statement = _statement(prev, nlp) if event is not None else None
    if statement is not None:
        wh, subject = event
        end = "?" if question.rstrip().endswith("?") else ""
        return Reading(question, f"{wh.text} {statement}{end}", ((subject.text, statement),))

    replaced: dict[int, str] = {}
    for token in doc:
        phrase = _antecedent(token, doc, prev, nlp)
        if phrase is not None:
            replaced[token.i] = phrase
    if not replaced:
        return Reading(question, question)
    start = 1 if len(doc) > 1 and doc[0].pos_ == "CCONJ" else 0  # "and what did …": the "and" joins the turns
    text = "".join(replaced.get(t.i, t.text) + t.whitespace_ for t in doc[start:]).strip()
    if doc[start].text[:1].isupper():  # "He resigned?" -> "The mayor resigned?"
        text = text[:1].upper() + text[1:]
    return Reading(question, text, tuple((doc[i].text, p) for i, p in sorted(replaced.items())))


# ------------------------------------------------------------------ the previous turn
def _analyse_previous(nlp, turn: Turn) -> _Previous:
    doc = nlp(turn.question)
    answer = " ".join((turn.answer or "").split()) or None
    if answer is not None and len(answer.split()) > MAX_ANSWER_WORDS:
        answer = None
    skip = frozenset(_wh_phrase(doc))
    return _Previous(doc, skip, tuple(_mentions(doc, skip)), answer, _answer_kind(analyse(doc)) if answer else None)


def _answer_kind(asked: Question) -> str:
    """What the previous question asked for: person, place, time, duration, number, thing or fact."""
    types = asked.types
    if asked.yes_no or asked.wh in ("why", "how"):
        return "fact"  # "yes", a reason, a manner: nothing a pronoun can stand for
    if "PERSON" in types:
        return "person"
    if types & _PLACE_TYPES:
        return "place"
    if types & _TIME_TYPES:
        return "duration" if asked.wh == "how long" else "time"
    if types & _NUMBER_TYPES:
        return "number"
    return "thing"


# ------------------------------------------------------------------ the previous question's phrases
def _wh_phrase(doc) -> set[int]:
    """Indexes of the wh-word and the noun it asks about ("which envoy", "how many drones")."""
    wh = next((t for t in doc if t.lower_ in _WH_WORDS), None)
    if wh is None:
        return set()
    ids = {wh.i}
    head = wh.head
    if wh.dep_ in ("det", "advmod", "amod") and head.pos_ in ("NOUN", "PROPN", "ADJ", "ADV") and head.i != wh.i:
        ids.add(head.i)
        if head.pos_ in ("ADJ", "ADV") and head.head.pos_ == "NOUN":  # how many drones: how -> many -> drones
            ids.add(head.head.i)
    nouns = [doc[i] for i in ids if doc[i].pos_ in ("NOUN", "PROPN")]
    for noun in nouns:
        ids.update(t.i for t in noun.subtree if t.i <= noun.i)
    return ids


def _phrase(head, skip: frozenset[int]) -> str:
    """The noun phrase headed by `head`: its modifiers to the left and an "of" phrase to the right."""
    start = head.i
    while start > 0:
        prev = head.doc[start - 1]
        if prev.i in skip or prev.dep_ not in _MODIFIERS or not prev.is_ancestor(head) and prev.head != head:
            break
        start -= 1
    end = head.i + 1
    of = next((c for c in head.rights if c.dep_ == "prep" and c.lower_ == "of"), None)
    if of is not None and not (set(t.i for t in of.subtree) & skip):
        end = of.right_edge.i + 1
    span = head.doc[start:end]
    text = span.text
    if span[0].pos_ == "DET" and span[0].i > 0 and text[:1].isupper():
        text = text[:1].lower() + text[1:]  # "The board …" started the question; mid-sentence it is "the board"
    return text


def _mentions(doc, skip: frozenset[int]) -> list[_Mention]:
    """The previous question's noun phrases outside its wh-phrase, subjects first, then objects, then the rest."""
    found = []
    for t in doc:
        if t.i in skip or t.pos_ not in ("NOUN", "PROPN") or t.dep_ in _MODIFIERS:
            continue
        place_prep = t.dep_ == "pobj" and t.head.lower_ in LOCATIVE
        class_types = CLASS_TYPES.get(t.lemma_.lower(), ())
        name = t.pos_ == "PROPN"
        found.append(_Mention(_phrase(t, skip), t.dep_,
                              (name or "PERSON" in class_types) and not place_prep,
                              place_prep or bool(set(class_types) & _PLACE_TYPES),
                              t.tag_ in ("NNS", "NNPS")))
    order = {"nsubj": 0, "nsubjpass": 0, "dobj": 1, "attr": 1, "pobj": 2}
    return sorted(found, key=lambda m: order.get(m.dep, 3))


# ------------------------------------------------------------------ pronouns
def _antecedent(token, doc, prev: _Previous, nlp) -> str | None:
    """What a referring word of the follow-up stands for, or None when it is not one (or nothing fits)."""
    morph = token.morph
    if token.pos_ == "ADV" and "Dem" in morph.get("PronType"):
        if token.lower_ == "there":
            return _where(prev)
        if token.lower_ == "then":
            return _when(prev, nlp)
        return None
    demonstrative = token.pos_ == "PRON" and token.tag_ == "DT" and token.dep_ != "det"
    personal = token.tag_ in ("PRP", "PRP$") and morph.get("Person") == ["3"] and token.dep_ != "expl"
    if not (demonstrative or personal):
        return None
    possessive = token.tag_ == "PRP$"
    gender, number = morph.get("Gender"), morph.get("Number")
    if gender and gender != ["Neut"]:
        want = "person"
    elif number == ["Plur"]:
        want = "plural"
    else:
        want = "thing"
    if possessive and _bound_inside(token, doc, want):
        return None
    phrase = _pick(want, prev, nlp)
    if phrase is None:
        return None
    return _possessive(phrase) if possessive else phrase


def _bound_inside(token, doc, want: str) -> bool:
    """A possessive after a noun of its kind in the follow-up itself ("the mayor … her plan") refers to it."""
    for t in doc[: token.i]:
        if t.pos_ == "PROPN" and want == "person" or t.pos_ == "NOUN" and want == "thing" \
                or t.tag_ in ("NNS", "NNPS") and want == "plural":
            return True
        if want == "person" and "PERSON" in CLASS_TYPES.get(t.lemma_.lower(), ()):
            return True
    return False


def _pick(want: str, prev: _Previous, nlp) -> str | None:
    """The previous answer when it is of the wanted kind, else the first noun phrase of the previous question that is."""
    answer, kind, mentions = prev.answer, prev.kind, prev.mentions
    if answer is not None:
        if want == "person" and kind == "person" or want == "thing" and kind == "thing":
            return answer
        if want == "plural" and kind in ("person", "place", "thing") and _plural(nlp(answer)):
            return answer
    if want == "person":
        fits = [m for m in mentions if m.person]
    elif want == "plural":
        fits = [m for m in mentions if m.plural and not m.place] or [m for m in mentions if m.dep.startswith("nsubj")]
    else:
        fits = [m for m in mentions if not m.person and not m.place] or [m for m in mentions if not m.person]
        fits = sorted(fits, key=lambda m: m.dep.startswith("nsubj"))  # "it" is rather an object than the subject
    return fits[0].text if fits else None


def _plural(doc) -> bool:
    """A plural noun phrase, or names joined by "and"."""
    return any(t.tag_ in ("NNS", "NNPS") and t.dep_ not in _MODIFIERS for t in doc) or any(t.dep_ == "cc" for t in doc)


def _possessive(phrase: str) -> str:
    return phrase + ("'" if phrase.endswith("s") else "'s")


# ------------------------------------------------------------------ there, then
def _where(prev: _Previous) -> str | None:
    if prev.answer is not None and prev.kind == "place":
        return _place_phrase(prev.answer)
    for t in prev.doc:
        if t.dep_ == "pobj" and t.head.lower_ in LOCATIVE and t.i not in prev.skip and t.pos_ in ("PROPN", "NOUN"):
            return t.head.text + " " + _phrase(t, prev.skip)
    return None


def _when(prev: _Previous, nlp) -> str | None:
    if prev.answer is not None and prev.kind == "time":
        return _time_phrase(nlp(prev.answer))
    for t in prev.doc:
        if t.dep_ == "pobj" and t.i not in prev.skip and _datelike(t):
            return t.head.text + " " + prev.doc[t.left_edge.i: t.right_edge.i + 1].text
    return None


def _place_phrase(answer: str) -> str:
    return answer if _starts_with_preposition(answer) else "in " + answer


def _datelike(token) -> bool:
    words = [w.lower_ for w in token.subtree]
    return any(w in _WEEKDAYS or w in _MONTHS for w in words) or any(
        w.tag_ == "CD" and w.text.isdigit() and len(w.text) == 4 for w in token.subtree)


def _time_phrase(doc) -> str:
    """A date answer as a phrase that can stand for "then": "on 3 March", "in 2024"; "last week" as it is."""
    text = doc.text
    if _starts_with_preposition(text) or doc[0].pos_ in ("DET", "ADJ") or doc[-1].lower_ == "ago":
        return text
    words = [t.lower_ for t in doc]
    if any(w in _WEEKDAYS for w in words) or any(t.like_num and len(t.text) <= 2 for t in doc):
        return "on " + text
    if any(w in _MONTHS for w in words) or any(t.like_num and len(t.text) == 4 for t in doc):
        return "in " + text
    return text


def _starts_with_preposition(text: str) -> bool:
    first = text.split(maxsplit=1)[0].lower() if text.split() else ""
    return first in LOCATIVE or first in ("on", "during", "since", "before", "after", "by", "from", "until")


# ------------------------------------------------------------------ "when was that?": the previous event
def _event_reference(doc):
    """The wh-word and the demonstrative when the follow-up asks when/where/why/how about "that" and says
    nothing else ("when was that?", "why did that happen?"), else None."""
    words = [t for t in doc if not t.is_punct and t.pos_ != "CCONJ"]
    wh = next((t for t in words if t.lower_ in _CIRCUMSTANCE), None)
    if wh is None or wh.dep_ != "advmod":
        return None
    subject = next((t for t in words if t.dep_ in ("nsubj", "nsubjpass")), None)
    if subject is None or subject.lower_ not in ("that", "this", "it"):
        return None
    others = [t for t in words if t not in (wh, subject) and t.pos_ != "AUX" and t.dep_ not in ("aux", "ROOT")]
    return None if others else (wh, subject)


def _statement(prev: _Previous, nlp) -> str | None:
    """The previous question as the inverted clause of a new question, its gap filled with the answer:
    "who chaired the inquiry?" + Rubio -> "did Rubio chair the inquiry"; None when it cannot be built."""
    before, skip, answer, kind = prev.doc, prev.skip, prev.answer, prev.kind
    words = [t for t in before if not t.is_punct]
    if not words or not skip:  # a yes/no question is already inverted: "did the board approve the levy"
        return _render(words) if words and _inverted(words[0]) else None
    if answer is None:
        return None
    wh = next(t for t in before if t.i in skip and t.lower_ in _WH_WORDS)
    nouns = [before[i] for i in sorted(skip) if before[i].pos_ in ("NOUN", "PROPN")]
    head = nouns[0] if nouns else wh
    rest = [t for t in words if t.i not in skip]
    if head.dep_ in ("nsubj", "nsubjpass"):
        return _subject_clause(before, rest, answer)
    if not rest or not _inverted(rest[0]):  # not inverted: nothing to put the new question word before
        return None
    if wh.lower_ in ("when", "where"):
        if kind == "time":
            return _render(rest, {rest[-1].i: _time_phrase(nlp(answer))})
        if kind == "place":
            return _render(rest, {rest[-1].i: _place_phrase(answer)})
        return None
    if head.dep_ == "pobj" and head.head.i > head.i:  # a stranded preposition: "agree to ___"
        gap = head.head
    else:
        verb = next((t for t in rest if t.pos_ == "VERB"), rest[-1])
        gap = next((c for c in verb.rights if c.dep_ == "prt"), verb)  # after its particle: "set up ___"
    return _render(rest, {gap.i: answer})


def _inverted(first) -> bool:
    """Whether a clause opens with its auxiliary (the small model sometimes tags an opening "Did" a verb)."""
    return first.pos_ == "AUX" or first.tag_ == "MD" or first.lemma_.lower() in ("do", "be", "have")


def _subject_clause(before, rest, answer: str) -> str | None:
    """"who chaired the inquiry" + Rubio -> "did Rubio chair the inquiry" (do-support, or the auxiliary fronted)."""
    verb = next((t for t in before if t.dep_ == "ROOT"), None)
    if verb is None or not rest:
        return None
    aux = next((t for t in rest if t.dep_ in ("aux", "auxpass") and t.head == verb), None)
    if aux is None and verb.pos_ == "AUX":  # "who was the envoy" -> "was Rubio the envoy"
        aux = verb
    if aux is not None:
        return aux.text + " " + answer + " " + _render([t for t in rest if t != aux])
    do = {"VBD": "did", "VBZ": "does"}.get(verb.tag_, "do")
    return do + " " + answer + " " + _render(rest, replace={verb.i: verb.lemma_})


def _render(tokens, after: dict[int, str] | None = None, replace: dict[int, str] | None = None) -> str:
    """Tokens as text with their own spacing, a word replaced or a phrase put after one. The first word of
    the previous question moves inside the new one: lowercased unless it is a name."""
    after, replace = after or {}, dict(replace or {})
    first = tokens[0] if len(tokens) else None
    if first is not None and first.i == 0 and first.pos_ != "PROPN" and first.i not in replace:
        replace[0] = first.lower_ if first.text != "I" else first.text
    out = []
    for t in tokens:
        out.append(replace.get(t.i, t.text) + (" " + after[t.i] if t.i in after else "") + t.whitespace_)
    return " ".join("".join(out).split())
