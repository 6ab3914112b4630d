"""Documents added, replaced and removed by many clients at once over the real uvicorn while questions stream, and
kill -9 in the middle of an update: nothing is lost, the corpus and the index agree exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import httpx
import numpy as np
import pytest

from qa.embed import HashingEmbedder
from qa.index import cleanup, load_index
from qa.ingest import load_articles
from qa.service import QAService, ensure_index
from tests.apps import private_settings
from tests.helpers import ROOT, live_server

ADMIN = {"X-Admin-Key": "live-admin-key"}
QUESTIONS = ["Who is the Kremlin spokesman?", "What did Putin agree to?", "When does the ferry strike begin?"]


def _story(client: int, n: int) -> str:
    return (f"The ferry crews of harbour {client} voted on day {n} to strike over unpaid shifts. "
            f"Their union said strike number {n} of crew {client} would begin next month.\n")


def _env(tmp) -> dict[str, str]:
    settings = private_settings(tmp)
    return {"QA_SEEDS_DIR": str(settings.seeds_dir), "QA_INDEX_DIR": str(settings.index_dir),
            "QA_DATA_DIR": str(settings.data_dir), "QA_MODEL": settings.model, "QA_ABSTAIN_THRESHOLD": "0.2",
            "QA_ADMIN_KEY": ADMIN["X-Admin-Key"], "QA_RATE_LIMIT_PER_MINUTE": "0", "QA_REQUEST_TIMEOUT_S": "60",
            "QA_MAX_IN_FLIGHT": "32"}


@pytest.mark.parametrize("graph", [False, True], ids=["exact", "hnsw"])
def test_concurrent_adds_replacements_and_removes_while_questions_stream_lose_nothing(tmp_path, graph):
    """`hnsw`: dense search through the HNSW graph from 10 chunks on, taking in the new chunks past 3: the
    graph is left in place, takes its tail in and is built again (a quarter removed) as the updates come."""
    env = _env(tmp_path)
    if graph:
        env.update(QA_DENSE_EXACT_BELOW="10", QA_HNSW_TAIL="3")
    seeds = tmp_path / "seeds"
    originals = {p.stem for p in seeds.glob("*.txt")}
    kept, removed, statuses, lock, stop = set(), set(), [], threading.Lock(), threading.Event()
    corrected: dict[str, str] = {}

    def editor(base: str, client: int):
        with httpx.Client(base_url=base, headers=ADMIN, timeout=60) as c:
            for n in range(6):
                name = f"c{client}-n{n}"
                r = c.post("/admin/documents", json={"name": name, "text": _story(client, n), "outlet": f"Outlet {client}"})
                assert r.status_code == 201, r.text
                if n % 2:
                    d = c.delete(f"/admin/documents/{name}")
                    assert d.status_code == 200, d.text
                elif n % 4 == 0:  # a correction: the text and the outlet replaced
                    fixed = _story(client, n) + "An earlier version gave the wrong harbour.\n"
                    u = c.put(f"/admin/documents/{name}", json={"text": fixed, "outlet": f"Corrected {client}"})
                    assert u.status_code == 200, u.text
                    with lock:
                        corrected[name] = fixed
                with lock:
                    (removed if n % 2 else kept).add(name)
            # every editor also tries one name the others try too: exactly one add wins
            r = c.post("/admin/documents", json={"name": "contested", "text": _story(client, 99)})
            with lock:
                statuses.append(r.status_code)

    def asker(base: str, i: int, answers: list):
        with httpx.Client(base_url=base, timeout=60) as c:
            while not stop.is_set():
                r = c.post("/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                answers.append(r.status_code)
                i += 1

    with live_server(env, factory="tests.apps:hashing_app", log_path=tmp_path / "server.log") as base:
        answers: list[int] = []
        askers = [threading.Thread(target=asker, args=(base, i, answers)) for i in range(2)]
        editors = [threading.Thread(target=editor, args=(base, k)) for k in range(4)]
        for t in askers + editors:
            t.start()
        for t in editors:
            t.join(300)
        stop.set()
        for t in askers:
            t.join(60)
        with httpx.Client(base_url=base, headers=ADMIN, timeout=60) as c:
            c.post("/admin/documents", json={"name": "last", "text": _story(9, 9)})  # waits for the final update
            served = c.get("/documents", params={"limit": 100}).json()
            status = c.get("/admin/reindex").json()

    assert sorted(statuses) == [201, 409, 409, 409]
    assert answers and set(answers) == {200}, set(answers)
    expected = originals | kept | {"contested", "last"}
    on_disk = {p.stem for p in seeds.glob("*.txt")}
    assert on_disk == expected and removed.isdisjoint(on_disk)
    assert {d["doc_id"] for d in served["items"]} == expected and served["total"] == len(expected)
    assert status["state"] == "succeeded" and status["queued"] is False
    index = load_index(tmp_path / "index")
    assert set(index.articles) == expected == {c.doc_id for c in index.chunks}
    assert {a.doc_id: a.sha256 for a in index.articles.values()} == {a.doc_id: a.sha256 for a in load_articles(seeds)}
    assert len(corrected) == 8 and all(index.articles[n].text == t and index.articles[n].outlet.startswith("Corrected")
                                       for n, t in corrected.items())
    assert sorted(p.name for p in seeds.iterdir() if not p.name.endswith(".txt")) == sorted(
        f"{n}.meta.json" for n in kept)  # a sidecar for each kept add with an outlet, nothing else
    if graph:  # the saved graph maps onto the served chunks: each one's own vector finds what exact search finds
        from qa.vectors import HnswParams, VectorIndex

        dense = VectorIndex(index.chunk_vectors, 10, HnswParams(tail=3), index.derived.graph, index.derived.graph_rows)
        assert dense.graph is not None and len(dense._tail) <= 3
        for row in range(len(index.chunks)):  # the same scores (ties may come in another order)
            ids, scores = dense.top_k(index.chunk_vectors[row], 5)
            exact_ids, exact_scores = dense.exact_top_k(index.chunk_vectors[row], 5)
            assert np.allclose(scores, exact_scores, atol=1e-6)
        log = (tmp_path / "server.log").read_text(encoding="utf-8")
        assert "the HNSW graph takes in" in log  # its tail taken in at least once, as updates came


# `qa add` stopped at a chosen point (a real add and index update with the hashing embedder), to be killed.
_PAUSED_ADD = """
import os, sys, time
import numpy as np
import qa.documents, qa.index, qa.service
from qa import cli
from qa.embed import HashingEmbedder
qa.service.embedder_for = lambda settings: HashingEmbedder()
where = sys.argv[1]
def pause():
    print("PAUSED", flush=True)
    time.sleep(600)
if where == "index":  # after the JSON files and one array of the new segment
    real_save, calls = np.save, []
    def save(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            pause()
        return real_save(*args, **kwargs)
    qa.index.np.save = save
elif where == "merge":  # merges every second segment of a tier; paused midway through the merged segment
    import qa.segments
    qa.segments.FACTOR = 2
    real_write, real_save, writes = qa.segments.write, np.save, []
    def write(*args, **kwargs):
        writes.append(len(args[2]))
        return real_write(*args, **kwargs)
    def save(*args, **kwargs):
        if len(writes) == 2 and str(args[0]).endswith("chunk_vectors.npy"):
            pause()
        return real_save(*args, **kwargs)
    qa.segments.write, qa.segments.np.save = write, save
elif where in ("uncommitted", "committed"):  # a replacement: both new files written, before the commit point
    # (the rename to .text.ready), or after it and the new sidecar, before the text is moved into place
    verb, suffix = ("rename", ".text.ready") if where == "uncommitted" else ("replace", ".txt")
    real_move = getattr(os, verb)
    def move(src, dst):
        if str(dst).endswith(suffix):
            pause()
        return real_move(src, dst)
    setattr(qa.documents.os, verb, move)
else:  # between the sidecar and the text of the new article
    real_link = os.link
    def link(src, dst):
        pause()
        return real_link(src, dst)
    qa.documents.os.link = link
sys.exit(cli.main(["add", sys.argv[2], "--outlet", "Harbour News", *sys.argv[3:]]))
"""


_FILES_STAGE = ("document", "uncommitted", "committed")  # paused while the corpus files are changed


def _kill_paused_add(env, where: str, path, *flags: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", _PAUSED_ADD, where, str(path), *flags], cwd=ROOT,
                             env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [child.stdout.readline().strip()]
        if lines[0].startswith("added"):  # the files were written; the index update comes next
            lines.append(child.stdout.readline().strip())
        assert lines[-1] == "PAUSED" and lines[:-1] == ([] if where in _FILES_STAGE else ["added 1: keepers"])
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL


def test_kill_9_mid_update_keeps_the_previous_index_and_the_files_whole_or_absent(tmp_path):
    env = _env(tmp_path)
    settings = private_settings(tmp_path)
    before = ensure_index(settings, HashingEmbedder())
    story = tmp_path / "keepers.txt"
    story.write_text(_story(1, 1))

    # Killed between the sidecar and the text (the commit point): the article is absent. Its sidecar and the
    # text's hidden temporary file are left, never ingested, and swept by the next add of that name.
    _kill_paused_add(env, "document", story)
    seeds = settings.seeds_dir
    assert not (seeds / "keepers.txt").exists() and "keepers" not in {a.doc_id for a in load_articles(seeds)}
    assert (seeds / "keepers.meta.json").exists() and len(list(seeds.glob(".keepers.*.tmp"))) == 1

    # Killed while the new build is written: the files are whole, the previous build is still current.
    _kill_paused_add(env, "index", story)
    assert (seeds / "keepers.txt").read_bytes() == story.read_bytes()
    assert (seeds / "keepers.meta.json").read_text() == '{\n "outlet": "Harbour News"\n}\n'
    assert not list(seeds.glob(".*.tmp"))
    assert [p.name for p in (settings.index_dir / "segments").iterdir() if p.name.endswith(".partial")]
    served = load_index(settings.index_dir)  # every checksum verified
    assert served.path == before.path and "keepers" not in served.articles
    result = QAService(settings, served, HashingEmbedder()).ask(QUESTIONS[0])
    assert result.answers and all(c.doc_id != "keepers" for a in result.answers for c in a.citations)

    # The next start removes the half-written build and brings the index up to date with the corpus.
    after = ensure_index(settings, HashingEmbedder())
    assert "keepers" in after.articles and after.articles["keepers"].outlet == "Harbour News"
    assert not [p for p in (settings.index_dir / "segments").iterdir() if p.name.endswith(".partial")]


def test_kill_9_mid_replace_leaves_the_old_article_or_the_new_one_never_a_mix(tmp_path):
    from qa.documents import add_document

    env = _env(tmp_path)
    settings = private_settings(tmp_path)
    seeds = settings.seeds_dir
    add_document(seeds, "keepers", _story(1, 1), {"outlet": "Quay Gazette"})
    ensure_index(settings, HashingEmbedder())
    correction = tmp_path / "keepers.txt"
    correction.write_text(_story(1, 2))
    replace = ("--replace", "--outlet", "Pier Times")

    # Killed with both new files written but before the commit point: the old article, whole.
    _kill_paused_add(env, "uncommitted", correction, *replace)
    stored = {a.doc_id: a for a in load_articles(seeds)}["keepers"]
    assert (stored.text, stored.outlet) == (_story(1, 1), "Quay Gazette")
    index = ensure_index(settings, HashingEmbedder())  # a start sweeps the leftovers
    assert (index.articles["keepers"].text, index.articles["keepers"].outlet) == (_story(1, 1), "Quay Gazette")
    assert not [p.name for p in seeds.iterdir() if p.name.startswith(".")]

    # Killed after it, between the new sidecar and the new text: the next start finishes the replacement.
    _kill_paused_add(env, "committed", correction, *replace)
    assert (seeds / ".keepers.text.ready").read_text() == _story(1, 2)
    index = ensure_index(settings, HashingEmbedder())
    assert (index.articles["keepers"].text, index.articles["keepers"].outlet) == (_story(1, 2), "Pier Times")
    assert (seeds / "keepers.txt").read_text() == _story(1, 2)
    assert not [p.name for p in seeds.iterdir() if p.name.startswith(".")]
    result = QAService(settings, index, HashingEmbedder()).ask("When does strike number 2 of crew 1 begin?")
    cited = [c for a in result.answers for c in a.citations if c.doc_id == "keepers"]
    assert cited and all(_story(1, 2)[c.start:c.end] == c.quote for c in cited)


def test_kill_9_mid_replace_by_markdown_brings_the_file_as_sent_with_its_text_or_neither(tmp_path):
    from qa.documents import add_document, original
    from qa.extract import extract

    env = _env(tmp_path)
    settings = private_settings(tmp_path)
    seeds = settings.seeds_dir
    add_document(seeds, "keepers", _story(3, 1))
    ensure_index(settings, HashingEmbedder())
    correction = tmp_path / "keepers.md"
    correction.write_text("# Crews delay strike\n\n" + _story(3, 2).replace("strike number", "**strike** number"))
    rendered = extract(correction.read_text(), "markdown", "keepers.md")[0]

    _kill_paused_add(env, "uncommitted", correction, "--replace")
    ensure_index(settings, HashingEmbedder())  # a start sweeps the leftovers
    assert original(seeds, "keepers") == (_story(3, 1).encode(), "text")
    assert not [p.name for p in seeds.iterdir() if p.name.startswith(".")]

    _kill_paused_add(env, "committed", correction, "--replace")
    index = ensure_index(settings, HashingEmbedder())  # the next start finishes the replacement
    assert index.articles["keepers"].text == rendered and "**" not in rendered
    assert original(seeds, "keepers") == (correction.read_bytes(), "markdown")
    assert not [p.name for p in seeds.iterdir() if p.name.startswith(".")]


def test_kill_9_mid_merge_keeps_the_previous_index_and_the_next_start_merges(tmp_path, monkeypatch):
    from qa import segments

    env = _env(tmp_path)
    settings = private_settings(tmp_path)
    monkeypatch.setattr(segments, "FACTOR", 2)
    ensure_index(settings, HashingEmbedder())
    (settings.seeds_dir / "first.txt").write_text(_story(1, 1))
    before = ensure_index(settings, HashingEmbedder())  # the base segment and one of `first`
    story = tmp_path / "keepers.txt"
    story.write_text(_story(2, 2))

    # The add's segment is written, then the merge of it with `first`'s (two segments of tier 0) is killed.
    _kill_paused_add(env, "merge", story)
    index_dir = settings.index_dir
    partial = [p.name for p in (index_dir / "segments").iterdir() if p.name.endswith(".partial")]
    assert len(partial) == 1 and (index_dir / "segments" / partial[0] / "articles.jsonl").exists()
    served = load_index(index_dir)  # every checksum verified
    assert served.path == before.path and set(served.articles) == set(before.articles)
    assert len(json.loads((served.path / "manifest.json").read_text())["segments"]) == 2
    result = QAService(settings, served, HashingEmbedder()).ask(QUESTIONS[0])
    assert result.answers and all(c.doc_id != "keepers" for a in result.answers for c in a.citations)

    # The next start removes the half-written segment (and the add's, which no build lists) and merges.
    after = ensure_index(settings, HashingEmbedder())
    assert {"keepers", "first"} <= set(after.articles)
    entries = json.loads((after.path / "manifest.json").read_text())["segments"]
    assert sorted(e["articles"] for e in entries) == [2, 5]
    cleanup(index_dir)  # what the merge replaced goes at the next clean-up, as superseded builds do
    assert sorted(p.name for p in (index_dir / "segments").iterdir()) == sorted(e["id"] for e in entries)
    assert load_index(index_dir).articles == after.articles
