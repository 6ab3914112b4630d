"""Linguistic analysis, done once when the index is built.

Every indexed sentence is analysed by the spaCy pipeline (`QA_NLP_MODEL`) in bulk (`nlp.pipe`) and
the results are stored in the index with spaCy's own serialization (`DocBin`, no pickle). Each Doc is
the analysis of exactly one sentence's text, so `sentence.start + token.idx` is an offset into the
raw article: citations cut from the analysis stay exact.

The sentences themselves come from qa.text.split_sentences, not from the parser: on the seeds the
parser's boundaries run across paragraph breaks and past closing quotes (docs/precise-answers.md,
"Sentences"), and the splitter's already match the excluded ranges.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

from qa.errors import IndexCorrupt

log = logging.getLogger(__name__)

ARTIFACT = "analysis.spacy"
# Token attributes the reader uses; DocBin stores only these (plus text, spaces and entities).
ATTRS = ("ORTH", "LEMMA", "POS", "TAG", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "MORPH")


def analyse(nlp, texts: Sequence[str], progress: Callable[[Iterable, int, str], Iterable] | None = None,
            batch_size: int = 64) -> bytes:
    """The serialized analysis of `texts`, one Doc each, in order."""
    from spacy.tokens import DocBin

    wrap = progress or (lambda it, total, label: it)
    store = DocBin(attrs=list(ATTRS), store_user_data=False)
    for doc in wrap(nlp.pipe(texts, batch_size=batch_size), len(texts), "analysis"):
        store.add(doc)
    return store.to_bytes()


def load_docs(data: bytes, vocab, expected: Sequence[str]) -> tuple:
    """The stored Docs, checked against the sentences they analyse (same count, same text)."""
    from spacy.tokens import DocBin

    try:
        docs = tuple(DocBin().from_bytes(data).get_docs(vocab))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(ARTIFACT, "-", f"not a readable spaCy DocBin ({exc})") from None
    if len(docs) != len(expected):
        raise IndexCorrupt(ARTIFACT, "counts.sentences", f"found {len(docs)} analysed sentences, expected {len(expected)}")
    for n, (doc, text) in enumerate(zip(docs, expected)):
        if doc.text != text:
            raise IndexCorrupt(ARTIFACT, f"doc {n}", "analysed text differs from the sentence it belongs to")
    return docs


CLAUSE_VECTORS = "clause_vectors.npy"
_CLAUSE_DEPS = frozenset({"nsubj", "nsubjpass", "dobj", "ccomp", "xcomp", "attr", "prep", "agent", "dative", "acomp"})


def clauses(docs) -> list[tuple[int, int, int, int]]:
    """(sentence, verb token, start, end) of every clause: a verb with an argument, and the words it
    governs. The reader compares each with the question (its embedding is in clause_vectors.npy, in
    this order), so a candidate is judged by what is said around it, not by the whole sentence."""
    out = []
    for n, doc in enumerate(docs):
        for t in doc:
            if t.pos_ in ("VERB", "AUX") and any(c.dep_ in _CLAUSE_DEPS for c in t.children):
                tokens = list(t.subtree)
                out.append((n, t.i, tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)))
    return out
