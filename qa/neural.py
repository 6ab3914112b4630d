"""Optional model-based stages, off by default (no model for them can be downloaded here):

    TransformerReader      any Hugging Face extractive question-answering model (by name or folder),
                           through `transformers`: the best answer span of each sentence, mapped back
                           to character offsets of the article with the fast tokenizer's offset map.
    CrossEncoderReranker   a sentence-transformers CrossEncoder scoring (question, sentence) pairs.

Settings `reader_model` and `reranker_model` switch them on (None: off). Both follow the embedder's
shape: a cheap constructor that validates, then `load()` (the slow part, called by QAService.open).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.errors import ModelError
from qa.text import strip_edges

log = logging.getLogger(__name__)


def _target(name: str, setting: str) -> str:
    if not name or not name.strip():
        raise ModelError(f"{setting} is empty; give a model name or a folder path, or leave it unset to turn the stage off")
    if Path(name).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs nothing from a hub
    return name


class TransformerReader:
    """Extractive QA over single sentences: for each, the span maximizing start + end logits among
    spans of at most `max_answer_tokens` tokens inside the sentence, scored p(start) * p(end)."""

    def __init__(self, name: str, max_answer_tokens: int = 30, max_length: int = 384, batch_size: int = 16):
        self.name = _target(name, "QA_READER_MODEL")
        if max_answer_tokens < 1 or max_length < 16:
            raise ModelError(f"reader limits must be positive: max_answer_tokens={max_answer_tokens}, max_length={max_length}")
        self.max_answer_tokens, self.max_length, self.batch_size = max_answer_tokens, max_length, batch_size
        self._tokenizer = self._model = None

    def load(self) -> "TransformerReader":
        if self._model is not None:
            return self
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.name)
            model = AutoModelForQuestionAnswering.from_pretrained(self.name)
        except Exception as exc:  # the library raises many kinds; all mean "this model cannot be used"
            raise ModelError(f"cannot load reader model {self.name!r}: {exc}. Set QA_READER_MODEL to an extractive "
                             "question-answering model folder or a name reachable from here, or unset it.") from exc
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(f"reader model {self.name!r} has no fast tokenizer; offsets back into the text need one")
        model.eval()
        self._tokenizer, self._model = tokenizer, model
        log.info("loaded reader model %s", self.name)
        return self

    def find(self, question: str, passages: Sequence[tuple[str, int, int]]) -> list[tuple[int, int, float] | None]:
        """For each (article text, sentence start, sentence end): (start, end, score) of the best span,
        offsets into the article text, or None when the model points at no word of the sentence."""
        self.load()
        out: list[tuple[int, int, float] | None] = []
        for lo in range(0, len(passages), self.batch_size):
            out.extend(self._batch(question, passages[lo : lo + self.batch_size]))
        return out

    def _batch(self, question: str, passages: Sequence[tuple[str, int, int]]) -> list[tuple[int, int, float] | None]:
        import torch

        contexts = [text[start:end] for text, start, end in passages]
        enc = self._tokenizer([question] * len(contexts), contexts, truncation="only_second", padding=True,
                              max_length=self.max_length, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        sequence_ids = [enc.sequence_ids(i) for i in range(len(contexts))]
        try:
            with torch.no_grad():
                output = self._model(**enc)
        except Exception as exc:
            raise ModelError(f"reader model {self.name!r} failed: {exc}") from exc
        starts, ends = output.start_logits.float().numpy(), output.end_logits.float().numpy()
        return [self._best(starts[i], ends[i], sequence_ids[i], offsets[i], passages[i]) for i in range(len(contexts))]

    def _best(self, start_logits: np.ndarray, end_logits: np.ndarray, sequence_ids: list[int | None],
              offsets: list[list[int]], passage: tuple[str, int, int]) -> tuple[int, int, float] | None:
        ctx = [i for i, s in enumerate(sequence_ids) if s == 1 and offsets[i][1] > offsets[i][0]]
        if not ctx:
            return None
        p_start, p_end = _softmax(start_logits[ctx]), _softmax(end_logits[ctx])
        best: tuple[float, int, int] | None = None
        for a in range(len(ctx)):
            for b in range(a, min(len(ctx), a + self.max_answer_tokens)):
                score = float(p_start[a] * p_end[b])
                if best is None or score > best[0]:
                    best = (score, a, b)
        score, a, b = best
        text, lo, _ = passage
        start, end = strip_edges(text, lo + offsets[ctx[a]][0], lo + offsets[ctx[b]][1])
        return (start, end, score) if end > start else None


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder: a probability in [0, 1] that a sentence answers the question."""

    def __init__(self, name: str, batch_size: int = 32, device: str = "cpu"):
        self.name = _target(name, "QA_RERANKER_MODEL")
        self.batch_size, self.device = batch_size, device
        self._model = None

    def load(self) -> "CrossEncoderReranker":
        if self._model is not None:
            return self
        try:
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(self.name, device=self.device)
        except Exception as exc:
            raise ModelError(f"cannot load reranker model {self.name!r}: {exc}. Set QA_RERANKER_MODEL to a "
                             "CrossEncoder folder or a name reachable from here, or unset it.") from exc
        log.info("loaded reranker model %s", self.name)
        return self

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros(0, dtype=np.float32)
        try:
            raw = self._model.predict([(question, t) for t in texts], batch_size=self.batch_size,
                                      show_progress_bar=False, convert_to_numpy=True)
        except Exception as exc:
            raise ModelError(f"reranker model {self.name!r} failed: {exc}") from exc
        raw = np.asarray(raw, dtype=np.float32).reshape(len(texts), -1)[:, -1]
        if raw.min() < 0 or raw.max() > 1:  # a model without an activation returns logits
            raw = 1 / (1 + np.exp(-raw))
        return raw


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()
