"""Operations endpoints: /metrics (behind the API key when one is set) and /admin (always the admin key)."""

from __future__ import annotations

from dataclasses import asdict

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.errors import error_response
from api.schemas import (DocumentAdded, DocumentBody, DocumentIn, DocumentRemoved, DocumentsAdded, ErrorOut,
                         FeedbackExport, ReindexOut)
from api.routes import get_service
from api.security import AdminKey
from qa import metadata
from qa.documents import NewDocument, add_documents, read_jsonl, remove_document, replace_document
from qa.errors import IndexMissing, InvalidDocument
from qa.feedback import gold_candidates
from qa.reindex import Reindexer
from qa.serialize import article_meta_json

metrics_router = APIRouter(tags=["operations"])  # the app adds the API key when one is set
admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminKey])
_DOCUMENT = {400: {"model": ErrorOut, "description": "The body is not valid JSON."},
             409: {"model": ErrorOut, "description": "A document by that name exists; an add never replaces one (PUT does)."}}
_REPLACE = {400: _DOCUMENT[400], 404: {"model": ErrorOut, "description": "No article has that doc id."}}
_BULK = {409: _DOCUMENT[409], 415: {"model": ErrorOut, "description": "The body is not JSON Lines."}}
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/json-lines")
# A change waits for the index that includes it up to this share of the request's time budget.
WAIT_SHARE = 0.8


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
    """Add an article (its text stored atomically, never over an existing one, its metadata beside it), then
    update the index incrementally; answers once the served index includes it, or when the wait runs out
    (`indexed: false`: poll `GET /admin/reindex`)."""
    reindexer = get_reindexer(request)
    article = add_documents(reindexer.settings.seeds_dir, [_new_document(body.name, body)])[0]
    status, indexed = _index_change(request, reindexer)
    return DocumentAdded(**article_meta_json(article), reindex=ReindexOut(**asdict(status)), indexed=indexed)


@admin.post("/documents:bulk", response_model=DocumentsAdded, status_code=201, responses=_BULK, openapi_extra={
    "requestBody": {"required": True, "description": "JSON Lines: one object a line, each like POST /admin/documents' "
                    "body. All are added, or none (the first bad line is named).",
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
async def documents_bulk(request: Request) -> DocumentsAdded:
    """Add many articles at once, all or none, then update the index once (incrementally)."""
    kind = request.headers.get("content-type", JSONL_TYPES[0]).split(";")[0].strip().lower()
    if kind not in JSONL_TYPES:
        return error_response(request, 415, "unsupported_media_type",
                              f"send JSON Lines with Content-Type {JSONL_TYPES[0]} (one article object a line)")
    reindexer = get_reindexer(request)
    data = await request.body()
    return await run_in_threadpool(_bulk, request, reindexer, data)


def _bulk(request: Request, reindexer: Reindexer, data: bytes) -> DocumentsAdded:
    docs = read_jsonl(data, "body")
    limit = reindexer.settings.max_document_bytes
    for n, doc in enumerate(docs, 1):
        if len(doc.text.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidDocument(f"document {n} ({doc.name!r}) is over QA_MAX_DOCUMENT_BYTES ({limit} bytes)")
    articles = add_documents(reindexer.settings.seeds_dir, docs)
    status, indexed = _index_change(request, reindexer)
    return DocumentsAdded(count=len(articles), documents=[article_meta_json(a) for a in articles],
                          reindex=ReindexOut(**asdict(status)), indexed=indexed)


@admin.put("/documents/{doc_id}", response_model=DocumentAdded, responses=_REPLACE)
def replace(doc_id: Annotated[str, Path(max_length=200)], body: DocumentBody, request: Request) -> DocumentAdded:
    """Replace an article (a correction): its text and metadata become the body's (fields not sent are not
    kept), at once (the old version or the new one, never a mix, even after a crash), then update the index
    incrementally (a metadata-only change re-uses the article's vectors and analysis). Checked as an added
    article is; a bad body changes nothing. Citations made before point into the old text."""
    reindexer = get_reindexer(request)
    article = replace_document(reindexer.settings.seeds_dir, _new_document(doc_id, body))
    status, indexed = _index_change(request, reindexer)
    return DocumentAdded(**article_meta_json(article), reindex=ReindexOut(**asdict(status)), indexed=indexed)


def _new_document(name: str, body: DocumentBody) -> NewDocument:
    """The document a body describes, its metadata the fields sent (qa.metadata.FIELDS)."""
    return NewDocument(name, body.text, body.format, body.model_dump(include=set(metadata.FIELDS), exclude_none=True))


@admin.delete("/documents/{doc_id}", response_model=DocumentRemoved, responses={404: {"model": ErrorOut}})
def remove(doc_id: Annotated[str, Path(max_length=200)], request: Request) -> DocumentRemoved:
    """Remove an article (its text, then its metadata and the file as sent) and update the index; once the
    served index is updated (`indexed: true`) no answer cites it."""
    reindexer = get_reindexer(request)
    remove_document(reindexer.settings.seeds_dir, doc_id)
    status, indexed = _index_change(request, reindexer)
    return DocumentRemoved(doc_id=doc_id, reindex=ReindexOut(**asdict(status)), indexed=indexed)


def _index_change(request: Request, reindexer: Reindexer):
    """Ask for an incremental update and wait (within the request's budget) for the job that includes
    the change just made: (its status, whether the served index includes the change)."""
    started = reindexer.request(full=False)
    job = started.job + (1 if started.queued else 0)
    status = reindexer.wait_for(job, request.app.state.settings.request_timeout_s * WAIT_SHARE)
    return status, reindexer.outcome(job) == "succeeded"


@admin.get("/feedback/export", response_model=FeedbackExport)
def feedback_export(request: Request) -> FeedbackExport:
    """Every feedback row, oldest first, as gold-set candidates to review (what `qa feedback export` writes)."""
    service = get_service(request)  # citations are checked against the served articles
    rows = gold_candidates(request.app.state.feedback.all(), service.index.articles)
    return FeedbackExport(count=len(rows), items=rows)
