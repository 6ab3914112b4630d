"""Retrieval at 10k, 100k and 1M chunks on a synthetic corpus: build, disk, memory, load and query times.

    .venv/bin/python bench/scale.py                      # 10k and 100k
    .venv/bin/python bench/scale.py --sizes 1000000 --ef-sweep 128,160,192,224,256 --rounds 3
                                                         # 1M: ~20 min (progress on stderr), 2.7 GB on disk
    .venv/bin/python bench/scale.py --sizes 0 --embed    # only the encoders' build throughput on real text

The corpus: chunks of the seed chunks' token counts, drawn from the seeds' BM25 vocabulary with a Zipf law
(word of frequency rank r drawn with weight 1/r), and a random unit vector per chunk (384 dims, spread over a
random 32-dimensional subspace unless --intrinsic-dim says otherwise; 0: uniform). Queries: the gold
questions' BM25 tokens and random unit vectors drawn the same way. For each size it prints one JSON line: build times,
bytes on disk, then, measured in a fresh process that loads the saved files (memory-mapped) and runs the
queries: load time, resident memory, BM25 / dense / both-legs-and-fusion p50 and p95, and dense recall@10
against exact search. Up to --oracle-max chunks the BM25 scores are also compared with rank-bm25's own.
The graph is the service's default (--hnsw-storage, --hnsw-m, --ef-construction for others). With an HNSW
graph, `--ef-sweep 64,128,256` also prints dense p50 / p95, CPU p50 and recall@10 at each efSearch
(`QA_HNSW_EF_SEARCH`), on the same loaded graph and queries (`--rounds 3`: timed three times, medians);
`verify_s` is what checking the loaded files' SHA-256 against a manifest costs (qa/index.py does it at every
load), apart from `load_s`. Timings on a shared machine are noisy: each row carries the load average when its
queries ended, and the CPU-time figures leave out waiting for a core; run it twice before trusting a difference.
At 1M, efSearch 192: recall@10 0.986, dense p50 1.47 ms at load 8.9 on the 2 shared cores (0.94-1.06 ms at
load 3 on a graph built the same way); docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.bm25 import BM25Matrix, BM25Params  # noqa: E402
from qa.chunk import ChunkParams, chunk_article  # noqa: E402
from qa.build_files import sha256_file  # noqa: E402
from qa.ingest import load_articles  # noqa: E402
from qa.retrieve import rrf  # noqa: E402
from qa.text import query_tokens, tokenize  # noqa: E402
from qa.vectors import STORAGES, HnswParams, VectorIndex, build_hnsw, recall_at_k  # noqa: E402

DIM = 384
DEPTH = 1000  # what each leg hands to fusion (QA_RETRIEVE_DEPTH's default)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def seed_chunks() -> list[list[str]]:
    chunks = []
    for article in load_articles(ROOT / "seeds"):
        chunks += [tokenize(c.text) for c in chunk_article(article, ChunkParams())]
    return chunks


def questions() -> list[list[str]]:
    rows = [json.loads(line) for line in open(ROOT / "eval" / "gold.jsonl", encoding="utf-8") if line.strip()]
    return [q for q in (query_tokens(r["question"]) for r in rows) if q]


def synthetic(n: int, seeds: list[list[str]], seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(document of each token, term id of each token, vocabulary) with terms numbered by first appearance."""
    rng = np.random.default_rng(seed)
    counts = Counter(t for c in seeds for t in c)
    words = [w for w, _ in counts.most_common()]
    weights = 1.0 / np.arange(1, len(words) + 1)
    lengths = rng.choice([len(c) for c in seeds], size=n)
    terms = rng.choice(len(words), size=int(lengths.sum()), p=weights / weights.sum())
    docs = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # Renumber by first appearance (rank-bm25's order) and drop words never drawn.
    seen, first = np.unique(terms, return_index=True)
    order = seen[np.argsort(first)]
    new_id = np.full(len(words), -1, dtype=np.int64)
    new_id[order] = np.arange(len(order))
    return docs, new_id[terms], [words[i] for i in order]


def unit_vectors(n: int, intrinsic: int, rng: np.random.Generator) -> np.ndarray:
    """Random unit vectors: uniform on the sphere (`intrinsic` 0), or spread over a random `intrinsic`-dimensional
    subspace. Uniform 384-d vectors have no near neighbours (every pair is about orthogonal), which real
    sentence embeddings do; a low-dimensional spread gives an approximate index the structure it relies on."""
    if intrinsic:
        basis = np.random.default_rng(99).standard_normal((intrinsic, DIM), dtype=np.float32)
        v = rng.standard_normal((n, intrinsic), dtype=np.float32) @ basis
    else:
        v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def write_vectors(path: Path, n: int, intrinsic: int, seed: int = 1, batch: int = 100_000) -> None:
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for start in range(0, n, batch):
        out[start : min(n, start + batch)] = unit_vectors(min(batch, n - start), intrinsic, rng)
    out.flush()
    del out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def timed(fn, items, clock=time.perf_counter) -> list[float]:
    """Milliseconds per call. `clock=time.thread_time`: this thread's CPU time, what a call costs apart from
    waiting for a core, which on a shared machine is most of the difference between two runs' wall times."""
    out = []
    for item in items:
        t = clock()
        fn(item)
        out.append((clock() - t) * 1e3)
    return out


def serve(folder: str, exact_below: int, ef_search: int, n_queries: int, intrinsic: int, result,
          sweep: tuple[int, ...] = (), rounds: int = 1) -> None:
    """In a fresh process: load what was saved, then query it (the figures a server would see)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # as a server sets it (qa.embed.set_compute_threads)
    folder_ = Path(folder)
    rss0 = _rss_mb()
    t = time.perf_counter()
    bm25 = BM25Matrix.load(folder_ / "bm25")
    vectors = np.load(folder_ / "vectors.npy", mmap_mode="r")
    dense = VectorIndex.load(vectors, folder_ / "dense.hnsw", exact_below, HnswParams(ef_search=ef_search))
    load_s = time.perf_counter() - t
    qs = questions()
    qv = unit_vectors(n_queries, intrinsic, np.random.default_rng(2))
    token_queries = [qs[i % len(qs)] for i in range(n_queries)]
    timed(lambda q: bm25.top_k(q, DEPTH), token_queries[:10])  # first touches of the memory map
    bm25_ms = timed(lambda q: bm25.top_k(q, DEPTH), token_queries)
    dense.top_k(qv[0], 10)
    dense_ms = timed(lambda v: dense.top_k(v, 10), qv)
    dense_cpu_ms = timed(lambda v: dense.top_k(v, 10), qv, time.thread_time)
    recall = [recall_at_k(dense.top_k(v, 10)[0], dense.exact_top_k(v, 10)[0]) for v in qv[: min(50, n_queries)]]

    def both(i: int) -> None:
        lexical, _ = bm25.top_k(token_queries[i], DEPTH)
        semantic, _ = dense.top_k(qv[i], DEPTH)
        rrf([lexical.tolist(), semantic.tolist()])

    retrieval_ms = timed(both, range(n_queries))
    if sweep and dense.graph is not None:
        result["ef_sweep"] = ef_sweep(dense, qv, sweep, rounds)
    t = time.perf_counter()
    for path in sorted(p for p in folder_.rglob("*") if p.is_file()):
        sha256_file(path)
    result["verify_s"] = round(time.perf_counter() - t, 2)
    result.update({
        "dense_mode": "exact" if dense.exact else graph_name(dense.graph, ef_search),
        "load_s": round(load_s, 3), "rss_mb": round(_rss_mb() - rss0, 1), "rss_total_mb": round(_rss_mb(), 1),
        "bm25_p50_ms": round(statistics.median(bm25_ms), 2), "bm25_p95_ms": round(pct(bm25_ms, 95), 2),
        "dense_p50_ms": round(statistics.median(dense_ms), 3), "dense_p95_ms": round(pct(dense_ms, 95), 3),
        "dense_cpu_p50_ms": round(statistics.median(dense_cpu_ms), 3),
        "dense_recall@10": round(float(np.mean(recall)), 4),
        "retrieval_p50_ms": round(statistics.median(retrieval_ms), 2), "retrieval_p95_ms": round(pct(retrieval_ms, 95), 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # the machine's, when the queries ended
    })


def graph_name(graph, ef_search: int) -> str:
    hnsw = graph.hnsw
    return f"hnsw {type(graph).__name__} M={hnsw.nb_neighbors(1)} efConstruction={hnsw.efConstruction} efSearch={ef_search}"


def ef_sweep(dense: VectorIndex, vectors: np.ndarray, values: tuple[int, ...], rounds: int = 1) -> list[dict]:
    """Dense p50 / p95 and recall@10 at each efSearch, against exact top 10s computed once; with `rounds`
    above 1 the timing is repeated (the efSearch values in turn each round) and the medians reported."""
    exact = [dense.exact_top_k(v, 10)[0] for v in vectors]
    ms, cpu = {ef: [] for ef in values}, {ef: [] for ef in values}
    for _ in range(rounds):
        for ef in values:
            dense.graph.hnsw.efSearch = ef
            dense.top_k(vectors[0], 10)
            ms[ef].append(timed(lambda v: dense.top_k(v, 10), vectors))
            cpu[ef].append(timed(lambda v: dense.top_k(v, 10), vectors, time.thread_time))
    rows = []
    for ef in values:
        dense.graph.hnsw.efSearch = ef
        recall = [recall_at_k(dense.top_k(v, 10)[0], e) for v, e in zip(vectors, exact)]
        p50s, p95s = [statistics.median(m) for m in ms[ef]], [pct(m, 95) for m in ms[ef]]
        rows.append({"ef_search": ef, "dense_p50_ms": round(statistics.median(p50s), 3),
                     "dense_p95_ms": round(statistics.median(p95s), 3), "recall@10": round(float(np.mean(recall)), 4),
                     "dense_cpu_p50_ms": round(statistics.median(statistics.median(c) for c in cpu[ef]), 3)})
        if rounds > 1:
            rows[-1]["p50_each_round"] = [round(x, 3) for x in p50s]
        log(f"  efSearch {ef}: {rows[-1]}")
    dense.graph.hnsw.efSearch = dense.hnsw.ef_search
    return rows


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def oracle_diff(docs: np.ndarray, terms: np.ndarray, vocab: list[str], n: int, bm25: BM25Matrix, variant: str) -> float:
    from rank_bm25 import BM25L, BM25Okapi, BM25Plus

    bounds = np.searchsorted(docs, np.arange(n + 1))
    words = np.array(vocab, dtype=object)[terms]
    corpus = [list(words[bounds[i] : bounds[i + 1]]) for i in range(n)]
    oracle = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}[variant](corpus, k1=bm25.params.k1, b=bm25.params.b)
    return max(float(np.abs(bm25.scores(q) - oracle.get_scores(q)).max()) for q in questions()[:20])


def one_size(n: int, args, seeds, work: Path) -> dict:
    folder = work / f"n{n}"
    folder.mkdir(parents=True)
    log(f"{n:,} chunks: generating tokens")
    t = time.perf_counter()
    docs, terms, vocab = synthetic(n, seeds)
    gen_s = time.perf_counter() - t
    log(f"{n:,} chunks: {len(terms):,} tokens, {len(vocab):,} words; building BM25")
    t = time.perf_counter()
    bm25 = BM25Matrix.from_ids(docs, terms, vocab, BM25Params(args.variant), n)
    bm25.save(folder / "bm25")
    bm25_s = time.perf_counter() - t
    row = {"chunks": n, "tokens": int(len(terms)), "vocabulary": len(vocab), "bm25_variant": args.variant,
           "vectors": f"{args.intrinsic_dim}-d subspace" if args.intrinsic_dim else "uniform",
           "generate_s": round(gen_s, 1), "build_bm25_s": round(bm25_s, 1)}
    if n <= args.oracle_max:
        log(f"{n:,} chunks: comparing with rank-bm25")
        row["bm25_max_abs_diff_vs_rank_bm25"] = oracle_diff(docs, terms, vocab, n, bm25, args.variant)
    del docs, terms, bm25
    log(f"{n:,} chunks: writing vectors")
    t = time.perf_counter()
    write_vectors(folder / "vectors.npy", n, args.intrinsic_dim)
    row["write_vectors_s"] = round(time.perf_counter() - t, 1)
    if n >= args.exact_below:
        log(f"{n:,} chunks: building the HNSW graph")
        t = time.perf_counter()
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        params = HnswParams(m=args.hnsw_m, ef_construction=args.ef_construction, storage=args.hnsw_storage)
        graph = build_hnsw(vectors, params,
                           progress=lambda done, total: log(f"  hnsw {done:,}/{total:,}") if done % 200_000 == 0 else None)
        VectorIndex(vectors, args.exact_below, params, graph).save(folder / "dense.hnsw")
        row["build_hnsw_s"] = round(time.perf_counter() - t, 1)
        del graph, vectors
    row["disk_mb"] = round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)
    log(f"{n:,} chunks: loading and querying in a fresh process")
    with multiprocessing.Manager() as manager:
        result = manager.dict()
        child = multiprocessing.get_context("spawn").Process(
            target=serve, args=(str(folder), args.exact_below, args.ef_search, args.queries, args.intrinsic_dim, result,
                                tuple(int(x) for x in args.ef_sweep.split(",") if x), args.rounds))
        child.start()
        child.join()
        row.update(dict(result))
    shutil.rmtree(folder, ignore_errors=True)
    return row


def embed_throughput(seconds_each: int = 20) -> list[dict]:
    """Chunks per second for the build's embedding step, on the seed chunks' real text, per backend."""
    from qa.embed import make_embedder

    texts = []
    for article in load_articles(ROOT / "seeds"):
        texts += [c.text for c in chunk_article(article, ChunkParams())]
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for backend in ("torch", "onnx"):
            embedder = make_embedder("sentence-transformers/all-MiniLM-L6-v2", 32, backend, Path(cache), threads=2)
            embedder.load()
            if backend == "torch":
                import torch

                torch.set_num_threads(2)
            embedder.embed_passages(texts[:32])
            done, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds_each:
                embedder.embed_passages(texts)
                done += len(texts)
            rows.append({"backend": backend, "threads": 2, "chunks": done,
                         "chunks_per_s": round(done / (time.perf_counter() - t), 1)})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000", help="comma list of chunk counts (0: none)")
    p.add_argument("--variant", default="l", choices=("okapi", "l", "plus"))
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--exact-below", type=int, default=100_000, help="QA_DENSE_EXACT_BELOW: HNSW from this size on")
    p.add_argument("--hnsw-m", type=int, default=HnswParams().m)
    p.add_argument("--ef-construction", type=int, default=HnswParams().ef_construction)
    p.add_argument("--hnsw-storage", default=HnswParams().storage, choices=STORAGES, help="QA_HNSW_STORAGE")
    p.add_argument("--ef-search", type=int, default=HnswParams().ef_search)
    p.add_argument("--ef-sweep", default="", help="comma list of efSearch values to measure dense search at")
    p.add_argument("--rounds", type=int, default=1, help="timing rounds of the sweep (medians reported)")
    p.add_argument("--intrinsic-dim", type=int, default=32, help="vectors spread over a random subspace of this "
                   "many dimensions (0: uniform on the 384-d sphere)")
    p.add_argument("--oracle-max", type=int, default=100_000, help="compare BM25 with rank-bm25 up to this size")
    p.add_argument("--embed", action="store_true", help="also the encoders' chunks per second on real text")
    p.add_argument("--work", default=None, help="folder for the temporary index files (default: a temp folder)")
    args = p.parse_args()
    seeds = seed_chunks()
    work = Path(tempfile.mkdtemp(prefix="qa-scale-", dir=args.work))
    try:
        for n in (int(s) for s in args.sizes.split(",") if int(s) > 0):
            print(json.dumps(one_size(n, args, seeds, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.embed:
        for row in embed_throughput():
            print(json.dumps({"embed_throughput": row}), flush=True)


if __name__ == "__main__":
    main()
