"""The FastAPI app factory. The model and index load in `lifespan`, never at import."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, slack
from api.routes import router
from qa import __version__
from qa.config import Settings, get_settings
from qa.feedback import FeedbackStore
from qa.service import QAService

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, service: QAService | None = None) -> FastAPI:
    """An app over `service`, or over one opened from `settings` at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.service is None:
            app.state.service = await asyncio.to_thread(QAService.open, cfg)
            log.info("ready: %s", app.state.service.readiness())
        yield

    app = FastAPI(title="News QA", version=__version__, lifespan=lifespan,
                  description="Extractive answers over news articles; every answer cites the exact characters it came from.")
    cfg = settings or (service.settings if service else get_settings())
    app.state.service = service
    app.state.feedback = FeedbackStore(cfg.feedback_db)
    app.add_middleware(errors.RequestIdMiddleware)
    errors.install(app)
    app.include_router(router)
    slack.mount(app, cfg)  # POST /slack/events, only when the Slack bot token and signing secret are set
    return app
