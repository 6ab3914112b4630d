"""The small frozen values the pipeline stages hand each other.

Offsets are character offsets into the article's raw text (the seed file read as UTF-8):
`article.text[start:end]` is the span's text, always.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    doc_id: str  # the file stem
    source: str  # the file name
    text: str  # the file's text exactly as stored
    date: str | None  # ISO date: the date part of `published`, else of a leading `date YYYY-MM-DD` line
    title: str
    excluded: tuple[tuple[int, int], ...] = ()  # header, boilerplate and repeated ranges: not indexed
    sentences: tuple[tuple[int, int], ...] = ()  # spans of the indexed sentences, in order
    sha256: str = ""  # of the text's UTF-8 bytes: the key under which its vectors and analysis are reused
    # Metadata given when the article was added (its sidecar, qa/metadata.py), or read from the text.
    outlet: str | None = None
    url: str | None = None
    published: str | None = None  # ISO 8601: a date, or a date and time with its zone
    language: str | None = None  # BCP 47 tag ("en", "en-GB")


@dataclass(frozen=True, slots=True)
class Sentence:
    index: int  # position in the index's sentence table
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: str  # doc_id#ordinal
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[int, int]  # [first, last) indexes into the sentence table


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved passage with its fused score and where it ranked in each leg (1-based)."""

    chunk: Chunk
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    doc_id: str
    source: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str
    # Where this article words the answer: text[answer_start:answer_end], inside [start, end].
    # It is the answer's own text, except in a corroborated answer whose articles word it differently.
    answer_start: int | None = None
    answer_end: int | None = None
    outlet: str | None = None
    url: str | None = None
    published: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """What retrieval may return: passages of these articles only. Empty or None fields do not filter.
    `sources` are doc ids or outlets (an article matches either); the dates are inclusive ISO dates,
    compared with the date an article was published on (as written in its `published`)."""

    sources: tuple[str, ...] = ()
    published_from: str | None = None
    published_to: str | None = None

    @property
    def empty(self) -> bool:
        return not self.sources and self.published_from is None and self.published_to is None


@dataclass(frozen=True, slots=True)
class Mention:
    """A verbatim span with its own citation (quote == text): a speaker, or one item of a list."""

    text: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Answer:
    text: str  # verbatim span of the article: the short answer, or the whole sentence
    score: float  # confidence in [0, 1]
    context: str  # the sentence the answer sits in
    citations: tuple[Citation, ...]
    rule: str = "sentence"  # the span rule that cut `text` from `context` ("sentence": none did)
    label: str | None = None  # "Yes" / "No" for a yes/no question the evidence decides directly
    speaker: Mention | None = None  # who said it, when the answer is a quotation or a reported claim
    resolved_date: str | None = None  # ISO 8601 date, week or interval of a relative day in `text`
    support_count: int = 1  # how many articles support this answer
    differs_from: tuple[int, ...] = ()  # indexes of answers in the same result giving another value
    items: tuple[Mention, ...] = ()  # a list answer's items, deduplicated, each with its citation


@dataclass(frozen=True, slots=True)
class Result:
    question: str
    mode: str
    answers: tuple[Answer, ...]
    abstained: bool
    passages: tuple[Hit, ...]
    took_ms: float
    confidence: float = 0.0  # the best evidence's confidence, also reported when abstaining
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    abstain_reason: str | None = None  # when abstaining: not_in_corpus, low_confidence or ambiguous
    degraded: str | None = None  # "dense_unavailable": the encoder failed, answered from BM25 and words alone
