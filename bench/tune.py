"""Choose reader settings on questions written for tuning (bench/dev_questions.jsonl), not the gold set.

For each setting combination it prints: answerable questions whose expected words are in the top
answer (hit@1) or in any of the top 3 (hit@3), and how well the abstention threshold separates the
answerable from the off-topic questions. Run: `.venv/bin/python bench/tune.py`.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.service import QAService  # noqa: E402


def main() -> None:
    rows = [json.loads(line) for line in (ROOT / "bench" / "dev_questions.jsonl").read_text().splitlines() if line]
    tmp = Path(tempfile.mkdtemp())
    base = Settings(_env_file=None, seeds_dir=ROOT / "seeds", index_dir=tmp / "index", data_dir=tmp / "data")
    service = QAService.open(base)
    print(f"{len(rows)} dev questions ({sum(r['expect'] is None for r in rows)} off-topic)")
    answerable = [r for r in rows if r["expect"] is not None]
    print("BM25 variant (bm25 mode): answerable questions whose expected words are in the top-k passages")
    for variant in ("okapi", "l", "plus"):
        svc = QAService(base.model_copy(update={"bm25_variant": variant}), service.index, service.embedder)
        found = {k: 0 for k in (1, 3, 5)}
        for r in answerable:
            texts = [h.chunk.text for h in svc.search(r["question"], 5, "bm25")]
            for k in found:
                found[k] += any(r["expect"] in t for t in texts[:k])
        print(f"  {variant:6} " + "  ".join(f"R@{k} {n}/{len(answerable)}" for k, n in found.items()))
    print("dense_weight read_passages  hit@1 hit@3  max(off-topic conf)  min(answerable conf)  best threshold")
    for w, passages in itertools.product((0.5, 0.6, 0.7, 0.8), (3, 5, 8)):
        settings = base.model_copy(update={"dense_weight": w, "read_passages": passages, "abstain_threshold": 0.0})
        svc = QAService(settings, service.index, service.embedder)
        hit1 = hit3 = 0
        on, off = [], []
        for r in rows:
            res = svc.ask(r["question"], top_k=3)
            if r["expect"] is None:
                off.append(res.confidence)
                continue
            on.append(res.confidence)
            texts = [a.text for a in res.answers]
            hit1 += bool(texts) and r["expect"] in texts[0]
            hit3 += any(r["expect"] in t for t in texts)
        # the threshold that keeps the most answerable questions while abstaining on every off-topic one
        threshold = round(max(off) + 0.01, 2)
        kept = sum(c >= threshold for c in on)
        print(f"{w:12} {passages:13}  {hit1:5} {hit3:5}  {max(off):19.3f}  {min(on):20.3f}  "
              f"{threshold} (answers {kept}/{len(on)})")


if __name__ == "__main__":
    main()
