"""Request and response schemas: the API's contract, separate from qa's internal types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator


Mode = Literal["hybrid", "bm25", "dense"]
MAX_QUESTION_CHARS = 1000


def _not_bool(value):
    # JSON Schema's integer takes 4.0 but never true/false; pydantic's lax int would take both.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    return value


JsonInt = Annotated[int, BeforeValidator(_not_bool)]
SourceName = Annotated[str, Field(min_length=1, max_length=200)]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD",
                                json_schema_extra={"format": "date"})]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="A question in plain English.")
    # Omitted: None, and the service uses QA_DEFAULT_TOP_K (the app's schema states that default). An
    # explicit null is refused like any non-integer: None is never validated, only left by omission.
    top_k: JsonInt = Field(None, ge=1, le=10, description="How many answers and passages to return.")
    mode: Mode = Field(None, description="Retrieval mode.")  # omitted: QA_DEFAULT_MODE, like top_k
    sources: list[SourceName] | None = Field(None, max_length=100, description=(
        "Answer only from these articles: doc ids or outlets (an article matching either passes). "
        "Applied inside retrieval, before each leg takes its top passages."))
    published_from: IsoDate | None = Field(None, description="Only articles published on or after this date (inclusive).")
    published_to: IsoDate | None = Field(None, description="Only articles published on or before this date (inclusive).")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank; ask a question in plain words")
        return value


class CitationOut(BaseModel):
    doc_id: str
    source: str
    title: str
    date: str | None
    start: int = Field(description="Character offset into seeds/<source> read as UTF-8.")
    end: int
    quote: str = Field(description="Exactly text[start:end] of the source file: the sentence cited.")
    answer_start: int = Field(description=(
        "Where this article words the cited answer: text[answer_start:answer_end], with "
        "start <= answer_start <= answer_end <= end. It equals the answer's `text` (or the mention's) in "
        "every citation, except in a corroborated answer (support_count > 1) whose articles word the same "
        "answer differently: there it is that article's own wording."))
    answer_end: int
    outlet: str | None = Field(None, description="The article's outlet (publisher), when known.")
    url: str | None = Field(None, description="Where the article was published, when known.")
    published: str | None = Field(None, description="When it was published: ISO 8601 date, or date and time with zone.")


class MentionOut(BaseModel):
    text: str = Field(description="Verbatim words: text[citation.answer_start:citation.answer_end] of the cited file.")
    citation: CitationOut


AbstainReason = Literal["not_in_corpus", "low_confidence", "ambiguous"]


class AnswerOut(BaseModel):
    text: str = Field(description=(
        "The answer: verbatim words of the article. The short answer when a span rule found one, else the "
        "sentence. It lies inside the first citation's quote, at its answer_start/answer_end, and inside every "
        "quote whose wording is the same."))
    score: float = Field(ge=0, le=1, description="Confidence in [0, 1].")
    context: str = Field(description="The sentence the answer sits in (the first citation's quote).")
    citations: list[CitationOut]
    rule: str = Field("sentence", description="The span rule that cut `text` from `context`; 'sentence' when none did.")
    label: Literal["Yes", "No"] | None = Field(None, description=(
        "For a yes/no question whose evidence states it directly: the verdict; `text` is the deciding span."))
    speaker: MentionOut | None = Field(None, description=(
        "Who says it, when the answer is a quotation or a reported claim ('X said', 'according to X'), "
        "with the words that name them and their own citation."))
    resolved_date: str | None = Field(None, description=(
        "The day a date answer names, read against the article's date: ISO 8601 date, week (2025-W20), "
        "month, year or interval (2025-05-17/2025-05-18)."))
    support_count: int = Field(1, ge=1, description="How many articles support this answer (one citation each).")
    differs_from: list[int] | None = Field(None, description=(
        "Indexes (in `answers`) of answers from other articles giving a different value for the same question."))
    items: list[MentionOut] | None = Field(None, description=(
        "For a list question: the items gathered from the cited sentences, deduplicated, each with its citation."))



class PassageOut(BaseModel):
    doc_id: str
    chunk_id: str
    source: str
    start: int
    end: int
    text: str
    score: float
    bm25_rank: int | None
    dense_rank: int | None



class AskResponse(BaseModel):
    question: str
    mode: Mode
    answers: list[AnswerOut]
    abstained: bool = Field(description="True when the articles do not answer the question well enough.")
    abstain_reason: AbstainReason | None = Field(None, description=(
        "Why it abstained: not_in_corpus (the articles lack the question's words), low_confidence (they "
        "have them, but no sentence answers well enough), ambiguous (the question names no one it refers to)."))
    confidence: float = Field(description="Confidence of the best evidence, also when abstaining.")
    passages: list[PassageOut]
    took_ms: float
    degraded: Literal["dense_unavailable"] | None = Field(
        None, description="Set when the answer was made without a part of the pipeline: "
        "`dense_unavailable` = the embedding model failed, so BM25 and word overlap alone answered.")



class SearchResponse(BaseModel):
    query: str
    mode: Mode
    passages: list[PassageOut]


class DocumentSummary(BaseModel):
    doc_id: str
    source: str
    title: str
    date: str | None = Field(description="The date part of `published`.")
    outlet: str | None
    url: str | None
    published: str | None = Field(description="ISO 8601 date, or date and time with zone.")
    language: str | None
    sha256: str = Field(description="SHA-256 of the stored text's UTF-8 bytes.")
    chars: int = Field(description="Length of the stored text in characters.")
    sentences: int = Field(description="Sentences indexed.")


class DocumentList(BaseModel):
    total: int = Field(description="Articles served.")
    offset: int
    limit: int
    items: list[DocumentSummary] = Field(description="Articles by doc id, from `offset`.")


class DocumentResponse(DocumentSummary):
    text: str
    excluded: list[tuple[int, int]] = Field(description="Ranges not indexed (header, boilerplate, repeats).")



class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    articles: int
    chunks: int
    sentences: int
    format_version: int
    built_at: str
    model: str
    backend: Literal["embedded", "qdrant"] = "embedded"
    engine: str | None = Field(None, description="The search engine's health, when retrieval runs in one.")


class ErrorOut(BaseModel):
    error: str = Field(description="A stable machine-readable code.")
    detail: str = Field(description="What was wrong and how to fix it.")
    request_id: str


class CitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(max_length=200)
    source: str | None = Field(None, max_length=200)
    start: JsonInt = Field(ge=0)
    end: JsonInt = Field(ge=0)
    quote: str | None = Field(None, max_length=5000)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str = Field("", max_length=5000, description="The answer shown; empty when the service abstained.")
    citation: CitationIn | None = None
    verdict: Literal["correct", "wrong", "no_answer_expected"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    id: int
    created_at: str


# ---------------------------------------------------------------- operations
class ReindexOut(BaseModel):
    state: Literal["idle", "running", "succeeded", "failed"]
    job: int = Field(description="Number of the latest reindex job started since the server started.")
    queued: bool = Field(description="Another build starts when this one ends (asked for while it ran).")
    started_at: str | None
    finished_at: str | None
    build: str | None = Field(description="The build the latest successful job swapped in.")
    error: str | None


class DocumentBody(BaseModel):
    """An article's text and metadata: the body of PUT /admin/documents/{doc_id}, which replaces the article
    with it (the metadata fields not sent are not kept from the old version)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description=(
        "The article (UTF-8). As `text` it is stored exactly as sent, optionally starting with a "
        "`date YYYY-MM-DD <headline>` line; as `markdown` it is rendered to plain text (markup and link targets "
        "dropped, the words kept; a YAML front matter gives metadata) and that is stored; as `html` the "
        "article's text is extracted (trafilatura) and stored. Citations point into what is stored. "
        "The body limit is QA_MAX_DOCUMENT_BYTES."))
    format: Literal["text", "markdown", "html"] = Field("text", description="What `text` holds.")
    title: str | None = Field(None, max_length=500, description="Default: the date line's headline, else the first sentence.")
    outlet: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=2000, description="An absolute http(s) address.")
    published: str | None = Field(None, max_length=40, description=(
        "ISO 8601 date (2025-06-01) or date and time with zone (2025-06-01T09:30:00+02:00); "
        "default: the text's date line. Must agree with that line when both are given."))
    language: str | None = Field(None, max_length=35, description="BCP 47 tag, such as en or en-GB.")


class DocumentIn(DocumentBody):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                      description="The new doc id; the file is seeds/<name>.txt. An existing name is refused (409).")


class DocumentAdded(DocumentSummary):
    reindex: ReindexOut
    indexed: bool = Field(description="The served index includes the change when this response was sent; if false, "
                          "poll GET /admin/reindex.")


class DocumentsAdded(BaseModel):
    count: int
    documents: list[DocumentSummary]
    reindex: ReindexOut
    indexed: bool = Field(description="The served index includes the change when this response was sent.")


class DocumentRemoved(BaseModel):
    doc_id: str
    reindex: ReindexOut
    indexed: bool = Field(description="The served index no longer holds it when this response was sent: "
                          "no answer cites it from then on.")


class SupportOut(BaseModel):
    source: str
    quote: str


class CandidateFeedback(BaseModel):
    verdict: str
    answer: str
    comment: str | None
    created_at: str | None
    channel: str
    review: list[str] = Field(description="What a person must still do before the row may join the gold set.")


class GoldCandidate(BaseModel):
    id: str
    question: str
    answers: list[str]
    support: list[SupportOut]
    kind: str
    feedback: CandidateFeedback


class FeedbackExport(BaseModel):
    count: int
    items: list[GoldCandidate] = Field(description="Every feedback row, oldest first, as gold-set candidates "
                                       "(the same rows `qa feedback export` writes).")
