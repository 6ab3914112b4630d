from __future__ import annotations

import os

# Tests never reach a model hub: the default model is bundled, and anything else must fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.service import QAService
from tests.helpers import SEEDS


def make_settings(tmp: Path, **overrides) -> Settings:
    values = {"seeds_dir": SEEDS, "index_dir": tmp / "index", "data_dir": tmp / "data", **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def fake_service(tmp_path_factory) -> QAService:
    """The whole pipeline on the seeds with the instant hashing embedder (no model)."""
    settings = make_settings(tmp_path_factory.mktemp("fake"), model="hashing-test-embedder", abstain_threshold=0.2)
    return QAService.open(settings, embedder=HashingEmbedder())


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="session")
def real_service(real_settings) -> QAService:
    """The real sentence-transformers model (bundled all-MiniLM-L6-v2, offline) over the seeds."""
    return QAService.open(real_settings)


@pytest.fixture(scope="session")
def passage_bm25_service(fake_service) -> QAService:
    """fake_service with a BM25 leg over whole passages (QA_BM25_PASSAGE_SHARE=1): what the Qdrant backend's
    passage sparse vectors score, with the engine's own fusion (tests/test_qdrant_bm25_pooled.py: the pooled default)."""
    settings = fake_service.settings.model_copy(update={"bm25_passage_share": 1.0})
    return QAService(settings, fake_service.index, fake_service.embedder)


@pytest.fixture(scope="session")
def qdrant_service(tmp_path_factory) -> QAService:
    """The fake pipeline with retrieval in a Qdrant collection (qdrant-client's local mode, in a folder)."""
    tmp = tmp_path_factory.mktemp("qdrant")
    settings = make_settings(tmp, model="hashing-test-embedder", abstain_threshold=0.2, backend="qdrant",
                             qdrant_path=tmp / "qdrant")
    return QAService.open(settings, embedder=HashingEmbedder())
