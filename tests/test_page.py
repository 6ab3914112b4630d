"""api/page.py and api/static/: the page to ask from, served, then driven in headless Chromium (Playwright)
against the real uvicorn server with the real model."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from qa.feedback import FeedbackStore
from tests.apps import client, make_app
from tests.helpers import ROOT, SEEDS, live_server

STATIC = ROOT / "api" / "static"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's Chromium, told to reach nothing but the page; Playwright's own browser download fails offline.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEY = "page-test-key"
HOSTILE = '<img src=x onerror="window.pwned=1">'
# A seventh article, written for this test, whose headline and sentences carry markup.
HOSTILE_ARTICLE = (f"date 2025-05-21 Harbour museum reopens {HOSTILE}\n\n"
                   f"The harbour museum in Tallinn reopened on Tuesday after two years of repairs.\n\n"
                   f"Curator Anna Tamm said the new exhibit {HOSTILE} drew 4,000 visitors on its first day.\n")


# ---------------------------------------------------------------- served (no browser)
def test_the_page_and_its_files_are_served_open_with_a_strict_policy(fake_service):
    c = client(make_app(fake_service, api_key="secret-1"))
    for path, kind in (("/", "text/html"), ("/static/page.js", "text/javascript"), ("/static/page.css", "text/css")):
        r = c.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), path
        assert "script-src 'self';" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    assert c.post("/ask", json={"question": "Who hosted the talks?"}).status_code == 401  # the API still needs the key
    assert "/" not in c.get("/openapi.json", headers={"X-API-Key": "secret-1"}).json()["paths"]


def test_the_page_has_no_inline_script_or_style_and_the_script_writes_no_markup():
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\ssrc=)", html) and "<style" not in html and " style=" not in html
    js = (STATIC / "page.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink


# ---------------------------------------------------------------- in a real browser
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real server (real model, API key set) over the seeds plus HOSTILE_ARTICLE; it builds its own index."""
    tmp = tmp_path_factory.mktemp("page")
    shutil.copytree(SEEDS, tmp / "seeds")
    (tmp / "seeds" / "900_hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    env = {"QA_SEEDS_DIR": str(tmp / "seeds"), "QA_INDEX_DIR": str(tmp / "index"), "QA_DATA_DIR": str(tmp / "data"),
           "QA_API_KEY": KEY, "QA_REQUEST_TIMEOUT_S": "60"}
    with live_server(env, timeout=600, log_path=tmp / "server.log") as base:
        yield base, tmp


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; skipped where none is installed, except under .ci/run (NEWSQA_REQUIRE_BROWSER=1)."""
    missing = None
    try:
        from playwright import sync_api
    except ImportError:
        missing = "Playwright for Python is not installed: pip install -e '.[dev]'"
    if not missing and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM}: install one with `apt-get install -y chromium` (.ci/run does)"
    if missing:
        (pytest.fail if os.environ.get("NEWSQA_REQUIRE_BROWSER") == "1" else pytest.skip)(missing)
    with sync_api.sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1100, "height": 900})
        context.set_default_timeout(60_000)
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    """A fresh tab (empty sessionStorage) on the page, with the API key entered."""
    tab = browser.new_page()
    tab.goto(server[0] + "/")
    tab.get_by_text("API key", exact=True).click()
    tab.get_by_label("API key (kept for this tab only)").fill(KEY)
    yield tab
    tab.close()


def api(server, question: str) -> dict:
    r = httpx.post(server[0] + "/ask", json={"question": question}, headers={"X-API-Key": KEY}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def ask(page, question: str):
    page.get_by_label("Your question").fill(question)
    with page.expect_response(lambda r: r.url.endswith("/ask")) as response:
        page.get_by_label("Your question").press("Enter")
    page.wait_for_function("() => !document.getElementById('ask').disabled")
    return response.value


def cited_words(c: dict) -> str:
    """The answer's words inside the citation's sentence: what the page must highlight."""
    return c["quote"][c["answer_start"] - c["start"] : c["answer_end"] - c["start"]]



@pytest.mark.model
def test_an_answer_highlights_the_cited_words_in_their_sentence_and_paragraph(page, server, tmp_path):
    question = "What did Putin agree to?"
    ask(page, question)
    body = api(server, question)
    assert not body["abstained"]
    cards = page.locator("article.answer")
    assert cards.count() == len(body["answers"])
    for card, answer in zip(cards.all(), body["answers"]):
        quotes = card.locator("ol.citations > li.citation > blockquote.quote")
        assert quotes.count() == len(answer["citations"])
        for quote, c in zip(quotes.all(), answer["citations"]):
            assert quote.text_content() == c["quote"]
            assert quote.locator("mark").text_content() == cited_words(c)
    first = body["answers"][0]["citations"][0]
    card = cards.first
    assert f"{first['date']}" in card.locator("p.source").first.text_content()
    assert first["title"] in card.locator("p.source").first.text_content()
    card.get_by_text("Show the paragraph").first.click()
    paragraph = card.locator("p.paragraph").first
    assert paragraph.locator("span.sentence").text_content() == first["quote"]
    assert paragraph.locator("mark").text_content() == cited_words(first)
    shot = tmp_path / "page-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.mark.model
def test_an_abstention_shows_its_reason_and_the_closest_passages(page, server, tmp_path):
    question = "What is the capital of Australia?"
    ask(page, question)
    body = api(server, question)
    assert body["abstained"] and body["abstain_reason"] == "not_in_corpus"
    box = page.locator("section.abstention")
    assert box.locator("p.reason").text_content() == "The articles do not contain the words this question asks about."
    passages = box.locator("ol.passages > li blockquote")
    assert [p.text_content() for p in passages.all()] == [p["text"] for p in body["passages"]]
    assert page.locator("article.answer").count() == 0
    page.screenshot(path=str(tmp_path / "page-abstention.png"), full_page=True)


@pytest.mark.model
def test_a_vote_reached_by_tab_posts_feedback(page, server):
    question = "What did Putin agree to?"
    ask(page, question)
    top = api(server, question)["answers"][0]
    vote = page.locator("article.answer").first.get_by_role("button", name="Right", exact=True)
    for _ in range(60):  # the vote button is reachable from the question box by Tab alone
        page.keyboard.press("Tab")
        if vote.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the first answer's 👍 button")
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as response:
        page.keyboard.press("Enter")
    assert response.value.status == 201
    saved = response.value.json()
    assert page.locator("article.answer").first.locator(".vote-status").text_content() == \
        f"Thanks: recorded as feedback #{saved['id']}."
    stored = [f for f in FeedbackStore(server[1] / "data" / "feedback.sqlite3").all() if f.id == saved["id"]]
    c = top["citations"][0]
    assert [(f.question, f.answer, f.verdict, f.citation, f.channel) for f in stored] == [
        (question, top["text"], "correct",
         {k: c[k] for k in ("doc_id", "source", "start", "end", "quote")}, "api")]


@pytest.mark.model
def test_hostile_text_in_an_article_and_a_question_shows_as_text(page, server, tmp_path):
    question = f"How many visitors did the harbour museum exhibit {HOSTILE} draw?"
    ask(page, question)
    body = api(server, question)
    results = page.locator("#results")
    assert results.locator("q.asked").text_content() == question
    assert results.locator("img").count() == 0 and page.evaluate("window.pwned") is None
    hostile = [c for a in body["answers"] for c in a["citations"] if HOSTILE in c["quote"]]
    assert hostile, "the hostile article should be cited"
    shown = results.text_content()
    assert hostile[0]["quote"] in shown and hostile[0]["title"] in shown and HOSTILE in hostile[0]["title"]
    page.locator("article.answer").first.get_by_text("Show the paragraph").first.click()
    page.locator("p.paragraph").first.wait_for()
    assert results.locator("img").count() == 0 and page.evaluate("window.pwned") is None
    page.screenshot(path=str(tmp_path / "page-hostile.png"), full_page=True)


@pytest.mark.model
def test_filters_are_sent_only_when_set_and_the_outcome_is_shown(page, server):
    with page.expect_request(lambda r: r.url.endswith("/ask")) as plain:
        ask(page, "What did Putin agree to?")
    assert plain.value.post_data_json == {"question": "What did Putin agree to?"}
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Outlets").fill(" Reuters, AP ,")
    page.get_by_label("Published from").fill("2025-05-18")
    page.get_by_label("Published to").fill("2025-05-20")
    with page.expect_request(lambda r: r.url.endswith("/ask")) as filtered:
        response = ask(page, "What did Putin agree to?")
    assert filtered.value.post_data_json == {"question": "What did Putin agree to?", "sources": ["Reuters", "AP"],
                                             "published_from": "2025-05-18", "published_to": "2025-05-20"}
    if response.ok:  # a server that knows the filters: its answers are shown
        assert page.locator("#results q.asked").text_content() == "What did Putin agree to?"
        assert page.locator("article.answer, section.abstention").count() >= 1
    else:  # one that does not yet: its reason is shown, not swallowed
        assert page.locator("#error").is_visible()
        assert response.json()["detail"] in page.locator("#error").text_content()


@pytest.mark.model
def test_the_key_is_asked_for_kept_for_the_tab_and_sent(browser, server):
    tab = browser.new_page()
    try:
        tab.goto(server[0] + "/")
        assert tab.evaluate("document.activeElement.id") == "question"
        tab.keyboard.type("What did Putin agree to?")
        with tab.expect_response(lambda r: r.url.endswith("/ask")) as refused:
            tab.keyboard.press("Enter")
        assert refused.value.status == 401
        tab.locator("#error").wait_for()
        assert "needs a valid API key" in tab.locator("#error").text_content()
        assert tab.evaluate("document.activeElement.id") == "api-key"
        tab.keyboard.type(KEY)
        assert tab.evaluate("sessionStorage.getItem('newsqa.apiKey')") == KEY
        tab.reload()
        assert tab.get_by_label("API key (kept for this tab only)").input_value() == KEY
        with tab.expect_request(lambda r: r.url.endswith("/ask")) as sent:
            ask(tab, "What did Putin agree to?")
        assert sent.value.headers["x-api-key"] == KEY
        assert tab.locator("article.answer").count() >= 1 and tab.locator("#error").is_hidden()
    finally:
        tab.close()


def _citation(doc: str, outlet: str | None, url: str | None, quote: str, words: str, start: int = 100) -> dict:
    at = start + quote.index(words)
    c = {"doc_id": doc, "source": doc + ".txt", "title": f"Headline of {doc}", "date": "2025-05-19", "start": start,
         "end": start + len(quote), "quote": quote, "answer_start": at, "answer_end": at + len(words)}
    return c | ({"outlet": outlet, "url": url, "published": "2025-05-20T08:00:00Z"} if outlet else {})


@pytest.mark.model
def test_outlets_corroboration_differing_values_and_speakers_are_shown(page, server, tmp_path):
    """The answer JSON as the metadata branch will send it (outlet, url, published), served to the page by
    Playwright: corroborating outlets side by side, a differing value beside it, the speaker, safe links only."""
    said = "😀 The talks lasted two hours, Peskov said."  # offsets count code points; JavaScript's strings do not
    first = _citation("a", "Outlet One", "https://one.example/story", said, "two hours")
    second = _citation("b", "Outlet Two", "javascript:alert(1)", "They spoke for about two hours.", "about two hours")
    third = _citation("c", None, None, "The call lasted three hours.", "three hours", start=7)
    speaker = {"text": "Peskov", "citation": first | {"answer_start": 100 + said.index("Peskov"),
                                                       "answer_end": 100 + said.index("Peskov") + 6}}
    answer = {"score": 0.8, "rule": "arg", "label": None, "resolved_date": None, "items": None}
    body = {"question": "How long did the call last?", "mode": "hybrid", "abstained": False, "abstain_reason": None,
            "confidence": 0.8, "passages": [], "took_ms": 5.0, "degraded": None, "answers": [
                answer | {"text": "two hours", "context": said, "citations": [first, second], "speaker": speaker,
                          "support_count": 2, "differs_from": [1]},
                answer | {"text": "three hours", "context": third["quote"], "citations": [third], "speaker": None,
                          "support_count": 1, "differs_from": [0], "score": 0.5}]}
    page.route("**/ask", lambda route: route.fulfill(json=body))
    ask(page, body["question"])
    top = page.locator("article.answer").first
    assert top.locator("h4.sources-heading").text_content() == "Corroborated by 2 outlets"
    assert [m.text_content() for m in top.locator("blockquote.quote mark").all()] == ["two hours", "about two hours"]
    assert [s.text_content() for s in top.locator("p.source .outlet").all()] == ["Outlet One", "Outlet Two"]
    time = top.locator("p.source time").first
    assert (time.get_attribute("datetime"), time.text_content()) == ("2025-05-20T08:00:00Z", "2025-05-20")
    links = top.locator("p.source a")
    assert [a.get_attribute("href") for a in links.all()] == ["https://one.example/story"]  # javascript: is no link
    assert top.locator("p.speaker strong").text_content() == "Peskov"
    values = top.locator("section.differs .value-text")
    assert [v.text_content() for v in values.all()] == ["two hours", "three hours"]
    assert top.locator("section.differs .value-outlets").all_text_contents() == ["Outlet One; Outlet Two", "Headline of c"]
    assert page.locator("article.answer").nth(1).locator("p.source .title").text_content() == "Headline of c"
    page.screenshot(path=str(tmp_path / "page-outlets.png"), full_page=True)
