"""Linguistic analysis, done once when the index is built.

Every indexed sentence is analysed by the spaCy pipeline (`QA_NLP_MODEL`) in bulk (`nlp.pipe`) and
the results are stored in the index with spaCy's own serialization (`DocBin`, no pickle). Each Doc is
the analysis of exactly one sentence's text, so `sentence.start + token.idx` is an offset into the
raw article: citations cut from the analysis stay exact.

The file holds one DocBin per article (`pack`/`split`: each prefixed with its length in 8 bytes), so an
incremental update (qa/update.py) writes an unchanged article's analysis as the bytes it was read as,
never serializing it again.

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
            batch_size: int = 64, sizes: Sequence[int] | None = None) -> bytes:
    """The serialized analysis of `texts`, one Doc each, in order: one part per run of `sizes[i]` texts
    (an article's sentences; None: one part)."""
    wrap = progress or (lambda it, total, label: it)
    docs = iter(wrap(nlp.pipe(texts, batch_size=batch_size), len(texts), "analysis"))
    return pack([serialize(next(docs) for _ in range(n)) for n in (sizes if sizes is not None else [len(texts)])])


def serialize(docs: Iterable) -> bytes:
    """One DocBin of `docs` (the attributes the reader uses)."""
    from spacy.tokens import DocBin

    store = DocBin(attrs=list(ATTRS), store_user_data=False)
    for doc in docs:
        store.add(doc)
    return store.to_bytes()


def pack(parts: Iterable[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(8, "little") + p for p in parts)


def split(data: bytes) -> list[bytes]:
    """The parts of a packed analysis; IndexCorrupt when the framing does not add up."""
    parts, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 8], "little")
        if at + 8 + size > len(data):
            raise IndexCorrupt(ARTIFACT, f"part {len(parts)}", "truncated: its length runs past the end of the file")
        parts.append(data[at + 8 : at + 8 + size])
        at += 8 + size
    return parts


def load_docs(data: bytes | Sequence[bytes], vocab, expected: Sequence[str]) -> tuple:
    """The stored Docs (from a packed file, or its parts), checked against the sentences they analyse
    (same count, same text)."""
    from spacy.tokens import DocBin

    parts = split(data) if isinstance(data, bytes) else data
    try:
        docs = tuple(doc for part in parts for doc in DocBin().from_bytes(part).get_docs(vocab))
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
