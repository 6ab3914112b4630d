"""Question analysis: the question's spaCy parse -> a typed `Question`.

What the reader needs to know about a question, read off its parse (no pattern per question):
- `wh`: the question word ("who", "when", "how many", …; "yes_no" for a question opening with an
  auxiliary; None when there is none),
- `types`: the entity labels (OntoNotes, as spaCy's English pipelines use them) an answer should have,
  and `loose`: labels the small model often gives such answers instead (it tags Sumy a PERSON,
  Crimea an ORG): the scorer weighs those less, the evidence decides,
- `focus`: the noun the question asks for ("which *envoy*", "how many *drones*"), lemmatized,
- `verb`, `subject`, `content`: the main verb's lemma, the lemmas of its subject, and every content
  lemma outside the wh-phrase (what the answer's sentence should be about),
- `role`: the dependency the wh-phrase fills (nsubj, dobj, pobj, advmod, …): the role the answer plays,
- `negated`, `plural`: "not" on the main verb; a plural focus ("which regions") asks for a list.
"""

from __future__ import annotations

from dataclasses import dataclass

# Entity labels by wh-word. Durations are DATE/TIME in OntoNotes ("three years", "two hours").
WH_TYPES = {
    "who": (("PERSON", "ORG"), ("NORP", "GPE")),
    "whom": (("PERSON", "ORG"), ("NORP", "GPE")),
    "whose": (("PERSON", "ORG"), ("NORP", "GPE")),
    "where": (("GPE", "LOC", "FAC"), ("ORG", "PERSON", "NORP")),
    "when": (("DATE", "TIME"), ()),
    "how many": (("CARDINAL", "QUANTITY"), ("MONEY", "PERCENT", "DATE", "TIME")),
    "how much": (("MONEY", "QUANTITY", "PERCENT"), ("CARDINAL",)),
    "how long": (("DATE", "TIME"), ("QUANTITY", "CARDINAL")),
    "how old": (("DATE",), ("CARDINAL",)),
}
# Class nouns a "which N" / "what N" question asks with, and the labels that answer them.
CLASS_NOUNS = {
    ("PERSON",): "person man woman leader president minister official spokesman spokesperson spokeswoman "
                 "envoy aide adviser advisor diplomat secretary chief head mayor governor lawmaker senator "
                 "general commander negotiator journalist reporter correspondent analyst expert judge",
    ("ORG",): "organization organisation agency company firm outlet newspaper broadcaster network group party "
              "alliance union institution ministry department bank body court council committee",
    ("GPE", "LOC", "FAC"): "country city town village region province state capital place nation location "
                           "area district port border site venue island",
    ("DATE", "TIME"): "day date year month week time hour morning evening night",
    ("CARDINAL", "QUANTITY"): "number amount figure count total",
    ("MONEY",): "price cost sum fee budget",
    ("PERCENT",): "percentage share rate",
    ("NORP",): "nationality",
}
CLASS_TYPES = {noun: labels for labels, nouns in CLASS_NOUNS.items() for noun in nouns.split()}
_WH_WORDS = frozenset("who whom whose what which when where why how".split())
_CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV"})


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    wh: str | None
    types: frozenset[str]
    loose: frozenset[str]
    focus: str | None
    verb: str | None
    subject: frozenset[str]
    content: frozenset[str]
    role: str | None
    negated: bool
    plural: bool
    ambiguous: bool = False  # refers by pronoun only ("What did he say?"): the articles cannot tell whom it means

    @property
    def yes_no(self) -> bool:
        return self.wh == "yes_no"

    @property
    def names(self) -> bool:
        """Whether the answer is expected to be a name (of a person, place, body …), not a date or number."""
        return bool(self.types & set(NAMES))

    @property
    def typed(self) -> bool:
        """Whether the answer is expected to be an entity of some label (a name, a date, a number)."""
        return bool(self.types)


def analyse(doc) -> Question:
    """The typed question read off its parse (`doc`: the question analysed by the spaCy pipeline)."""
    tokens = [t for t in doc if not t.is_punct]
    wh_token = next((t for t in tokens if t.lower_ in _WH_WORDS), None)
    root = next((t for t in doc if t.dep_ == "ROOT"), doc[0] if len(doc) else None)
    wh, focus, wh_phrase = _wh(doc, wh_token, root)
    types, loose = _types(wh, focus)
    verb = _main_verb(root)
    subject = frozenset(t.lemma_.lower() for t in _subject_tokens(verb) if t.i not in wh_phrase and _content(t))
    content = frozenset(t.lemma_.lower() for t in tokens if t.i not in wh_phrase and _content(t))
    role = _role(wh_token, focus_token=next((t for t in doc if t.i in wh_phrase and t.lemma_.lower() == focus), None))
    negated = verb is not None and any(c.dep_ == "neg" for c in verb.children)
    focus_token = next((t for t in doc if t.i in wh_phrase and t.lemma_.lower() == focus), None)
    plural = wh in ("which", "what") and focus_token is not None and focus_token.tag_ in ("NNS", "NNPS")
    verb_lemma = verb.lemma_.lower() if verb is not None else None
    ambiguous = (any(t.tag_ == "PRP" for t in tokens) and not any(t.pos_ == "PROPN" for t in tokens)
                 and len(content - {verb_lemma}) < 2)
    return Question(doc.text, wh, frozenset(types), frozenset(loose), focus, verb_lemma,
                    subject, content, role, negated, plural, ambiguous)


def _wh(doc, wh_token, root) -> tuple[str | None, str | None, set[int]]:
    """The wh-word (two words for "how many"), the noun it asks about, and the indexes of the wh-phrase."""
    if wh_token is None:
        first = next((t for t in doc if not t.is_punct), None)
        if first is not None and first.pos_ == "AUX" or (first is not None and first.tag_ == "MD"):
            return "yes_no", None, set()
        return None, None, set()
    wh, phrase = wh_token.lower_, {wh_token.i}
    following = doc[wh_token.i + 1] if wh_token.i + 1 < len(doc) else None
    if wh == "how" and following is not None and following.lower_ in ("many", "much", "long", "old", "far", "soon", "often"):
        wh = {"far": "how far", "soon": "when", "often": "how many"}.get(following.lower_, f"how {following.lower_}")
        phrase.add(following.i)
        noun = following.head if following.head.pos_ in ("NOUN", "PROPN") else None
        if noun is None and following.i + 1 < len(doc) and doc[following.i + 1].pos_ == "NOUN":
            noun = doc[following.i + 1]
        if noun is not None:
            phrase.add(noun.i)
            return wh, noun.lemma_.lower(), phrase
        return wh, None, phrase
    if wh in ("which", "what", "whose"):
        noun = wh_token.head if wh_token.dep_ == "det" and wh_token.head.pos_ in ("NOUN", "PROPN") else None
        if noun is None and following is not None and following.pos_ == "NOUN":
            noun = following
        if noun is not None:
            phrase.update(t.i for t in noun.subtree if t.i <= noun.i)
            return wh, noun.lemma_.lower(), phrase
    return wh, None, phrase


# Names of things: the small model confuses these labels with each other (a town tagged PERSON, a
# peninsula ORG), so a question asking for one takes the others loosely.
NAMES = ("PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "PRODUCT")


def _types(wh: str | None, focus: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if wh in ("which", "what", "whose") and focus in CLASS_TYPES:
        types = CLASS_TYPES[focus]
        return types, tuple(n for n in NAMES if n not in types) if set(types) & set(NAMES) else ()
    if wh in ("which", "what") and focus is not None:
        return (), ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC")  # "which envoy", "what kind": what the sentence calls it
    types, loose = WH_TYPES.get(wh or "", ((), ()))
    if set(types) & set(NAMES):
        loose = tuple(dict.fromkeys(loose + tuple(n for n in NAMES if n not in types)))
    return types, loose


def _main_verb(root):
    """The question's main verb: its root, or the verb the root governs when the root is an auxiliary."""
    if root is None:
        return None
    if root.pos_ == "AUX" or root.lemma_ in ("do", "be", "have"):
        inner = next((c for c in root.children if c.dep_ in ("xcomp", "ccomp", "acomp") and c.pos_ == "VERB"), None)
        return inner if inner is not None else root
    return root


def _subject_tokens(verb) -> list:
    if verb is None:
        return []
    subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    return [t for s in subjects for t in s.subtree]


def _role(wh_token, focus_token) -> str | None:
    """The dependency of the wh-phrase's head: what the answer is to the verb (subject, object, …)."""
    head = focus_token if focus_token is not None else wh_token
    if head is None:
        return None
    if head.dep_ in ("det", "amod", "advmod") and head.head.pos_ in ("NOUN", "PROPN"):
        head = head.head
    return head.dep_


def _content(token) -> bool:
    """A word that says what the question is about (spaCy's stop list is not used: it holds "call",
    "last", "first", which are news topics)."""
    return token.pos_ in _CONTENT_POS and token.lemma_.lower() not in _LIGHT and token.lower_ not in _WH_WORDS


_LIGHT = frozenset({"be", "do", "have", "not", "also", "so", "then", "just", "there"})
