"""qa/update.py: an incremental update computes only new texts and equals a full build exactly."""

from __future__ import annotations

import numpy as np

from qa import analysis, nlp
from qa.documents import add_document, remove_document
from qa.derived import RetrievalParams, complete
from qa.embed import HashingEmbedder
from qa.index import build_index, load_index
from qa.ingest import load_articles
from qa.renumbered import Renumbered
from qa.service import chunk_params, ensure_index
from qa.update import reusable
from tests.apps import private_settings

KEEPERS = ("The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts. "
           "Their union said the strike would begin on the first of July.\n")
REMOVED = "004_7493b927a45f9d56"


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every passage text it was asked to embed."""

    def __init__(self):
        super().__init__()
        self.passages: list[str] = []

    def embed_passages(self, texts):
        self.passages.extend(texts)
        return super().embed_passages(texts)


def _same(a, b) -> None:
    """Two indexes hold the same articles, sentences, chunks, tokens, vectors and analysis, row for row."""
    assert a.articles == b.articles
    assert a.sentences == b.sentences and a.chunks == b.chunks and a.chunk_tokens == b.chunk_tokens
    assert np.array_equal(a.chunk_vectors, b.chunk_vectors) and np.array_equal(a.sentence_vectors, b.sentence_vectors)
    assert np.array_equal(a.clause_vectors, b.clause_vectors)
    assert [d.to_json() for d in a.docs] == [d.to_json() for d in b.docs]
    assert a.analysis_parts == b.analysis_parts and len(a.analysis_parts) == len(a.articles)
    assert np.array_equal(a.clause_table, b.clause_table)
    assert {k: v for k, v in a.manifest.items() if k not in ("built_at", "files", "segments", "retrieval")} == \
           {k: v for k, v in b.manifest.items() if k not in ("built_at", "files", "segments", "retrieval")}
    # The BM25 matrices an update carries (moved and counted anew) score as those of a full build, exactly.
    params = RetrievalParams()
    made_a, made_b = complete(a, params), complete(b, params)
    queries = [list(t) for t in b.chunk_tokens[::3]] + [["keepers", "strike", "putin"]]
    for one, other in ((made_a.bm25, made_b.bm25), (made_a.sentence_bm25, made_b.sentence_bm25)):
        assert one.n_docs == other.n_docs
        assert all(np.array_equal(one.scores(q), other.scores(q)) for q in queries)


def test_an_update_embeds_only_the_added_article_and_equals_a_full_build(tmp_path):
    settings = private_settings(tmp_path)
    embedder = CountingEmbedder()
    base = ensure_index(settings, embedder)
    embedder.passages.clear()
    add_document(settings.seeds_dir, "keepers", KEEPERS, {"outlet": "Harbour News", "published": "2025-06-01"})
    remove_document(settings.seeds_dir, REMOVED)

    updated = ensure_index(settings, embedder, live=base)

    sentences = [s.text for s in updated.sentences if s.doc_id == "keepers"]
    chunks = [c.text for c in updated.chunks if c.doc_id == "keepers"]
    assert sentences == ["The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts.",
                         "Their union said the strike would begin on the first of July."]
    first = next(s.index for s in updated.sentences if s.doc_id == "keepers")
    clauses = [updated.docs[n].text[a:b] for n, _, a, b in analysis.clauses(updated.docs) if n >= first
               and updated.sentences[n].doc_id == "keepers"]
    assert clauses  # the new article's clauses are embedded too
    assert embedder.passages == chunks + sentences + clauses  # nothing else was embedded
    assert REMOVED not in updated.articles and REMOVED not in {c.doc_id for c in updated.chunks}
    pipeline = nlp.load(settings.nlp_model)
    full = build_index(load_articles(settings.seeds_dir), HashingEmbedder(), chunk_params(settings), nlp=pipeline)
    _same(updated, full)
    loaded = load_index(settings.index_dir, pipeline.vocab)
    _same(loaded, updated)  # what was written verifies and is the same
    assert loaded.derived.bm25.n_docs == len(loaded.chunks)  # combined from the segments' term counts
    assert updated.derived.bm25.n_docs == len(updated.chunks)  # carried by the update, not built again
    assert updated.path == (settings.index_dir / "current").resolve()


def test_a_renamed_article_or_new_metadata_embeds_nothing(tmp_path):
    settings = private_settings(tmp_path)
    embedder = CountingEmbedder()
    base = ensure_index(settings, embedder)
    embedder.passages.clear()
    seeds = settings.seeds_dir
    (seeds / f"{REMOVED}.txt").rename(seeds / "renamed.txt")
    (seeds / "renamed.meta.json").write_text('{"outlet": "Kyiv Independent", "title": "A call"}')

    updated = ensure_index(settings, embedder, live=base)

    assert embedder.passages == []
    article = updated.articles["renamed"]
    assert (article.title, article.outlet, article.sha256) == ("A call", "Kyiv Independent", base.articles[REMOVED].sha256)
    assert [c.chunk_id for c in updated.chunks if c.doc_id == "renamed"] == [
        f"renamed#{c.ordinal}" for c in base.chunks if c.doc_id == REMOVED]
    pipeline = nlp.load(settings.nlp_model)
    _same(updated, build_index(load_articles(seeds), HashingEmbedder(), chunk_params(settings), nlp=pipeline))


def test_other_chunking_means_a_full_build(tmp_path):
    settings = private_settings(tmp_path)
    base = ensure_index(settings, HashingEmbedder())
    other = settings.model_copy(update={"chunk_max_sentences": 4})
    articles = load_articles(settings.seeds_dir)
    reason = reusable(base, articles, "hashing-test-embedder", chunk_params(other), base.manifest["nlp"])
    assert reason.startswith("chunking changed")
    assert reusable(base, articles, "hashing-test-embedder", chunk_params(settings), base.manifest["nlp"]) is None


def _story(n: int) -> str:
    return (f"The ferry crews of harbour {n} voted on day {n} to strike over unpaid shifts. "
            f"Their union said the strike would begin next month, the harbour master told reporters.\n")


def test_a_chain_of_updates_carries_the_rows_and_reporting_verbs_a_fresh_index_has(tmp_path, monkeypatch):
    """Adds that sort last, first and in between, a removal, a rename: each update's row bounds
    (`Index.rows`) equal those counted from scratch, its index equals a full build, and the reporting verbs
    carried through its lineage equal those of every Doc, walking only the Docs that came."""
    from dataclasses import replace

    from qa import segments, tables

    settings = private_settings(tmp_path)
    pipeline = nlp.load(settings.nlp_model)
    seeds = settings.seeds_dir
    live = ensure_index(settings, HashingEmbedder())
    tables.REPORTING_VERBS.of(live.docs)
    real = tables._reporting_lemmas
    walked, by_rows, kept_as_runs = [], [], []
    monkeypatch.setattr(tables, "_reporting_lemmas", lambda doc: (walked.append(doc), real(doc))[1])
    changed = tables.REPORTING_VERBS._changed
    monkeypatch.setattr(tables.REPORTING_VERBS, "_changed", lambda docs, lineage: (
        lambda out: (by_rows.append(out is not None), out)[1])(changed(docs, lineage)))
    steps = [("add", "zz_last"), ("add", "000_first"), ("remove", REMOVED), ("add", "003_between"),
             ("rename", "zz_last"), ("remove", "000_first")]
    for n, (action, name) in enumerate(steps):
        if action == "add":
            add_document(seeds, name, _story(n))
        elif action == "remove":
            remove_document(seeds, name)
        else:
            (seeds / f"{name}.txt").rename(seeds / "001_renamed.txt")
        live = ensure_index(settings, HashingEmbedder(), live=live)
        kept_as_runs.append([any(shift for *_, shift in table.pieces) if isinstance(table, Renumbered) else None
                             for table in (live.sentences, live.chunks)])
        _same(live, build_index(load_articles(seeds), HashingEmbedder(), chunk_params(settings), nlp=pipeline))
        counted = segments.rows_of(replace(live, rows=None))
        assert live.rows.position == counted.position, action
        for kind in ("sentences", "chunks", "clauses"):
            assert np.array_equal(getattr(live.rows, kind), getattr(counted, kind)), (action, kind)
        walked.clear()
        found = tables.REPORTING_VERBS.of(live.docs, live.lineage)
        came = [live.docs[j] for j in np.flatnonzero(live.lineage.sentence_rows < 0)]
        assert walked == came, action  # an added article's Docs only; none for a removal or a rename
        assert found == frozenset().union(*(real(d) for d in live.docs))
    assert by_rows == [True] * len(steps)  # from the lineage's rows each time, not from id sets
    # the rows are runs of the base's rows, not copies: moved (shifted) ones after every change but an add
    # that sorts last
    assert kept_as_runs == [[False, False]] + [[True, True]] * 5, kept_as_runs


def test_a_copy_of_an_article_under_another_name_embeds_nothing_and_equals_a_full_build(tmp_path):
    """The copy takes the original's rows too (one base row, two articles): its clauses included."""
    settings = private_settings(tmp_path)
    embedder = CountingEmbedder()
    base = ensure_index(settings, embedder)
    embedder.passages.clear()
    original = settings.seeds_dir / f"{REMOVED}.txt"
    (settings.seeds_dir / "zz_copy.txt").write_bytes(original.read_bytes())

    updated = ensure_index(settings, embedder, live=base)

    assert embedder.passages == []
    pipeline = nlp.load(settings.nlp_model)
    _same(updated, build_index(load_articles(settings.seeds_dir), HashingEmbedder(), chunk_params(settings),
                               nlp=pipeline))
    assert sum(updated.sentences[n].doc_id == "zz_copy" for n in updated.clause_table[:, 0]) > 0
