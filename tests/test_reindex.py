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
