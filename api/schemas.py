"""Request and response schemas: the API's contract, separate from qa's internal types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


Mode = Literal["hybrid", "bm25", "dense"]
MAX_QUESTION_CHARS = 1000


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="A question in plain English.")
    top_k: int = Field(3, ge=1, le=10, description="How many answers and passages to return.")
    mode: Mode = Field("hybrid", description="Retrieval mode.")

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
    quote: str = Field(description="Exactly text[start:end] of the source file.")



class AnswerOut(BaseModel):
    text: str = Field(description="The answer: verbatim words of the article, inside every citation's quote.")
    score: float = Field(ge=0, le=1, description="Confidence in [0, 1].")
    context: str = Field(description="The sentence the answer sits in.")
    citations: list[CitationOut]



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
    confidence: float = Field(description="Confidence of the best evidence, also when abstaining.")
    passages: list[PassageOut]
    took_ms: float



class SearchResponse(BaseModel):
    query: str
    mode: Mode
    passages: list[PassageOut]


class DocumentResponse(BaseModel):
    doc_id: str
    source: str
    title: str
    date: str | None
    sha256: str
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


class ErrorOut(BaseModel):
    error: str = Field(description="A stable machine-readable code.")
    detail: str = Field(description="What was wrong and how to fix it.")
    request_id: str


class CitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(max_length=200)
    source: str | None = Field(None, max_length=200)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
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
