import json
import types
from pathlib import Path
import os

import numpy as np
import pytest

from qa.chunk import ChunkParams
from qa.embed import HashingEmbedder
from qa.errors import IndexCorrupt, IndexMissing
from qa.index import build_index, cleanup, load_index, save_index, stale_reason
from qa.segments import FILES
from qa.ingest import load_articles, parse_article
from tests.helpers import SEEDS

PARAMS = ChunkParams()


@pytest.fixture(scope="module")
def articles():
    return load_articles(SEEDS)


@pytest.fixture()
def saved(tmp_path, articles):
    index = build_index(articles, HashingEmbedder(), PARAMS)
    save_index(index, tmp_path)
    return tmp_path, index


def test_round_trip(saved):
    path, built = saved
    loaded = load_index(path)
    assert loaded.chunks == built.chunks
    assert loaded.sentences == built.sentences
    assert loaded.chunk_tokens == built.chunk_tokens
    assert loaded.articles == built.articles
    np.testing.assert_array_equal(loaded.chunk_vectors, built.chunk_vectors)
    np.testing.assert_array_equal(loaded.sentence_vectors, built.sentence_vectors)
    assert loaded.chunk_vectors.dtype == np.float32


def test_manifest_explains_the_build(saved, articles):
    path, _ = saved
    m = json.loads((path / "current" / "manifest.json").read_text())
    assert m["format_version"] == 6
    assert m["model"] == {"name": "hashing-test-embedder", "dimension": 64}
    assert m["tokenizer"]["version"].startswith("words-")
    assert m["chunking"] == {"min_sentences": 3, "max_sentences": 5, "max_words": 120, "overlap": 1}
    assert "corpus" not in m  # the segments' articles are the corpus; loading lists it
    assert load_index(path).manifest["corpus"] == {a.source: a.sha256 for a in articles}
    assert m["counts"]["articles"] == 5
    [segment] = m["segments"]  # a full build: one segment of every article
    assert (segment["articles"], segment["deleted"], set(segment["files"])) == (5, [], set(FILES))
    assert m["files"] == {}  # no HNSW graph below the threshold
    assert {"numpy", "rank-bm25", "sentence-transformers", "torch"} <= set(m["packages"])
    assert not list(path.rglob("*.pkl"))


def test_stale_when_corpus_model_or_chunking_change(saved, articles):
    path, _ = saved
    m = load_index(path).manifest
    assert stale_reason(m, articles, "hashing-test-embedder", PARAMS) is None
    edited = [parse_article(a.doc_id, a.source, a.text, "0" * 64) if i == 0 else a for i, a in enumerate(articles)]
    assert "corpus changed (000_0909706770c7972d.txt)" == stale_reason(m, edited, "hashing-test-embedder", PARAMS)
    assert "model changed" in stale_reason(m, articles, "other-model", PARAMS)
    assert "chunking changed" in stale_reason(m, articles, "hashing-test-embedder", ChunkParams(max_words=80))


def test_stale_when_the_code_that_shapes_the_index_changes(saved, articles, tmp_path, monkeypatch):
    """A new sentence-splitting rule with the same settings must not reuse an index split the old way."""
    import qa.chunk
    import qa.index
    import qa.ingest
    import qa.text

    path, _ = saved
    m = load_index(path).manifest
    assert m["code"] == qa.index.code_fingerprint()
    edited = tmp_path / "text.py"
    edited.write_text(Path(qa.text.__file__).read_text() + "\n# a changed rule\n")
    monkeypatch.setattr(qa.index, "INDEX_CODE", (qa.ingest, types.SimpleNamespace(__file__=str(edited)), qa.chunk))
    assert stale_reason(m, articles, "hashing-test-embedder", PARAMS) == "the ingest, sentence or chunking code changed"
    del m["code"]  # an index built before the fingerprint existed is rebuilt too
    monkeypatch.undo()
    assert stale_reason(m, articles, "hashing-test-embedder", PARAMS) == "the ingest, sentence or chunking code changed"


def test_missing_index_is_reported(tmp_path):
    with pytest.raises(IndexMissing, match="qa index"):
        load_index(tmp_path)


@pytest.mark.parametrize("name", ["chunks.jsonl", "chunk_vectors.npy", "articles.jsonl"])
def test_flipped_byte_is_detected_by_name(saved, name):
    path, _ = saved
    target = _segment(path) / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt) as err:
        load_index(path)
    assert err.value.file == f"segments/{_segment(path).name}/{name}" and "checksum" in str(err.value)


def _segment(path: Path) -> Path:
    [entry] = json.loads((path / "current" / "manifest.json").read_text())["segments"]
    return path / "segments" / entry["id"]


def test_truncated_file_is_detected(saved):
    path, _ = saved
    target = _segment(path) / "sentence_vectors.npy"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match="sentence_vectors.npy"):
        load_index(path)


def test_manifest_errors_name_the_field(saved):
    path, _ = saved
    manifest = path / "current" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["counts"]
    manifest.write_text(json.dumps(m))
    with pytest.raises(IndexCorrupt) as err:
        load_index(path)
    assert (err.value.file, err.value.field) == ("manifest.json", "counts")
    manifest.write_text("{not json")
    with pytest.raises(IndexCorrupt, match="not valid JSON"):
        load_index(path)


def test_inconsistent_counts_are_reported(saved):
    path, _ = saved
    manifest = path / "current" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["counts"]["chunks"] += 1
    manifest.write_text(json.dumps(m))
    with pytest.raises(IndexCorrupt) as err:
        load_index(path)
    assert (err.value.file, err.value.field) == ("chunks.jsonl", "counts.chunks")


def test_swap_is_atomic_and_cleanup_removes_leftovers(saved, articles):
    path, _ = saved
    first, first_segment = os.readlink(path / "current"), _segment(path).name
    (path / "builds" / "crashed.partial").mkdir()
    (path / "builds" / "crashed.partial" / "chunks.jsonl").write_text("half")
    (path / "segments" / "crashed.partial").mkdir()
    save_index(build_index(articles, HashingEmbedder(), PARAMS), path)  # a full build: every article written again
    second = os.readlink(path / "current")
    assert first != second and _segment(path).name != first_segment
    removed = cleanup(path)
    assert sorted(removed) == sorted([os.path.basename(first), "crashed.partial", f"segments/{first_segment}",
                                      "segments/crashed.partial"])
    assert [p.name for p in (path / "builds").iterdir()] == [os.path.basename(second)]
    assert [p.name for p in (path / "segments").iterdir()] == [_segment(path).name]
    load_index(path)
