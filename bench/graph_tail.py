"""Dense search over a saved HNSW graph that an index's updates left as it is (qa/derived.py): the rows it
does not hold (the tail, searched exactly beside it) and the vectors of removed rows (skipped by a selector),
against a graph built over exactly the live rows. Per case: dense p50 / p95 over the queries and recall@10
against exact search over the live rows.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/graph_tail.py [--size 200000] [--tails 0,1000,2000,5000,10000] [--removed 0,0.25]

The vectors are bench/scale.py's (random unit vectors over a 32-dimensional subspace); the graph is the
service's default (sq8, M 32, efSearch 192), built once over `size` rows; each case maps it onto an index
where the first `removed` share of its vectors' rows are gone and `tail` new rows follow.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import unit_vectors  # noqa: E402
from qa.vectors import HnswParams, VectorIndex, build_hnsw, recall_at_k  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=200_000, help="vectors in the graph")
    p.add_argument("--tails", default="0,1000,2000,5000,10000")
    p.add_argument("--removed", default="0,0.25", help="shares of the graph's vectors removed")
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()
    tails = [int(x) for x in args.tails.split(",")]
    removed = [float(x) for x in args.removed.split(",")]
    rng = np.random.default_rng(1)
    graph_vectors = unit_vectors(args.size, 32, rng)
    extra = unit_vectors(max(tails), 32, rng)
    queries = unit_vectors(args.queries, 32, np.random.default_rng(2))
    params = HnswParams()
    t = time.perf_counter()
    graph = build_hnsw(graph_vectors, params)
    print(f"graph over {args.size} vectors built in {time.perf_counter() - t:.1f} s ({params.storage}, M {params.m}, "
          f"efSearch {params.ef_search})", flush=True)
    print(f"{'tail':>6} {'removed':>8} {'rows':>8} | {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}")
    for share in removed:
        gone = int(share * args.size)
        for tail in tails:
            # the index: the graph's live vectors (rows 0..), then the tail
            vectors = np.concatenate([graph_vectors[gone:], extra[:tail]])
            rows = np.concatenate([np.full(gone, -1), np.arange(args.size - gone)]).astype(np.int64)
            index = VectorIndex(vectors, exact_below=1, hnsw=params, graph=graph,
                                graph_rows=None if not gone and not tail else rows)
            ms, recall = [], []
            for q in queries:
                start = time.perf_counter()
                ids, _ = index.top_k(q, 10)
                ms.append((time.perf_counter() - start) * 1e3)
                recall.append(recall_at_k(ids, index.exact_top_k(q, 10)[0]))
            print(f"{tail:>6} {share:>8.2f} {len(vectors):>8} | {statistics.median(ms):>7.2f} "
                  f"{float(np.percentile(ms, 95)):>7.2f} {statistics.fmean(recall):>9.3f}", flush=True)


if __name__ == "__main__":
    main()
