"""api/operations.py: the admin routes (reindex, documents, feedback export) and /metrics."""

from __future__ import annotations

import pytest

from api.app import create_app
from qa.embed import HashingEmbedder
from qa.service import QAService
from tests.apps import client, private_settings

ADMIN = {"X-Admin-Key": "admin-secret"}
ARTICLE = ("date 2025-06-01 Lighthouse keepers vote to strike\n\n"
           "The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts. "
           "Their union said the strike would begin on the first of July.\n")


@pytest.fixture
def admin_app(tmp_path):
    settings = private_settings(tmp_path, admin_key="admin-secret")
    app = create_app(settings, QAService.open(settings, embedder=HashingEmbedder()))
    return app, client(app)


def test_reindex_swaps_in_a_new_build(admin_app):
    app, c = admin_app
    old = app.state.service
    started = c.post("/admin/reindex", headers=ADMIN)
    assert started.status_code == 202 and started.json()["state"] == "running"
    app.state.reindexer.wait(30)
    status = c.get("/admin/reindex", headers=ADMIN).json()
    assert (status["state"], status["job"], status["error"]) == ("succeeded", 1, None)
    assert app.state.service is not old and status["build"] == app.state.service.index.path.name
    assert status["build"] != old.index.path.name
    assert c.post("/ask", json={"question": "Who hosted the talks in Istanbul?"}).status_code == 200


def test_an_added_document_is_stored_indexed_and_cited(admin_app, tmp_path):
    app, c = admin_app
    r = c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE}, headers=ADMIN)
    assert r.status_code == 201
    body = r.json()
    assert (body["doc_id"], body["source"], body["sentences"]) == ("lighthouse", "lighthouse.txt", 2)
    assert (tmp_path / "seeds" / "lighthouse.txt").read_bytes() == ARTICLE.encode()
    app.state.reindexer.wait(30)
    assert c.get("/documents/lighthouse").json()["text"] == ARTICLE
    answer = c.post("/ask", json={"question": "When will the lighthouse keepers strike begin?"}).json()
    assert answer["answers"][0]["citations"][0]["doc_id"] == "lighthouse"
    for a in answer["answers"]:
        for cit in a["citations"]:
            text = (tmp_path / "seeds" / cit["source"]).read_text(encoding="utf-8")
            assert text[cit["start"]:cit["end"]] == cit["quote"]


def test_documents_are_never_overwritten_and_bad_ones_refused(admin_app, tmp_path):
    _, c = admin_app
    original = (tmp_path / "seeds" / "003_402be4f0d307bbc3.txt").read_bytes()
    taken = c.post("/admin/documents", json={"name": "003_402be4f0d307bbc3", "text": ARTICLE}, headers=ADMIN)
    assert taken.status_code == 409 and taken.json()["error"] == "document_exists"
    assert (tmp_path / "seeds" / "003_402be4f0d307bbc3.txt").read_bytes() == original
    bad_name = c.post("/admin/documents", json={"name": "../x", "text": ARTICLE}, headers=ADMIN)
    assert bad_name.status_code == 422 and bad_name.json()["detail"].startswith("name: String should match pattern")
    empty = c.post("/admin/documents", json={"name": "blank", "text": "  \n"}, headers=ADMIN)
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_document"
    assert not (tmp_path / "seeds" / "blank.txt").exists()
    no_key = c.post("/admin/documents", json={"name": "sneaky", "text": ARTICLE})
    assert no_key.status_code == 401 and not (tmp_path / "seeds" / "sneaky.txt").exists()


def test_documents_may_exceed_the_question_body_limit_but_not_their_own(tmp_path):
    settings = private_settings(tmp_path, admin_key="admin-secret", max_body_bytes=1024, max_document_bytes=4096)
    c = client(create_app(settings, QAService.open(settings, embedder=HashingEmbedder())))
    long_text = ARTICLE + "More news follows here. " * 80  # ~2.1 KB
    assert c.post("/admin/documents", json={"name": "long", "text": long_text}, headers=ADMIN).status_code == 201
    too_long = c.post("/admin/documents", json={"name": "huge", "text": long_text * 3}, headers=ADMIN)
    assert too_long.status_code == 413 and not (tmp_path / "seeds" / "huge.txt").exists()
    assert c.post("/ask", json={"question": "x" * 1100}).status_code == 413


def test_feedback_export_needs_the_admin_key_and_returns_every_row(admin_app):
    _, c = admin_app
    fb = {"question": "Who hosted the talks?", "answer": "Turkey's foreign minister", "verdict": "correct"}
    assert c.post("/feedback", json=fb).status_code == 201
    assert c.get("/admin/feedback/export").status_code == 401
    assert c.get("/admin/feedback/export", headers={"X-Admin-Key": "nope"}).status_code == 403
    export = c.get("/admin/feedback/export", headers=ADMIN).json()
    assert export["count"] == 1
    row = export["items"][0]
    assert (row["id"], row["question"], row["answers"], row["kind"]) == ("fb-1", fb["question"], [fb["answer"]], "who")
    assert (row["feedback"]["verdict"], row["feedback"]["channel"]) == ("correct", "api")



def test_reindex_keeps_the_live_services_model_stages(admin_app):
    app, c = admin_app
    stages = object(), object()
    app.state.service.reader.span_model, app.state.service.reader.reranker = stages
    c.post("/admin/reindex", headers=ADMIN)
    app.state.reindexer.wait(30)
    assert (app.state.service.reader.span_model, app.state.service.reader.reranker) == stages
