"""The query and passage encoder on onnxruntime: the same model, about three times faster per query than torch.

The ONNX graph is exported once from the installed weights (torch.onnx, the transformer only) and kept in
`cache_dir/<model>-<weights sha256[:12]>/` with `export.json` (the source model's name and path, the
checksums of the weights it came from and of the graph, the versions that made it). What the model
folder's sentence-transformers modules do around the transformer is done here, as they say:
tokenize with the folder's own `tokenizer.json` (truncated to `max_seq_length`), mean-pool over the
attention mask, L2-normalize.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.errors import ModelError

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _weights(folder: Path) -> Path:
    for name in _WEIGHTS:
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"model folder {str(folder)!r} has no weights ({' or '.join(_WEIGHTS)}); "
                     "the onnx encoder needs a local sentence-transformers folder (or set QA_ENCODER_BACKEND=torch)")


def _pooling(folder: Path) -> None:
    """Only mean pooling is implemented; any other configured pooling is refused by name."""
    config = folder / "1_Pooling" / "config.json"
    modes = json.loads(config.read_text()) if config.is_file() else {"pooling_mode_mean_tokens": True}
    on = sorted(k for k, v in modes.items() if k.startswith("pooling_mode_") and v)
    if on != ["pooling_mode_mean_tokens"]:
        raise ModelError(f"model folder {str(folder)!r} pools with {on}; the onnx encoder does "
                         "pooling_mode_mean_tokens only (set QA_ENCODER_BACKEND=torch for this model)")


def _max_seq_length(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 512)) if config.is_file() else 512


def export_onnx(folder: Path, target: Path) -> None:
    """Trace the transformer of `folder` into `target` (an .onnx file): inputs as named in `_INPUTS`,
    output the last hidden state, batch and sequence length dynamic."""
    import torch
    from transformers import AutoModel

    # Eager attention: its masking traces into plain ops that hold for any sequence length.
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    args = (sample, (sample > 0).long(), torch.zeros_like(sample))
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as constant: checked by the parity test
        torch.onnx.export(Hidden(model), args, str(target), input_names=list(_INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def cached_export(name: str, folder: Path, cache_dir: Path) -> Path:
    """The exported graph for the weights in `folder`: reused when its record matches them, else exported
    to a temporary folder and renamed into place (a crash leaves no half-written graph in use)."""
    weights_sha = _sha256(_weights(folder))
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)
    home = cache_dir / f"{slug}-{weights_sha[:12]}"
    record = home / "export.json"
    if record.is_file():
        meta = json.loads(record.read_text())
        if meta.get("source_sha256") == weights_sha and _sha256(home / "model.onnx") == meta.get("onnx_sha256"):
            return home / "model.onnx"
        log.warning("cached ONNX export in %s does not match its record; exporting again", home)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".{slug}-{uuid.uuid4().hex[:8]}.partial"
    partial.mkdir()
    try:
        t = time.perf_counter()
        export_onnx(folder, partial / "model.onnx")
        meta = {"format": EXPORT_FORMAT, "source_model": name, "source_path": str(folder),
                "source_weights": _weights(folder).name, "source_sha256": weights_sha,
                "onnx_sha256": _sha256(partial / "model.onnx"), "opset": OPSET,
                "torch": metadata.version("torch"), "transformers": metadata.version("transformers"),
                "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (partial / "export.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(home, ignore_errors=True)
        os.rename(partial, home)
        log.info("exported %s to ONNX in %.1f s: %s", name, time.perf_counter() - t, home)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return home / "model.onnx"


class OnnxEmbedder:
    """A sentence-transformers model folder run by onnxruntime. Construct cheaply, then `load()`."""

    def __init__(self, name: str, folder: str, cache_dir: Path, batch_size: int = 32, threads: int = 1):
        if not name.strip():
            raise ModelError("model setting is empty; give a sentence-transformers model name or a folder path")
        self.name, self.folder, self.cache_dir = name, Path(folder), Path(cache_dir)
        self.batch_size, self.threads = batch_size, threads
        self._session = self._tokenizer = None
        self.dim = 0
        self.graph: Path | None = None

    def load(self) -> "OnnxEmbedder":
        if self._session is not None:
            return self
        if not self.folder.is_dir():
            raise ModelError(f"cannot load embedding model {self.name!r}: the onnx encoder needs a local model "
                             f"folder and {str(self.folder)!r} is not one (or set QA_ENCODER_BACKEND=torch)")
        _pooling(self.folder)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            self.graph = cached_export(self.name, self.folder, self.cache_dir)
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = self.threads
            session = ort.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except ModelError:
            raise
        except Exception as exc:  # export, runtime and tokenizer raise many kinds; all mean "cannot be used"
            raise ModelError(f"cannot load embedding model {self.name!r} with onnxruntime (from "
                             f"{str(self.folder)!r}): {exc}. Set QA_ENCODER_BACKEND=torch to use torch.") from exc
        tokenizer.enable_truncation(_max_seq_length(self.folder))
        tokenizer.no_padding()
        self._session, self._tokenizer = session, tokenizer
        self._names = {i.name for i in session.get_inputs()}
        self.dim = int(self._run(["dimension probe"]).shape[1])
        log.info("loaded embedding model %s (dim %d) on onnxruntime from %s", self.name, self.dim, self.graph)
        return self

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        # One text (a query): `encode`, not `encode_batch`, which hands even one text to the tokenizer's
        # thread pool: ~0.1 ms on an idle machine, up to ~1 ms on a busy one. The same encoding either way.
        encodings = [self._tokenizer.encode(texts[0])] if len(texts) == 1 else self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        feeds = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in _INPUTS}
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][row, :n] = e.ids
            feeds["attention_mask"][row, :n] = e.attention_mask
            feeds["token_type_ids"][row, :n] = e.type_ids
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._names})[0]
        mask = feeds["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self.load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # Batches of similar lengths pad less (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), np.float32)
        try:
            for i in range(0, len(order), self.batch_size):
                rows = order[i : i + self.batch_size]
                out[rows] = self._run([texts[r] for r in rows])
        except Exception as exc:
            raise ModelError(f"embedding model {self.name!r} failed: {exc}") from exc
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
