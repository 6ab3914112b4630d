"""Latency of /ask on the seed corpus, one question at a time: the bare query encoder (torch and onnx), /ask in
process, and /ask over HTTP (a real uvicorn server on loopback, started and configured here: no rate limit, the
encoder backend given by the flags), cold and warm. Targets (issue #12): over HTTP p50 <= 5 ms and p99 <= 20 ms;
printed, not asserted.

Run: `make bench` or `.venv/bin/python bench/latency.py [--n 200] [--backend onnx|torch]`.
The questions are the gold set's, in turn. Cold: the server's query-vector, question-parse and answer caches
off (QA_QUERY_CACHE_SIZE=0, QA_QUESTION_CACHE_SIZE=0, QA_ANSWER_CACHE_SIZE=0), so every question is encoded, parsed
and read, the figure to compare with the bare encoder; /ask in process is cold too. Warm: the caches at their
defaults and every question asked once before timing, as for questions asked again (their answers looked up).
Timings on a shared machine are noisy: run it twice before trusting a difference, and compare the CPU times
(this thread's for the encoder and /ask in process, the server process's per request over HTTP), which other
jobs on the machine stretch far less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import make_embedder, set_compute_threads  # noqa: E402
from qa.service import QAService  # noqa: E402
from tests.helpers import live_server  # noqa: E402  (the loopback server the tests use)

COLD = {"query_cache_size": 0, "question_cache_size": 0, "answer_cache_size": 0}  # every question encoded, parsed, read
QUESTIONS = [json.loads(line)["question"] for line in open(ROOT / "eval" / "gold.jsonl", encoding="utf-8") if line.strip()]


def timed(fn, n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock ms of `fn` over the first n questions in turn; this thread's CPU ms appended to `cpu`."""
    out = []
    for i in range(n):
        t, c = time.perf_counter(), time.thread_time()
        fn(QUESTIONS[i % len(QUESTIONS)])
        out.append((time.perf_counter() - t) * 1e3)
        if cpu is not None:
            cpu.append((time.thread_time() - c) * 1e3)
    return out


def report(name: str, ms: list[float], cpu: list[float] | None = None) -> float:
    p50 = statistics.median(ms)
    extra = f"   CPU p50 {statistics.median(cpu):6.2f} ms" if cpu else ""
    print(f"{name:40} p50 {p50:7.2f} ms   p95 {np.percentile(ms, 95):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms"
          f"   (n={len(ms)}){extra}", flush=True)
    return p50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--backend", default="onnx", choices=("onnx", "torch"), help="the service's QA_ENCODER_BACKEND")
    ap.add_argument("--threads", type=int, default=1, help="QA_TORCH_THREADS (torch, onnxruntime and BLAS threads)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    set_compute_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    config = {"seeds_dir": ROOT / "seeds", "index_dir": tmp / "index", "data_dir": tmp / "data",
              "encoder_backend": args.backend, "torch_threads": args.threads, "rate_limit_per_minute": 0}
    settings = Settings(_env_file=None, **config, **COLD)
    print(f"seed corpus, one client; service: QA_ENCODER_BACKEND={args.backend} QA_TORCH_THREADS={args.threads} "
          f"QA_RATE_LIMIT_PER_MINUTE=0", flush=True)
    bare = {}
    for backend in ("torch", "onnx"):
        encoder = make_embedder(settings.model, backend=backend, cache_dir=settings.index_dir / "models",
                                threads=args.threads).load()
        timed(lambda q: encoder.embed_queries([q]), 10)
        cpu: list[float] = []
        ms = timed(lambda q: encoder.embed_queries([q]), args.n, cpu)
        bare[backend] = report(f"bare query encoder ({backend})", ms, cpu)
    print(f"onnx / torch encoder p50: {bare['onnx'] / bare['torch']:.2f}", flush=True)

    service = QAService.open(settings)
    timed(service.ask, 10)  # warm up
    stages: dict[str, list[float]] = {}

    def ask(q: str) -> None:
        for stage, ms in service.ask(q).timings.items():
            stages.setdefault(stage, []).append(ms)

    cpu = []
    in_process = report("/ask in process (cold)", timed(ask, args.n, cpu), cpu)
    for stage, ms in stages.items():
        report(f"  of which {stage[:-3]}", ms)
    encoder = bare[args.backend]
    print(f"/ask in process p50 / bare {args.backend} encoder p50: {in_process / encoder:.2f}", flush=True)
    for name, caches in (("cold", COLD), ("warm", {})):
        env = {f"QA_{k.upper()}": str(v) for k, v in {**config, **caches}.items()}
        with live_server(env, timeout=300, log_path=tmp / f"server-{name}.log") as base, \
                httpx.Client(base_url=base, timeout=30) as client:
            ask = lambda q: client.post("/ask", json={"question": q}).raise_for_status()  # noqa: E731
            timed(ask, len(QUESTIONS) if name == "warm" else 10)  # warm: every question asked once
            pids = proc.server_pids(int(base.rsplit(":", 1)[1]))
            server_cpu = proc.cpu_ms(pids)
            ms = timed(ask, args.n)
            server_cpu = (proc.cpu_ms(pids) - server_cpu) / args.n
        http, p99 = report(f"/ask over HTTP, {name} (keep-alive)", ms), float(np.percentile(ms, 99))
        print(f"  {name}: the server's CPU time per /ask: {server_cpu:.2f} ms", flush=True)
        print(f"  {name}: over HTTP p50 / bare {args.backend} encoder p50: {http / encoder:.2f}; target p50 <= 5 ms: "
              f"{http:.2f} -> {'met' if http <= 5 else 'NOT met'}; p99 <= 20 ms: {p99:.2f} -> "
              f"{'met' if p99 <= 20 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
