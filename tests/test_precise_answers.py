"""Precise answers through the API contract, and with the real bundled model on questions written from
the articles (tests/data/spans_dev.jsonl)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.schemas import AskResponse
from qa.metrics import token_f1
from qa.serialize import result_json
from tests.helpers import ROOT, assert_citation_rule

DEV = [json.loads(line) for line in (ROOT / "tests" / "data" / "spans_dev.jsonl").read_text().splitlines()]
ANSWERABLE = [d for d in DEV if d["answers"]]


@pytest.fixture(scope="module")
def client(fake_service):
    with TestClient(create_app(service=fake_service)) as c:
        yield c


def test_the_answer_object_carries_the_span_fields(client):
    body = client.post("/ask", json={"question": "When did Vance meet Zelenskyy in Rome?", "top_k": 2}).json()
    AskResponse.model_validate(body)
    top = body["answers"][0]
    assert {"text", "score", "context", "citations", "rule", "label", "speaker", "resolved_date", "support_count",
            "differs_from", "items"} == set(top)
    assert (top["text"], top["resolved_date"], top["support_count"], top["label"]) == ("Sunday", "2025-05-18", 2, None)
    assert set(top["citations"][0]) == {"doc_id", "source", "title", "date", "start", "end", "quote", "answer_start",
                                        "answer_end"}
    assert body["abstain_reason"] is None and assert_citation_rule(body) >= 2


def test_an_abstention_says_why(client):
    body = client.post("/ask", json={"question": "What did he say?"}).json()
    assert body["abstained"] and body["answers"] == [] and body["abstain_reason"] == "ambiguous"


def test_the_openapi_schema_documents_the_new_fields(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"label", "speaker", "resolved_date", "support_count", "differs_from", "items"} <= set(
        schemas["AnswerOut"]["properties"])
    assert {"answer_start", "answer_end"} <= set(schemas["CitationOut"]["properties"])
    assert "abstain_reason" in schemas["AskResponse"]["properties"]


# ---------------------------------------------------------------- the real model
@pytest.mark.model
def test_what_did_putin_agree_to_is_the_memorandum_span(real_service):
    top = real_service.ask("What did Putin agree to?").answers[0]
    assert top.text == "to work with the Ukrainian side on a memorandum on a possible future peace accord"
    assert top.rule == "object_complement" and top.context.startswith('"We have agreed with the president')
    assert top.citations[0].doc_id == "000_0909706770c7972d" and top.citations[0].date == "2025-05-19"
    assert top.speaker.text == "Putin"
    # 002 says it in other words: one answer, each citation locating its own article's wording
    assert [c.doc_id[:3] for c in top.citations] == ["000", "002"] and top.support_count == 2
    c = top.citations[1]
    assert c.quote[c.answer_start - c.start : c.answer_end - c.start] == (
        "to work on a memorandum with Ukraine on future peace talks")


@pytest.mark.model
def test_off_topic_questions_abstain_as_not_in_corpus(real_service):
    result = real_service.ask("What is the capital of France?")
    assert result.abstained and result.answers == () and result.abstain_reason == "not_in_corpus"


@pytest.mark.model
def test_articles_giving_different_durations_are_both_returned_and_marked(real_service):
    answers = real_service.ask("How long did the phone call between Trump and Putin last?").answers
    top = answers[0]
    assert top.differs_from, [a.text for a in answers]
    values = {answers[i].text for i in top.differs_from} | {top.text}
    assert "approximately two and a half hours" in values and len(values) == 1 + len(top.differs_from)
    assert all(answers[i].differs_from == (0,) for i in top.differs_from)


@pytest.mark.model
def test_development_questions_spans_beat_their_sentences_and_keep_the_citation_rule(real_service):
    """Over questions written from the articles: the short answer scores a higher token F1 than the
    sentence it was cut from, every citation holds, and the unanswerable ones abstain."""
    span_f1 = sentence_f1 = 0.0
    missed = []
    for item in DEV:
        result = real_service.ask(item["question"], top_k=3)
        assert_citation_rule(result_json(result, real_service.index.articles))
        if not item["answers"]:
            assert result.abstained, item["question"]
            continue
        if result.abstained:
            # A typed question whose best evidence names nothing of the kind abstains rather than
            # answering with a sentence; it scores 0 on both sides. Today two: the "30-day" sentence is
            # not retrieved for its question, and a spanless sentence outscores "less than two hours".
            missed.append(item["question"])
            continue
        top = result.answers[0]
        predicted = top.label if top.label and item["answers"][0] in ("Yes", "No") else top.text
        span_f1 += token_f1(predicted, item["answers"])
        sentence_f1 += token_f1(top.context, item["answers"])
    span_f1, sentence_f1 = span_f1 / len(ANSWERABLE), sentence_f1 / len(ANSWERABLE)
    assert len(missed) <= 2, missed
    assert span_f1 >= 0.7 and span_f1 >= sentence_f1 + 0.4, (span_f1, sentence_f1)


def test_the_eval_harness_accepts_a_corroborating_wording_only_in_a_corroborated_answer(fake_service):
    from qa.eval import check_citations, citation_ok
    from qa.eval_backend import LocalBackend

    backend = LocalBackend(fake_service)
    text = (ROOT / "seeds" / "001_031c8477739e64ff.txt").read_text(encoding="utf-8")
    quote = next(text[s:e] for s, e in fake_service.index.articles["001_031c8477739e64ff"].sentences
                 if "1,000 detainees" in text[s:e])
    start = text.index(quote)
    at = text.index("1,000 detainees")
    c = {"doc_id": "001_031c8477739e64ff", "source": "001_031c8477739e64ff.txt", "start": start,
         "end": start + len(quote), "quote": quote, "answer_start": at, "answer_end": at + len("1,000 detainees")}
    assert citation_ok(c, "1,000 prisoners", backend, corroborated=True)
    assert not citation_ok(c, "1,000 prisoners", backend)  # alone, the answer must stand in the quote
    assert not citation_ok({**c, "answer_end": c["end"] + 1}, "1,000 prisoners", backend, corroborated=True)
    assert check_citations({"answers": [{"text": "1,000 prisoners", "support_count": 2, "citations": [c]}]},
                           backend) == (1, 1)
