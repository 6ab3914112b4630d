"""The Qdrant collection (qa/qdrant_store.py) in qdrant-client's local mode: what is written, the Index
view read back, and syncing with a changing corpus (resumed, trimmed, deleted, rebuilt)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qa import nlp as nlp_module
from qa import qdrant_store as store
from qa.bm25 import BM25Params
from qa.chunk import ChunkParams
from qa.embed import HashingEmbedder
from qa.errors import EngineUnavailable, IndexMissing
from qa.ingest import load_articles
from tests.helpers import SEEDS, free_port

BM25L = BM25Params("l")


def test_a_passage_sparse_vector_holds_bm25l_document_weights():
    # avgdl 3, dl 3: c = tf; w = tf (k1 + 1)(c + delta) / (k1 + c + delta), k1 1.2, delta 0.5
    ids, values = store.sparse_document(["ukrain", "drone", "ukrain"], BM25L, 3.0)
    by_term = dict(zip(ids, values))
    assert by_term[store.term_id("ukrain")] == pytest.approx(2 * 2.2 * 2.5 / 3.7)
    assert by_term[store.term_id("drone")] == pytest.approx(2.2 * 1.5 / 2.7)
    assert ids == sorted(ids)


def test_a_query_sparse_vector_counts_repeated_terms():
    ids, values = store.sparse_query(["drone", "fire", "drone"])
    assert dict(zip(ids, values)) == {store.term_id("drone"): 2.0, store.term_id("fire"): 1.0}


def test_point_ids_are_deterministic_uuids_of_chunk_ids():
    assert store.point_id("000_x#3") == store.point_id("000_x#3") != store.point_id("000_x#4")
    # pinned: another namespace would orphan every point of an existing collection
    assert store.point_id("000_x#3") == "0206ca63-bfb1-51e7-85e3-f0069a178c4f"


def test_the_seed_vocabulary_has_no_term_id_collisions(fake_service):
    vocab = {t for tokens in fake_service.index.chunk_tokens for t in tokens}
    assert len({store.term_id(t) for t in vocab}) == len(vocab)


def test_the_view_loaded_from_the_collection_is_the_embedded_index(fake_service, qdrant_service):
    e, q = fake_service.index, qdrant_service.index
    assert q.articles == e.articles
    assert q.sentences == e.sentences
    assert q.chunks == e.chunks
    assert q.chunk_tokens == e.chunk_tokens
    np.testing.assert_allclose(q.chunk_vectors, e.chunk_vectors, atol=1e-6)
    np.testing.assert_allclose(q.sentence_vectors, e.sentence_vectors, atol=1e-6)
    # the analysis, stored as Doc.to_json() per sentence, reads back as the DocBin's
    assert [d.to_json() for d in q.docs] == [d.to_json() for d in e.docs]
    # the clause embeddings, stored per sentence in the payload, read back in analysis.clauses' order
    assert q.clause_vectors is not None and e.clause_vectors is not None
    np.testing.assert_allclose(q.clause_vectors, e.clause_vectors, atol=1e-6)
    assert q.manifest["counts"] == {"articles": 5, "sentences": 150, "chunks": 42}
    assert q.manifest["backend"]["collection"] == "news"


def test_a_passage_payload_carries_its_metadata_and_analysis(qdrant_service):
    target = qdrant_service.retriever.target
    payload = next(p for p, _ in store.scroll(target, store._kind("passage"), True, False)
                   if p["chunk_id"] == "000_0909706770c7972d#0")
    assert (payload["doc_id"], payload["source"], payload["date"], payload["published"]) == \
        ("000_0909706770c7972d", "000_0909706770c7972d.txt", "2025-05-19", "2025-05-19")
    text = (SEEDS / payload["source"]).read_text(encoding="utf-8")
    for s in payload["sentences"]:
        assert s["analysis"]["text"] == text[s["start"] : s["end"]]
    a, b = payload["sentence_range"]
    assert b - a == len(payload["sentences"]) and a == 0


# ---------------------------------------------------------------- syncing
@pytest.fixture
def corpus(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in sorted(p.name for p in SEEDS.glob("*.txt"))[:2]:
        shutil.copy(SEEDS / name, seeds / name)
    target = store.Target(None, str(tmp_path / "qdrant"), None, "sync-test")
    return seeds, target


def _sync(seeds, target, **kwargs):
    return store.sync(target, load_articles(seeds), HashingEmbedder(), ChunkParams(), BM25L,
                      nlp_module.load("en_core_web_sm"), **kwargs)


def _count(target, **match) -> int:
    from qdrant_client import models as m

    flt = m.Filter(must=[m.FieldCondition(key=k, match=m.MatchValue(value=v)) for k, v in match.items()]) or None
    return store.client_for(target).count(target.collection, count_filter=flt, exact=True).count


class Interrupted(Exception):
    pass


def _stop_after(batches: int):
    def progress(iterable, total, label):
        for n, item in enumerate(iterable):
            if label == "upsert" and n == batches:
                raise Interrupted(f"stopped before batch {n + 1} of {total}")
            yield item
    return progress


def test_an_interrupted_upsert_resumes_without_duplicates(corpus):
    seeds, target = corpus
    with pytest.raises(Interrupted):
        _sync(seeds, target, progress=_stop_after(2), batch_size=4)
    # 2 batches of 4: 8 of 000's 9 passages, not its article point (written after them)
    assert _count(target) == 8 and store.stored_articles(target) == {}
    done = _sync(seeds, target, batch_size=4)
    assert done == {"rebuilt": False, "upserted": ["000_0909706770c7972d", "001_031c8477739e64ff"], "deleted": [],
                    "relabelled": []}
    # 9 passages each, a point per sentence (30 + 34) and an article point each; the 8 written twice were overwritten
    assert _count(target, kind="passage") == 18 and _count(target, kind="article") == 2
    assert _count(target, kind="sentence") == 64 and _count(target) == 84
    assert _sync(seeds, target) == {"rebuilt": False, "upserted": [], "deleted": [], "relabelled": []}
    assert _count(target) == 84


def test_removing_an_article_deletes_its_points_and_a_changed_one_is_replaced(corpus):
    seeds, target = corpus
    _sync(seeds, target)
    first, second = sorted(seeds.glob("*.txt"))
    second.unlink()
    assert _sync(seeds, target)["deleted"] == ["001_031c8477739e64ff"]
    assert _count(target, doc_id="001_031c8477739e64ff") == 0 and _count(target) == 9 + 30 + 1
    text = first.read_text(encoding="utf-8")
    first.write_text(text[: len(text) // 2], encoding="utf-8")  # shorter: fewer passages than stored
    done = _sync(seeds, target)
    assert done["upserted"] == ["000_0909706770c7972d"] and not done["rebuilt"]
    view = store.load(target)
    n = len(view.chunks)
    assert n < 9 and _count(target, kind="passage") == n  # the passages past the new last one are gone
    assert 0 < len(view.sentences) < 30 and _count(target, kind="sentence") == len(view.sentences)  # and the sentences
    assert view.articles["000_0909706770c7972d"].text == text[: len(text) // 2]


def test_other_chunking_rebuilds_the_collection(corpus):
    seeds, target = corpus
    _sync(seeds, target)
    done = store.sync(target, load_articles(seeds), HashingEmbedder(), ChunkParams(max_sentences=4), BM25L,
                      nlp_module.load("en_core_web_sm"))
    assert done["rebuilt"] and sorted(done["upserted"]) == ["000_0909706770c7972d", "001_031c8477739e64ff"]
    assert store.stored_manifest(target)["chunking"]["max_sentences"] == 4


def test_a_missing_collection_is_index_missing(tmp_path):
    target = store.Target(None, str(tmp_path / "empty"), None, "nothing-here")
    with pytest.raises(IndexMissing, match="has no collection 'nothing-here'"):
        store.load(target)


def test_an_unreachable_engine_is_named_in_the_error():
    url = f"http://127.0.0.1:{free_port()}"
    target = store.Target(url, None, None, "news", timeout_s=2)
    with pytest.raises(EngineUnavailable, match=f"Qdrant at {url} did not answer"):
        store.stored_manifest(target)


def test_settings_need_exactly_one_place(tmp_path):
    from qa.errors import ConfigError
    from tests.conftest import make_settings

    with pytest.raises(ConfigError, match="exactly one of QA_QDRANT_URL"):
        store.Target.from_settings(make_settings(tmp_path, backend="qdrant"))
    target = store.Target.from_settings(make_settings(tmp_path, backend="qdrant", qdrant_url="http://q:6333",
                                                      qdrant_shards=3, qdrant_replication=2,
                                                      qdrant_write_consistency=2, qdrant_api_key="k"))
    assert (target.url, target.shards, target.replication, target.write_consistency, target.api_key) == \
        ("http://q:6333", 3, 2, 2, "k")


def test_only_bm25l_is_offered_with_qdrant(tmp_path):
    from qa.errors import ConfigError
    from qa.service import ensure_index
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, backend="qdrant", qdrant_path=tmp_path / "q", bm25_variant="okapi",
                             model="hashing-test-embedder")
    with pytest.raises(ConfigError, match="QA_BM25_VARIANT=okapi is not available with QA_BACKEND=qdrant"):
        ensure_index(settings, HashingEmbedder())


def test_a_local_folder_in_use_by_another_process_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    from qa.errors import ConfigError

    folder = tmp_path / "locked"
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from qdrant_client import QdrantClient; "
                               f"c = QdrantClient(path={str(folder)!r}); print('open', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ConfigError, match="is in use by another process"):
            store.client_for(store.Target(None, str(folder), None, "news"))
    finally:
        holder.communicate("", timeout=30)


def test_a_collection_this_service_did_not_write_is_never_dropped(corpus):
    from qdrant_client import models as m

    from qa.errors import ConfigError

    seeds, target = corpus
    client = store.client_for(target)
    client.create_collection(target.collection, vectors_config=m.VectorParams(size=4, distance=m.Distance.DOT))
    client.upsert(target.collection, [m.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"theirs": True})])
    with pytest.raises(ConfigError, match="without this service's manifest"):
        _sync(seeds, target)
    assert client.count(target.collection).count == 1
