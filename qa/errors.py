"""Errors raised by the qa package. `api/` maps each class to one HTTP status in one handler.

    QAError
    ├── InvalidQuestion        the question or its options are unusable        (422)
    ├── DocumentNotFound       no article with that doc_id                      (404)
    ├── ConfigError            a setting is wrong (bad model path, mode, ...)   (start-up)
    ├── ModelError             the embedding model cannot be loaded or run      (start-up / 503)
    ├── IndexError_            the index cannot be used
    │   ├── IndexMissing       nothing built yet
    │   ├── IndexStale         built from other seeds or settings: rebuild
    │   ├── IndexCorrupt       unreadable or inconsistent: names the file and field
    │   └── EngineUnavailable  the search engine (Qdrant) did not answer: names where   (503 + Retry-After)
    ├── FeedbackError          feedback cannot be stored                        (422)
    ├── EvalError              the evaluation cannot run (bad gold file, server down)  (CLI only)
    ├── InvalidDocument        a new article cannot be ingested as given        (422)
    ├── DocumentExists         an add names an existing article                 (409)
    └── RemoteError            a running server refused or failed a CLI request (CLI only)
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: every message says what was wrong and what is allowed."""

    code = "qa_error"


class InvalidQuestion(QAError):
    code = "invalid_question"


class DocumentNotFound(QAError):
    code = "document_not_found"


class ConfigError(QAError):
    code = "config_error"


class ModelError(QAError):
    code = "model_error"


class IndexError_(QAError):  # trailing underscore: do not shadow the builtin IndexError
    code = "index_error"


class IndexMissing(IndexError_):
    code = "index_missing"


class IndexStale(IndexError_):
    code = "index_stale"


class IndexCorrupt(IndexError_):
    code = "index_corrupt"

    def __init__(self, file: str, field: str, problem: str):
        self.file, self.field, self.problem = file, field, problem
        super().__init__(f"index file {file!r}, field {field!r}: {problem}; rebuild with `qa index --force`")


class EngineUnavailable(IndexError_):
    """The external search engine did not answer; asking again later may work."""

    code = "engine_unavailable"
    retry_after_s = 5


class FeedbackError(QAError):
    code = "invalid_feedback"


class EvalError(QAError):
    code = "eval_error"


class InvalidDocument(QAError):
    code = "invalid_document"


class DocumentExists(QAError):
    code = "document_exists"


class RemoteError(QAError):
    code = "remote_error"
