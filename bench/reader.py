"""The reader's cost, stage by stage, and the index build's cost per 1,000 sentences.

    .venv/bin/python bench/reader.py [--rounds 3]

Prints p50/p95 of each read stage over the dev questions (question parse, sentence relevance,
candidate scoring, grouping), the whole read stage (issue #12's target: p95 <= 10 ms), /ask in process
beside the bare query encoder (target: /ask p50 <= encoder p50 + 5 ms), and the build's time per
1,000 sentences (embedding of chunks, sentences and clauses; spaCy analysis). Noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import analysis, nlp  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.read import group  # noqa: E402
from qa.retrieve import Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402


def pct(values, p):
    return float(np.percentile(values, p))


def now() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def line(name, ms, cpu):
    print(f"  {name:34s} p50 {pct(ms, 50):7.2f} ms   p95 {pct(ms, 95):7.2f} ms   CPU p50 {pct(cpu, 50):6.2f} ms   "
          f"p95 {pct(cpu, 95):6.2f} ms   (n={len(ms)})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--question-cache", type=int, default=0, help="QA_QUESTION_CACHE_SIZE (0: every question is "
                    "parsed, the cold figure; the dev questions repeat each round, so a cache answers the later rounds)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(_env_file=None, index_dir=tmp / "index", data_dir=tmp / "data", query_cache_size=0,
                        question_cache_size=args.question_cache, answer_cache_size=0, rate_limit_per_minute=0)
    t = time.perf_counter()
    service = QAService.open(settings)
    build_s = time.perf_counter() - t
    questions = [json.loads(x)["question"] for x in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if x]
    reader, stages = service.reader, {k: [] for k in ("question", "relevance", "rank", "group", "read", "encoder", "ask")}
    for q in questions[:5]:
        service.ask(q)
    cpu = {k: [] for k in stages}
    spans = (("encoder", 0, 1), ("question", 2, 3), ("relevance", 3, 4), ("rank", 4, 5), ("group", 5, 6), ("read", 6, 7),
             ("ask", 7, 8))
    for _ in range(args.rounds):
        for text in questions:
            marks = [now()]
            vector = service.embedder.embed_queries([text])[0]
            marks.append(now())
            query = Query(text, tuple(query_tokens(text)), vector)
            hits = service.retriever.search(query, settings.read_passages, "hybrid")
            marks.append(now())
            q = reader.question(text)
            marks.append(now())
            scored = reader.relevance(query.tokens, vector, hits, text)
            marks.append(now())
            ranked = reader.rank(q, scored, vector) if scored and not q.yes_no else []
            marks.append(now())
            if ranked:
                group.answers(service.index, q, ranked, 3, reader.params)
            marks.append(now())
            reader.read(text, query.tokens, vector, hits, 3)
            marks.append(now())
            service.ask(text)
            marks.append(now())
            for name, a, b in spans:
                stages[name].append((marks[b][0] - marks[a][0]) * 1e3)
                cpu[name].append((marks[b][1] - marks[a][1]) * 1e3)
    print(f"read stages over {len(questions)} dev questions x {args.rounds} (seed corpus, QA_QUERY_CACHE_SIZE=0, "
          f"QA_QUESTION_CACHE_SIZE={args.question_cache}, QA_ANSWER_CACHE_SIZE=0); wall-clock, and this thread's "
          f"CPU time (less stretched by other jobs on a shared machine):")
    for name in ("question", "relevance", "rank", "group"):
        line(name, stages[name], cpu[name])
    line("read stage (all of the above)", stages["read"], cpu["read"])
    line("bare query encoder", stages["encoder"], cpu["encoder"])
    line("/ask in process", stages["ask"], cpu["ask"])
    for name, figures in (("wall-clock", stages), ("CPU", cpu)):
        read95, over = pct(figures["read"], 95), pct(figures["ask"], 50) - pct(figures["encoder"], 50)
        print(f"  {name}: target read p95 <= 10 ms: {read95:.2f} -> {'met' if read95 <= 10 else 'NOT met'}; "
              f"/ask p50 - encoder p50 = {over:.2f} ms (target <= 5)")
    # the build, per 1,000 sentences
    index = service.index
    n = len(index.sentences)
    texts = [s.text for s in index.sentences]
    pipeline = nlp.load(settings.nlp_model)
    t = time.perf_counter()
    analysis.analyse(pipeline, texts)
    analyse_s = time.perf_counter() - t
    t = time.perf_counter()
    service.embedder.embed_passages(texts)
    embed_s = time.perf_counter() - t
    clauses = len(analysis.clauses(index.docs))
    print(f"index build: {n} sentences, {len(index.chunks)} chunks, {clauses} clauses; whole build {build_s:.1f} s "
          f"(with model loading); per 1,000 sentences: spaCy analysis {analyse_s / n * 1e3:.1f} s, "
          f"embedding the sentences {embed_s / n * 1e3:.1f} s (chunks and clauses add "
          f"{(len(index.chunks) + clauses) / n:.1f}x that many texts)")


if __name__ == "__main__":
    main()
