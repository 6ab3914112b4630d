"""The FastAPI app factory. The model and index load in `lifespan`, never at import.

Middleware, outermost first (each refusal is cheap and in the one error format):
    RequestId -> Observe (metrics, access log) -> CORS -> RateLimit -> TimeBudget -> BodyLimit -> Admission -> app
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from api import errors, slack
from api.cors import CORSMiddleware
from api.limits import Admission, AdmissionMiddleware, BodyLimitMiddleware, RateLimitMiddleware, TimeBudgetMiddleware
from api.observability import Metrics, ObserveMiddleware, configure_logging
from api.operations import admin, metrics_router
from api.page import page
from api.routes import probes, router
from api.schemas import MAX_QUESTION_CHARS, ErrorOut
from api.security import ApiKey, Keys, client_id
from qa import __version__
from qa.config import Settings, get_settings
from qa.embed import set_compute_threads
from qa.errors import IndexError_
from qa.feedback import FeedbackStore
from qa.reindex import Reindexer
from qa.service import QAService, embedder_for, optional_stages

log = logging.getLogger(__name__)

QUESTION_PATHS = frozenset({"/ask", "/search"})  # what admission control bounds (with Slack questions)
# Slack's events come signed from Slack's few addresses, and carry the message's blocks on a button click:
# a per-address rate limit would throttle a whole workspace, and 16 KiB can be too little.
SLACK_BODY_BYTES = 256 * 1024
_E = {"model": ErrorOut}
# Every route can answer these; the schema says so (Schemathesis holds the app to it).
COMMON = {413: {**_E, "description": "Body larger than QA_MAX_BODY_BYTES."},
          422: {**_E, "description": "A parameter or field is invalid; `detail` names it."},
          429: {**_E, "description": "Rate limited; see Retry-After."},
          500: {**_E, "description": "Unexpected failure; the body carries only the request id."},
          504: {**_E, "description": "Took longer than QA_REQUEST_TIMEOUT_S."}}
KEYED = {401: {**_E, "description": "Key missing."}, 403: {**_E, "description": "Key wrong (or admin disabled)."}}
NOT_READY = {503: {**_E, "description": "Not ready, overloaded (Retry-After) or the model failed."}}
# Sentences whose candidates the reader reads off the analysis before the service is served (about 1.7 ms
# each, so at most ~3.5 s of start-up); the first question reading any other sentence reads it then.
PREPARED_SENTENCES = 2_000


def create_app(settings: Settings | None = None, service: QAService | None = None) -> FastAPI:
    """An app over `service`, or over one opened from `settings` at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        set_compute_threads(cfg.torch_threads)
        if app.state.service is None:
            await asyncio.to_thread(_start, app, cfg)
        # Built lazily, the schema would be built on the event loop by the first request refused before
        # routing (its path label) or the first 405: ~150 ms during which no probe is answered.
        await asyncio.to_thread(app.openapi)
        yield

    cfg = settings or (service.settings if service else get_settings())
    configure_logging(cfg.log_format)
    app = FastAPI(title="News QA", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, responses=COMMON,
                  description="Extractive answers over news articles; every answer cites the exact characters it came from.")
    app.state.settings, app.state.service, app.state.startup_error = cfg, service, None
    app.state.keys = Keys.from_settings(cfg)
    app.state.metrics = Metrics()
    app.state.feedback = FeedbackStore(cfg.feedback_db)
    app.state.reindexer = _reindexer(app, cfg, service.embedder) if service else None
    app.state.admission = Admission(cfg.max_in_flight, cfg.max_computing, app.state.metrics)  # HTTP and Slack alike
    errors.install(app)
    # The API key guards routes only when one is set, so the schema states exactly what is enforced.
    keyed = [ApiKey] if app.state.keys.api else []
    keyed_responses = KEYED if keyed else {}
    app.include_router(router, dependencies=keyed, responses={**keyed_responses, **NOT_READY})
    app.include_router(metrics_router, dependencies=keyed, responses=keyed_responses)
    app.include_router(admin, responses={**KEYED, **NOT_READY})
    app.include_router(probes)
    app.include_router(page)  # GET /: open, like the probes; the page asks for the key the API needs
    slack.mount(app, cfg)  # POST /slack/events, only when the Slack bot token and signing secret are set
    _docs(app, keyed)
    _schema_from_settings(app, cfg)
    _middleware(app, cfg)
    return app


def _schema_from_settings(app: FastAPI, cfg: Settings) -> None:
    """The request models cap questions at MAX_QUESTION_CHARS and top_k at 10; settings may lower both
    (the service enforces them), so the schema states the lower bound actually in force, and the
    default top_k the service uses when it is omitted."""
    generate = app.openapi
    chars, top_k = min(MAX_QUESTION_CHARS, cfg.max_question_chars), min(10, cfg.max_top_k)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            ask = schema["components"]["schemas"]["AskRequest"]["properties"]
            ask["question"]["maxLength"], ask["top_k"]["maximum"] = chars, top_k
            ask["top_k"]["default"], ask["mode"]["default"] = cfg.default_top_k, cfg.default_mode
            for param in schema["paths"]["/search"]["get"]["parameters"]:
                if param["name"] == "mode":
                    param["schema"]["default"] = cfg.default_mode
                elif param["name"] == "q":
                    param["schema"]["maxLength"] = chars
                elif param["name"] == "k":
                    param["schema"]["maximum"] = top_k
        return app.openapi_schema

    app.openapi = openapi


def _start(app: FastAPI, cfg: Settings) -> None:
    """Load the model (a failure stops the start-up), then the index. An index that cannot be used
    (corrupt, unreadable) leaves the server up but not ready, saying why on /readyz and in the log,
    until `POST /admin/reindex` rebuilds it."""
    try:
        embedder = embedder_for(cfg)
        getattr(embedder, "load", lambda: None)()
    except Exception as exc:
        log.critical("cannot start: %s", exc)
        raise
    app.state.reindexer = _reindexer(app, cfg, embedder)
    try:
        service = QAService.open(cfg, embedder=embedder)
    except IndexError_ as exc:
        app.state.startup_error = exc
        log.error("not ready: %s", exc)
        return
    service.prepare_reader(PREPARED_SENTENCES)
    app.state.service = service
    _freeze_heap()
    log.info("ready: %s", app.state.service.readiness())


def _freeze_heap() -> None:
    """Move what is alive now (model, index: ~450k objects) out of the collector's sight. A full collection
    scanning them stalls every thread, the event loop included, for ~200 ms; refcounting still frees them."""
    gc.collect()
    gc.freeze()


def _reindexer(app: FastAPI, cfg: Settings, embedder) -> Reindexer:
    def swap(new: QAService) -> None:
        app.state.service = new  # one reference assignment: a question in flight keeps the old one
        app.state.startup_error = None
        _freeze_heap()

    def make_service(index) -> QAService:
        # Keep the optional model stages the live service loaded (reader, reranker): loading is the slow part.
        live = app.state.service
        span_model, reranker = (live.reader.span_model, live.reader.reranker) if live else optional_stages(cfg)
        service = QAService(cfg, index, embedder, span_model=span_model, reranker=reranker, previous=live)
        service.prepare_reader(PREPARED_SENTENCES)  # what the live service read is carried over, not read again
        return service

    def live():
        return app.state.service.index if app.state.service is not None else None

    return Reindexer(cfg, embedder, swap, make_service, live)


def _docs(app: FastAPI, keyed: list) -> None:
    """The schema and its UI, behind the API key like everything else."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=keyed)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=keyed)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)


def _middleware(app: FastAPI, cfg: Settings) -> None:
    metrics = app.state.metrics
    # Requests refused before routing are labelled by path when it is one of ours (not by any path: cardinality).
    known = functools.cache(lambda: frozenset(p for p in app.openapi()["paths"] if "{" not in p))
    # add_middleware puts each one outside those added before: this list runs from the inside out.
    app.add_middleware(AdmissionMiddleware, paths=QUESTION_PATHS, admission=app.state.admission)
    app.add_middleware(BodyLimitMiddleware, limit=cfg.max_body_bytes,
                       by_path={"/admin/documents": cfg.max_document_bytes, "/admin/documents/": cfg.max_document_bytes,
                                "/admin/documents:bulk": cfg.max_bulk_bytes,
                                slack.EVENTS_PATH: SLACK_BODY_BYTES},
                       metrics=metrics)
    app.add_middleware(TimeBudgetMiddleware, seconds=cfg.request_timeout_s, metrics=metrics)
    app.add_middleware(RateLimitMiddleware, per_minute=cfg.rate_limit_per_minute, burst=cfg.rate_limit_burst,
                       identify=client_id, metrics=metrics, exempt=frozenset({slack.EVENTS_PATH}))
    if cfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"], expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(ObserveMiddleware, metrics=metrics, known_paths=known)
    app.add_middleware(errors.RequestIdMiddleware)
