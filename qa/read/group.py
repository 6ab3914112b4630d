"""Grouping: ranked candidates -> answers.

- The same answer from several articles is one answer with a citation per article; each citation
  marks that article's own wording (`answer_start`/`answer_end`). Same: equal normalized words, one
  name inside the other ("Medinsky" / "Vladimir Medinsky"), or the same quantity or day.
- A number, a duration or a date that another article states otherwise, with a probability at least
  `differ_ratio` of the best, is kept beside it and both are marked as differing.
- A question asking for several things ("which regions") gathers the items of the best list and the
  entities of the asked type scoring at least `list_ratio` of the best, each item citing its sentence.
- A yes/no question is decided by its most relevant sentence: "No" when that sentence negates the
  verb the question asks about (or the question is negated and the sentence is not), else "Yes".
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from qa import dates, quantities
from qa.read.question import Question
from qa.text import normalize_answer
from qa.types import Answer, Citation, Mention, Sentence

VALUED = frozenset({"DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT"})


GROUPED = 40  # candidates grouped at most, best first: far below the best they change no answer
# Candidates' texts normalized, remembered: the same sentences are read for many questions, and normalizing the
# ~40 grouped candidates of each question again was about a tenth of its reading.
_normalized = lru_cache(maxsize=1 << 16)(normalize_answer)


def answers(index, q: Question, ranked: list, top_k: int, params) -> list[Answer]:
    groups: list[list] = []
    top = ranked[:GROUPED]
    norm = {id(r): _normalized(_text(r)) for r in top}
    values: dict[int, object] = {}  # a candidate's date or quantity, worked out at its first comparison

    def value(r):
        if id(r) not in values:
            values[id(r)] = _value(index, r, _text(r))
        return values[id(r)]

    for r in top:
        for g in groups:
            if _same(g[0], r, norm, value):
                if r.sentence.doc_id not in {x.sentence.doc_id for x in g}:
                    g.append(r)
                break
        else:
            if len(groups) < max(top_k, 3) * 4:
                groups.append([r])
    best = groups[0][0].probability
    order = [0] + [i for i in range(1, len(groups)) if _rival(groups[0], groups[i], best, params)]
    rivals = order[1:]
    order += [i for i in range(1, len(groups)) if i not in rivals][: max(0, top_k - len(order))]
    out = []
    for n, i in enumerate(order):
        differs = tuple(range(1, len(rivals) + 1)) if n == 0 and rivals else ((0,) if i in rivals else ())
        out.append(_answer(index, groups[i], differs))
    if q.plural or groups[0][0].candidate.kind == "list":
        out[0] = _with_items(index, q, out[0], ranked, best * params.list_ratio)
    return out


# Closed-class words that negate what they attach to ("*no* sanctions have been imposed"), and the
# negative implicative verbs: "failed to agree" says they did not agree.
NEGATORS = frozenset({"no", "never", "none", "nobody", "nothing", "neither", "nor"})
NEGATIVE_IMPLICATIVES = frozenset({"fail", "refuse", "decline"})


def negates(doc, q: Question) -> bool:
    """Whether the sentence says the asked thing did not happen: a negation on the asked verb (or a
    word of the question, or the sentence's root), a negative determiner on its subject, or a negative
    implicative governing it."""
    asked = q.content | ({q.verb} if q.verb else set())
    for t in doc:
        head = t.head
        if t.dep_ == "neg" or (t.lower_ in NEGATORS and t.dep_ in ("det", "advmod", "neg")):
            target = head.head if head.dep_ in ("nsubj", "nsubjpass") else head
            if target.lemma_.lower() in asked or head.lemma_.lower() in asked or target.dep_ == "ROOT":
                return True
        if t.lemma_.lower() in NEGATIVE_IMPLICATIVES and any(c.dep_ == "xcomp" and c.lemma_.lower() in asked
                                                             for c in t.children):
            return True
    return False


def yes_no(index, q: Question, sentence: Sentence, doc, relevance: float) -> Answer:
    negated = negates(doc, q)
    label = "No" if negated != q.negated else "Yes"
    a = index.articles[sentence.doc_id]
    text = sentence.text.strip()
    lo = sentence.start + sentence.text.find(text)
    return Answer(text, round(min(1.0, relevance), 4), sentence.text, (_citation(a, sentence, lo, lo + len(text)),),
                  rule="yes_no", label=label)


# ---------------------------------------------------------------- helpers
def _same(a, b, norm: dict, value) -> bool:
    """`norm`: each candidate's normalized text by id; `value(r)`: its date or quantity (None: none)."""
    na, nb = norm[id(a)], norm[id(b)]
    if not na or not nb:
        return False
    if na == nb:
        return True
    la, lb = a.candidate.label, b.candidate.label
    if la in VALUED and lb in VALUED:
        found = value(a)
        return found is not None and found == value(b)
    if a.candidate.kind == "ent" and b.candidate.kind == "ent" and la == lb:
        wa, wb = set(na.split()), set(nb.split())
        return wa <= wb or wb <= wa
    return False


def _value(index, r, text: str):
    if r.candidate.label in ("DATE", "TIME"):
        resolved = dates.resolve(text, index.articles[r.sentence.doc_id].date)
        if resolved:
            return resolved
    return quantities.value(text)


def _rival(top: list, other: list, best: float, params) -> bool:
    """Another value for a valued answer, from other articles, nearly as probable."""
    a, b = top[0], other[0]
    if a.candidate.label not in VALUED or b.candidate.label not in VALUED:
        return False
    if {x.sentence.doc_id for x in top} & {x.sentence.doc_id for x in other}:
        return False
    return b.probability >= params.differ_ratio * best


def _answer(index, g: list, differs: tuple[int, ...]) -> Answer:
    top = g[0]
    return Answer(
        text=_text(top),
        score=round(min(1.0, top.probability), 4),
        context=top.sentence.text,
        citations=tuple(_cite(index, r) for r in g),
        rule=f"{top.candidate.kind}:{top.candidate.label}" if top.candidate.kind != top.candidate.label else top.candidate.kind,
        speaker=_speaker(index, top),
        resolved_date=_resolved(index, g),
        support_count=len({r.sentence.doc_id for r in g}),
        differs_from=differs,
    )


def _with_items(index, q: Question, answer: Answer, ranked: list, floor: float) -> Answer:
    items: list[Mention] = []
    seen: set[str] = set()
    for r in ranked:
        if r.probability < floor:
            break
        c = r.candidate
        if c.kind == "list":
            spans = c.parts
        elif c.kind == "ent" and (c.label in q.types or not q.types):
            spans = ((c.start, c.end),)
        else:
            continue
        for lo, hi in spans:
            text = r.sentence.text[lo:hi]
            key = (normalize_answer(text).split() or [text])[-1]
            if key in seen:
                continue
            seen.add(key)
            a = index.articles[r.sentence.doc_id]
            base = r.sentence.start
            items.append(Mention(text, _citation(a, r.sentence, base + lo, base + hi)))
    if len(items) < 2:
        return answer
    return replace(answer, items=tuple(items), support_count=len({m.citation.doc_id for m in items}))


def _speaker(index, r) -> Mention | None:
    span = r.candidate.speaker
    if span is None:
        return None
    a = index.articles[r.sentence.doc_id]
    lo, hi = r.sentence.start + span[0], r.sentence.start + span[1]
    return Mention(a.text[lo:hi], _citation(a, r.sentence, lo, hi))


def _resolved(index, g: list) -> str | None:
    for r in g:
        if r.candidate.label in ("DATE", "TIME"):
            value = dates.resolve(_text(r), index.articles[r.sentence.doc_id].date)
            if value:
                return value
    return None


def _text(r) -> str:
    return r.sentence.text[r.candidate.start : r.candidate.end]


def _cite(index, r) -> Citation:
    a = index.articles[r.sentence.doc_id]
    return _citation(a, r.sentence, r.sentence.start + r.candidate.start, r.sentence.start + r.candidate.end)


def _citation(a, s: Sentence, start: int, end: int) -> Citation:
    return Citation(a.doc_id, a.source, a.title, a.date, s.start, s.end, a.text[s.start : s.end], start, end,
                    outlet=a.outlet, url=a.url, published=a.published)
