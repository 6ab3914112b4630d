"""Choose the fusion and each leg's unit on the dev split only: the sets of eval/sets.json with role
"dev" (eval/gold.jsonl and eval/dev/, each over its own corpus) and bench/dev_questions.jsonl.

A passage is a hit for a dev set's question when it overlaps a support quote (as `qa eval` judges it), and
for a question of bench/dev_questions.jsonl when it holds the expected words. For each setting (BM25
variant, each leg's passage share, fusion) it prints, per question set and pooled over all of them,
Hit@1/3/5 (a hit in the top k) and MRR@10 of the hybrid ranking, and of each leg alone.
Run: `HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval.py [--titles] [--pooled]`; `--titles` also embeds
every sentence with its article's title in front; `--pooled` prints the pooled column only.
The test split (eval/test/) is never read here: it is reported by `qa eval`, not tuned on.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.eval import load_gold, load_sets, support_spans  # noqa: E402
from qa.eval_backend import LocalBackend  # noqa: E402
from qa.retrieve import EmbeddedRetriever, Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402

DEPTH = 10


def dev_sets(services: dict) -> dict[str, tuple[Path, list[tuple[str, set[str]]]]]:
    """Set name -> (its corpus, (question, ids of the passages that answer it) for its answerable questions).
    `services`: corpus folder -> QAService, filled here."""
    out = {}
    for s in (s for s in load_sets(ROOT / "eval" / "sets.json") if s.role == "dev"):
        corpus = ROOT / s.corpus
        service = services.setdefault(corpus, open_service(corpus))
        backend, chunks = LocalBackend(service), service.index.chunks
        rows = []
        for g in load_gold(ROOT / s.gold):
            if g.answerable:
                spans = support_spans(g, backend)
                rows.append((g.question, {c.chunk_id for c in chunks if any(s.overlaps(c.doc_id, c.start, c.end) for s in spans)}))
        out[s.name] = (corpus, rows)
    seeds = ROOT / "seeds"
    chunks = services.setdefault(seeds, open_service(seeds)).index.chunks
    rows = [json.loads(line) for line in (ROOT / "bench" / "dev_questions.jsonl").read_text().splitlines() if line]
    out["dev_questions"] = (seeds, [(r["question"], {c.chunk_id for c in chunks if r["expect"] in c.text})
                                    for r in rows if r["expect"]])
    return out


def open_service(corpus: Path) -> QAService:
    tmp = Path(tempfile.mkdtemp())
    return QAService.open(Settings(_env_file=None, seeds_dir=corpus, index_dir=tmp / "index", data_dir=tmp / "data"))


def scores(retriever: EmbeddedRetriever, queries: list[Query], relevant: list[set[str]], mode: str) -> np.ndarray:
    """Per question: hit in the top 1, 3, 5, and the reciprocal rank of the first hit in the top 10."""
    out = []
    for query, rel in zip(queries, relevant):
        ids = [h.chunk.chunk_id for h in retriever.search(query, DEPTH, mode)]
        out.append([any(i in rel for i in ids[:k]) for k in (1, 3, 5)]
                   + [next((1 / r for r, i in enumerate(ids, 1) if i in rel), 0.0)])
    return np.array(out, dtype=float)


def _cell(rows: np.ndarray) -> str:
    return " ".join(f"{v:.3f}" for v in rows.mean(axis=0))


def main() -> None:
    services: dict = {}
    sets = dev_sets(services)
    queries, relevant = {}, {}
    for name, (corpus, rows) in sets.items():
        vectors = services[corpus].embedder.embed_queries([q for q, _ in rows])
        queries[name] = [Query(q, tuple(query_tokens(q)), v) for (q, _), v in zip(rows, vectors)]
        relevant[name] = [rel for _, rel in rows]
    indexes = {corpus: {"sentences": service.index} for corpus, service in services.items()}
    if "--titles" in sys.argv:
        for corpus, service in services.items():
            index = service.index
            titled = [f"{index.articles[s.doc_id].title}. {s.text}" for s in index.sentences]
            indexes[corpus]["title+sentences"] = dataclasses.replace(
                index, sentence_vectors=service.embedder.embed_passages(titled))
    pooled_only = "--pooled" in sys.argv
    columns = ([] if pooled_only else list(sets)) + ["pooled"]
    print("Hit@1 Hit@3 Hit@5 MRR@10 of answerable questions: " +
          ", ".join(f"{name} ({len(rows)})" for name, (_, rows) in sets.items())
          + f", pooled ({sum(len(rows) for _, rows in sets.values())})")
    print("shares: a passage's score in a leg = (1 - share) * its best sentence's + share * its own (1: its own only)")
    print(f"{'bm25':6} {'share':>5} {'dense unit':16} {'share':>5} {'mode / fusion':18}"
          + "".join(f" | {name:^27}" for name in columns))
    fusions = ([("rrf", k, None) for k in (5, 20, 60)]
               + [("weighted", None, a) for a in (0.3, 0.4, 0.5, 0.6, 0.7)])
    unit_names = list(next(iter(indexes.values())))
    units = [(unit, share) for unit in unit_names for share in (1.0, 0.0, 0.2, 0.3) if unit == "sentences" or share < 1]
    for variant, lexical in itertools.product(("l", "okapi"), (1.0, 0.0, 0.3)):
        rows = [(("bm25", None, None), "sentences", 1.0)]
        rows += [(("dense", None, None), unit, share) for unit, share in units if (variant, lexical) == ("l", 1.0)]
        rows += [(f, unit, share) for unit, share in units for f in fusions]
        for (fusion, k, alpha), unit, share in rows:
            mode = fusion if fusion in ("bm25", "dense") else "hybrid"
            per_set = {}
            for corpus in services:
                retriever = EmbeddedRetriever(indexes[corpus][unit], variant,
                                              fusion="rrf" if fusion == "rrf" else "weighted", rrf_k=k or 60,
                                              alpha=alpha if alpha is not None else 0.5,
                                              dense_passage_share=share, bm25_passage_share=lexical)
                for name, (c, _) in sets.items():
                    if c == corpus:
                        per_set[name] = scores(retriever, queries[name], relevant[name], mode)
            per_set["pooled"] = np.concatenate([per_set[name] for name in sets])
            label = fusion if k is None and alpha is None else f"{fusion} {'k' if k else 'alpha'}={k or alpha}"
            name = "-" if fusion == "bm25" else "passage" if share == 1.0 else unit
            print(f"{variant if fusion != 'dense' else '-':6} {lexical if fusion != 'dense' else '':>5} {name:16} "
                  f"{share if fusion != 'bm25' else '':>5} {label:18}"
                  + "".join(f" | {_cell(per_set[c]):27}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
