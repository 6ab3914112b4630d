"""Latency of /ask on the seed corpus: in process, over HTTP (real uvicorn on loopback), and the time of
one bare query embedding for comparison. Target: p50 over HTTP <= 2 x bare embedding p50 + 5 ms.

Run: `make bench` or `.venv/bin/python bench/latency.py [--n 100]`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.service import QAService  # noqa: E402

QUESTIONS = [
    "What did Putin agree to?", "How long did the call last?", "Who is the Kremlin spokesman?",
    "How many drones did Russia fire overnight?", "Where did Vance meet Zelenskyy?", "What is the capital of Australia?",
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(QUESTIONS[i % len(QUESTIONS)])
        out.append((time.perf_counter() - t) * 1e3)
    return out


def report(name: str, ms: list[float]) -> float:
    p50 = statistics.median(ms)
    print(f"{name:28} p50 {p50:7.2f} ms   p95 {pct(ms, 95):7.2f} ms   (n={len(ms)})")
    return p50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(_env_file=None, seeds_dir=ROOT / "seeds", index_dir=tmp / "index", data_dir=tmp / "data")
    service = QAService.open(settings)
    timed(service.ask, 10)  # warm up
    embed = report("bare query embedding", timed(lambda q: service.embedder.embed_queries([q]), args.n))
    report("/ask in process", timed(service.ask, args.n))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QA_SEEDS_DIR": str(settings.seeds_dir), "QA_INDEX_DIR": str(settings.index_dir),
           "QA_DATA_DIR": str(settings.data_dir)}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port),
                               "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(600):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            ask = lambda q: client.post("/ask", json={"question": q}).raise_for_status()  # noqa: E731
            timed(ask, 10)
            http = report("/ask over HTTP (keep-alive)", timed(ask, args.n))
    finally:
        server.terminate()
        server.wait(10)
    target = 2 * embed + 5
    print(f"target: p50 over HTTP <= 2 x {embed:.2f} + 5 = {target:.2f} ms -> {'met' if http <= target else 'NOT met'}")


if __name__ == "__main__":
    main()
