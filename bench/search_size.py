"""What a question costs the embedded retriever and the reader as the corpus grows, in the range where passages
are still scored by their sentences (below QA_DENSE_EXACT_BELOW chunks, 100,000 by default).

    .venv/bin/python bench/search_size.py [--sizes 1000,10000,40000] [--n 100] [--work DIR]

The corpora are bench/add_one.py's: synthetic articles of 10 sentences from a made-up vocabulary, indexed with
its stand-ins (hashing vectors of the real model's shape, spaCy's tokenizer only), cached in --work and shared
with that bench. The service is the production one over that index (`QAService`, default settings), its
query encoder the hashing stand-in. Timed: what comes after the query vector in the retriever, each leg (BM25
pooled over sentences, dense pooled over sentences) and both fused, as `/ask` calls it; then the hybrid search
filtered to the articles published from 1 July (about half of them: their `date` lines run over a year), the
filters' check included, as `/ask` makes it (`QAService.valid_filters`). Reading is not timed
here: it reads the top passages whatever the corpus's size, and the stand-in index holds no parses
(bench/reader.py times it on the seeds). The questions: the dev set's questions (eval/gold.jsonl) with
words of the corpus's vocabulary appended, so that BM25 finds postings. Printed per size: chunks and sentences,
then p50 / p95 in ms. bench/scale.py measures the larger sizes, where whole passages are ranked.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.add_one import VOCAB, base_corpus  # noqa: E402
from qa import nlp as nlp_module  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import HashingEmbedder, set_compute_threads  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.retrieve import Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402
from qa.types import Filters  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def questions(n: int) -> list[str]:
    gold = [json.loads(line)["question"] for line in open(ROOT / "eval" / "gold.jsonl", encoding="utf-8") if line.strip()]
    rng = random.Random(0)
    return [f"{gold[i % len(gold)].rstrip('?')} {' '.join(rng.sample(VOCAB[:300], 3))}?" for i in range(n)]


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1e3)
    return out


def cell(ms: list[float]) -> str:
    return f"{statistics.median(ms):8.2f} {np.percentile(ms, 95):8.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,40000", help="articles per corpus")
    p.add_argument("--n", type=int, default=100, help="questions timed per size")
    p.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-add-one"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    set_compute_threads(1)  # as a server sets it
    settings = Settings(_env_file=None, index_dir=args.work / "models-home", rate_limit_per_minute=0,
                        query_cache_size=0, question_cache_size=0, answer_cache_size=0)
    pipeline = nlp_module.load(settings.nlp_model)
    real_model = settings.model  # the stand-in index's manifest names the real model, as bench/add_one.py's does
    qs = questions(args.n)
    print(f"{'articles':>8} {'chunks':>7} {'sentences':>9} | p50 / p95 ms: {'bm25 leg':>17} {'dense leg':>17} "
          f"{'hybrid search':>17} {'hybrid, filtered':>17}")
    for size in (int(x) for x in args.sizes.split(",")):
        cfg = base_corpus(args.work, size, settings, real_model, pipeline)
        index = load_index(cfg.index_dir, pipeline.vocab)
        embedder = HashingEmbedder(dim=384, name=real_model)
        service = QAService(cfg, index, embedder)
        retriever = service.retriever
        queries = [Query(q, tuple(query_tokens(q)), embedder.embed_queries([q])[0]) for q in qs]
        for q in queries[:5]:  # warm up
            retriever.search(q, 10, "hybrid")
        bm25 = timed(lambda q: retriever.bm25_ranking(q.tokens), queries)
        dense = timed(lambda q: retriever.dense_ranking(q.vector), queries)
        hybrid = timed(lambda q: retriever.search(q, 10, "hybrid"), queries)
        since = Filters((), "2025-07-01", None)
        filtered = timed(lambda q: retriever.search(q, 10, "hybrid", service.valid_filters(since)), queries)
        print(f"{size:>8} {len(index.chunks):>7} {len(index.sentences):>9} | {'':13} {cell(bm25)} {cell(dense)} "
              f"{cell(hybrid)} {cell(filtered)}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
