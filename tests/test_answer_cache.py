"""QAService's answer cache (QA_ANSWER_CACHE_SIZE, on by default): a question asked again of the same index is
looked up, not read again; whatever can change its answer is not looked up (another top_k, mode or filter, a
new index after an add or a removal, an answer made while the encoder was failing)."""

from __future__ import annotations

import pytest

from api.app import create_app
from qa.embed import HashingEmbedder
from qa.errors import ModelError
from qa.service import QAService
from qa.types import Filters
from tests.apps import client, private_settings, with_settings

ADMIN = {"X-Admin-Key": "admin-secret"}
FERRY = ("date 2025-07-14 Ferry crews end their stoppage at Marrow Sound\n\n"
         "Ferry crews at Marrow Sound ended their stoppage on Monday after the operator agreed to hire twelve "
         "more deckhands. The harbour board said sailings to Quillan Island would resume on Wednesday.\n")
FERRY_Q = "How many deckhands did the Marrow Sound ferry operator agree to hire?"
SEED_Q = "Where did the delegations meet for talks?"


class CountingReader:
    """Wraps a service's reader: counts the questions it reads."""

    def __init__(self, service: QAService):
        self.reads, self._read = 0, service.reader.read
        service.reader.read = self

    def __call__(self, *args, **kwargs):
        self.reads += 1
        return self._read(*args, **kwargs)


@pytest.fixture
def service(tmp_path) -> QAService:
    return QAService.open(private_settings(tmp_path), embedder=HashingEmbedder())


def same_answer(a, b) -> bool:
    return (a.answers, a.abstained, a.passages, a.confidence, a.abstain_reason) == \
        (b.answers, b.abstained, b.passages, b.confidence, b.abstain_reason)


def test_a_question_asked_again_is_looked_up_and_says_so(service):
    reader = CountingReader(service)
    first = service.ask(SEED_Q)
    assert reader.reads == 1 and set(first.timings) == {"embed_ms", "retrieve_ms", "read_ms"}
    again = service.ask(f"  {SEED_Q}\n")  # the question as validated: surrounding blanks stripped
    assert reader.reads == 1 and same_answer(again, first)
    assert set(again.timings) == {"cache_ms"} and again.took_ms >= 0


def test_another_top_k_mode_or_filter_is_read_not_looked_up(service):
    reader = CountingReader(service)
    base = service.ask(SEED_Q)
    variants = [service.ask(SEED_Q, top_k=1), service.ask(SEED_Q, mode="bm25"),
                service.ask(SEED_Q, filters=Filters(sources=("000_0909706770c7972d",)))]
    assert reader.reads == 4 and all("cache_ms" not in v.timings for v in variants)
    assert len(variants[0].answers) <= 1 and variants[1].mode == "bm25"
    assert {h.chunk.doc_id for h in variants[2].passages} == {"000_0909706770c7972d"}
    assert service.ask(SEED_Q, top_k=1).timings.keys() == {"cache_ms"} and reader.reads == 4
    assert same_answer(service.ask(SEED_Q), base)


def test_the_least_recently_asked_answer_goes_first_when_the_cache_is_full(service):
    small = QAService(with_settings(service, answer_cache_size=2), service.index, service.embedder, service.retriever)
    reader = CountingReader(small)
    for q in ("Who spoke by phone?", "When was the call?", "Who spoke by phone?", "What was agreed?"):
        small.ask(q)
    assert reader.reads == 3  # the third was looked up; the fourth pushed "When was the call?" out
    small.ask("Who spoke by phone?")
    assert reader.reads == 3
    small.ask("When was the call?")
    assert reader.reads == 4


@pytest.mark.parametrize("overrides", [{"answer_cache_size": 0}, {"backend": "qdrant"}],
                         ids=["size 0", "qdrant, whose collection can change under the service"])
def test_off_every_question_is_read(service, overrides):
    off = QAService(with_settings(service, **overrides), service.index, service.embedder, service.retriever)
    reader = CountingReader(off)
    for _ in range(3):
        assert "cache_ms" not in off.ask(SEED_Q).timings
    assert reader.reads == 3


class FlakyEmbedder(HashingEmbedder):
    """An encoder that fails its first `failures` query encodings (a transient fault), then works."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    def embed_queries(self, texts):
        if self.failures > 0:
            self.failures -= 1
            raise ModelError("the encoder failed for a moment")
        return super().embed_queries(texts)


def test_an_answer_made_without_the_encoder_is_not_kept(service):
    flaky = QAService(service.settings, service.index, FlakyEmbedder(failures=1), service.retriever)
    reader = CountingReader(flaky)
    assert flaky.ask(SEED_Q).degraded == "dense_unavailable"
    recovered = flaky.ask(SEED_Q)
    assert recovered.degraded is None and "cache_ms" not in recovered.timings and reader.reads == 2
    assert flaky.ask(SEED_Q).timings.keys() == {"cache_ms"} and reader.reads == 2


def test_after_an_add_and_a_removal_the_same_question_is_read_from_the_new_index(tmp_path):
    settings = private_settings(tmp_path, admin_key="admin-secret")
    app = create_app(settings, QAService.open(settings, embedder=HashingEmbedder()))
    c = client(app)
    ask = lambda: c.post("/ask", json={"question": FERRY_Q}).json()  # noqa: E731
    cited = lambda body: {cit["doc_id"] for a in body["answers"] for cit in a["citations"]}  # noqa: E731
    before = ask()
    assert "ferry" not in cited(before) and ask()["answers"] == before["answers"]  # asked again: looked up

    assert c.post("/admin/documents", json={"name": "ferry", "text": FERRY}, headers=ADMIN).status_code == 201
    app.state.reindexer.wait(30)
    added = ask()
    assert "ferry" in cited(added) and "twelve" in added["answers"][0]["text"]

    assert c.delete("/admin/documents/ferry", headers=ADMIN).status_code == 200
    removed = ask()
    assert "ferry" not in cited(removed) | {p["doc_id"] for p in removed["passages"]}
