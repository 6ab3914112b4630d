"""Routes: thin adapters from HTTP to QAService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from api.errors import error_response
from api.schemas import (MAX_QUESTION_CHARS, AskRequest, AskResponse, DocumentResponse, ErrorOut, FeedbackRequest,
                         FeedbackResponse, Health, Mode, Ready, SearchResponse)
from qa.feedback import Feedback, FeedbackStore
from qa.serialize import article_json, hit_json, result_json
from qa.service import QAService

ERRORS = {400: {"model": ErrorOut}, 422: {"model": ErrorOut}, 500: {"model": ErrorOut}, 503: {"model": ErrorOut}}


def get_service(request: Request) -> QAService:
    service = getattr(request.app.state, "service", None)
    if service is None:
        from qa.errors import IndexMissing

        raise IndexMissing("the service is still starting: the index is not loaded yet")
    return service


Service = Annotated[QAService, Depends(get_service)]
router = APIRouter()


@router.post("/ask", response_model=AskResponse, responses=ERRORS, tags=["questions"])
def ask(body: AskRequest, service: Service) -> AskResponse:
    """Answer a question with verbatim spans of the articles and their citations, or abstain."""
    result = service.ask(body.question, body.top_k, body.mode)
    return AskResponse.model_validate(result_json(result, service.index.articles))


@router.get("/search", response_model=SearchResponse, responses=ERRORS, tags=["questions"])
def search(
    service: Service,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="The query.")],
    k: Annotated[int, Query(ge=1, le=10)] = 5,
    mode: Mode = "hybrid",
) -> SearchResponse:
    """Passages only, ranked by the chosen retrieval mode."""
    hits = service.search(q, k, mode)
    passages = [hit_json(h, service.index.articles) for h in hits]
    return SearchResponse.model_validate({"query": q.strip(), "mode": mode, "passages": passages})


@router.get("/documents/{doc_id}", response_model=DocumentResponse, responses={404: {"model": ErrorOut}}, tags=["documents"])
def document(doc_id: Annotated[str, Path(max_length=200)], service: Service) -> DocumentResponse:
    """An article's text exactly as stored, with its metadata."""
    return DocumentResponse.model_validate(article_json(service.document(doc_id)))


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """Alive: the process answers."""
    return Health()


@router.get("/readyz", response_model=Ready, responses={503: {"model": ErrorOut}}, tags=["operations"])
async def readyz(request: Request):
    """Ready: the index is loaded (with its counts and manifest version)."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return error_response(request, 503, "not_ready", "the index is not loaded yet")
    r = service.readiness()
    return Ready(articles=r.articles, chunks=r.chunks, sentences=r.sentences, format_version=r.format_version,
                 built_at=r.built_at, model=r.model)


def get_feedback_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback


@router.post("/feedback", response_model=FeedbackResponse, status_code=201, responses=ERRORS, tags=["feedback"])
def feedback(body: FeedbackRequest, store: Annotated[FeedbackStore, Depends(get_feedback_store)]) -> FeedbackResponse:
    """Record whether an answer was right; stored durably for review into the gold set."""
    saved = store.add(Feedback(body.question, body.answer, body.verdict,
                               body.citation.model_dump() if body.citation else None, body.comment, "api"))
    return FeedbackResponse(id=saved.id, created_at=saved.created_at)
