"""Operations endpoints: /metrics (behind the API key when one is set) and /admin (always the admin key)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.schemas import DocumentAdded, DocumentIn, ErrorOut, FeedbackExport, ReindexOut
from api.routes import get_service
from api.security import AdminKey
from qa.documents import add_document
from qa.errors import IndexMissing
from qa.feedback import gold_candidates
from qa.reindex import Reindexer

metrics_router = APIRouter(tags=["operations"])  # the app adds the API key when one is set
admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminKey])
_DOCUMENT = {400: {"model": ErrorOut, "description": "The body is not valid JSON."},
             409: {"model": ErrorOut, "description": "A document by that name exists; it is never replaced."}}


@metrics_router.get("/metrics", response_class=Response,
                    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                     "description": "Prometheus text format 0.0.4."}})
def metrics(request: Request) -> Response:
    """Requests by route and status, latency histograms, questions and abstentions, index size and age."""
    state = request.app.state
    state.metrics.observe_index(state.service.index.manifest if state.service else None)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def get_reindexer(request: Request) -> Reindexer:
    reindexer = getattr(request.app.state, "reindexer", None)
    if reindexer is None:
        raise IndexMissing("the service is still starting: the embedding model is not loaded yet")
    return reindexer


@admin.post("/reindex", response_model=ReindexOut, status_code=202)
def reindex(request: Request) -> ReindexOut:
    """Rebuild the index beside the live one and swap it in; questions keep being answered meanwhile.
    Asked while a build runs, one more build is queued. Poll `GET /admin/reindex` for the outcome."""
    return ReindexOut(**asdict(get_reindexer(request).request()))


@admin.get("/reindex", response_model=ReindexOut)
def reindex_status(request: Request) -> ReindexOut:
    """The state of the latest reindex job."""
    return ReindexOut(**asdict(get_reindexer(request).status()))


@admin.post("/documents", response_model=DocumentAdded, status_code=201, responses=_DOCUMENT)
def documents(body: DocumentIn, request: Request) -> DocumentAdded:
    """Add an article as a new seed file (written atomically, never over an existing one), then reindex."""
    reindexer = get_reindexer(request)
    article = add_document(reindexer.settings.seeds_dir, body.name, body.text)
    status = reindexer.request()
    return DocumentAdded(doc_id=article.doc_id, source=article.source, sha256=article.sha256,
                         sentences=len(article.sentences), reindex=ReindexOut(**asdict(status)))


@admin.get("/feedback/export", response_model=FeedbackExport)
def feedback_export(request: Request) -> FeedbackExport:
    """Every feedback row, oldest first, as gold-set candidates to review (what `qa feedback export` writes)."""
    service = get_service(request)  # citations are checked against the served articles
    rows = gold_candidates(request.app.state.feedback.all(), service.index.articles)
    return FeedbackExport(count=len(rows), items=rows)
