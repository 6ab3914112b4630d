"""Fit the reader's candidate scorer on the DEV split, sweep its thresholds on the dev split, and
check the result on the test splits (reported, never used to choose anything).

    .venv/bin/python bench/fit_scorer.py            # fit, write qa/read/scorer.json, print dev and test
    .venv/bin/python bench/fit_scorer.py --check    # only print, with the scorer as it is

Training rows: every candidate of the sentences the reader reads for each answerable, non-yes/no
question of eval/gold.jsonl; label 1 when its token F1 against a gold answer is at least 0.5.
The model: scikit-learn's LogisticRegression (L2, C chosen by 5-fold cross-validation on dev).
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

from qa.config import Settings  # noqa: E402
from qa.eval import load_gold  # noqa: E402
from qa.metrics import token_f1  # noqa: E402
from qa.read import features  # noqa: E402
from qa.retrieve import Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402

SPLITS = {  # name: (gold file, corpus)
    "dev": (ROOT / "eval" / "gold.jsonl", ROOT / "seeds"),
    "test-seeds": (ROOT / "eval" / "test" / "seeds.jsonl", ROOT / "seeds"),
    "test-news": (ROOT / "eval" / "test" / "news.jsonl", ROOT / "eval" / "test" / "news"),
}
POSITIVE_F1 = 0.5


def open_service(corpus: Path, tmp: Path) -> QAService:
    settings = Settings(_env_file=None, seeds_dir=corpus, index_dir=tmp / corpus.name / "index", data_dir=tmp / "data")
    return QAService.open(settings)


def rows(service: QAService, gold) -> list[dict]:
    """Per question: the reader's candidate features and labels, and what abstention looks at."""
    out = []
    for g in gold:
        vector = service.embedder.embed_queries([g.question])[0]
        query = Query(g.question, tuple(query_tokens(g.question)), vector)
        hits = service.retriever.search(query, service.settings.read_passages, "hybrid")
        reader = service.reader
        q = reader.question(g.question)
        scored = reader.relevance(query.tokens, vector, hits, g.question)
        ranked = reader.rank(q, scored) if scored and not q.yes_no else []
        golds = g.answers[1:] if g.yes_no else g.answers
        out.append({
            "id": g.id, "kind": g.kind, "answerable": g.answerable, "yes_no": q.yes_no or g.yes_no,
            "relevance": scored[0].score if scored else 0.0,
            "X": np.stack([r.features for r in ranked]) if ranked else np.zeros((0, len(features.NAMES))),
            "f1": np.array([token_f1(r.sentence.text[r.candidate.start:r.candidate.end], golds) if golds else 0.0
                            for r in ranked]),
            "texts": [r.sentence.text[r.candidate.start:r.candidate.end] for r in ranked],
            "answers": list(golds), "question": g.question,
        })
    return out


def fit(dev: list[dict]):
    from sklearn.linear_model import LogisticRegressionCV

    train = [r for r in dev if r["answerable"] and not r["yes_no"] and len(r["X"])]
    X = np.concatenate([r["X"] for r in train])
    y = (np.concatenate([r["f1"] for r in train]) >= POSITIVE_F1).astype(int)
    model = LogisticRegressionCV(Cs=[0.03, 0.1, 0.3, 1.0, 3.0, 10.0], cv=5, max_iter=5000, fit_intercept=False,
                                 scoring="neg_log_loss")
    model.fit(X, y)
    print(f"fitted on {len(train)} dev questions, {len(y)} candidates ({y.sum()} positive); C = {model.C_[0]}")
    return model.coef_[0], {"questions": len(train), "candidates": int(len(y)), "positives": int(y.sum()),
                            "C": float(model.C_[0])}


def outcomes(split: list[dict], weights: np.ndarray, threshold: float, floor: float) -> dict:
    """hit@1, F1 and abstention of the top candidate under the given weights and thresholds."""
    ranking = []
    f1s, hits, wrong_abstain, answered_unanswerable, n_answerable, n_unanswerable = [], [], 0, 0, 0, 0
    for r in split:
        if r["yes_no"]:
            continue  # decided by the sentence's polarity, not by candidates
        if len(r["X"]):
            p = 1 / (1 + np.exp(-(r["X"] @ weights)))
            best = int(np.argmax(p))
            abstain = bool(r["relevance"] < floor or p[best] < threshold)
            f1 = 0.0 if abstain else float(r["f1"][best])
        else:
            abstain, f1 = True, 0.0
        if r["answerable"]:
            ranking.append(float(len(r["X"]) > 0 and r["f1"][best] >= POSITIVE_F1))
            n_answerable += 1
            wrong_abstain += int(abstain)
            f1s.append(f1)
            hits.append(float(not abstain and f1 >= POSITIVE_F1))
        else:
            n_unanswerable += 1
            answered_unanswerable += int(not abstain)
            f1s.append(float(abstain))
    return {"top1_no_abstain": float(np.mean(ranking)) if ranking else 0.0, "f1_all": float(np.mean(f1s)), "hit@1": float(np.mean(hits)) if hits else 0.0,
            "answerable": n_answerable, "wrongly_abstained": wrong_abstain,
            "unanswerable": n_unanswerable, "unanswerable_answered": answered_unanswerable}


def sweep(dev: list[dict], weights: np.ndarray) -> tuple[float, float]:
    best = None
    for floor in np.arange(0.0, 0.61, 0.05):
        for threshold in np.arange(0.0, 0.81, 0.025):
            o = outcomes(dev, weights, threshold, floor)
            key = (round(o["f1_all"], 6), -threshold)
            if best is None or key > best[0]:
                best = (key, float(round(threshold, 3)), float(round(floor, 2)))
    return best[1], best[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not fit; report with qa/read/scorer.json as it is")
    ap.add_argument("--show", action="store_true", help="print each dev question's top candidate")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    data, services = {}, {}
    for name, (gold_path, corpus) in SPLITS.items():
        if corpus not in services:
            services[corpus] = open_service(corpus, tmp)
        t = time.perf_counter()
        data[name] = rows(services[corpus], load_gold(gold_path))
        print(f"{name}: {len(data[name])} questions read in {time.perf_counter() - t:.1f} s")
    current = features.Scorer.load()
    if args.check:
        weights, meta = current.weights, current.meta
    else:
        weights, meta = fit(data["dev"])
    threshold, floor = sweep(data["dev"], weights)
    print(f"dev sweep: abstain_threshold {threshold}, relevance_floor {floor}")
    report = {name: outcomes(split, weights, threshold, floor) for name, split in data.items()}
    for name, o in report.items():
        print(f"  {name:11s} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in o.items()))
    if args.show:
        for r in data["dev"]:
            if r["answerable"] and not r["yes_no"] and len(r["X"]):
                p = r["X"] @ weights
                b = int(np.argmax(p))
                print(f"{r['f1'][b]:.2f} {r['question']!r} -> {r['texts'][b]!r} gold {r['answers'][:2]}")
    print("weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(features.NAMES, weights)))
    if not args.check:
        out = {"features": list(features.NAMES), "weights": [round(float(w), 6) for w in weights],
               "fitted_on": "the dev split only, by bench/fit_scorer.py",
               "fitted_at": time.strftime("%Y-%m-%d"), "fit": meta,
               "dev_sweep": {"abstain_threshold": threshold, "relevance_floor": floor},
               "report": report}
        features.SCORER_FILE.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {features.SCORER_FILE}")


if __name__ == "__main__":
    main()
