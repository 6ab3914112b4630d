"""qa/derived.py: the BM25 matrices are combined at load from the segments' term counts and used as loaded;
the HNSW graph is saved with the build, checksummed, loaded memory-mapped; a build of an older format is
stale and rebuilt."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa import bm25 as bm25_module, nlp
from qa.derived import RetrievalParams, complete
from qa.embed import HashingEmbedder
from qa.index import load_index
from qa.segments import FILES
from qa.service import QAService, ensure_index, retrieval_params
from tests.apps import private_settings


def _no_building(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a BM25 matrix was built from the tokens")

    monkeypatch.setattr(bm25_module.BM25Matrix, "build", classmethod(refuse))


def test_a_build_saves_its_retrieval_structures_and_a_service_uses_them_as_loaded(tmp_path, monkeypatch):
    settings = private_settings(tmp_path)
    ensure_index(settings, HashingEmbedder())
    loaded = load_index(settings.index_dir, nlp.load(settings.nlp_model).vocab)

    [segment] = loaded.manifest["segments"]
    assert {"bm25/tf.npy", "sentence_bm25/tf.npy"} <= set(segment["files"]) == set(FILES)
    assert loaded.manifest["retrieval"] == retrieval_params(settings).manifest()
    assert loaded.derived.bm25.n_docs == len(loaded.chunks) and loaded.derived.sentence_bm25.n_docs == len(loaded.sentences)
    assert loaded.derived.graph is None  # 35 chunks: below QA_DENSE_EXACT_BELOW, exact search
    _no_building(monkeypatch)
    service = QAService(settings, loaded, HashingEmbedder())
    assert service.retriever.bm25 is loaded.derived.bm25
    assert service.retriever.sentence_bm25 is loaded.derived.sentence_bm25
    assert service.ask("What did Putin agree to?").passages


def test_other_bm25_settings_reweight_the_saved_counts(tmp_path, monkeypatch):
    settings = private_settings(tmp_path)
    ensure_index(settings, HashingEmbedder())
    loaded = load_index(settings.index_dir)
    _no_building(monkeypatch)
    okapi = settings.model_copy(update={"bm25_variant": "okapi", "bm25_k1": 1.5})
    made = complete(loaded, retrieval_params(okapi))
    monkeypatch.undo()
    fresh = complete(replace(loaded, derived=None), retrieval_params(okapi))
    query = ["putin", "trump", "call"]
    assert made.bm25.params.resolved()["variant"] == "okapi"
    assert np.abs(made.bm25.scores(query) - fresh.bm25.scores(query)).max() <= 1e-12


def test_above_the_threshold_the_hnsw_graph_is_saved_and_loaded_memory_mapped(tmp_path):
    settings = private_settings(tmp_path, dense_exact_below=10)
    ensure_index(settings, HashingEmbedder())
    loaded = load_index(settings.index_dir)
    assert "dense.hnsw" in loaded.manifest["files"]
    assert loaded.derived.graph.ntotal == len(loaded.chunks) and loaded.derived.sentence_bm25 is None
    service = QAService(settings, loaded, HashingEmbedder())
    assert service.retriever.vectors.graph is loaded.derived.graph
    vector = loaded.chunk_vectors[3]
    ids, _ = service.retriever.vectors.top_k(vector, 5)
    assert ids[0] == 3


def test_a_saved_graph_of_the_other_storage_is_built_again(tmp_path):
    import faiss

    settings = private_settings(tmp_path, dense_exact_below=10, hnsw_storage="flat")
    ensure_index(settings, HashingEmbedder())
    loaded = load_index(settings.index_dir)
    assert isinstance(loaded.derived.graph, faiss.IndexHNSWFlat)
    assert complete(loaded, retrieval_params(settings)).graph is loaded.derived.graph
    hnsw = {k: v for k, v in loaded.derived.params["hnsw"].items() if k != "storage"}  # as saved before `storage`
    before_storage = {**loaded.derived.params, "hnsw": hnsw}
    old = replace(loaded, derived=replace(loaded.derived, params=before_storage))
    assert complete(old, retrieval_params(settings)).graph is loaded.derived.graph  # it was a flat graph
    made = complete(loaded, retrieval_params(settings.model_copy(update={"hnsw_storage": "sq8"})))
    assert isinstance(made.graph, faiss.IndexHNSWSQ) and made.graph.ntotal == len(loaded.chunks)


def test_a_damaged_graph_is_reported_by_name(tmp_path):
    from qa.errors import IndexCorrupt

    settings = private_settings(tmp_path, dense_exact_below=10)
    ensure_index(settings, HashingEmbedder())
    graph = (settings.index_dir / "current" / "dense.hnsw")
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="'dense.hnsw'"):
        load_index(settings.index_dir)


def test_a_build_of_an_older_format_is_stale_and_rebuilt(tmp_path):
    from qa.errors import IndexStale

    settings = private_settings(tmp_path)
    first = ensure_index(settings, HashingEmbedder())
    manifest_path = first.path / "manifest.json"
    manifest_path.write_text(json.dumps(dict(json.loads(manifest_path.read_text()), format_version=5)))
    with pytest.raises(IndexStale, match=r"^index format 5 is not 6; rebuild with `qa index`$"):
        load_index(settings.index_dir)
    again = ensure_index(settings, HashingEmbedder())
    assert again.path != first.path and again.manifest["format_version"] == 6
    assert again.manifest["corpus"] == first.manifest["corpus"]
    assert ensure_index(settings, HashingEmbedder()).path == again.path  # up to date now: nothing written


def test_retrieval_params_record_what_the_structures_depend_on():
    assert RetrievalParams().manifest() == {
        "bm25": {"variant": "l", "k1": 1.2, "b": 0.75, "delta": 0.5, "epsilon": 0.0},
        "exact_below": 100_000, "hnsw": {"m": 32, "ef_construction": 80, "storage": "sq8"}}


KEEPERS = ("The lighthouse keepers of Skerry Point voted on Sunday to strike. "
           "Their union said the strike would begin in July.\n")


def _graph_untouched(monkeypatch):
    from qa import derived

    def refuse(*args, **kwargs):
        raise AssertionError("the graph was built or copied again")

    monkeypatch.setattr(derived, "build_hnsw", refuse)
    monkeypatch.setattr(derived, "_grown", refuse)


def _same_as_exact(service, index) -> None:
    """Every chunk's vector, asked of the service's dense search: the exact top 5 (42 vectors, efSearch 192:
    the graph finds them all), never a removed article's chunk."""
    vectors = service.retriever.vectors
    for row in range(len(index.chunks)):
        ids, scores = vectors.top_k(index.chunk_vectors[row], 5)
        exact_ids, exact_scores = vectors.exact_top_k(index.chunk_vectors[row], 5)
        assert ids.tolist() == exact_ids.tolist() and np.allclose(scores, exact_scores)
        assert ids[0] == row


def test_an_article_added_above_the_threshold_leaves_the_saved_graph_as_it_is(tmp_path, monkeypatch):
    """Sorting first (every row after it moves), the new article's chunks are searched exactly beside the
    graph; the new build links the graph's file (the same inode, its checksum carried over), with its rows."""
    import os

    from qa.documents import add_document

    settings = private_settings(tmp_path, dense_exact_below=10)
    base = ensure_index(settings, HashingEmbedder())
    add_document(settings.seeds_dir, "000_000_keepers", KEEPERS)
    _graph_untouched(monkeypatch)
    ensure_index(settings, HashingEmbedder(), live=base)
    loaded = load_index(settings.index_dir)
    assert loaded.path != base.path
    assert os.stat(loaded.path / "dense.hnsw").st_ino == os.stat(base.path / "dense.hnsw").st_ino
    assert loaded.manifest["files"]["dense.hnsw"] == base.manifest["files"]["dense.hnsw"]
    assert loaded.derived.graph.ntotal == len(base.chunks) == len(loaded.chunks) - 1
    assert loaded.chunks[0].doc_id == "000_000_keepers" and 0 not in loaded.derived.graph_rows
    assert sorted(loaded.derived.graph_rows.tolist()) == list(range(1, len(loaded.chunks)))
    _same_as_exact(QAService(settings, loaded, HashingEmbedder()), loaded)

    from qa.errors import IndexCorrupt

    rows_file = loaded.path / "dense_rows.npy"
    data = bytearray(rows_file.read_bytes())
    data[-1] ^= 1
    rows_file.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="'dense_rows.npy'"):
        load_index(settings.index_dir)


def test_a_removed_article_is_skipped_in_the_graph_until_a_quarter_of_it_is_removed(tmp_path, monkeypatch):
    from qa import derived
    from qa.documents import remove_document

    settings = private_settings(tmp_path, dense_exact_below=10)
    base = ensure_index(settings, HashingEmbedder())
    by_doc = {}
    for c in base.chunks:
        by_doc[c.doc_id] = by_doc.get(c.doc_id, 0) + 1
    smallest = min(by_doc, key=by_doc.get)
    assert by_doc[smallest] <= 0.25 * len(base.chunks)
    remove_document(settings.seeds_dir, smallest)
    with monkeypatch.context() as patch:
        _graph_untouched(patch)
        removed = ensure_index(settings, HashingEmbedder(), live=base)
    loaded = load_index(settings.index_dir)
    assert loaded.derived.graph.ntotal == len(base.chunks)
    assert (loaded.derived.graph_rows < 0).sum() == by_doc[smallest]
    service = QAService(settings, loaded, HashingEmbedder())
    _same_as_exact(service, loaded)
    for row, chunk in enumerate(base.chunks):  # the removed chunks' own vectors find none of them
        if chunk.doc_id == smallest:
            ids, _ = service.retriever.vectors.top_k(base.chunk_vectors[row], 5)
            assert all(loaded.chunks[i].doc_id != smallest for i in ids)

    built, build = [], derived.build_hnsw
    monkeypatch.setattr(derived, "build_hnsw", lambda *a, **k: built.append(1) or build(*a, **k))
    others = sorted(by_doc, key=by_doc.get)[1:]
    gone = by_doc[smallest]
    for doc_id in others:
        remove_document(settings.seeds_dir, doc_id)
        gone += by_doc[doc_id]
        if gone > 0.25 * len(base.chunks):
            break
    ensure_index(settings, HashingEmbedder(), live=removed)
    loaded = load_index(settings.index_dir)
    assert built == [1] and loaded.derived.graph_rows is None and loaded.derived.graph.ntotal == len(loaded.chunks)


def test_past_the_tail_the_graph_takes_the_new_chunks_in(tmp_path, monkeypatch):
    from qa import derived
    from qa.documents import add_document

    settings = private_settings(tmp_path, dense_exact_below=10, hnsw_tail=0)
    base = ensure_index(settings, HashingEmbedder())
    add_document(settings.seeds_dir, "000_000_keepers", KEEPERS)
    monkeypatch.setattr(derived, "build_hnsw", lambda *a, **k: pytest.fail("the graph was built again"))
    ensure_index(settings, HashingEmbedder(), live=base)
    loaded = load_index(settings.index_dir)
    assert loaded.derived.graph.ntotal == len(loaded.chunks) == len(base.chunks) + 1
    assert loaded.derived.graph_rows.tolist() == list(range(1, len(loaded.chunks))) + [0]
    assert loaded.manifest["files"]["dense.hnsw"] != base.manifest["files"]["dense.hnsw"]
    _same_as_exact(QAService(settings, loaded, HashingEmbedder()), loaded)


def test_graph_rows_are_saved_as_runs():
    from qa.derived import _from_runs, _runs

    rows = np.array([5, 6, 7, -1, -1, 0, 1, 9, 8, -1, 3])
    runs = _runs(rows)
    assert runs.tolist() == [[5, 3], [-1, 2], [0, 2], [9, 1], [8, 1], [-1, 1], [3, 1]]
    assert _from_runs(runs).tolist() == rows.tolist()
    assert _from_runs(_runs(np.zeros(0, np.int64))).tolist() == []
