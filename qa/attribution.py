"""Attribution: who says an answer. News answers are claims; the reader shows whose.

`speaker(text, sentences, span)` returns the offsets of the words that name the speaker of the
span at `span` in an article's raw text, or None when the span is neither quoted nor reported.
Pure: it reads only the text and the article's sentence spans. The rules, in order:

1. Quotation. The span lies inside a double-quoted passage (paragraph-wide, so a quote running over
   several sentences counts). The speaker stands next to the quote:
     after it   '..." Vance told reporters'   '..." said a spokesman for ...'
     before it  'Trump, in a post on Truth Social, wrote, "...'   'Vance said he thinks "...'
2. Reported claim, in the span's own sentence and outside the span:
     "according to X", "as reported by X", "X said/told/wrote/reported ... " (the verb nearest the span)
3. A pronoun speaker ("he said") is the speaker, or else the leading name, of one of the previous
   three sentences; its own offsets are returned, so the speaker always has its own citation.
"""

from __future__ import annotations

import re
from typing import Sequence

from qa.phrases import (CLAUSE_WORDS, Token, inside, lowercase_words, is_name_word, name_runs, overlaps, paragraph, phrase_after, quotations,
                        subject_before, tokens)

REPORTING_VERBS = frozenset(
    """said says say told tells tell wrote writes added adds stated states reported reports insisted
    insists continued noted announced warned claimed argued explained declared replied posted
    tweeted saying adding telling writing noting stating warning reporting claiming insisting""".split()
)
# Verbs that introduce a quotation but, alone, are not reporting ("called the talks "important"").
QUOTING_VERBS = REPORTING_VERBS | frozenset("described describes called calls termed dubbed".split())
# A "verb" after these is a noun: "according to reports", "the reports".
_NOUN_MARKERS = frozenset("a an the to of in on for with by his her their its our my according media".split())
PRONOUNS = frozenset("he she they i we it him her them".split())
_ACCORDING_RE = re.compile(r"\b(?:[Aa]ccording to|as reported by|[Cc]iting)\s+")
# After a closing quote: a subject (with an optional appositive between commas) and its verb, or an
# inverted verb and its subject.
_VERB_ALTERNATION = "|".join(sorted(REPORTING_VERBS, key=len, reverse=True))
_AFTER_QUOTE_RE = re.compile(
    r"[\s,]*(?:(?P<np>[^\s,.;:!?\"\u201c\u201d][^,.;:!?\"\u201c\u201d]{0,80}?)\s*(?:,[^,.;:\"\u201c\u201d]{1,80},\s*)?)?"
    rf"\b(?P<verb>{_VERB_ALTERNATION})\b"
)
_BEFORE_GAP = 140  # characters allowed between a reporting verb and the quote it introduces
Span = tuple[int, int]


def speaker(text: str, sentences: Sequence[Span], span: Span) -> Span | None:
    sentence = next((s for s in sentences if inside(span, s)), None)
    if sentence is None:
        return None
    found = _quoted_by(text, sentence, span) or _reported_by(text, sentence, span)
    if found is None or overlaps(found, span) or _is_subject_of_report(text, span):
        return None
    if text[found[0] : found[1]].lower() in PRONOUNS:
        return _antecedent(text, sentences, found)
    return found


def _is_subject_of_report(text: str, span: Span) -> bool:
    """The span is itself the speaker ("Dmitry Peskov said ...", "Ivan Timofeev, head of the Council,
    said"), not a claim someone reports."""
    m = re.match(r"\s*(?:,[^,.\"\u201c\u201d]{1,80},)?\s*(\w+)", text[span[1] : span[1] + 120])
    return bool(m) and m.group(1).lower() in REPORTING_VERBS


def _verbs(text: str, lo: int, hi: int, words: frozenset[str]) -> list[Token]:
    """Reporting verbs of text[lo:hi], not the nouns spelled alike ("according to reports")."""
    toks = tokens(text, lo, hi)
    return [t for i, t in enumerate(toks)
            if t.lower in words and t.text[0].islower() and (i == 0 or toks[i - 1].lower not in _NOUN_MARKERS)]


def _subject(text: str, sentence: Span, verb: Token) -> Span | None:
    """The verb's subject; for a coordinated verb ("Putin thanked Trump ... and said") the name the
    sentence opens with."""
    found = subject_before(text, sentence[0], verb.start)
    before = text[sentence[0] : verb.start].rstrip()
    if found is not None or not (before.endswith(" and") or verb.lower.endswith("ing")):
        return found
    quoted = quotations(text, *paragraph(text, sentence[0]))
    earlier = [t for t in _verbs(text, sentence[0], verb.start, REPORTING_VERBS)
               if not t.lower.endswith("ing") and not any(inside((t.start, t.end), q) for q in quoted)]
    if earlier:
        return subject_before(text, sentence[0], earlier[-1].start)
    return _leading_name(text, sentence)


# ---------------------------------------------------------------- rule 1: quotations
def _quoted_by(text: str, sentence: Span, span: Span) -> Span | None:
    lo, hi = paragraph(text, span[0])
    for q_start, q_end in quotations(text, lo, hi):
        if inside(span, (q_start, q_end)):
            return _speaker_before(text, sentence, q_start - 1) or _speaker_after(text, q_end + 1, hi)
    return None


def _speaker_after(text: str, pos: int, hi: int) -> Span | None:
    """'," Vance told reporters' / '," Ivan Timofeev, head of X, said' / '," said a spokesman for X'
    right after a closing quote."""
    m = _AFTER_QUOTE_RE.match(text, pos, hi)
    if m is None:
        return None
    if m.group("np"):
        np = m.span("np")
        first = text[np[0] : np[1]].split()[0].lower()
        return None if first in CLAUSE_WORDS else np  # '..." as reported by X': the reported-claim rule
    return phrase_after(text, m.end("verb"), hi)


def _speaker_before(text: str, sentence: Span, quote_mark: int) -> Span | None:
    """The subject of the last quoting verb shortly before an opening quote, in the same paragraph."""
    lo = paragraph(text, quote_mark)[0]
    for verb in reversed(_verbs(text, max(lo, quote_mark - _BEFORE_GAP), quote_mark, QUOTING_VERBS)):
        between = text[verb.end : quote_mark]
        if re.search(r"[.!?][\"\u201d']?\s|[\"\u201c\u201d]", between):
            return None  # another sentence or quote stands between the verb and this quote
        verb_sentence = sentence if sentence[0] <= verb.start < sentence[1] else (lo, quote_mark)
        return _subject(text, verb_sentence, verb)
    return None


# ---------------------------------------------------------------- rule 2: reported claims
def _reported_by(text: str, sentence: Span, span: Span) -> Span | None:
    lo, hi = sentence
    for m in _ACCORDING_RE.finditer(text, lo, hi):
        found = phrase_after(text, m.end(), hi)
        if found and not overlaps(found, span) and not overlaps((m.start(), m.end()), span):
            return found
    quoted = quotations(text, *paragraph(text, lo))
    verbs = [t for t in _verbs(text, lo, hi, REPORTING_VERBS)
             if not overlaps((t.start, t.end), span) and not any(inside((t.start, t.end), q) for q in quoted)]
    verbs.sort(key=lambda t: min(abs(t.start - span[1]), abs(span[0] - t.end)))
    for verb in verbs:
        after_span = verb.start > span[1]
        found = _subject(text, sentence, verb)
        if found is None and after_span and _trailing(text, lo, verb.start) and not verb.lower.endswith("ing"):
            found = phrase_after(text, verb.end, hi)  # inverted: '..., said a spokesman for X.'
        elif found is not None and after_span and not _trailing(text, lo, found[0]):
            found = None  # 'where both sides said they would ...': the span is not what they said
        if found is not None and not overlaps(found, span):
            return found
    return None


def _trailing(text: str, lo: int, pos: int) -> bool:
    """An attribution closing a claim starts after a comma or a closing quote: '..., X said.'"""
    before = text[lo:pos].rstrip()
    return before.endswith((",", "\u201d", '"'))


# ---------------------------------------------------------------- rule 3: pronouns
def _antecedent(text: str, sentences: Sequence[Span], pronoun: Span) -> Span | None:
    """A pronoun speaker: the name its own sentence opens with when that comes first ("As Vice
    President Vance prepared to depart, he told reporters"), else the speaker or leading name of one
    of the three sentences before."""
    index = next((i for i, s in enumerate(sentences) if inside(pronoun, s)), None)
    if index is None:
        return None
    sentence = sentences[index]
    quoted = quotations(text, *paragraph(text, sentence[0]))
    runs = [r for r in name_runs(text, sentence[0], pronoun[0])
            if text[r[0] : r[1]].lower() not in PRONOUNS and not any(inside(r, q) for q in quoted)]
    if runs:
        return runs[0]
    for prev in reversed(sentences[max(0, index - 3) : index]):
        named = sentence_speaker(text, prev) or _leading_name(text, prev)
        if named is not None:
            return named
    return None


def sentence_speaker(text: str, sentence: Span) -> Span | None:
    """Who speaks in a sentence: the speaker of a quotation it holds, else of its reporting verb."""
    lo, hi = paragraph(text, sentence[0])
    for q in quotations(text, lo, hi):
        if overlaps(q, sentence):
            found = _speaker_before(text, sentence, q[0] - 1) or _speaker_after(text, q[1] + 1, hi)
            if found is not None and text[found[0] : found[1]].lower() not in PRONOUNS:
                return found
    for verb in _verbs(text, *sentence, REPORTING_VERBS):
        found = _subject(text, sentence, verb)
        if found is not None and text[found[0] : found[1]].lower() not in PRONOUNS:
            return found
    return None


def _leading_name(text: str, sentence: Span) -> Span | None:
    """The name a sentence opens with ("Zelensky refreshed his push ..."), if it opens with one."""
    toks = tokens(text, *sentence)
    if not toks or not is_name_word(toks[0]):
        return None
    runs = name_runs(text, *sentence)
    if not runs or runs[0][0] != toks[0].start:
        return None
    first = text[runs[0][0] : runs[0][1]]
    if " " not in first and first.lower() in lowercase_words(text):
        return None  # "Negotiations between ...": a common word opening the sentence
    return runs[0]
