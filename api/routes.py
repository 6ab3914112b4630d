"""Routes: thin adapters from HTTP to QAService."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.errors import error_response
from api.schemas import (MAX_QUESTION_CHARS, AskRequest, AskResponse, DocumentList, DocumentResponse, ErrorOut,
                         FeedbackRequest, FeedbackResponse, Health, Mode, Ready, SearchResponse)
from qa import filters
from qa.documents import MEDIA_TYPES, original as stored_original
from qa.errors import QAError
from qa.feedback import Feedback, FeedbackStore
from qa.serialize import article_json, article_meta_json, hit_json, result_json
from qa.service import QAService

ERRORS = {400: {"model": ErrorOut}, 422: {"model": ErrorOut}, 500: {"model": ErrorOut}, 503: {"model": ErrorOut}}
log = logging.getLogger(__name__)


def get_service(request: Request) -> QAService:
    service = getattr(request.app.state, "service", None)
    if service is None:
        from qa.errors import IndexMissing

        # Not ready: say why when start-up found a problem (a corrupt index names its file).
        raise getattr(request.app.state, "startup_error", None) or IndexMissing(
            "the service is still starting: the index is not loaded yet")
    return service


async def _served(request: Request) -> QAService:
    """`get_service` as a dependency. Async because it only reads app.state: FastAPI sends a plain `def`
    dependency through the thread pool, a hand-off to a worker thread and back on every request."""
    return get_service(request)


Service = Annotated[QAService, Depends(_served)]
router = APIRouter()
probes = APIRouter()  # /healthz and /readyz: open even when an API key is set, for load balancers


@router.post("/ask", response_model=AskResponse, responses=ERRORS, tags=["questions"])
def ask(body: AskRequest, service: Service, request: Request) -> Response:
    """Answer a question with verbatim spans of the articles and their citations, or abstain."""
    with request.app.state.admission.turn():
        result = service.ask(body.question, body.top_k, body.mode,
                             filters.make(body.sources, body.published_from, body.published_to))
    _observe(request, result)
    return json_response(AskResponse.model_validate(result_json(result, service.index.articles)))


def json_response(model: BaseModel) -> Response:
    """The response FastAPI would make of `model` (the same bytes), made here in the worker thread: a model
    returned from a `def` route is validated again in one more hop through the thread pool, then serialized."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


def _observe(request: Request, result) -> None:
    """Metrics and one structured log line per question: its length, not its text unless configured."""
    request.app.state.metrics.observe_result(result)
    fields = {"question_chars": len(result.question), "mode": result.mode, "abstained": result.abstained,
              "answers": len(result.answers), "degraded": result.degraded,
              "timings_ms": {k.removesuffix("_ms"): round(v, 2) for k, v in result.timings.items()}}
    if request.app.state.settings.log_questions:
        fields["question"] = result.question
    log.info("answered", extra=fields)


@router.get("/search", response_model=SearchResponse, responses=ERRORS, tags=["questions"])
def search(
    service: Service,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="The query.")],
    k: Annotated[int, Query(ge=1, le=10)] = 5,
    mode: Annotated[Mode | None, Query(description="Retrieval mode.")] = None,
    sources: Annotated[list[Annotated[str, Query(min_length=1, max_length=200)]] | None, Query(
        max_length=100, description="Only these articles: doc ids or outlets; repeat the parameter for several.")] = None,
    published_from: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                                description="Only articles published on or after this date (YYYY-MM-DD).")] = None,
    published_to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                              description="Only articles published on or before this date (YYYY-MM-DD).")] = None,
) -> Response:
    """Passages only, ranked by the chosen retrieval mode (omitted: QA_DEFAULT_MODE), from the filtered
    articles when filters are given (applied inside retrieval, before the top k is taken)."""
    mode = mode or service.settings.default_mode
    with request.app.state.admission.turn():
        hits = service.search(q, k, mode, filters.make(sources, published_from, published_to))
    passages = [hit_json(h, service.index.articles) for h in hits]
    return json_response(SearchResponse.model_validate({"query": q.strip(), "mode": mode, "passages": passages}))


@router.get("/documents", response_model=DocumentList, responses=ERRORS, tags=["documents"])
def documents(
    service: Service,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Skip this many articles (by doc id).")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many articles.")] = 20,
) -> DocumentList:
    """The served articles with their metadata, by doc id, a page at a time."""
    total, page = service.documents(offset, limit)
    return DocumentList(total=total, offset=offset, limit=limit, items=[article_meta_json(a) for a in page])


@router.get("/documents/{doc_id}", response_model=DocumentResponse, responses={404: {"model": ErrorOut}}, tags=["documents"])
def document(doc_id: Annotated[str, Path(max_length=200)], service: Service) -> DocumentResponse:
    """An article's text exactly as stored, with its metadata."""
    return DocumentResponse.model_validate(article_json(service.document(doc_id)))


_ORIGINAL = {200: {"description": "The file as it was sent: HTML, Markdown or plain text.",
                    "content": {t: {"schema": {"type": "string"}} for t in MEDIA_TYPES.values()}},
             404: {"model": ErrorOut}}
_EXTENSIONS = {"text": ".txt", "markdown": ".md", "html": ".html"}


@router.get("/documents/{doc_id}/original", response_class=Response, responses=_ORIGINAL, tags=["documents"])
def original(doc_id: Annotated[str, Path(max_length=200)], service: Service) -> Response:
    """The article as it was sent: the Markdown or HTML file its text was extracted from (citations point
    into the extracted text, `GET /documents/{doc_id}`), or the text itself when it was sent as plain text.
    Served as a download that no browser runs: its scripts and styles are the publisher's, not ours."""
    data, fmt = stored_original(service.settings.seeds_dir, doc_id)
    return Response(data, media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{doc_id}{_EXTENSIONS[fmt]}"',
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})


@probes.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """Alive: the process answers."""
    return Health()


@probes.get("/readyz", response_model=Ready, responses={503: {"model": ErrorOut}}, tags=["operations"])
async def readyz(request: Request):
    """Ready: the index is loaded (with its counts and manifest version)."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        problem = getattr(request.app.state, "startup_error", None)
        if problem is not None:
            return error_response(request, 503, problem.code, f"not ready: {problem}")
        return error_response(request, 503, "not_ready", "the index is not loaded yet")
    try:
        if getattr(service.retriever, "health", None) is None:
            return Ready(**asdict(service.readiness()))
        # an engine behind retrieval is asked how it is: off the event loop
        return Ready(**asdict(await asyncio.to_thread(service.readiness)))
    except QAError as exc:
        return error_response(request, 503, exc.code, f"not ready: {exc}")


def get_feedback_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback


@router.post("/feedback", response_model=FeedbackResponse, status_code=201, responses=ERRORS, tags=["feedback"])
def feedback(body: FeedbackRequest, store: Annotated[FeedbackStore, Depends(get_feedback_store)]) -> FeedbackResponse:
    """Record whether an answer was right; stored durably for review into the gold set."""
    saved = store.add(Feedback(body.question, body.answer, body.verdict,
                               body.citation.model_dump() if body.citation else None, body.comment, "api"))
    return FeedbackResponse(id=saved.id, created_at=saved.created_at)
