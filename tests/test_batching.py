"""The query encoder on its own thread (qa/batching.py): batches of questions asked at once, the same vectors
as one at a time, failures kept to their own question, and the service's answers the same either way."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa import batching
from qa.batching import QueryBatcher, submit_queries
from qa.embed import HashingEmbedder, QueryCache, make_embedder
from qa.errors import ModelError
from qa.service import QAService
from tests.helpers import FirstCallHeld

# Written for these tests, not taken from eval/.
QUESTIONS = ["Who chaired the harbour authority meeting?", "When did the ferry strike end?",
             "How many drones were shot down overnight?", "What did the mayor promise the fishermen?",
             "Which city hosted the talks?", "Did the council approve the budget?"]


class Gated(HashingEmbedder, FirstCallHeld):
    """A hashing embedder whose first query call waits for `gate`, recording every call's texts."""

    def __init__(self):
        HashingEmbedder.__init__(self)
        FirstCallHeld.__init__(self)

    def embed_queries(self, texts):
        self.hold(texts)
        if any("fail" in t for t in texts):
            raise ModelError("this text cannot be encoded")
        return super().embed_queries(texts)


def test_questions_waiting_while_the_encoder_is_busy_go_in_one_call_with_their_own_vectors():
    inner = Gated()
    batcher = QueryBatcher(inner, max_batch=8)
    first = batcher.submit_queries([QUESTIONS[0]])
    assert inner.entered.wait(10)
    waiting = [batcher.submit_queries([q]) for q in QUESTIONS[1:4]] + [batcher.submit_queries(QUESTIONS[4:])]
    inner.gate.set()
    alone = HashingEmbedder().embed_queries(QUESTIONS)
    assert np.array_equal(first.result(10), alone[:1])
    assert np.array_equal(np.concatenate([f.result(10) for f in waiting]), alone[1:])
    assert inner.calls == [QUESTIONS[:1], QUESTIONS[1:]] and batcher.calls == 2


def test_a_batch_is_at_most_max_batch_texts():
    inner = Gated()
    batcher = QueryBatcher(inner, max_batch=2)
    first = batcher.submit_queries([QUESTIONS[0]])
    assert inner.entered.wait(10)
    rest = [batcher.submit_queries([q]) for q in QUESTIONS[1:]]
    inner.gate.set()
    [f.result(10) for f in [first, *rest]]
    assert [len(c) for c in inner.calls] == [1, 2, 2, 1]


def test_a_failing_question_fails_alone_and_its_batch_partners_are_answered():
    inner = Gated()
    batcher = QueryBatcher(inner, max_batch=8)
    first = batcher.submit_queries([QUESTIONS[0]])
    assert inner.entered.wait(10)
    good, bad = batcher.submit_queries([QUESTIONS[1]]), batcher.submit_queries(["please fail here"])
    inner.gate.set()
    first.result(10)
    assert np.array_equal(good.result(10), HashingEmbedder().embed_queries([QUESTIONS[1]]))
    with pytest.raises(ModelError, match="cannot be encoded"):
        bad.result(10)
    assert inner.calls[1:] == [[QUESTIONS[1], "please fail here"], [QUESTIONS[1]], ["please fail here"]]


def test_the_encoder_thread_ends_when_idle_and_starts_again_for_the_next_question(monkeypatch):
    monkeypatch.setattr(batching, "IDLE_S", 0.01)
    batcher = QueryBatcher(HashingEmbedder(), max_batch=4)
    batcher.embed_queries(QUESTIONS[:1])
    deadline = time.monotonic() + 5
    while batcher._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher._thread is None
    assert np.array_equal(batcher.embed_queries(QUESTIONS[1:3]), HashingEmbedder().embed_queries(QUESTIONS[1:3]))
    assert batcher.embed_queries([]).shape == (0, 64)


def test_a_question_whose_batch_is_done_before_it_looks_does_not_wait_for_the_handoff(monkeypatch):
    """The asking thread waits until its texts are taken: a flag that stays set, so an encoder quicker than
    the asking thread's wake-up costs it nothing (HANDOFF_S is only a guard)."""
    monkeypatch.setattr(batching, "HANDOFF_S", 5.0)
    batcher = QueryBatcher(HashingEmbedder(), max_batch=8)
    start = time.monotonic()
    for q in QUESTIONS * 5:
        batcher.submit_queries([q]).result(5)
    assert time.monotonic() - start < 2.0


def test_many_threads_asking_at_once_each_get_their_own_vector():
    batcher = QueryBatcher(HashingEmbedder(), max_batch=3)
    texts = [f"{q} ({i})" for i in range(20) for q in QUESTIONS]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: batcher.embed_queries([t])[0], texts))
    assert np.array_equal(np.stack(got), HashingEmbedder().embed_queries(texts))


def test_submit_without_an_encoder_thread_computes_now_and_keeps_the_error_for_result():
    assert np.array_equal(submit_queries(HashingEmbedder(), QUESTIONS).result(0), HashingEmbedder().embed_queries(QUESTIONS))

    class Broken(HashingEmbedder):
        def embed_queries(self, texts):
            raise ModelError("the encoder is gone")

    future = submit_queries(Broken(), QUESTIONS[:1])
    with pytest.raises(ModelError, match="gone"):
        future.result(0)


def test_the_query_cache_over_the_batcher_remembers_and_sends_only_new_texts():
    inner = Gated()
    inner.gate.set()
    cache = QueryCache(QueryBatcher(inner, max_batch=8), size=8)
    first = cache.submit_queries([QUESTIONS[0], " ".join(QUESTIONS[1].split(" ")) + "  "]).result(10)
    again = cache.submit_queries([QUESTIONS[1], QUESTIONS[0], QUESTIONS[2]]).result(10)
    assert np.array_equal(again[:2], first[::-1]) and inner.calls == [QUESTIONS[:2], QUESTIONS[2:3]]
    assert np.array_equal(again, HashingEmbedder().embed_queries([QUESTIONS[1], QUESTIONS[0], QUESTIONS[2]]))


def test_the_overlapped_path_answers_as_the_sequential_one(fake_service):
    """The question parsed while its vector is computed on the encoder's thread: the same result."""
    overlapped = QAService(fake_service.settings, fake_service.index, QueryBatcher(fake_service.embedder, 8))
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            a, b = fake_service.ask(question, top_k=3, mode=mode), overlapped.ask(question, top_k=3, mode=mode)
            assert (a.answers, a.abstained, a.confidence, a.passages, a.abstain_reason) == \
                   (b.answers, b.abstained, b.confidence, b.passages, b.abstain_reason)
    assert overlapped.embedder.calls == len(QUESTIONS) * 3


def test_make_embedder_puts_the_batcher_beneath_the_cache(tmp_path):
    chain = make_embedder("sentence-transformers/all-MiniLM-L6-v2", backend="onnx", cache_dir=tmp_path,
                          query_cache=4, query_batch=8)
    assert isinstance(chain, QueryCache) and isinstance(chain.embedder, QueryBatcher)
    assert chain.embedder.max_batch == 8
    torch_chain = make_embedder("sentence-transformers/all-MiniLM-L6-v2", backend="torch", query_batch=8)
    assert isinstance(torch_chain, QueryBatcher) and torch_chain.max_batch == 1  # torch pads: one a call
    assert not isinstance(make_embedder("x", backend="torch"), QueryBatcher)


@pytest.mark.model
def test_onnx_batches_give_each_question_its_vector_alone(tmp_path):
    """Rows of a batch (padded to its longest question) against each question encoded alone: within 1e-6
    (bit for bit on the machines measured; docs/operations.md)."""
    onnx = make_embedder("sentence-transformers/all-MiniLM-L6-v2", backend="onnx", cache_dir=tmp_path).load()
    texts = QUESTIONS + ["Why?", "What exactly did the spokesperson for the regional transport ministry tell "
                                 "reporters about the delayed rail tunnel and its cost overruns last winter?"]
    alone = np.stack([onnx.embed_queries([t])[0] for t in texts])
    for size in (2, 3, 8):
        for start in range(0, len(texts) - size + 1, size):
            batch = onnx.embed_queries(texts[start : start + size])
            assert np.abs(batch - alone[start : start + size]).max() <= 1e-6
    batcher = QueryBatcher(onnx, max_batch=8)
    with ThreadPoolExecutor(4) as pool:
        got = np.stack(list(pool.map(lambda t: batcher.embed_queries([t])[0], texts * 3)))
    assert np.abs(got - np.concatenate([alone] * 3)).max() <= 1e-6
