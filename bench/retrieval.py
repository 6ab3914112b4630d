"""Choose the fusion and each leg's unit on the dev split only: eval/gold.jsonl and bench/dev_questions.jsonl.

A passage is a hit for a gold question when it overlaps a support quote (as `qa eval` judges it), and
for a dev question when it holds the expected words. For each setting (BM25 variant, each leg's
passage share, fusion) it prints, per question set, Hit@1/3/5 (a hit in the top k) and MRR@10 of the
hybrid ranking, and of each leg alone.
Run: `HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval.py [--titles]`; `--titles` also embeds every
sentence with its article's title in front (about a second more).
The test split (eval/test/) is never read here: it is reported by `qa eval`, not tuned on.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.eval import load_gold, support_spans  # noqa: E402
from qa.eval_backend import LocalBackend  # noqa: E402
from qa.retrieve import EmbeddedRetriever, Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402

DEPTH = 10


def dev_sets(service: QAService) -> dict[str, list[tuple[str, set[str]]]]:
    """(question, ids of the passages that answer it) for the answerable questions of each dev set."""
    backend, chunks = LocalBackend(service), service.index.chunks
    gold = []
    for g in load_gold(ROOT / "eval" / "gold.jsonl"):
        if g.answerable:
            spans = support_spans(g, backend)
            relevant = {c.chunk_id for c in chunks if any(s.overlaps(c.doc_id, c.start, c.end) for s in spans)}
            gold.append((g.question, relevant))
    rows = [json.loads(line) for line in (ROOT / "bench" / "dev_questions.jsonl").read_text().splitlines() if line]
    dev = [(r["question"], {c.chunk_id for c in chunks if r["expect"] in c.text}) for r in rows if r["expect"]]
    return {"gold": gold, "dev_questions": dev}


def scores(retriever: EmbeddedRetriever, queries: list[Query], relevant: list[set[str]], mode: str) -> str:
    hits = {1: 0, 3: 0, 5: 0}
    mrr = 0.0
    for query, rel in zip(queries, relevant):
        ids = [h.chunk.chunk_id for h in retriever.search(query, DEPTH, mode)]
        for k in hits:
            hits[k] += any(i in rel for i in ids[:k])
        mrr += next((1 / r for r, i in enumerate(ids, 1) if i in rel), 0.0)
    n = len(queries)
    return " ".join(f"{hits[k] / n:.3f}" for k in hits) + f" {mrr / n:.3f}"


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(_env_file=None, seeds_dir=ROOT / "seeds", index_dir=tmp / "index", data_dir=tmp / "data")
    service = QAService.open(settings)
    index, embedder = service.index, service.embedder
    sets = dev_sets(service)
    questions = sorted({q for rows in sets.values() for q, _ in rows})
    vectors = dict(zip(questions, embedder.embed_queries(questions)))
    queries = {name: [Query(q, tuple(query_tokens(q)), vectors[q]) for q, _ in rows] for name, rows in sets.items()}
    relevant = {name: [rel for _, rel in rows] for name, rows in sets.items()}
    indexes = {"sentences": index}
    if "--titles" in sys.argv:
        titled = [f"{index.articles[s.doc_id].title}. {s.text}" for s in index.sentences]
        indexes["title+sentences"] = dataclasses.replace(index, sentence_vectors=embedder.embed_passages(titled))

    print("Hit@1 Hit@3 Hit@5 MRR@10 of answerable questions: " +
          ", ".join(f"{name} ({len(rows)})" for name, rows in sets.items()))
    print("shares: a passage's score in a leg = (1 - share) * its best sentence's + share * its own (1: its own only)")
    print(f"{'bm25':6} {'share':>5} {'dense unit':16} {'share':>5} {'mode / fusion':18}"
          + "".join(f" | {name:^27}" for name in sets))
    fusions = [("rrf", 5, None), ("rrf", 60, None)] + [("weighted", None, a) for a in (0.4, 0.5, 0.6)]
    units = [(unit, share) for unit in indexes for share in (1.0, 0.0, 0.2, 0.3) if unit == "sentences" or share < 1]
    for variant, lexical in itertools.product(("l", "okapi"), (1.0, 0.0, 0.3)):
        rows = [(("bm25", None, None), "sentences", 1.0)]
        rows += [(("dense", None, None), unit, share) for unit, share in units if (variant, lexical) == ("l", 1.0)]
        rows += [(f, unit, share) for unit, share in units for f in fusions]
        for (fusion, k, alpha), unit, share in rows:
            retriever = EmbeddedRetriever(indexes[unit], variant, fusion="rrf" if fusion == "rrf" else "weighted",
                                          rrf_k=k or 60, alpha=alpha if alpha is not None else 0.5,
                                          dense_passage_share=share, bm25_passage_share=lexical)
            mode = fusion if fusion in ("bm25", "dense") else "hybrid"
            label = fusion if k is None and alpha is None else f"{fusion} {'k' if k else 'alpha'}={k or alpha}"
            name = "-" if fusion == "bm25" else "passage" if share == 1.0 else unit
            print(f"{variant if fusion != 'dense' else '-':6} {lexical if fusion != 'dense' else '':>5} {name:16} "
                  f"{share if fusion != 'bm25' else '':>5} {label:18}"
                  + "".join(f" | {scores(retriever, queries[s], relevant[s], mode):27}" for s in sets), flush=True)

if __name__ == "__main__":
    main()
