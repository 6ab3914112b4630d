"""In-process apps for the hardening tests: the real middleware and routes over the fake pipeline."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.service import QAService
from tests.helpers import SEEDS


def hashing_app():
    """The real app over the settings in the environment, with the instant hashing embedder: a factory for
    `uvicorn tests.apps:hashing_app --factory`, for live tests that need no model."""
    settings = Settings(_env_file=None)
    return create_app(settings, QAService.open(settings, embedder=HashingEmbedder()))


def private_settings(tmp: Path, **overrides) -> Settings:
    """Settings over a private copy of the seeds (tests that add documents or rebuild write there)."""
    seeds = tmp / "seeds"
    if not seeds.exists():
        shutil.copytree(SEEDS, seeds)
    return Settings(_env_file=None, **{"seeds_dir": seeds, "index_dir": tmp / "index", "data_dir": tmp / "data",
                                       "model": "hashing-test-embedder", "abstain_threshold": 0.2, **overrides})


def with_settings(service: QAService, **overrides) -> Settings:
    """The service's settings with some changed, validated like any settings (every field is given,
    so nothing comes from the environment)."""
    return Settings(_env_file=None, **{**service.settings.model_dump(), **overrides})


def make_app(service: QAService, **overrides):
    """An app over `service` with some settings changed (keys, limits, CORS...)."""
    settings = with_settings(service, **overrides)
    return create_app(settings, QAService(settings, service.index, service.embedder, service.retriever))


def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


class GatedEmbedder(HashingEmbedder):
    """Blocks each query encoding until `gate` opens, so a test can hold questions in flight."""

    def __init__(self):
        super().__init__()
        self.gate, self.entered = threading.Event(), threading.Semaphore(0)
        self.thread_names: list[str] = []

    def embed_queries(self, texts):
        self.thread_names.append(threading.current_thread().name)
        self.entered.release()
        assert self.gate.wait(10), "gate never opened"
        return super().embed_queries(texts)


def gated_app(service: QAService, **overrides):
    """An app whose questions wait in the encoder until the returned embedder's gate opens."""
    embedder = GatedEmbedder()
    settings = with_settings(service, **overrides)
    return create_app(settings, QAService(settings, service.index, embedder)), embedder
