"""qa/reindex.py: background rebuilds, one more queued while one runs, failures change nothing."""

from __future__ import annotations

import threading

from qa.embed import HashingEmbedder
from qa.reindex import Reindexer
from qa.service import QAService
from tests.apps import private_settings


def _settings(tmp_path):
    return private_settings(tmp_path)


def test_a_reindex_builds_a_new_index_and_swaps_in_a_new_service(tmp_path):
    settings = _settings(tmp_path)
    old = QAService.open(settings, embedder=HashingEmbedder())
    swapped: list[QAService] = []
    reindexer = Reindexer(settings, old.embedder, swapped.append)
    started = reindexer.request()
    assert (started.state, started.job, started.queued) == ("running", 1, False)
    done = reindexer.wait(30)
    assert (done.state, done.job, done.error) == ("succeeded", 1, None)
    assert len(swapped) == 1 and swapped[0].index.path.name == done.build != old.index.path.name
    assert (settings.index_dir / "current").resolve() == swapped[0].index.path


def test_a_request_during_a_build_queues_exactly_one_more(tmp_path):
    settings = _settings(tmp_path)
    gate, swapped = threading.Event(), []

    def slow_swap(service):
        swapped.append(service)
        gate.wait(10)

    reindexer = Reindexer(settings, HashingEmbedder(), slow_swap)
    reindexer.request()
    while not swapped:
        threading.Event().wait(0.01)
    second, third = reindexer.request(), reindexer.request()  # coalesced into one
    assert (second.state, second.job, second.queued) == ("running", 1, True)
    assert third.queued is True
    gate.set()
    done = reindexer.wait(30)
    assert (done.state, done.job, done.queued) == ("succeeded", 2, False)
    assert len(swapped) == 2


def test_a_failed_build_keeps_the_old_service_and_says_why(tmp_path):
    settings = _settings(tmp_path)
    swapped: list = []
    reindexer = Reindexer(settings, HashingEmbedder(), swapped.append)
    for seed in settings.seeds_dir.iterdir():
        seed.unlink()
    reindexer.request()
    done = reindexer.wait(30)
    assert done.state == "failed" and swapped == []
    assert done.error == f"ConfigError: seeds folder {str(settings.seeds_dir)!r} has no .txt files"


def test_with_qdrant_a_reindex_syncs_the_live_collection_in_place(tmp_path):
    from qa.documents import add_document

    settings = private_settings(tmp_path, backend="qdrant", qdrant_path=tmp_path / "qdrant")
    old = QAService.open(settings, embedder=HashingEmbedder())
    before = old.search("drones fired overnight", 3, "bm25")
    add_document(settings.seeds_dir, "extra", "Officials said the harbour reopened on Tuesday after repairs.\n")
    swapped: list[QAService] = []
    reindexer = Reindexer(settings, old.embedder, swapped.append)
    reindexer.request()
    assert reindexer.wait(60).state == "succeeded"
    new = swapped[0]
    assert "extra" in new.index.articles and len(new.index.articles) == len(old.index.articles) + 1
    assert new.search("harbour reopened", 1, "bm25")[0].chunk.doc_id == "extra"
    # not rebuilt: the collection the old service answers from was never dropped, its passages kept their ids
    # (their scores moved a little: one more passage in the collection changes every IDF)
    after = old.search("drones fired overnight", 3, "bm25")
    assert [h.chunk.chunk_id for h in after] == [h.chunk.chunk_id for h in before]
