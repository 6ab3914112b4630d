"""qa/segments.py: an add writes a segment of its article and a manifest, a remove a manifest; merges keep the
index what it was; an index loaded after many adds, removes and merges equals a fresh build of its corpus."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa import nlp, segments
from qa.derived import RetrievalParams, complete
from qa.documents import add_document, remove_document
from qa.embed import HashingEmbedder
from qa.index import build_index, load_index
from qa.ingest import load_articles
from qa.service import QAService, chunk_params, ensure_index
from qa.stacked import Stacked
from tests.apps import private_settings
from tests.test_update import REMOVED, _same

KEEPERS = ("The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts. "
           "Their union said the strike would begin on the first of July.\n")
ASK_KEEPERS = "When will the lighthouse keepers of Skerry Point strike?"
QUESTIONS = ("What did Putin agree to?", "Who is the Kremlin spokesman?", "How long did the call last?", ASK_KEEPERS)


def _story(n: int) -> str:
    return (f"The ferry crews of harbour {n} voted on day {n} to strike over unpaid shifts. "
            f"Their union said strike number {n} would begin next month, and the harbour master disagreed.\n")


def _files(index_dir) -> dict[str, tuple[int, int]]:
    """Every file under the index folder: its inode and size (a rewritten file gets a new inode)."""
    return {str(p.relative_to(index_dir)): (p.stat().st_ino, p.stat().st_size)
            for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"}


def _manifest(index_dir) -> dict:
    return json.loads((index_dir / "current" / "manifest.json").read_text())


def _answers(settings, index) -> list:
    service = QAService(settings, index, HashingEmbedder())
    out = []
    for q in QUESTIONS:
        r = service.ask(q)
        out.append((r.abstained, [(a.text, round(a.score, 9), [(c.doc_id, c.start, c.end) for c in a.citations])
                                  for a in r.answers], [(h.chunk.chunk_id, round(h.score, 9)) for h in r.passages]))
    return out


def test_an_add_writes_a_segment_of_the_article_and_a_manifest_only(tmp_path):
    settings = private_settings(tmp_path)
    base = ensure_index(settings, HashingEmbedder())
    before = _files(settings.index_dir)
    add_document(settings.seeds_dir, "keepers", KEEPERS)

    updated = ensure_index(settings, HashingEmbedder(), live=base)

    [old, new] = _manifest(settings.index_dir)["segments"]
    assert old == _manifest_of(base)["segments"][0]  # listed as it was: no tombstone, same checksums
    written = {name for name, stamp in _files(settings.index_dir).items() if before.get(name) != stamp}
    build = updated.path.name
    assert written == {f"builds/{build}/manifest.json"} | {f"segments/{new['id']}/{name}" for name in segments.FILES}
    folder = settings.index_dir / "segments" / new["id"]
    assert [json.loads(line)["doc_id"] for line in (folder / "articles.jsonl").read_text().splitlines()] == ["keepers"]
    n_chunks = sum(c.doc_id == "keepers" for c in updated.chunks)
    n_sentences = sum(s.doc_id == "keepers" for s in updated.sentences)
    assert np.load(folder / "chunk_vectors.npy").shape == (n_chunks, 64)
    assert np.load(folder / "sentence_vectors.npy").shape == (n_sentences, 64)
    assert np.load(folder / "rows.npy")[:, :2].tolist() == [[n_sentences, n_chunks]]
    assert (new["articles"], new["deleted"]) == (1, [])
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 64 * 1024  # one short article's bytes
    # In memory too, the kept rows are shared with the index served before (qa/stacked.py), not copied.
    for new_rows, old_rows in ((updated.sentence_vectors, base.sentence_vectors),
                               (updated.chunk_vectors, base.chunk_vectors)):
        assert isinstance(new_rows, Stacked)
        assert sum(len(b) for b in new_rows.blocks if np.shares_memory(b, old_rows)) == len(old_rows)


def _manifest_of(index) -> dict:
    return json.loads((index.path / "manifest.json").read_text())


def test_a_remove_writes_a_manifest_and_nothing_cites_the_removed_article(tmp_path):
    settings = private_settings(tmp_path)
    ensure_index(settings, HashingEmbedder())
    add_document(settings.seeds_dir, "keepers", KEEPERS)
    with_keepers = ensure_index(settings, HashingEmbedder())
    asked = QAService(settings, with_keepers, HashingEmbedder()).ask(ASK_KEEPERS)
    assert any(c.doc_id == "keepers" for a in asked.answers for c in a.citations)
    before = _files(settings.index_dir)

    remove_document(settings.seeds_dir, "keepers")
    without = ensure_index(settings, HashingEmbedder(), live=with_keepers)

    written = {name for name, stamp in _files(settings.index_dir).items() if before.get(name) != stamp}
    assert written == {f"builds/{without.path.name}/manifest.json"}  # a tombstone, no segment
    entries = _manifest(settings.index_dir)["segments"]
    assert [e["deleted"] for e in entries] == [[]]  # keepers was its segment's only article: the segment left
    loaded = load_index(settings.index_dir)
    assert "keepers" not in loaded.articles and all(c.doc_id != "keepers" for c in loaded.chunks)
    for question in QUESTIONS:
        result = QAService(settings, loaded, HashingEmbedder()).ask(question)
        assert all(c.doc_id != "keepers" for a in result.answers for c in a.citations)
        assert all(h.chunk.doc_id != "keepers" for h in result.passages)


def test_a_removed_article_in_a_shared_segment_is_a_tombstone(tmp_path):
    settings = private_settings(tmp_path)
    base = ensure_index(settings, HashingEmbedder())
    before = _files(settings.index_dir)
    remove_document(settings.seeds_dir, REMOVED)
    updated = ensure_index(settings, HashingEmbedder(), live=base)
    assert {n for n, s in _files(settings.index_dir).items() if before.get(n) != s} == {
        f"builds/{updated.path.name}/manifest.json"}
    [entry] = _manifest(settings.index_dir)["segments"]
    assert entry["deleted"] == [REMOVED] and entry["articles"] == 5
    loaded = load_index(settings.index_dir, nlp.load(settings.nlp_model).vocab)
    fresh = build_index(load_articles(settings.seeds_dir), HashingEmbedder(), chunk_params(settings),
                        nlp=nlp.load(settings.nlp_model))
    _same(loaded, fresh)
    _same_scores(loaded, fresh)


def _same_scores(loaded, fresh) -> None:
    """The loaded index's BM25 matrices (combined from segments) score as a fresh build's, to 1e-9."""
    params = RetrievalParams()
    made = complete(fresh, params)
    queries = [list(t) for t in fresh.chunk_tokens[::2]] + [["keepers", "strike", "putin"], ["ferry", "harbour"]]
    for one, other in ((loaded.derived.bm25, made.bm25), (loaded.derived.sentence_bm25, made.sentence_bm25)):
        assert one.n_docs == other.n_docs
        for q in queries:
            assert np.abs(one.scores(q) - other.scores(q)).max() <= 1e-9


def test_many_adds_removes_and_merges_load_as_a_fresh_build(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "FACTOR", 2)  # merges every second segment of a tier
    settings = private_settings(tmp_path)
    pipeline = nlp.load(settings.nlp_model)
    live = ensure_index(settings, HashingEmbedder())
    written: list[int] = []  # articles of each segment written
    real_write = segments.write
    monkeypatch.setattr(segments, "write", lambda index, rows, doc_ids, index_dir: (
        written.append(len(doc_ids)), real_write(index, rows, doc_ids, index_dir))[1])
    steps = [("add", f"ferry{n}") for n in range(6)] + [("remove", "ferry2"), ("remove", REMOVED), ("add", "keepers"),
                                                        ("meta", "ferry4"), ("add", "ferry9")]
    for action, name in steps:
        if action == "add":
            add_document(settings.seeds_dir, name, KEEPERS if name == "keepers" else _story(int(name[5:])))
        elif action == "remove":
            remove_document(settings.seeds_dir, name)
        else:  # new metadata: the article moves to a new segment, nothing embedded
            (settings.seeds_dir / f"{name}.meta.json").write_text('{"outlet": "Harbour News"}')
        before = _answers(settings, live)
        live = ensure_index(settings, HashingEmbedder(), live=live)
        loaded = load_index(settings.index_dir, pipeline.vocab)
        _same(loaded, live)  # what the server serves after the swap is what a restart loads
        assert _answers(settings, loaded) == _answers(settings, live)
        if action == "meta":
            assert before == _answers(settings, loaded)  # metadata aside, nothing changed
    entries = _manifest(settings.index_dir)["segments"]
    assert written.count(1) == 9  # each add or metadata change wrote its own article, and only it
    assert len(written) - 9 >= 3 and len(entries) <= 4  # merges wrote the rest and kept the segments few
    assert loaded.articles["ferry4"].outlet == "Harbour News"
    fresh = build_index(load_articles(settings.seeds_dir), HashingEmbedder(), chunk_params(settings), nlp=pipeline)
    _same(loaded, fresh)
    _same_scores(loaded, fresh)
    assert _answers(settings, loaded) == _answers(settings, replace(fresh, derived=complete(fresh, RetrievalParams())))


@pytest.mark.parametrize("given, expected", [
    ([("a", 1, 0)] * 3, []),  # below FACTOR in tier 0
    ([(c, 1, 0) for c in "abcdefghij"], [list("abcdefghij")]),  # a full tier merges
    ([("big", 5000, 0)] + [(c, 2, 0) for c in "abcdefghij"], [list("abcdefghij")]),
    ([("half", 3, 4), ("x", 10, 0)], [["half"]]),  # more deleted than served: rewritten
    ([(c, 300, 0) for c in "abcdefghij"], []),  # a merge would write more than MERGE_MAX articles
    ([(c, 1, 0) for c in "lkjihgfedcba"], [list("abcdefghij")]),  # the 10 smallest (then by id) of the tier
])
def test_plan_merges_full_tiers_and_half_deleted_segments(given, expected):
    assert segments.plan(given) == expected


def test_tiers_are_powers_of_the_factor():
    assert [segments.tier(n, 10) for n in (1, 9, 10, 99, 100, 12345)] == [0, 0, 1, 1, 2, 4]
