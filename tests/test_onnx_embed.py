"""The onnx encoder against torch (sentence-transformers) on the bundled model, and the query cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.embed import HashingEmbedder, QueryCache, SentenceTransformerEmbedder, make_embedder
from qa.errors import ModelError
from qa.onnx_embed import OnnxEmbedder
from qa.retrieve import Query
from qa.text import query_tokens

GOLD = Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[OnnxEmbedder, SentenceTransformerEmbedder, Path]:
    cache = tmp_path_factory.mktemp("models")
    onnx = make_embedder(MODEL, backend="onnx", cache_dir=cache).load()
    return onnx, make_embedder(MODEL, backend="torch").load(), cache


@pytest.mark.model
def test_onnx_matches_torch_on_every_gold_question_and_every_seed_chunk(both, real_service):
    onnx, torch_, _ = both
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    a, b = onnx.embed_queries(questions), torch_.embed_queries(questions)
    assert a.shape == b.shape == (len(questions), 384) and a.dtype == np.float32
    assert (a * b).sum(axis=1).min() >= 0.9999
    chunks = [c.text for c in real_service.index.chunks]
    assert (onnx.embed_passages(chunks) * torch_.embed_passages(chunks)).sum(axis=1).min() >= 0.9999
    retriever = real_service.retriever
    for question, va, vb in zip(questions, a, b):
        tokens = tuple(query_tokens(question))
        for mode in ("dense", "hybrid"):
            got = [h.chunk.chunk_id for h in retriever.search(Query(question, tokens, va), 10, mode)]
            expected = [h.chunk.chunk_id for h in retriever.search(Query(question, tokens, vb), 10, mode)]
            assert got == expected, (question, mode)


@pytest.mark.model
def test_one_query_is_tokenized_as_a_batch_of_one_would_be(both):
    # a single query skips encode_batch (and its thread pool): the model must see the same inputs
    onnx = both[0]
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    for text in questions + ["", "x " * 400]:  # and an empty text, and one cut at the model's length
        one, (batched,) = onnx._tokenizer.encode(text), onnx._tokenizer.encode_batch([text])
        assert (one.ids, one.attention_mask, one.type_ids) == (batched.ids, batched.attention_mask, batched.type_ids)


@pytest.mark.model
def test_the_export_is_cached_with_its_source_and_checksums(both):
    onnx, _, cache = both
    (home,) = [p for p in cache.iterdir() if p.is_dir()]
    meta = json.loads((home / "export.json").read_text())
    assert meta["source_model"] == MODEL and meta["source_weights"] == "model.safetensors"
    assert home.name.endswith(meta["source_sha256"][:12]) and len(meta["onnx_sha256"]) == 64
    again = OnnxEmbedder(MODEL, str(onnx.folder), cache).load()
    assert again.graph == onnx.graph and (home / "model.onnx").stat().st_mtime == onnx.graph.stat().st_mtime
    # A damaged graph is exported again, not used.
    with open(home / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    repaired = OnnxEmbedder(MODEL, str(onnx.folder), cache).load()
    assert json.loads((home / "export.json").read_text())["onnx_sha256"] == meta["onnx_sha256"]
    assert np.allclose(repaired.embed_queries(["hello"]), onnx.embed_queries(["hello"]), atol=1e-6)


def test_onnx_needs_a_local_folder(tmp_path):
    with pytest.raises(ModelError, match="needs a local model folder .* QA_ENCODER_BACKEND=torch"):
        OnnxEmbedder("some-org/some-model", "some-org/some-model", tmp_path).load()


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(ModelError, match="encoder backend 'tf' is unknown; choose one of torch, onnx"):
        make_embedder(MODEL, backend="tf")


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__(dim=16)
        self.calls: list[list[str]] = []

    def embed_queries(self, texts):
        self.calls.append(list(texts))
        return super().embed_queries(texts)


def test_query_cache_remembers_normalized_text_and_forgets_the_least_recent():
    inner = CountingEmbedder()
    cache = QueryCache(inner, size=2)
    first = cache.embed_queries(["who won", "where  is it "])
    assert np.array_equal(cache.embed_queries(["who   won", "where is it"]), first)
    assert inner.calls == [["who won", "where is it"]]
    cache.embed_queries(["when"])  # evicts "who won", the least recently used
    cache.embed_queries(["where is it", "who won"])
    assert inner.calls[1:] == [["when"], ["who won"]]
    assert (cache.hits, cache.misses) == (3, 4) and cache.name == inner.name and cache.dim == 16
    assert np.array_equal(cache.embed_passages(["who won"]), inner.embed_passages(["who won"]))
    assert cache.embed_queries([]).shape == (0, 16)
