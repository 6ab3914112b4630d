"""The embedded index and the Qdrant backend side by side, question by question: where their rankings differ
and why. A difference is a tie when the passages that changed places have equal scores (each backend
breaks ties its own way: the embedded one by passage order, the engine by its own); anything else is named.

    QA_INDEX_DIR=... .venv/bin/python bench/qdrant_backends.py --path /tmp/qeval --gold eval/gold.jsonl [--fusion rrf]
        [--modes bm25,dense,hybrid]

Uses the index at QA_INDEX_DIR and the collection in the local-mode folder --path (both over QA_SEEDS_DIR,
built first when missing), and the model of `qa eval`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.config import get_settings
from qa.embed import make_embedder
from qa.service import QAService

DEPTH = 10


def _close(x: float, y: float) -> bool:
    """Equal but for float32: the engine keeps vectors, weights and scores in 32 bits, we compute in 64."""
    return abs(x - y) <= 1e-5 * max(1.0, abs(x))


def _explain(a: list, b: list) -> str | None:
    """None when the two rankings (chunk id, score) agree; 'tie' when position by position the scores are
    equal (so the passages that moved share a score); otherwise the first place they part."""
    same_scores = len(a) == len(b) and all(_close(x, y) for (_, x), (_, y) in zip(a, b))
    if [c for c, _ in a] == [c for c, _ in b]:
        return None if same_scores else "same order, other scores"
    if same_scores:
        return "tie"
    n = next(i for i, (x, y) in enumerate(zip(a, b)) if x[0] != y[0] or not _close(x[1], y[1]))
    return f"from rank {n + 1}: {a[n]} against {b[n]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="local-mode folder of the Qdrant collection")
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--fusion", default=None, help="QA_FUSION for both (default: the settings')")
    ap.add_argument("--modes", default="bm25,dense,hybrid")
    args = ap.parse_args()
    settings = get_settings()
    if args.fusion:
        settings = settings.model_copy(update={"fusion": args.fusion})
    embedder = make_embedder(settings.model, settings.encode_batch_size).load()
    embedded = QAService.open(settings, embedder=embedder)
    qdrant = QAService.open(settings.model_copy(update={"backend": "qdrant", "qdrant_path": Path(args.path)}),
                            embedder=embedder)
    questions = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    for mode in args.modes.split(","):
        counts = {"same": 0, "tie": 0, "other": 0}
        answers_differ = []
        for q in questions:
            a = [(h.chunk.chunk_id, h.score) for h in embedded.search(q["question"], DEPTH, mode)]
            b = [(h.chunk.chunk_id, h.score) for h in qdrant.search(q["question"], DEPTH, mode)]
            why = _explain(a, b)
            counts["same" if why is None else "tie" if why == "tie" else "other"] += 1
            if why not in (None, "tie"):
                print(f"  {mode} {q['id']}: {why}")
            ra, rb = embedded.ask(q["question"], None, mode), qdrant.ask(q["question"], None, mode)
            if [x.text for x in ra.answers] != [x.text for x in rb.answers] or ra.abstained != rb.abstained:
                answers_differ.append(q["id"])
        print(f"{mode}: top {DEPTH} same {counts['same']}, tie order only {counts['tie']}, other {counts['other']} "
              f"of {len(questions)}; answers differ: {len(answers_differ)} {answers_differ}")


if __name__ == "__main__":
    main()
