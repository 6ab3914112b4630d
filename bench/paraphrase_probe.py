"""Can the embedding model tell a paraphrased question's answer from an off-topic near miss?

For the gold set's paraphrase questions it prints where their gold sentences rank among all indexed
sentences, and for its unanswerable questions the best sentence's score, by two signals of the
configured embedding model: the sentence cosine, and a BERTScore-style soft word match (each content
word piece of the question takes its best cosine among the sentence's, with the model's token
embeddings; the mean). When the unanswerable questions' best scores sit above the paraphrases' answers,
no threshold on that signal separates them. A measurement only: nothing in the service uses it.

Run: `HF_HUB_OFFLINE=1 .venv/bin/python bench/paraphrase_probe.py`
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import get_settings  # noqa: E402
from qa.embed import resolve_model, set_torch_threads  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import STOPWORDS  # noqa: E402


def main() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    set_torch_threads(1)
    settings = get_settings()
    service = QAService.open(settings)
    sentences = service.index.sentences
    model = SentenceTransformer(resolve_model(settings.model), device="cpu")

    def pieces(texts: list[str]) -> list[np.ndarray]:
        """Normalized token embeddings of each text's content word pieces."""
        out = []
        for text, emb in zip(texts, model.encode(texts, output_value="token_embeddings", convert_to_numpy=False)):
            toks = model.tokenizer.convert_ids_to_tokens(model.tokenizer(text, truncation=True)["input_ids"])[: len(emb)]
            keep = [i for i, t in enumerate(toks) if t.strip("#").isalpha() and len(t) > 2 and t not in STOPWORDS]
            out.append(torch.nn.functional.normalize(emb[keep], dim=-1).numpy() if keep else np.zeros((0, emb.shape[1])))
        return out

    sentence_pieces = pieces([s.text for s in sentences])
    gold = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]
    print("question      signal   best   gold sentences (rank, score)")
    for row in gold:
        if row["kind"] not in ("paraphrase", "unanswerable"):
            continue
        vector = service.embedder.embed_queries([row["question"]])[0]
        (q,) = pieces([row["question"]])
        signals = {
            "cosine": service.index.sentence_vectors @ vector,
            "soft": np.array([float((q @ s.T).max(1).mean()) if len(s) and len(q) else 0.0 for s in sentence_pieces]),
        }
        for name, scores in signals.items():
            order = list(np.argsort(-scores))
            found = []
            for support in row["support"]:
                for rank, i in enumerate(order):
                    s = sentences[i]
                    if support["source"].startswith(s.doc_id) and (support["quote"][:30] in s.text or s.text[:30] in support["quote"]):
                        found.append(f"({rank + 1}, {scores[i]:.2f})")
                        break
            print(f"{row['id']} {row['kind'][:5]:6} {name:7} {scores[order[0]]:.2f}   {' '.join(found)}")


if __name__ == "__main__":
    main()
