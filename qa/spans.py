"""Short answer spans: the rules that cut the answer out of its sentence, in one table.

A question is read once (`parse`) into a `Question` whose `kind` is the first row of `RULES` whose
pattern matches it. That row's extractor is a pure function from the question and one sentence of an
article (`Passage`: the raw text and the sentence's offsets) to `Candidate` spans with offsets into the
raw text, best first. The reader takes the best candidate of each sentence as its short answer; when
a rule finds nothing, the sentence stays the answer, except for the kinds marked `needs_span` (all but
yes_no): their answer is a span of that kind or nothing (see Reader._answers).

    kind      asked as                                  the span
    yes_no    "Did/Is/Has ... ?"                        the clause stating it, labelled Yes / No
    kind_of   "What kind of delegation ...?"            the noun with what qualifies it ("a delegation of
                                                        low-level officials", "a full ceasefire")
    list      "Which leaders ...?" (a plural noun)      the enumeration, and each item in it
    how_many  "How many ...?"                           a number with its unit ("1,000 prisoners of war")
    how_much  "How much ...?"                           an amount ("$2", "5%"), else a number
    how_long  "How long / quickly ...?"                 a duration ("more than two hours", "30-day")
    how_old   "How old ...?"                            an age ("78-year-old")
    when      "When ...?", "On what day ...?"           a date, day or time ("Monday", "March 18")
    where     "Where ...?", "In which city ...?"        a name after a place preposition ("Sochi")
    said      "What did X say/write ...?",              the quoted words, else the reported clause
              "How did X describe ...?"
    object    "What did X agree to / propose / urge?"   the verb's complement ("to work with ...")
    manner    "How would X achieve Y?"                  the means after the verb ("through diplomacy")
    who       "Who ...?", "Which agency ...?"           a name near the question's words
Rules never key on a word of a particular question: they use the question's grammar (its wh-word,
auxiliary, verb and particle) and the sentence's (names, numbers, quotes, clause boundaries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

from qa import dates, quantities
from qa.phrases import (Token, inside, lowercase_words, name_runs, overlaps, paragraph, quotations,
                        strip_edges, tokens)
from qa.text import STOPWORDS, tokenize, without_source, words

AUXILIARIES = frozenset("did does do is are was were will would can could has have had should".split())
COPULAS = frozenset("is are was were".split())
PARTICLES = frozenset("to on for with about from into against".split())
# Prepositions the stopword list keeps: they end a verb's run of words in a question, never start one.
PREPOSITIONS = frozenset("""before after during between against among amid without within toward towards across
    behind beyond despite since near inside outside throughout upon via""".split())
CLAUSE_OPENERS = frozenset("which who whom whose that while when although though because if".split())
NEGATORS = frozenset("not never no neither nor without".split())
NEGATING_VERBS = frozenset("failed fails refused refuses declined declines".split())  # "... to agree"
HYPOTHETICAL = frozenset("if whether unless should would could might may".split())
_SAY_VERBS = r"(?:say|said|tell|told|write|wrote|add|state|claim|warn|announce|declare|insist|argue|call|describe|characteri[sz]e|report)"
_CLAUSE_END = re.compile(r",(?!\d{3})|[;:!?\u2014]|\.(?=\s|$)|\s[\u2013-]\s|\s(?:according to|as reported|but|while|which)\s")
_PLACE_PREPOSITIONS = frozenset("in at from near inside outside across throughout within into".split())
DEMONYM_ENDINGS = ("ian", "ean", "ese", "ish")
PLACE_ENDINGS = ("a", "e", "y", "ain", "land")  # stems of place names a demonym is made from
_DEMONYM_RE = re.compile(rf"^[A-Z][a-z]+(?:{'|'.join(DEMONYM_ENDINGS)})$")
_LIST_CONNECTORS = ("including", "such as", "like", "as well as", "and", "or", "namely", "of")
_TIME_OF_DAY_RE = re.compile(r"\s+(?:morning|afternoon|evening|night)$")
MAX_DISTANCE = 12
ANCHOR_WORDS = 8  # a place or date this close after the question's verb is what the verb is about  # words between a name and the question's words beyond which a "who" span is a guess


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    kind: str
    words: tuple[str, ...]  # lowercased words, stopwords kept
    stems: frozenset[str]  # content stems (the BM25 tokenizer's)
    verb: str | None = None  # stem of the predicate: "agre" in "What did Putin agree to?"
    particle: str | None = None  # the preposition the question ends with: "to"
    focus: tuple[str, ...] = ()  # stems of the noun asked about: "prison", "war" in "how many prisoners of war"
    subject: frozenset[str] = frozenset()  # stems naming the actor: "putin"


@dataclass(frozen=True, slots=True)
class Passage:
    """One sentence of an article, as the rules see it."""

    text: str  # the article's raw text
    start: int
    end: int
    common: frozenset[str] = frozenset()  # words the article spells in lowercase (see phrases.lowercase_words)

    @classmethod
    def of(cls, text: str, start: int, end: int) -> "Passage":
        return cls(text, start, end, lowercase_words(text))


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int  # offsets into the article's raw text
    end: int
    rule: str
    score: float = 1.0  # preference among one sentence's candidates
    label: str | None = None  # "Yes" / "No" (yes_no only)
    parts: tuple[tuple[int, int], ...] = ()  # a list's items


Extractor = Callable[[Question, Passage], list[Candidate]]


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    pattern: re.Pattern
    extract: Extractor
    valued: bool = False  # answers state a value: two answers are the same when their values are
    differs: bool = False  # different values from different articles are reported as differing
    needs_span: bool = False  # a sentence where it finds no span does not give what was asked


def stem(word: str) -> str | None:
    toks = tokenize(word)
    return toks[0] if toks else None


def same_stem(a: str, b: str) -> bool:
    """Equal stems, or one a prefix of the other at five letters or more ("russia" / "russian"), or a
    demonym and the place it names, sharing their first four letters ("turkish" / "turkey",
    "british" / "britain")."""
    if a == b or (min(len(a), len(b)) >= 5 and (a.startswith(b) or b.startswith(a))):
        return True
    if a[:4] != b[:4] or min(len(a), len(b)) < 5:
        return False
    demonym, place = (a, b) if a.endswith(DEMONYM_ENDINGS) else (b, a)
    return demonym.endswith(DEMONYM_ENDINGS) and place.endswith(PLACE_ENDINGS)


def has_stem(stems: frozenset[str] | set[str], s: str | None) -> bool:
    return s is not None and any(same_stem(s, q) for q in stems)


# ---------------------------------------------------------------- question analysis
def parse(question: str) -> Question:
    """The question's kind and grammar, read after a leading source ("According to Trump, how many
    ..." asks "how many ..."); its stems, the source's included."""
    body = without_source(question)
    ws = tuple(words(body))
    kind = next((r.kind for r in RULES if r.pattern.search(" ".join(ws))), "other")
    raw = re.findall(r"[^\W_]+(?:['\u2019][^\W_]+)*", body)
    verb, particle, subject, focus = _grammar(kind, ws, raw)
    # stemmed as the rules read sentences: "U.S." is one word ("u"), as it is in the articles
    stems = frozenset(s for t in tokens(question) if t.is_word and (s := stem(t.text)))
    return Question(question, kind, ws, stems, verb, particle, focus, subject)


def _grammar(kind: str, ws: tuple[str, ...], raw: list[str]) -> tuple[str | None, str | None, frozenset[str], tuple[str, ...]]:
    """(verb, particle, subject, focus) from the question's word order: after the auxiliary come the
    subject (names and their nouns) and the predicate; a trailing preposition is the particle."""
    particle = ws[-1] if len(ws) > 1 and ws[-1] in PARTICLES else None
    if len(ws) > 2 and ws[-1] == "do" and ws[-2] == "to":
        particle = "to"
    aux = next((i for i, w in enumerate(ws) if w in AUXILIARIES), None)
    if kind == "who" and len(ws) > 1 and ws[0] in ("who", "whom") and ws[1] not in AUXILIARIES:
        return stem(ws[1]), particle, frozenset(), ()  # "who hosted ...": the verb follows "who"
    focus: tuple[str, ...] = ()
    if kind in ("how_many", "how_much", "list") and len(ws) > 2:
        start = 2 if kind != "list" else 1
        end = next((i for i in range(start, len(ws)) if ws[i] in AUXILIARIES), len(ws))
        focus = tuple(s for w in ws[start:end] if (s := stem(w)))
    elif kind == "kind_of":
        end = next((i for i in range(3, len(ws)) if ws[i] in AUXILIARIES), len(ws))
        focus = tuple(s for w in ws[end - 1 : end] if (s := stem(w)))  # "what kind of ceasefire did": ceasefire
    elif kind == "who" and len(ws) > 2 and ws[0] in ("which", "what") and ws[1] not in AUXILIARIES:
        # "which news agencies reported ...": the noun before the auxiliary or the verb (-ed)
        end = next((i for i in range(1, len(ws)) if ws[i] in AUXILIARIES or ws[i].endswith("ed")), len(ws))
        focus = tuple(s for w in ws[end - 1 : end] if (s := stem(w)))
    if aux is None:
        return None, particle, frozenset(), focus
    after = list(zip(ws[aux + 1 :], raw[aux + 1 :]))
    if kind in ("where", "when") and ws[aux] in COPULAS:
        # "where was Trump during the call?": no verb; the subject runs to the first preposition
        # (unless a participle ends it: "when was the port closed?" is a passive verb)
        end = next((i for i, (w, _) in enumerate(after) if w in PREPOSITIONS or w in PARTICLES or w in ("in", "at", "on")),
                   len(after))
        last = after[end - 1][0] if end else ""
        if end and not (re.search(r"(?:ed|en|ing)$", last) and stem(last) != last):  # "king" is no participle
            return None, particle, frozenset(s for w, _ in after[:end] if (s := stem(w))), focus
    lowercase = [i for i, (w, r) in enumerate(after)
                 if r[:1].islower() and (w not in STOPWORDS or re.fullmatch(_SAY_VERBS, w)) and w != "do"
                 and w not in PREPOSITIONS and (stem(w) or re.fullmatch(_SAY_VERBS, w))]
    verb_i = _predicate(after, lowercase, kind) if lowercase else None
    subject = frozenset(s for w, r in after[: verb_i if verb_i is not None else len(after)] if (s := stem(w)))
    if verb_i is not None:
        verb_i = _second_verb(after, verb_i)
    verb = (stem(after[verb_i][0]) or after[verb_i][0]) if verb_i is not None else None  # "say" is a stopword
    return verb, particle, subject, focus


def _second_verb(after: list[tuple[str, str]], i: int) -> int:
    """"What did they want Trump / the mayor / him to impose?" asks what is imposed, not what is wanted:
    the verb after its object and "to" (but "urge Trump to do?" asks for the first verb's complement)."""
    for k in (i + 2, i + 3):
        if k + 1 >= len(after) or after[k][0] != "to":
            continue
        between = after[i + 1 : k]
        named = (all(r[:1].isupper() for _, r in between) or between[0][0] in ("him", "her", "them", "us", "me")
                 or (len(between) == 2 and between[0][0] in ("the", "his", "her", "their", "its")))
        w, r = after[k + 1]
        if named and r[:1].islower() and w != "do" and stem(w):
            return k + 1
    return i


def _predicate(after: list[tuple[str, str]], lowercase: list[int], kind: str) -> int:
    """The verb: for "what did X say" questions the saying verb; else the last word of the first run
    of lowercase content words ("European leaders urge Trump": "leaders urge" -> "urge")."""
    if kind == "said":
        says = [i for i in lowercase if re.fullmatch(_SAY_VERBS, after[i][0])]
        if says:
            return says[0]
    runs: list[list[int]] = []
    for i in lowercase:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs[:-1]:
        nxt = run[-1] + 1
        if not (nxt < len(after) and after[nxt][0] in ("of", "who", "which", "that")):
            return run[-1]
    # a run followed by "of" or a relative pronoun names a thing ("the largest drone assault of the
    # war hit", "the foreign minister who hosted"), not the action asked about
    return runs[-1][-1]


# ---------------------------------------------------------------- sentence helpers
@dataclass(frozen=True, slots=True)
class _Word:
    tok: Token
    stem: str | None


def _words(p: Passage) -> list[_Word]:
    return [_Word(t, stem(t.text) if t.is_word else None) for t in tokens(p.text, p.start, p.end)]


def _matches(q: Question, ws: list[_Word]) -> list[int]:
    """Indexes of the sentence's words that are words of the question."""
    return [i for i, w in enumerate(ws) if has_stem(q.stems, w.stem)]


def _index_at(ws: list[_Word], pos: int) -> int:
    return next((i for i, w in enumerate(ws) if w.tok.end > pos), len(ws) - 1)


def _distance(ws: list[_Word], span: tuple[int, int], matches: list[int]) -> int:
    """Words between a span and the nearest question word outside it, a punctuation mark crossed
    counting as three (a clause boundary separates more than a word); 99 when there is none."""
    lo, hi = _index_at(ws, span[0]), _index_at(ws, span[1] - 1)
    best = 99
    for m in matches:
        if lo <= m <= hi:
            continue
        a, b = (m, lo) if m < lo else (hi, m)
        best = min(best, sum(3 if not w.tok.is_word else 1 for w in ws[a + 1 : b + 1]))
    return best


def _by_distance(q: Question, p: Passage, spans: list[tuple[int, int]], rule: str, limit: int = 99) -> list[Candidate]:
    """Nearest to the question's words first; of spans as near, the one with more of them close by
    ("since their explosive Oval Office meeting in February" over "met Sunday")."""
    ws = _words(p)
    matches = _matches(q, ws)
    scored = sorted(((_distance(ws, s, matches), -_near_count(ws, s, matches), s) for s in spans),
                    key=lambda x: (x[0], x[1], x[2][0]))
    return [Candidate(s[0], s[1], rule, 1.0 / (1 + d)) for d, _, s in scored if d <= limit]


def _near_count(ws: list[_Word], span: tuple[int, int], matches: list[int], window: int = 5) -> int:
    lo, hi = _index_at(ws, span[0]), _index_at(ws, span[1] - 1)
    return sum(1 for m in matches if lo - window <= m < lo or hi < m <= hi + window)


def _in_question(q: Question, text: str) -> bool:
    """Every word of `text` is a word of the question: no new information."""
    stems = [stem(w) for w in words(text)]
    stems = [s for s in stems if s]
    return bool(stems) and all(has_stem(q.stems, s) for s in stems)


def _trim_question_words(q: Question, p: Passage, span: tuple[int, int]) -> tuple[int, int] | None:
    """Drop the question's own title words from the front of a name ("Ukrainian President Volodymyr
    Zelenskyy" for "who is the Ukrainian president?" -> "Volodymyr Zelenskyy"). A name still holding a
    word of the question is the question's own subject ("JD Vance" for "where did Vance ..."): None."""
    toks = [t for t in tokens(p.text, *span) if t.is_word]
    while toks and has_stem(q.stems, stem(toks[0].text)) and (t := toks[0].lower) and (t in p.common or _DEMONYM_RE.match(toks[0].text)):
        toks.pop(0)
    if not toks or any(has_stem(q.stems, stem(t.text)) for t in toks):
        return None
    return toks[0].start, span[1]


def _names(p: Passage) -> list[tuple[int, int]]:
    """Name runs of the sentence that are names: not a common word opening the sentence
    ("Meanwhile"), not a shouted common word ("TRADE"), not a day or month, not a lone demonym."""
    out = []
    for start, end in name_runs(p.text, p.start, p.end):
        text = p.text[start:end]
        ws = re.findall(r"[^\W\d_]+", text)
        if not ws or all(w.lower() in p.common for w in ws):
            continue
        if len(ws) == 1 and (_DEMONYM_RE.match(text) or text.lower() in dates.WEEKDAYS or text.lower() in dates.MONTHS):
            continue
        if dates.DATE_RE.fullmatch(text):
            continue
        out.append((start, end))
    return out


def clause_end(text: str, pos: int, hi: int) -> int:
    """Where the clause that starts at `pos` ends: a comma, colon, dash, sentence end, or a
    subordinating turn ("according to", "but", "which")."""
    m = _CLAUSE_END.search(text, pos, hi)
    return m.start() if m else hi


def _span(p: Passage, start: int, end: int) -> tuple[int, int] | None:
    start, end = strip_edges(p.text, start, end)
    return (start, end) if end > start else None


# ---------------------------------------------------------------- extractors
def names(q: Question, p: Passage) -> list[Candidate]:
    """who: the agent of a passive verb of the question ("hosted by X"); the name right after the
    question's verb when the question asks for its object ("who did Putin appoint?" -> "appointed his
    aide, Vladimir Medinsky") or right before it when it asks for its subject ("who heads X?"); else
    names near the question's words. Never the question's own names. A name in an enumeration
    answers with the whole enumeration ("who did Trump inform?")."""
    found = _names_by_grammar(q, p) or _names_near(q, p)
    if found and q.verb:
        listed = items(q, p)
        if (listed and all(p.text[a].isupper() for a, _ in listed[0].parts)
                and any(inside((found[0].start, found[0].end), part) for part in listed[0].parts)):
            return [replace(listed[0], rule="who_list")]
    return found


def _names_by_grammar(q: Question, p: Passage) -> list[Candidate]:
    ws = _words(p)
    if q.verb:
        names_here = _names(p)
        runs = [r for r in names_here if _trim_question_words(q, p, r) == r]
        for i, w in enumerate(ws):
            if not (w.stem and same_stem(w.stem, q.verb)):
                continue
            if q.subject:  # "who did X VERB": the object, within the clause after the verb
                after = [r for r in runs if w.tok.end <= r[0] and len(tokens(p.text, w.tok.end, r[0])) <= 6
                         and not re.search(r"[.;:]", p.text[w.tok.end : r[0]])]
                if after:
                    return [Candidate(*_joined(p, names_here, after[0]), "who_object", 1.0)]
            else:  # "who VERBed X": the subject just before the verb, or the one picked "to VERB" it
                before = [r for r in runs if r[1] <= w.tok.start
                          and p.text[r[1] : w.tok.start].strip(" ,") in ("", "to")]
                if before:
                    return [Candidate(*before[-1], "who_subject", 1.0)]
    return []


def _joined(p: Passage, runs: list[tuple[int, int]], run: tuple[int, int]) -> tuple[int, int]:
    """A name with the names "and" joins to it (of the sentence's name `runs`: "met with JD Vance and US
    Secretary of State Marco Rubio"): both are the answer. A name split by "of" after the "and" is one
    title ("Secretary of State")."""
    end, joined = run[1], False
    for r in runs:
        if r[0] < end:
            continue
        between = p.text[end : r[0]]
        if between == " and " or (joined and between == " of "):
            end, joined = r[1], True
        else:
            break
    return (run[0], end) if joined else run


def _names_near(q: Question, p: Passage) -> list[Candidate]:
    ws = _words(p)
    for i, w in enumerate(ws[:-1]):
        if has_stem(q.stems, w.stem) and ws[i + 1].tok.lower == "by" and i + 2 < len(ws):
            end = clause_end(p.text, ws[i + 2].tok.start, p.end)
            agent = _span(p, ws[i + 2].tok.start, _cut_at_verb(p, ws[i + 2].tok.start, end))
            if agent and _in_question(q, p.text[agent[0] : agent[1]]):
                return []  # the sentence names the doer only as the question does: no other name here is it
            if agent:
                return [Candidate(*agent, "who_agent", 1.0)]
    spans = []
    for run in _names(p):
        trimmed = _trim_question_words(q, p, run)
        if trimmed:
            spans.append(trimmed)
    typed = [s for s in spans if _named_as(q, ws, s)]
    if typed:  # "which news agencies ...": the name the sentence calls a news agency ("news agency TASS")
        return [Candidate(*s, "who_typed", 1.0) for s in typed]
    return _by_distance(q, p, spans, "who_name", MAX_DISTANCE)


def _named_as(q: Question, ws: list[_Word], span: tuple[int, int]) -> bool:
    """Whether the word just before a name is the noun a "which N" question asks for."""
    before = [w for w in ws if w.tok.end <= span[0] and w.tok.is_word]
    return bool(q.focus and before and before[-1].stem and same_stem(before[-1].stem, q.focus[-1]))


def _cut_at_verb(p: Passage, start: int, end: int) -> int:
    """End a noun phrase before its first finite-looking verb ("X were the first" -> "X")."""
    for t in tokens(p.text, start, end):
        if t.lower in AUXILIARIES or t.lower in ("that", "who", "which"):
            return t.start
    return end


def places(q: Question, p: Passage) -> list[Candidate]:
    """where: names after a place preposition (within six words: "in the southern Russian resort
    city of Sochi"); of a chain of names ("from Russia's Black Sea resort in Sochi") the last, most
    specific one, or all of the last ones joined by "and" ("in Ukraine's Sumy and Donetsk"). A chain
    right after the question's verb ("speaking from ...", "met ... in Rome") or after its subject and
    a copula ("Trump was in Washington") is the answer; else the chain nearest the question's words,
    if within MAX_DISTANCE of one (a place further off is a guess, as a name is for "who")."""
    ws = _words(p)
    located = []
    for run in _names(p):
        i = _index_at(ws, run[0])
        for w in reversed(ws[max(0, i - 7) : i]):
            if not w.tok.is_word:
                break
            if w.tok.lower in _PLACE_PREPOSITIONS:
                trimmed = _trim_question_words(q, p, run)
                if trimmed and not dates.find_dates(p.text[trimmed[0] : trimmed[1]]):
                    located.append((w.tok.start, trimmed))
                break
    chains: list[tuple[int, tuple[int, int]]] = []  # (where the chain starts, its last place)
    for k, (prep, place) in enumerate(located):
        if chains and _chained(p.text, chains[-1][1], place):
            # "Russia's Black Sea resort in Sochi": the last, most specific; "Sumy and Donetsk": both
            joined = p.text[chains[-1][1][1] : place[0]].strip() in ("and", "or")
            chains[-1] = (chains[-1][0], (chains[-1][1][0], place[1]) if joined else place)
        else:
            chains.append((prep, place))
    for anchor in _place_anchors(q, ws):
        after = [c for c in chains if anchor <= c[0] and len(tokens(p.text, anchor, c[0])) <= ANCHOR_WORDS
                 and not re.search(r"[.;:]", p.text[anchor : c[0]])]
        if after:
            return [Candidate(*after[0][1], "where_verb", 1.0)]
    ws_matches = _matches(q, ws)
    scored = sorted(((_distance(ws, (start, place[1]), ws_matches), place) for start, place in chains),
                    key=lambda x: (x[0], x[1][0]))
    return [Candidate(*place, "where_place", 1.0 / (1 + d)) for d, place in scored if d <= MAX_DISTANCE]


def _place_anchors(q: Question, ws: list[_Word]) -> list[int]:
    """Offsets just after the question's verb, or after its subject and a copula."""
    out = []
    for i, w in enumerate(ws):
        if q.verb and w.stem and same_stem(w.stem, q.verb) and not _is_noun_use(ws, i):
            out.append(w.tok.end)
        elif (q.subject and has_stem(q.subject, w.stem) and i + 1 < len(ws)
              and ws[i + 1].tok.lower in COPULAS):
            out.append(ws[i + 1].tok.end)
    return sorted(out)


def _chained(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    between = text[a[1] : b[0]]
    return not re.search(r"[,;:.]", between) and len(between.split()) <= 3


def dates_in(q: Question, p: Passage) -> list[Candidate]:
    """when: date, day and time expressions ("Monday" of "Monday morning"): right after the question's
    verb, else nearest the question's words. "On what day/date" takes no clock time; "what year" only
    a year; "what time" a clock time first."""
    spans = [(p.start + a, p.start + b) for a, b in dates.find_dates(p.text[p.start : p.end])]
    spans = [(a, a + len(_TIME_OF_DAY_RE.sub("", p.text[a:b]))) for a, b in spans]
    spans = [s for s in spans if not _in_question(q, p.text[s[0] : s[1]])]
    asked = set(q.words) & {"day", "date", "year", "month", "time"}
    if asked & {"day", "date"}:
        spans = [s for s in spans if not dates.is_clock_time(p.text[s[0] : s[1]])]  # "on what day": no "10 a.m."
    elif "year" in asked:
        spans = [s for s in spans if re.search(r"\b(?:19|20)\d{2}\b", p.text[s[0] : s[1]])]
    elif "time" in asked:
        spans = [s for s in spans if dates.is_clock_time(p.text[s[0] : s[1]])] or spans
    ws = _words(p)
    for anchor in _place_anchors(q, ws):
        after = [s for s in spans if anchor <= s[0] and len(tokens(p.text, anchor, s[0])) <= ANCHOR_WORDS
                 and not re.search(r"[.;:]", p.text[anchor : s[0]])]
        if after:
            return [Candidate(*after[0], "when_verb", 1.0)]
    return _by_distance(q, p, spans, "when_date")


# a number per unit of time: "5000 soldiers a week", "per day", "each month"
_RATE_RE = re.compile(r"\W*(?:a|an|per|each|every) (?:day|week|month|year|hour)\b|\W*(?:daily|weekly|monthly|yearly|annually)\b",
                      re.I)


def numbers(q: Question, p: Passage) -> list[Candidate]:
    """how many: a number (not a date, time or duration) with its unit. When the question names what
    it counts, a number followed by another noun counts something else and is passed over ("11 people"
    for "how many drones"); the counted noun may follow within five words ("1,000 prisoners of war")
    or not at all ("76 of which"). Otherwise the unit is the next word. "How many of the drones ...?"
    asks for a part: a number of the drones themselves is the whole, not the answer. A number per unit
    of time ("5000 soldiers a week") answers only a question that asks for a rate ("each week")."""
    part = len(q.words) > 2 and q.words[2] == "of"
    rate_asked = _RATE_RE.search(" " + " ".join(q.words)) is not None
    taken = [(p.start + a, p.start + b) for a, b in dates.find_dates(p.text[p.start : p.end])]
    taken += quantities.find(quantities.DURATION_RE, p.text, p.start, p.end)
    taken += quantities.find(quantities.AGE_RE, p.text, p.start, p.end)
    ws = _words(p)
    out = []
    for span in quantities.find(quantities.NUMBER_RE, p.text, p.start, p.end):
        if any(overlaps(span, t) for t in taken) or _in_question(q, p.text[span[0] : span[1]]):
            continue
        i = _index_at(ws, span[1] - 1) + 1
        end, counted = span[1], False
        for j in range(i, min(i + 5, len(ws))):
            if not ws[j].tok.is_word:
                break
            if q.focus and has_stem(set(q.focus), ws[j].stem):
                end, counted = ws[j].tok.end, True
            elif counted and ws[j].tok.lower not in STOPWORDS:
                break  # "prisoners of war": a stopword may join two words of the counted noun
        unit = ws[i] if not counted and i < len(ws) and ws[i].tok.is_word and ws[i].tok.lower not in STOPWORDS else None
        if q.focus and unit is not None:
            continue  # "how many drones" is not answered by "11 people": a count of something else
        if part and counted:
            continue  # "112 drones" for "how many of the drones were repelled": "76 of which"
        if unit is not None:
            end = unit.tok.end
        if _RATE_RE.match(p.text, end) and not rate_asked:
            continue  # "5000 soldiers a week" does not answer "how many soldiers have been killed since ..."
        out.append((span[0], end, counted))
    matches = _matches(q, ws)
    scored = []
    for a, b, counted in out:
        d = _distance(ws, (a, b), matches) + (0 if counted or not q.focus else 3)
        scored.append((d, a, b))
    return [Candidate(a, b, "how_many_number", 1.0 / (1 + d)) for d, a, b in sorted(scored)]


def amounts(q: Question, p: Passage) -> list[Candidate]:
    """how much: a sum or a share ("$2", "5 percent"), else a number."""
    spans = quantities.find(quantities.AMOUNT_RE, p.text, p.start, p.end)
    return _by_distance(q, p, spans, "how_much_amount") or numbers(q, p)


def durations(q: Question, p: Passage) -> list[Candidate]:
    """how long: a duration with its qualifier ("more than two hours", "over-two-hour-long")."""
    return _by_distance(q, p, quantities.find(quantities.DURATION_RE, p.text, p.start, p.end), "how_long_duration")


def ages(q: Question, p: Passage) -> list[Candidate]:
    """how old: an age ("78-year-old", "aged 78")."""
    return _by_distance(q, p, quantities.find(quantities.AGE_RE, p.text, p.start, p.end), "how_old_age")


def quotes(q: Question, p: Passage) -> list[Candidate]:
    """said: the quoted words in the sentence, those nearest the question's words first; without
    quotes, the clause a reporting verb introduces ("Leavitt said everything is on the table")."""
    lo, hi = paragraph(p.text, p.start)
    spans = []
    for a, b in quotations(p.text, lo, hi):
        if overlaps((a, b), (p.start, p.end)):
            span = _span(p, max(a, p.start), min(b, p.end))
            if span:
                spans.append(span)
    if spans:
        return _by_distance(q, p, spans, "said_quote")
    ws = _words(p)
    for i, w in enumerate(ws):
        if re.fullmatch(_SAY_VERBS + r"(?:s|d|ed)?", w.tok.lower) and not _is_noun_use(ws, i) and _near_subject(q, ws, i):
            start = i + 1
            that = next((j for j in range(i + 1, min(i + 6, len(ws))) if ws[j].tok.lower == "that"), None)
            if that is not None:
                start = that + 1  # "told Trump that X": the clause, not the one told
            while start < len(ws) and ws[start].tok.lower in ("that", ","):
                start += 1
            if start < len(ws):
                span = _span(p, ws[start].tok.start, clause_end(p.text, ws[start].tok.start, p.end))
                if span:
                    return [Candidate(*span, "said_clause", 0.5)]
    return []


def _near_subject(q: Question, ws: list[_Word], i: int) -> bool:
    """The words just before a verb name the question's subject (or the question names none); for a
    coordinated verb ("Putin rejected the offer but declared a pause"), the words of its clause do."""
    if not q.subject:
        return True
    if any(has_stem(q.subject, w.stem) for w in ws[max(0, i - 4) : i]):
        return True
    if i == 0 or ws[i - 1].tok.lower not in ("and", "but"):
        return False
    j = i - 1
    while j > 0 and ws[j - 1].tok.is_word and ws[j - 1].tok.lower not in CLAUSE_OPENERS:
        j -= 1
    return any(has_stem(q.subject, w.stem) for w in ws[j : i - 1])


def complements(q: Question, p: Passage) -> list[Candidate]:
    """object: what follows an asserted occurrence of the question's verb. With a particle ("agree
    to?") the first phrase opened by that particle within the clause ("to work with ..."); without,
    the words right after the verb ("proposed to hold peace talks in Turkey"). A phrase after "to"
    that starts with a determiner is a noun phrase and loses the "to". A sentence that does not name
    the question's subject gives a less certain candidate ("both sides did agree to ..." for "what did
    Putin agree to?")."""
    if q.verb is None:
        return []
    ws = _words(p)
    out = []
    for i, w in enumerate(ws):
        if not (w.stem and same_stem(w.stem, q.verb)) or not _asserted(ws, i) or _is_noun_use(ws, i):
            continue
        end = clause_end(p.text, w.tok.end, p.end)
        j = i + 1
        if q.particle:
            while j < len(ws) and ws[j].tok.start < end and ws[j].tok.lower != q.particle:
                j += 1
        else:
            while j < len(ws) and ws[j].tok.lower in ("that", "also"):
                j += 1
        if j >= len(ws) or ws[j].tok.start >= end:
            continue
        if ws[j].tok.lower == "to" and j + 1 < len(ws) and ws[j + 1].tok.lower in ("a", "an", "the", "this", "its", "their", "his", "her"):
            j += 1
        span = _span(p, ws[j].tok.start, end)
        if span and len(p.text[span[0] : span[1]].split()) >= 2:
            named = not q.subject or any(has_stem(q.subject, x.stem) for x in ws)
            out.append(Candidate(*span, "object_complement", 1.0 if named else 0.5))
    return sorted(out, key=lambda c: -c.score)


def sorts(q: Question, p: Passage) -> list[Candidate]:
    """kind_of: the noun asked about with the words that say what kind it is: the modifiers before it
    back to its determiner ("a full and unconditional ceasefire") and an "of" phrase after it ("a
    delegation of low-level officials"). A bare noun says nothing of its kind and is passed over. The
    one right after the question's verb comes first, then the nearest to the question's words."""
    if not q.focus:
        return []
    ws = _words(p)
    found = []
    for i, w in enumerate(ws):
        if not (w.stem and same_stem(w.stem, q.focus[-1])):
            continue
        start = i
        for j in range(i - 1, -1, -1):
            x = ws[j]
            if not x.tok.is_word and x.tok.text not in (",", '"', "\u201c", "\u201d"):
                break  # a quoted word qualifies too: a "dummy" delegation
            if x.tok.lower in _DETERMINERS:
                start = j
                break
            if (x.tok.lower in STOPWORDS and x.tok.lower != "and") or x.tok.text[:1].isupper():
                break  # a preposition, a verb's word, or a name ("Russian and Ukrainian delegations")
            start = j
        end = i
        if i + 2 < len(ws) and ws[i + 1].tok.lower == "of":
            stop = clause_end(p.text, ws[i + 1].tok.end, p.end)
            k = i + 2
            while k < len(ws) and ws[k].tok.start < stop and (ws[k].tok.lower not in STOPWORDS or k == i + 2):
                end = k
                k += 1
        described = [x for x in ws[start:end + 1] if x.tok.is_word and x.tok.lower not in _DETERMINERS]
        if len(described) >= 2:
            found.append((ws[start].tok.start, ws[end].tok.end))
    if not found:
        return []
    for anchor in _place_anchors(q, ws):
        after = [f for f in found if anchor <= f[0] and len(tokens(p.text, anchor, f[0])) <= 3]
        if after:
            return [Candidate(*after[0], "kind_of_verb", 1.0)]
    return _by_distance(q, p, found, "kind_of_noun")


_MEANS = frozenset("through by via using with".split())


def means(q: Question, p: Passage) -> list[Candidate]:
    """manner: the phrase opened by "through / by / via / using / with" in the clause after an
    asserted occurrence of the question's verb ("achieve our goals through political and diplomatic
    means"), to the clause's end."""
    if q.verb is None:
        return []
    ws = _words(p)
    for i, w in enumerate(ws):
        if not (w.stem and same_stem(w.stem, q.verb)) or not _asserted(ws, i) or _is_noun_use(ws, i):
            continue
        end = clause_end(p.text, w.tok.end, p.end)
        for x in ws[i + 1 :]:
            if x.tok.start >= end:
                break
            if x.tok.lower in _MEANS:
                span = _span(p, x.tok.start, end)
                if span and len(p.text[span[0] : span[1]].split()) >= 2:
                    return [Candidate(*span, "manner_means", 1.0)]
    return []


_DETERMINERS = frozenset("a an the this that these those his her its their our my your any no every each".split())
_NOUN_SUFFIX_RE = re.compile(r"(?:al|ment|tion|sion|ance|ence|ness|ship)s?$")


def _is_noun_use(ws: list[_Word], i: int) -> bool:
    """'a proposal', 'the leaders': the question's verb stem spelled as a noun here."""
    prev = ws[i - 1].tok.lower if i > 0 else ""
    return prev in _DETERMINERS or (bool(_NOUN_SUFFIX_RE.search(ws[i].tok.lower)) and prev not in AUXILIARIES and
                                    not ws[i].tok.lower.endswith("ed"))


def _asserted(ws: list[_Word], i: int) -> bool:
    """The word at i is stated, not negated, wished or supposed: not after "to" (an infinitive),
    a negation or "failed to" nearby, nor in an if/whether/should clause."""
    before = [w.tok.lower for w in ws[max(0, i - 3) : i]]
    if before and before[-1] == "to":
        return False
    if any(b in NEGATORS or b.endswith("n't") for b in before):
        return False
    clause = []
    for w in reversed(ws[:i]):
        if w.tok.text in ",;:":
            break
        clause.append(w.tok.lower)
    return not any(c in HYPOTHETICAL for c in clause)


def yes_no(q: Question, p: Passage) -> list[Candidate]:
    """yes_no: the shortest stretch of the sentence holding every content word of the question, with
    its verb asserted; labelled No when a negation ("not", "never", "failed to") governs the verb,
    Yes otherwise. A sentence missing a word of the question decides nothing (no candidate)."""
    ws = _words(p)
    needed = sorted(q.stems)
    where = {s: [i for i, w in enumerate(ws) if w.stem and same_stem(w.stem, s)] for s in needed}
    if not needed or any(not v for v in where.values()) or q.verb is None:
        return []
    best: tuple[int, int, int] | None = None
    for v in (i for i, w in enumerate(ws) if w.stem and same_stem(w.stem, q.verb)):
        if before := [w.tok.lower for w in ws[max(0, v - 1) : v]]:
            if before[-1] == "to" and not (v >= 2 and ws[v - 2].tok.lower in NEGATING_VERBS):
                continue  # an infinitive states nothing ("to get the Kremlin leader to agree")
        lo = min([v] + [min(idx, key=lambda k: abs(k - v)) for idx in where.values()])
        hi = max([v] + [min(idx, key=lambda k: abs(k - v)) for idx in where.values()])
        if best is None or hi - lo < best[1] - best[0]:
            best = (lo, hi, v)
    if best is None:
        return []
    lo, hi, v = best
    window = [w.tok.lower for w in ws[max(0, lo - 3) : v]]
    if any(c in HYPOTHETICAL for c in window):
        return []
    negated = any(w in NEGATORS or w.endswith("n't") or w in NEGATING_VERBS for w in window)
    runs = [r for r in name_runs(p.text, p.start, p.end) if r[0] <= ws[lo].tok.start < r[1]]
    start = runs[0][0] if runs else ws[lo].tok.start
    if not runs and lo > 0 and ws[lo - 1].tok.lower in _DETERMINERS | {"both", "all"}:
        start = ws[lo - 1].tok.start  # "the mayor", "both sides"
    end = ws[hi].tok.end
    for r in name_runs(p.text, p.start, p.end):
        if r[0] <= ws[hi].tok.start < r[1]:
            end = r[1]
    return [Candidate(start, end, "yes_no_clause", 1.0, "No" if negated else "Yes")]


def items(q: Question, p: Passage) -> list[Candidate]:
    """list: the enumeration after the question's verb (else after its noun): comma- and
    "and"-separated items, without appositives (", of Ukraine,", "President of the European
    Commission") and the list's own head ("multiple regions"). At least two items."""
    ws = _words(p)
    start, rule = None, "list_items"
    for anchor in (q.verb, *q.focus):
        hit = next((w for w in ws if anchor and w.stem and same_stem(w.stem, anchor)), None)
        if hit is not None:
            start = hit.tok.end
            rule = "list_items" if anchor == q.verb else "list_items_noun"
            break
    if start is None:
        return []  # neither the question's verb nor its noun: this sentence lists something else
    parts: list[tuple[int, int]] = []
    for seg_start, seg_end in _segments(p.text, start, p.end):
        seg = _strip_connectors(p, seg_start, seg_end, first=not parts)
        if seg is None:
            continue
        text = p.text[seg[0] : seg[1]]
        if text.lower() in _LIST_CONNECTORS or text.lower() in ("for example", "for instance"):
            continue  # "such as, for example, the principles ...": words that only introduce the items
        seg_words = text.split()
        if parts and _ATTRIBUTION_RE.match(text.lower()):
            break  # ", the mayor said": who said the list, not an item of it
        if parts and (text.lower().startswith("of ") or (seg_words[0][:1].isupper() and " of " in text)):
            continue  # an appositive of the item before
        if not parts and (any(has_stem(set(q.focus), stem(w)) for w in seg_words) or _introduces(p.text, seg[1])):
            continue  # the list's head: "multiple regions" (", including Kyiv, ...")
        runs = [r for r in _names(Passage(p.text, seg[0], seg[1], p.common))]
        if len(seg_words) > 8 or (runs and runs[0][0] == seg[0] and runs[0][1] < seg[1] and parts):
            if runs and runs[0][0] == seg[0]:
                parts.append(runs[0])
            if parts:
                break
            continue
        if seg_words[0][:1].islower() and parts and seg_words[0] not in ("the", "a", "an"):
            break  # the clause goes on: "during a call with me"
        parts.append(seg)
    if len(parts) < 2:
        return []
    return [Candidate(parts[0][0], parts[-1][1], rule, 1.0, parts=tuple(parts))]


# "the mayor said", "Putin told reporters": a speaker of up to three words, then a saying verb (not "a call")
_ATTRIBUTION_RE = re.compile(rf"^(?:\S+\s+){{0,2}}(?!(?:a|an|the|his|her|its|their)\s)\S+\s+{_SAY_VERBS}(?:s|d|ed)?\b")


def _introduces(text: str, end: int) -> bool:
    """Whether the words after `end` open an enumeration: "regions, including Kyiv" / "such as"."""
    return re.match(r"\s*,?\s*(?:including|such as|namely)\b", text[end:]) is not None


def _segments(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    out, start = [], lo
    for m in re.finditer(r",\s*(?:and\s+|or\s+)?|;\s*|\s+(?:and|or)\s+", text[lo:hi]):
        out.append((start, lo + m.start()))
        start = lo + m.end()
    out.append((start, hi))
    return out


def _strip_connectors(p: Passage, start: int, end: int, first: bool) -> tuple[int, int] | None:
    span = _span(p, start, end)
    if span is None:
        return None
    lowered = p.text[span[0] : span[1]].lower()
    for c in _LIST_CONNECTORS:
        if c == "of" and not first:
            continue
        if lowered.startswith(c + " "):
            return _span(p, span[0] + len(c) + 1, span[1])
    return span


# ---------------------------------------------------------------- the table
def _q(pattern: str) -> re.Pattern:
    return re.compile(pattern)


RULES: tuple[Rule, ...] = (
    Rule("yes_no", _q(r"^(?:did|does|do|is|are|was|were|will|would|can|could|has|have|had|should)\b"), yes_no),
    Rule("kind_of", _q(r"^(?:what|which) (?:kinds?|types?|sorts?) of\b"), sorts),
    Rule("list", _q(r"^(?:which|what) (?:\w+ )?(?!(?:news|series|species|means|status|process|politics|was|does|has|is)\b)\w+[^su'\s]s\b"
                    r"|^(?:name|list) "), items, needs_span=True),
    Rule("how_many", _q(r"^how many\b"), numbers, valued=True, differs=True, needs_span=True),
    Rule("how_much", _q(r"^how much\b"), amounts, valued=True, differs=True, needs_span=True),
    Rule("how_long", _q(r"^(?:for )?how (?:long|quickly|soon)\b"), durations, valued=True, differs=True, needs_span=True),
    Rule("how_old", _q(r"^how old\b"), ages, valued=True, differs=True, needs_span=True),
    Rule("when", _q(r"^(?:when\b|(?:on |at |in |by )?(?:what|which) (?:day|date|time|year|month|week)\b)"), dates_in,
         valued=True, needs_span=True),
    Rule("where", _q(r"^(?:where\b|(?:in |at |from |to )?(?:what|which) (?:cit(?:y|ies)|countr(?:y|ies)|places?|towns?|regions?|locations?|venues?)\b)"),
         places, needs_span=True),
    Rule("said", _q(rf"^(?:what did .+ {_SAY_VERBS}\b|how did .+ (?:describe|call|characteri[sz]e)\b)"), quotes,
         needs_span=True),
    Rule("manner", _q(r"^how (?:did|does|do|would|will|could|can|should|is|are|was|were)\b"), means),
    Rule("object", _q(r"^what (?:did|does|do|has|have|had|will|would) \w.* \w+$"), complements, needs_span=True),
    Rule("who", _q(r"^(?:who|whom|whose|which|what (?:agency|outlet|official|leader|country|organi[sz]ation)"
                   r"|what(?: is|'s| was) the name of)\b"), names,
         needs_span=True),
)
RULES_BY_KIND = {r.kind: r for r in RULES}


def extract(q: Question, p: Passage) -> list[Candidate]:
    """The question's rule applied to one sentence: candidates best first (empty: the sentence stays).
    A span made only of the question's own words tells the asker nothing ("Turkey's foreign minister"
    for "what is the name of the Turkish foreign minister?") and is no answer, except as the evidence
    of a yes/no question, which restates the question by design."""
    rule = RULES_BY_KIND.get(q.kind)
    if rule is None:
        return []
    return [c for c in rule.extract(q, p) if inside((c.start, c.end), (p.start, p.end)) and c.end > c.start
            and (q.kind == "yes_no" or not _in_question(q, p.text[c.start : c.end]))]


def same_value(kind: str, a: str, a_date: str | None, b: str, b_date: str | None) -> bool:
    """Two answers of a valued kind state the same value: the same quantity (amount, unit and
    qualifier), or the same day (resolved against each article's date when both can be, else the
    same words)."""
    if kind == "when":
        ra, rb = dates.resolve(a, a_date), dates.resolve(b, b_date)
        if ra and not rb:  # an undated article's "May 19" read against the dated one's date
            rb = dates.resolve(b, a_date)
        if rb and not ra:
            ra = dates.resolve(a, b_date)
        if ra and rb:
            return ra == rb
        return " ".join(words(a)) == " ".join(words(b))
    va, vb = quantities.value(a), quantities.value(b)
    if va is None or vb is None:
        return " ".join(words(a)) == " ".join(words(b))
    return va == vb


def needs_span(kind: str) -> bool:
    """Answers of this kind are a span (a name, a date, a number, someone's words, a verb's object):
    a sentence where the rule finds none does not give what was asked."""
    rule = RULES_BY_KIND.get(kind)
    return bool(rule and rule.needs_span)


def is_valued(kind: str) -> bool:
    rule = RULES_BY_KIND.get(kind)
    return bool(rule and rule.valued)


def differs(kind: str) -> bool:
    rule = RULES_BY_KIND.get(kind)
    return bool(rule and rule.differs)

