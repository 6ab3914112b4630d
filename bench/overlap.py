"""The query encoder on its own thread (qa/batching.py) against the sequential path, in process, cold (both
caches off): the same index and encoder, two services side by side.

    .venv/bin/python bench/overlap.py                        # one client, paired; then 2 and 4 threads, 10 s each
    .venv/bin/python bench/overlap.py --rounds 5 --threads 2,4,8 --seconds 20

One client: every gold question asked of both services in turn (which goes first alternates), so each pair
meets the same moment of a shared machine; prints each side's p50/p90 and the paired difference, and this
process's CPU time per question. Threads: N threads asking new questions for --seconds against each service
(sequential first, then overlapped, then again in that order), printing answers/s, the process's CPU time per
answer, p50, and the encoder and parser calls per answer (below 1: batches formed). Sequential:
QA_QUERY_BATCH=0 and QA_QUESTION_BATCH=1 (the encoder in the asking thread, each parse alone); overlapped: the
defaults. Wall-clock figures need free cores: on a machine other jobs load they say little (compare the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.batching import QueryBatcher  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import set_compute_threads  # noqa: E402
from qa.service import QAService  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in open(ROOT / "eval" / "gold.jsonl", encoding="utf-8") if line.strip()]


def services(tmp: Path) -> dict[str, QAService]:
    cfg = Settings(_env_file=None, seeds_dir=ROOT / "seeds", index_dir=tmp / "index", data_dir=tmp / "data",
                   query_cache_size=0, question_cache_size=0, answer_cache_size=0, query_batch=0,
                   question_batch=1)
    sequential = QAService.open(cfg)
    batched = cfg.model_copy(update={"query_batch": Settings(_env_file=None).query_batch,
                                     "question_batch": Settings(_env_file=None).question_batch})
    overlapped = QAService(batched, sequential.index, QueryBatcher(sequential.embedder, batched.query_batch))
    out = {"sequential": sequential, "overlapped": overlapped}
    for service in out.values():
        service.prepare_reader(2000)
        for q in QUESTIONS[:10]:
            service.ask(q)
    return out


def one_client(named: dict[str, QAService], rounds: int) -> None:
    wall: dict[str, list[float]] = {name: [] for name in named}
    cpu: dict[str, list[float]] = {name: [] for name in named}
    for r in range(rounds):
        for i, q in enumerate(QUESTIONS):
            order = list(named.items()) if (i + r) % 2 else list(named.items())[::-1]
            for name, service in order:
                t, c = time.perf_counter(), time.process_time()
                service.ask(q)
                wall[name].append((time.perf_counter() - t) * 1e3)
                cpu[name].append((time.process_time() - c) * 1e3)
    for name in named:
        print(f"one client, {name:10}  p50 {statistics.median(wall[name]):6.2f} ms  p90 {np.percentile(wall[name], 90):6.2f} ms"
              f"  process CPU p50 {statistics.median(cpu[name]):5.2f} ms  (n={len(wall[name])})", flush=True)
    d = np.array(wall["sequential"]) - np.array(wall["overlapped"])
    print(f"one client, paired sequential - overlapped: median {np.median(d):+.2f} ms, overlapped faster in "
          f"{100 * (d > 0).mean():.0f} % of pairs", flush=True)


def threads(name: str, service: QAService, n: int, seconds: float) -> None:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    calls = getattr(service.embedder, "calls", 0), service.reader.nlp.calls

    def ask(k: int) -> None:
        i = 7 * k
        while time.monotonic() < stop:
            t = time.perf_counter()
            service.ask(QUESTIONS[i % len(QUESTIONS)])
            latencies.append((time.perf_counter() - t) * 1e3)
            i += 1

    c, t = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=ask, args=(k,)) for k in range(n)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    answered, wall = len(latencies), time.perf_counter() - t
    encoder = (getattr(service.embedder, "calls", 0) - calls[0]) / answered if hasattr(service.embedder, "calls") else 1.0
    print(f"{n} threads, {name:10}  {answered / wall:6.1f} answers/s  CPU {(time.process_time() - c) / answered * 1e3:5.2f} ms"
          f" an answer  p50 {statistics.median(latencies):6.1f} ms  encoder calls {encoder:.2f}, parser calls "
          f"{(service.reader.nlp.calls - calls[1]) / answered:.2f} an answer", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="one client: times through the gold questions")
    ap.add_argument("--threads", default="2,4", help="comma list of thread counts; empty: none")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    set_compute_threads(1)
    named = services(Path(tempfile.mkdtemp()))
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    one_client(named, args.rounds)
    for n in [int(x) for x in args.threads.split(",") if x.strip()]:
        for _ in range(2):
            for name, service in named.items():
                threads(name, service, n, args.seconds)
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
