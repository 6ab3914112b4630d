"""api/operations.py: the admin routes (reindex, documents, feedback export) and /metrics."""

from __future__ import annotations

import json

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


MARKDOWN = ("# Quarry road *reopens*\n\n"
            "The quarry road above Dunmarra reopened on **Thursday** after [Keld Paving](https://paving.example) "
            "finished a **€3 million** resurfacing.\n")


def test_a_markdown_article_is_stored_and_cited_as_its_words(admin_app, tmp_path):
    app, c = admin_app
    r = c.post("/admin/documents", json={"name": "quarry", "text": MARKDOWN, "format": "markdown"}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["title"] == "Quarry road reopens"
    stored = (tmp_path / "seeds" / "quarry.txt").read_text(encoding="utf-8")
    assert stored == ("Quarry road reopens\n\nThe quarry road above Dunmarra reopened on Thursday after Keld Paving "
                      "finished a €3 million resurfacing.\n")
    app.state.reindexer.wait(30)
    body = c.post("/ask", json={"question": "Who resurfaced the quarry road above Dunmarra?", "top_k": 5}).json()
    cited = [cit for a in body["answers"] for cit in a["citations"] if cit["doc_id"] == "quarry"]
    assert cited
    for cit in cited:
        assert stored[cit["start"]:cit["end"]] == cit["quote"]
    for a in body["answers"]:
        assert not any(markup in a["text"] for markup in ("*", "](", "#"))


PAGE = ("<html lang=\"en\"><head><title>Tram depot fire</title><script>document.title = 'x'</script></head><body>"
        "<nav>Home | Sport</nav><article><h1>Tram depot fire</h1><p>A fire at the Marrow Street tram depot destroyed "
        "three trams overnight, the city's transport office said on Friday.</p><p>Services will run to a reduced "
        "timetable until the depot reopens.</p></article></body></html>")


def test_the_file_as_sent_is_served_as_a_download_beside_the_text_citations_point_into(admin_app, tmp_path):
    app, c = admin_app
    assert c.post("/admin/documents", json={"name": "depot", "text": PAGE, "format": "html"}, headers=ADMIN).status_code == 201
    assert c.post("/admin/documents", json={"name": "quarry", "text": MARKDOWN, "format": "markdown"},
                  headers=ADMIN).status_code == 201
    app.state.reindexer.wait(30)
    stored = c.get("/documents/depot").json()["text"]
    assert "Marrow Street tram depot" in stored and "<p>" not in stored and "Home | Sport" not in stored
    html = c.get("/documents/depot/original")
    assert (html.status_code, html.content) == (200, PAGE.encode())
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-disposition"] == 'attachment; filename="depot.html"'
    assert (html.headers["content-security-policy"], html.headers["x-content-type-options"]) == ("sandbox", "nosniff")
    md = c.get("/documents/quarry/original")
    assert (md.content, md.headers["content-type"]) == (MARKDOWN.encode(), "text/markdown; charset=utf-8")
    seed = c.get("/documents/000_0909706770c7972d/original")  # sent as plain text: the text itself
    assert seed.content == (tmp_path / "seeds" / "000_0909706770c7972d.txt").read_bytes()
    assert seed.headers["content-disposition"] == 'attachment; filename="000_0909706770c7972d.txt"'
    missing = c.get("/documents/tide/original")
    assert (missing.status_code, missing.json()["error"], missing.json()["detail"]) == (
        404, "document_not_found", "no document 'tide' in the corpus")
    assert c.put("/admin/documents/depot", json={"text": ARTICLE}, headers=ADMIN).status_code == 200
    assert c.get("/documents/depot/original").content == ARTICLE.encode()  # the correction was sent as text
    assert c.delete("/admin/documents/quarry", headers=ADMIN).status_code == 200
    assert c.get("/documents/quarry/original").status_code == 404
    assert not (tmp_path / "seeds" / "quarry.original.md").exists()
    schema = c.get("/openapi.json").json()["paths"]["/documents/{doc_id}/original"]["get"]
    assert set(schema["responses"]["200"]["content"]) == {"text/plain", "text/markdown", "text/html"}


def test_a_markdown_front_matter_fills_the_fields_not_given_and_a_bad_one_is_refused(admin_app, tmp_path):
    _, c = admin_app
    front = "---\ntitle: Quarry road reopens\ndate: 2026-03-05\noutlet: Dunmarra Gazette\n---\n\n"
    r = c.post("/admin/documents", json={"name": "quarry", "text": front + MARKDOWN, "format": "markdown",
                                         "outlet": "Gazette Online"}, headers=ADMIN)
    assert r.status_code == 201
    listed = c.get("/documents/quarry").json()
    assert (listed["title"], listed["published"], listed["outlet"]) == (
        "Quarry road reopens", "2026-03-05", "Gazette Online")
    assert not listed["text"].startswith("---")
    bad = c.post("/admin/documents", json={"name": "quarry2", "text": "---\ndate: next week\n---\nRoad shut.\n",
                                           "format": "markdown"}, headers=ADMIN)
    assert bad.status_code == 422 and "published 'next week'" in bad.json()["detail"]
    assert not (tmp_path / "seeds" / "quarry2.txt").exists()


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
    assert c.put("/admin/documents/long", json={"text": long_text + "A late line. "}, headers=ADMIN).status_code == 200
    too_long = c.put("/admin/documents/long", json={"text": long_text * 3}, headers=ADMIN)
    assert too_long.status_code == 413 and (tmp_path / "seeds" / "long.txt").read_text() == long_text + "A late line. "
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


KEEPERS_META = {"outlet": "Harbour News", "url": "https://harbour.example/keepers",
                "published": "2025-06-01T09:30:00+02:00", "language": "en"}
KEEPERS_Q = "When will the lighthouse keepers strike begin?"


def test_an_added_articles_metadata_is_listed_and_carried_by_its_citations(admin_app):
    app, c = admin_app
    r = c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE, **KEEPERS_META}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["indexed"] is True and r.json()["reindex"]["state"] == "succeeded"
    cited = c.post("/ask", json={"question": KEEPERS_Q}).json()["answers"][0]["citations"][0]
    assert (cited["doc_id"], cited["outlet"], cited["url"], cited["published"], cited["date"]) == (
        "lighthouse", "Harbour News", "https://harbour.example/keepers", "2025-06-01T09:30:00+02:00", "2025-06-01")
    page = c.get("/documents", params={"offset": 4, "limit": 1}).json()
    assert (page["total"], page["offset"], page["limit"]) == (6, 4, 1)
    assert [d["doc_id"] for d in page["items"]] == ["004_7493b927a45f9d56"]
    last = c.get("/documents", params={"offset": 5}).json()["items"]
    assert last == [{"doc_id": "lighthouse", "source": "lighthouse.txt", "title": "Lighthouse keepers vote to strike",
                     "date": "2025-06-01", **KEEPERS_META, "sha256": r.json()["sha256"], "chars": len(ARTICLE),
                     "sentences": 2}]
    assert c.get("/documents/lighthouse").json()["outlet"] == "Harbour News"


def test_after_a_removal_no_answer_cites_the_article(admin_app, tmp_path):
    app, c = admin_app
    c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE}, headers=ADMIN)
    assert c.post("/ask", json={"question": KEEPERS_Q}).json()["answers"][0]["citations"][0]["doc_id"] == "lighthouse"
    r = c.delete("/admin/documents/lighthouse", headers=ADMIN)
    assert r.status_code == 200 and (r.json()["doc_id"], r.json()["indexed"]) == ("lighthouse", True)
    assert not (tmp_path / "seeds" / "lighthouse.txt").exists()
    for mode in ("hybrid", "bm25", "dense"):
        body = c.post("/ask", json={"question": KEEPERS_Q, "mode": mode, "top_k": 10}).json()
        cited = {cit["doc_id"] for a in body["answers"] for cit in a["citations"]}
        assert "lighthouse" not in cited | {p["doc_id"] for p in body["passages"]}
    assert c.get("/documents/lighthouse").status_code == 404
    again = c.delete("/admin/documents/lighthouse", headers=ADMIN)
    assert again.status_code == 404 and again.json()["error"] == "document_not_found"
    assert c.delete("/admin/documents/000_0909706770c7972d").status_code == 401


CORRECTION = ("date 2025-06-02 Lighthouse keepers delay their strike\n\n"
              "The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts. "
              "Their union said on Monday the strike would begin on the third of August.\n")


def test_a_replaced_article_is_cited_from_its_new_text_and_its_metadata_alone_reuses_its_vectors(admin_app, tmp_path,
                                                                                                 caplog):
    app, c = admin_app
    c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE, **KEEPERS_META}, headers=ADMIN)
    before = c.post("/ask", json={"question": KEEPERS_Q}).json()["answers"][0]  # and remembered by the answer cache
    assert "first of July" in before["text"] and before["citations"][0]["outlet"] == "Harbour News"
    r = c.put("/admin/documents/lighthouse", json={"text": CORRECTION, "outlet": "Pier Times"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["indexed"] is True
    assert (r.json()["doc_id"], r.json()["outlet"], r.json()["url"], r.json()["date"]) == (
        "lighthouse", "Pier Times", None, "2025-06-02")  # the fields not sent are not kept
    assert (tmp_path / "seeds" / "lighthouse.txt").read_text() == CORRECTION
    assert c.get("/documents/lighthouse").json()["text"] == CORRECTION
    body = c.post("/ask", json={"question": KEEPERS_Q}).json()
    cited = body["answers"][0]["citations"][0]
    assert (cited["doc_id"], cited["outlet"], cited["date"]) == ("lighthouse", "Pier Times", "2025-06-02")
    assert "third of August" in body["answers"][0]["text"]
    for a in body["answers"]:
        for cit in a["citations"]:
            text = (tmp_path / "seeds" / cit["source"]).read_text(encoding="utf-8")
            assert text[cit["start"]:cit["end"]] == cit["quote"]
    assert "first of July" not in json.dumps(c.post("/ask", json={"question": KEEPERS_Q, "top_k": 10}).json())

    with caplog.at_level("INFO", logger="qa.update"):  # the same text, another outlet: nothing embedded again
        r = c.put("/admin/documents/lighthouse", json={"text": CORRECTION, "outlet": "Skerry Post"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["indexed"] is True
    assert "index updated: 6 articles reused, 0 computed (0 sentences, 0 chunks)" in caplog.text
    answer = c.post("/ask", json={"question": KEEPERS_Q, "sources": ["Skerry Post"]}).json()["answers"][0]
    assert answer["citations"][0]["outlet"] == "Skerry Post"
    gone = c.post("/ask", json={"question": KEEPERS_Q, "sources": ["Pier Times"]})  # no article of that outlet now
    assert gone.status_code == 422 and "name(s) no document id or outlet" in gone.json()["detail"]


def test_a_replacement_of_a_missing_article_or_with_a_bad_body_changes_nothing(admin_app, tmp_path):
    _, c = admin_app
    seeds = tmp_path / "seeds"
    before = {p.name: p.read_bytes() for p in seeds.iterdir()}
    missing = c.put("/admin/documents/beacon", json={"text": ARTICLE}, headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"] == "document_not_found"
    assert "add it instead" in missing.json()["detail"]
    target = "/admin/documents/003_402be4f0d307bbc3"
    empty = c.put(target, json={"text": "  \n"}, headers=ADMIN)
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_document"
    bad_date = c.put(target, json={"text": ARTICLE, "published": "2025-13-01"}, headers=ADMIN)
    assert bad_date.status_code == 422 and "published" in bad_date.json()["detail"]
    renamed = c.put(target, json={"text": ARTICLE, "name": "other"}, headers=ADMIN)
    assert renamed.status_code == 422 and "name" in renamed.json()["detail"]
    assert c.put(target, json={"text": ARTICLE}).status_code == 401
    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before


def test_a_bulk_add_of_json_lines_is_all_or_nothing(admin_app, tmp_path):
    _, c = admin_app
    jsonl = {**ADMIN, "Content-Type": "application/x-ndjson"}
    lines = [{"name": "lighthouse", "text": ARTICLE, "outlet": "Harbour News"},
             {"name": "bridge", "format": "html", "published": "2025-06-03",
              "text": "<html><body><article><p>The mayor of Lyon opened the new Rhone bridge on Monday after "
                      "ten years of works.</p></article></body></html>"}]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    bad = body + b'\n{"name": "third", "text": "x", "published": "yesterday"}\n'
    refused = c.post("/admin/documents:bulk", content=bad, headers=jsonl)
    assert refused.status_code == 422 and refused.json()["detail"].startswith(
        "body line 3 ('third'): published 'yesterday' is not a date")
    assert not (tmp_path / "seeds" / "lighthouse.txt").exists()
    wrong_type = c.post("/admin/documents:bulk", content=body, headers={**ADMIN, "Content-Type": "text/csv"})
    assert wrong_type.status_code == 415 and wrong_type.json()["error"] == "unsupported_media_type"
    r = c.post("/admin/documents:bulk", content=body, headers=jsonl)
    assert r.status_code == 201 and (r.json()["count"], r.json()["indexed"]) == (2, True)
    assert (tmp_path / "seeds" / "bridge.txt").read_text() == (
        "The mayor of Lyon opened the new Rhone bridge on Monday after ten years of works.\n")
    assert (tmp_path / "seeds" / "bridge.original.html").read_text() == lines[1]["text"]  # the line's HTML, as sent
    assert c.post("/admin/documents:bulk", content=body, headers=jsonl).status_code == 409


@pytest.mark.parametrize("fields,status,error,detail", [
    ({"text": "   "}, 422, "invalid_document", "document 'x': text is empty; send the article's text"),
    ({"text": "PNG\u0000\u0001 data"}, 422, "invalid_document", "document 'x': text holds the control character U+0000"),
    ({"format": "pdf"}, 422, "invalid_request", "format: Input should be 'text', 'markdown' or 'html'"),
    ({"published": "2025-13-01"}, 422, "invalid_document", "document 'x': published '2025-13-01' is not a real date"),
    ({"url": "not a url"}, 422, "invalid_document", "document 'x': url must be an absolute http:// or https://"),
    ({"name": "003_402be4f0d307bbc3"}, 409, "document_exists", "'003_402be4f0d307bbc3.txt' already exists"),
])
def test_bad_documents_get_a_clear_4xx_and_nothing_is_written(admin_app, tmp_path, fields, status, error, detail):
    _, c = admin_app
    before = sorted(p.name for p in (tmp_path / "seeds").iterdir())
    r = c.post("/admin/documents", json={"name": "x", "text": ARTICLE, **fields}, headers=ADMIN)
    assert (r.status_code, r.json()["error"]) == (status, error) and r.json()["detail"].startswith(detail)
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == before


def test_filters_restrict_ask_and_search_and_the_schema_states_them(admin_app):
    _, c = admin_app
    c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE, **KEEPERS_META}, headers=ADMIN)
    only = c.post("/ask", json={"question": "Who spoke with Putin?", "sources": ["Harbour News"], "top_k": 5}).json()
    assert {p["doc_id"] for p in only["passages"]} == {"lighthouse"}
    dated = c.post("/ask", json={"question": "Who spoke with Putin?", "published_from": "2025-05-19",
                                 "published_to": "2025-05-19", "top_k": 5}).json()
    assert {p["doc_id"] for p in dated["passages"]} == {"000_0909706770c7972d", "003_402be4f0d307bbc3"}  # dated ones
    found = c.get("/search", params=[("q", "strike"), ("sources", "lighthouse"), ("sources", "001_031c8477739e64ff")])
    assert found.status_code == 200 and {p["doc_id"] for p in found.json()["passages"]} <= {"lighthouse", "001_031c8477739e64ff"}
    assert "lighthouse" in {p["doc_id"] for p in found.json()["passages"]}
    bad = c.post("/ask", json={"question": "Who?", "sources": ["Nowhere Times"]})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("sources 'Nowhere Times' name(s) no document")
    backwards = c.get("/search", params={"q": "strike", "published_from": "2025-06-02", "published_to": "2025-06-01"})
    assert backwards.status_code == 422 and backwards.json()["detail"] == (
        "published_from 2025-06-02 is after published_to 2025-06-01")
    schema = c.get("/openapi.json").json()
    ask = schema["components"]["schemas"]["AskRequest"]["properties"]
    assert {"sources", "published_from", "published_to"} <= set(ask)
    params = {p["name"] for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert {"sources", "published_from", "published_to"} <= params
    assert {"/documents", "/admin/documents:bulk", "/admin/documents/{doc_id}"} <= set(schema["paths"])


def test_with_qdrant_documents_added_and_removed_through_the_api_sync_the_collection(tmp_path):
    from qa import qdrant_store as store

    settings = private_settings(tmp_path, admin_key="admin-secret", backend="qdrant", qdrant_path=tmp_path / "qdrant")
    app = create_app(settings, QAService.open(settings, embedder=HashingEmbedder()))
    c = client(app)
    r = c.post("/admin/documents", json={"name": "lighthouse", "text": ARTICLE, **KEEPERS_META}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["indexed"] is True and r.json()["reindex"]["state"] == "succeeded"
    target = store.Target.from_settings(settings)
    assert "lighthouse" in store.stored_articles(target)
    body = c.post("/ask", json={"question": KEEPERS_Q, "sources": ["harbour news"], "top_k": 5}).json()
    assert body["passages"] and {p["doc_id"] for p in body["passages"]} == {"lighthouse"}
    cited = body["answers"][0]["citations"][0]
    assert (cited["doc_id"], cited["outlet"], cited["published"]) == ("lighthouse", "Harbour News",
                                                                     KEEPERS_META["published"])
    r = c.put("/admin/documents/lighthouse", json={"text": CORRECTION, "outlet": "Pier Times"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["indexed"] is True
    assert store.stored_articles(target)["lighthouse"][0] == r.json()["sha256"]  # the new text's points
    body = c.post("/ask", json={"question": KEEPERS_Q, "sources": ["pier times"], "top_k": 5}).json()
    assert {p["doc_id"] for p in body["passages"]} == {"lighthouse"}
    assert "third of August" in body["answers"][0]["text"] and "first of July" not in json.dumps(body)
    r = c.delete("/admin/documents/lighthouse", headers=ADMIN)
    assert r.status_code == 200 and r.json()["indexed"] is True
    assert "lighthouse" not in store.stored_articles(target)
    for mode in ("hybrid", "bm25", "dense"):
        body = c.post("/ask", json={"question": KEEPERS_Q, "mode": mode, "top_k": 10}).json()
        assert "lighthouse" not in {p["doc_id"] for p in body["passages"]}
    assert c.get("/documents/lighthouse").status_code == 404


def test_with_qdrant_a_metadata_change_rewrites_the_payload_without_reembedding(tmp_path):
    import numpy as np

    from qa import filters, qdrant_store as store
    from qa.reindex import Reindexer

    settings = private_settings(tmp_path, backend="qdrant", qdrant_path=tmp_path / "qdrant")
    old = QAService.open(settings, embedder=HashingEmbedder())
    doc_id = next(iter(old.index.articles))
    (settings.seeds_dir / f"{doc_id}.meta.json").write_text(json.dumps({"outlet": "Quay Daily"}))
    swapped: list[QAService] = []
    reindexer = Reindexer(settings, old.embedder, swapped.append)
    reindexer.request(full=False)
    assert reindexer.wait(60).state == "succeeded"
    assert swapped[0].index.articles[doc_id].outlet == "Quay Daily"
    hits = swapped[0].search("drones fired overnight", 5, "hybrid", filters=filters.make(["quay daily"]))
    assert hits and {h.chunk.doc_id for h in hits} == {doc_id}
    # the passages kept their vectors: only their payload was rewritten
    assert np.array_equal(swapped[0].index.chunk_vectors, old.index.chunk_vectors)
    # synced directly: the metadata change alone is a payload rewrite, nothing upserted
    from qa import nlp
    from qa.bm25 import BM25Params
    from qa.ingest import load_articles
    from qa.service import chunk_params

    (settings.seeds_dir / f"{doc_id}.meta.json").write_text(json.dumps({"outlet": "Harbour News"}))
    done = store.sync(store.Target.from_settings(settings), load_articles(settings.seeds_dir), old.embedder,
                      chunk_params(settings), BM25Params("l", settings.bm25_k1, settings.bm25_b),
                      nlp.load(settings.nlp_model))
    assert done == {"rebuilt": False, "upserted": [], "deleted": [], "relabelled": [doc_id]}
