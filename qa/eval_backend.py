"""Where the evaluation sends its questions: the in-process QAService, or a running server over HTTP.

Both backends answer in the one JSON shape of `qa.serialize` (the API's shape), so the scoring in
`qa.eval` cannot tell them apart. Gold labels refer to articles by source file; a doc id is the file stem.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.chunk import ChunkParams, chunk_article
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import DocumentNotFound, EvalError
from qa.ingest import parse_article
from qa.serialize import hit_json, result_json
from qa.service import QAService, chunk_params
from qa.types import Article, Chunk


class Backend(Protocol):
    name: str

    def ask(self, question: str, mode: str) -> dict:
        """The API's /ask body for the question, with the service's default top_k."""

    def search(self, question: str, k: int, mode: str) -> list[dict]:
        """The API's /search passages, best first, strictly ordered."""

    def ask_unthresholded(self, question: str, mode: str) -> dict | None:
        """What the service would answer with abstention switched off; None when it cannot say."""

    def article(self, doc_id: str) -> Article: ...

    def chunks(self, doc_id: str) -> tuple[Chunk, ...]:
        """Every passage of the article: relevance is judged against all of them, not only the ranked ones."""


class LocalBackend:
    """The same QAService object the API serves, called in process."""

    def __init__(self, service: QAService):
        self.service = service
        self.name = "in-process"
        # /ask goes to `service` itself, so its latency includes encoding the question. The deeper
        # ranking and the would-be answer reuse the question's vector: same index, same retriever,
        # an embedder that remembers (the same model, so the same vectors), and for the would-be
        # answer a reader that never abstains.
        s, memo = service, _MemoEmbedder(service.embedder)
        self._ranker = QAService(s.settings, s.index, memo, s.retriever)
        self._shadow = QAService(s.settings.model_copy(update={"abstain_threshold": 0.0, "relevance_floor": 0.0}), s.index, memo, s.retriever)

    def ask(self, question: str, mode: str) -> dict:
        result = self.service.ask(question, None, mode)
        return _with_labels(result_json(result, self.service.index.articles), result.answers)

    def search(self, question: str, k: int, mode: str) -> list[dict]:
        return [hit_json(h, self.service.index.articles) for h in self._ranker.search(question, k, mode)]

    def ask_unthresholded(self, question: str, mode: str) -> dict | None:
        result = self._shadow.ask(question, None, mode)
        return _with_labels(result_json(result, self.service.index.articles), result.answers)

    def article(self, doc_id: str) -> Article:
        return self.service.document(doc_id)

    def chunks(self, doc_id: str) -> tuple[Chunk, ...]:
        self.service.document(doc_id)  # names the known documents when doc_id is not one
        return tuple(c for c in self.service.index.chunks if c.doc_id == doc_id)


class _MemoEmbedder:
    """Remembers question vectors: each question is encoded once for every mode's ranking."""

    def __init__(self, embedder: Embedder):
        self.embedder, self.name = embedder, embedder.name
        self._queries: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            self._queries.update(zip(missing, self.embedder.embed_queries(missing)))
        return np.stack([self._queries[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_passages(texts)


def _with_labels(body: dict, answers) -> dict:
    """Carry an answer's `label` (yes/no questions) even before the JSON shape includes it."""
    for out, answer in zip(body["answers"], answers):
        out.setdefault("label", getattr(answer, "label", None))
    return body


class HttpBackend:
    """A running server: POST /ask, GET /search, GET /documents/{doc_id}.

    The server does not list its passages, so they are rebuilt here from the server's own article
    text with `params` (the local chunk settings) and checked against every passage it returns:
    a mismatch is an error, never a silently wrong score.
    """

    def __init__(self, base_url: str, params: ChunkParams, timeout: float = 60.0, transport=None):
        import httpx

        self.name = base_url.rstrip("/")
        self.params = params
        self._httpx = httpx
        self._client = httpx.Client(base_url=self.name, timeout=timeout, transport=transport)
        self._articles: dict[str, Article] = {}
        self._chunks: dict[str, dict[str, Chunk]] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ask(self, question: str, mode: str) -> dict:
        return self._request("POST", "/ask", json={"question": question, "mode": mode})

    def search(self, question: str, k: int, mode: str) -> list[dict]:
        passages = self._request("GET", "/search", params={"q": question, "k": k, "mode": mode})["passages"]
        for p in passages:
            self._check_passage(p)
        return passages

    def ask_unthresholded(self, question: str, mode: str) -> dict | None:
        return None  # the API has no such switch: the sweep counts abstentions as unanswered

    def article(self, doc_id: str) -> Article:
        if doc_id not in self._articles:
            body = self._request("GET", f"/documents/{doc_id}")
            self._articles[doc_id] = parse_article(body["doc_id"], body["source"], body["text"], body["sha256"])
        return self._articles[doc_id]

    def chunks(self, doc_id: str) -> tuple[Chunk, ...]:
        if doc_id not in self._chunks:
            self._chunks[doc_id] = {c.chunk_id: c for c in chunk_article(self.article(doc_id), self.params)}
        return tuple(self._chunks[doc_id].values())

    def _check_passage(self, p: dict) -> None:
        self.chunks(p["doc_id"])
        mine = self._chunks[p["doc_id"]].get(p["chunk_id"])
        if mine is None or (mine.start, mine.end) != (p["start"], p["end"]):
            raise EvalError(
                f"the server's passage {p['chunk_id']} [{p['start']}:{p['end']}] is not one the local chunk settings "
                f"make; run the evaluation with the server's QA_CHUNK_* settings")

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._client.request(method, path, **kwargs)
        except self._httpx.HTTPError as exc:
            raise EvalError(f"{method} {self.name}{path} failed: {exc}; is the server running?") from exc
        if response.status_code == 404 and path.startswith("/documents/"):
            raise DocumentNotFound(f"{self.name} has no document {path.removeprefix('/documents/')!r}")
        if response.status_code != 200:
            raise EvalError(f"{method} {self.name}{path} answered {response.status_code}: {response.text[:300]}")
        return response.json()


def http_backend(base_url: str, settings: Settings) -> HttpBackend:
    return HttpBackend(base_url, chunk_params(settings))


# ---------------------------------------------------------------- one index per corpus
def corpus_index_dir(settings: Settings, corpus: Path) -> Path:
    """Where the index of `corpus` lives: the service's own index for QA_SEEDS_DIR, otherwise a folder
    under QA_INDEX_DIR named by the corpus folder and a digest of its full path (two folders of one
    name never share an index)."""
    if corpus.resolve() == settings.seeds_dir.resolve():
        return settings.index_dir
    path = str(corpus.resolve())
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", corpus.resolve().name).strip("-") or "corpus"
    return settings.index_dir / "corpora" / f"{slug}-{hashlib.sha256(path.encode()).hexdigest()[:10]}"


class CorpusBackends:
    """In-process backends, one QAService per corpus, all sharing one loaded embedder. Each corpus's
    index is built on first use (or when stale) in `corpus_index_dir`, then reused."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings, self.embedder = settings, embedder
        self._backends: dict[Path, LocalBackend] = {}

    def __call__(self, corpus: Path) -> LocalBackend:
        key = corpus.resolve()
        if key not in self._backends:
            if not key.is_dir():
                raise EvalError(f"corpus folder {str(corpus)!r} does not exist; give a folder of *.txt articles")
            index_dir = corpus_index_dir(self.settings, corpus)
            update = {"seeds_dir": corpus, "index_dir": index_dir}
            if index_dir != self.settings.index_dir:  # with QA_BACKEND=qdrant, another corpus, another collection
                update["qdrant_collection"] = f"{self.settings.qdrant_collection}-{index_dir.name}"
            settings = self.settings.model_copy(update=update)
            self._backends[key] = LocalBackend(QAService.open(settings, embedder=self.embedder))
        return self._backends[key]
