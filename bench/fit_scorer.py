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
        ranked = reader.rank(q, scored, vector) if scored and not q.yes_no else []
        golds = g.answers[1:] if g.yes_no else g.answers
        out.append({
            "id": g.id, "kind": g.kind, "answerable": g.answerable, "yes_no": q.yes_no or g.yes_no,
            "relevance": scored[0].score if scored else 0.0,
            "lexical": scored[0].lexical if scored else 0.0, "dense": scored[0].dense if scored else 0.0,
            "q": q, "missing": reader.missing(query.tokens, scored) if scored else 0.0,
            "X": np.stack([r.features for r in ranked]) if ranked else np.zeros((0, len(features.NAMES))),
            "f1": np.array([token_f1(r.sentence.text[r.candidate.start:r.candidate.end], golds) if golds else 0.0
                            for r in ranked]),
            "texts": [r.sentence.text[r.candidate.start:r.candidate.end] for r in ranked],
            "answers": list(golds), "question": g.question,
        })
    return out


def fit(dev: list[dict]):
    """The candidate scorer, then the abstention model on cross-validated candidate probabilities."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    train = [r for r in dev if r["answerable"] and not r["yes_no"] and len(r["X"])]
    X = np.concatenate([r["X"] for r in train])
    y = (np.concatenate([r["f1"] for r in train]) >= POSITIVE_F1).astype(int)
    groups = np.concatenate([[n] * len(r["X"]) for n, r in enumerate(train)])
    model = LogisticRegressionCV(Cs=[0.03, 0.1, 0.3, 1.0, 3.0, 10.0], cv=list(GroupKFold(5).split(X, y, groups)),
                                 max_iter=5000, fit_intercept=False, scoring="neg_log_loss")
    model.fit(X, y)
    weights = model.coef_[0]
    print(f"candidates: {len(train)} dev questions, {len(y)} candidates ({y.sum()} positive); C = {model.C_[0]}")
    # Out-of-fold candidate probabilities, so the abstention model learns from scores like unseen questions get.
    oof = {}
    folds = [r for r in dev if not r["yes_no"]]
    for k in range(5):
        held = [r for n, r in enumerate(folds) if n % 5 == k]
        rest = [r for n, r in enumerate(folds) if n % 5 != k and r["answerable"] and len(r["X"])]
        Xk = np.concatenate([r["X"] for r in rest])
        yk = (np.concatenate([r["f1"] for r in rest]) >= POSITIVE_F1).astype(int)
        mk = LogisticRegression(C=model.C_[0], max_iter=5000, fit_intercept=False).fit(Xk, yk)
        for r in held:
            oof[r["id"]] = mk.coef_[0]
    cv = [float(len(r["f1"]) > 0 and r["f1"][int(np.argmax(r["X"] @ oof[r["id"]]))] >= POSITIVE_F1)
          for r in folds if r["answerable"]]
    print(f"dev out-of-fold top-1 (F1 >= {POSITIVE_F1}, before abstention): {np.mean(cv):.3f} of {len(cv)}")
    G = np.stack([question_vector(r, oof[r["id"]]) for r in folds])
    outcome = np.array([outcome_of(r, oof[r["id"]]) for r in folds])
    print(f"dev out-of-fold F1 (all, abstention model included): {_oof_f1(folds, G, outcome, oof):.3f}")
    abstention = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False).fit(G, outcome)
    # classes_ are sorted outcome indexes; lay the weights out in OUTCOMES order (a missing class can never win)
    W = np.full((len(features.OUTCOMES), len(features.ABSTAIN_NAMES)), 0.0)
    W[:, 0] = -50.0
    for row, cls in enumerate(abstention.classes_):
        W[cls] = abstention.coef_[row] if len(abstention.classes_) > 2 else (abstention.coef_[0] if row else -abstention.coef_[0])
    counts = {features.OUTCOMES[c]: int((outcome == c).sum()) for c in range(3)}
    print(f"abstention: {len(folds)} dev questions, outcomes {counts}")
    return weights, W, {"questions": len(train), "candidates": int(len(y)), "positives": int(y.sum()),
                        "C": float(model.C_[0]), "abstention_outcomes": counts}


def _oof_f1(folds: list[dict], G: np.ndarray, outcome: np.ndarray, oof: dict) -> float:
    """Mean F1 over the dev questions with both models fitted without the question's fold."""
    from sklearn.linear_model import LogisticRegression

    f1s = []
    for k in range(5):
        train = [n for n in range(len(folds)) if n % 5 != k]
        model = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False).fit(G[train], outcome[train])
        for n in (n for n in range(len(folds)) if n % 5 == k):
            p = dict(zip(model.classes_, model.predict_proba(G[n : n + 1])[0]))
            right, none = p.get(0, 0.0), p.get(2, 0.0)
            answer = right + none > 0 and right / (right + none) >= 0.5
            r = folds[n]
            if not r["answerable"]:
                f1s.append(0.0 if answer else 1.0)
            else:
                probs = _probabilities(r, oof[r["id"]])
                f1s.append(float(r["f1"][int(np.argmax(probs))]) if answer and len(probs) else 0.0)
    return float(np.mean(f1s))


def _probabilities(r: dict, weights: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(r["X"] @ weights))) if len(r["X"]) else np.zeros(0)


def question_vector(r: dict, weights: np.ndarray) -> np.ndarray:
    p = np.sort(_probabilities(r, weights))[::-1]
    return features.abstain_vector(r["q"], list(p[:2]), r["relevance"], r["lexical"], r["dense"], r["missing"])


def outcome_of(r: dict, weights: np.ndarray) -> int:
    if not r["answerable"]:
        return features.OUTCOMES.index("unanswerable")
    p = _probabilities(r, weights)
    right = len(p) and r["f1"][int(np.argmax(p))] >= POSITIVE_F1
    return features.OUTCOMES.index("correct" if right else "wrong")


def outcomes(split: list[dict], scorer: features.Scorer, threshold: float) -> dict:
    """hit@1 (F1 >= 0.5), F1 and abstention of the top candidate under the scorer (yes/no questions left out)."""
    oracle = []
    ranking, f1s, hits, wrong_abstain, answered_unanswerable, n_answerable, n_unanswerable = [], [], [], 0, 0, 0, 0
    for r in split:
        if r["yes_no"]:
            continue
        p = _probabilities(r, scorer.weights)
        best = int(np.argmax(p)) if len(p) else None
        abstain = best is None or scorer.confidence(question_vector(r, scorer.weights)) < threshold
        f1 = 0.0 if abstain else float(r["f1"][best])
        if r["answerable"]:
            oracle.append(float(len(r["f1"]) > 0 and r["f1"].max() >= POSITIVE_F1))
            ranking.append(float(best is not None and r["f1"][best] >= POSITIVE_F1))
            n_answerable += 1
            wrong_abstain += int(abstain)
            f1s.append(f1)
            hits.append(float(not abstain and f1 >= POSITIVE_F1))
        else:
            n_unanswerable += 1
            answered_unanswerable += int(not abstain)
            f1s.append(float(abstain))
    return {"candidate_recall": float(np.mean(oracle)) if oracle else 0.0,
            "top1_no_abstain": float(np.mean(ranking)) if ranking else 0.0, "f1_all": float(np.mean(f1s)),
            "hit@1": float(np.mean(hits)) if hits else 0.0, "answerable": n_answerable,
            "wrongly_abstained": wrong_abstain, "unanswerable": n_unanswerable,
            "unanswerable_answered": answered_unanswerable}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not fit; report with qa/read/scorer.json as it is")
    ap.add_argument("--show", action="store_true", help="print each dev question's top candidate")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        features.Scorer.load()
    except ValueError as exc:  # the features changed since the last fit: start from zero weights
        if args.check:
            raise
        print(f"refitting from scratch: {exc}")
        features.SCORER_FILE.write_text(json.dumps({"features": list(features.NAMES),
                                                    "weights": [0.0] * len(features.NAMES),
                                                    "fitted_on": "nothing yet"}) + "\n", encoding="utf-8")
    data, services = {}, {}
    for name, (gold_path, corpus) in SPLITS.items():
        if corpus not in services:
            services[corpus] = open_service(corpus, tmp)
        t = time.perf_counter()
        data[name] = rows(services[corpus], load_gold(gold_path))
        print(f"{name}: {len(data[name])} questions read in {time.perf_counter() - t:.1f} s")
    current = features.Scorer.load()
    if args.check:
        scorer = current
    else:
        weights, abstention, meta = fit(data["dev"])
        scorer = features.Scorer(weights, {}, abstention)
    threshold = 0.5  # the decision rule (qa/read/features.Scorer.confidence), not a fitted value
    report = {name: outcomes(split, scorer, threshold) for name, split in data.items()}
    for name, o in report.items():
        print(f"  {name:11s} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in o.items()))
    if args.show:
        for r in data["dev"]:
            if r["answerable"] and not r["yes_no"] and len(r["X"]):
                b = int(np.argmax(r["X"] @ scorer.weights))
                print(f"{r['f1'][b]:.2f} {r['question']!r} -> {r['texts'][b]!r} gold {r['answers'][:2]}")
    print("weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(features.NAMES, scorer.weights)))
    if not args.check:
        out = {"features": list(features.NAMES), "weights": [round(float(w), 6) for w in scorer.weights],
               "abstention": {"features": list(features.ABSTAIN_NAMES), "outcomes": list(features.OUTCOMES),
                              "weights": [[round(float(w), 6) for w in row] for row in scorer.abstention]},
               "fitted_on": "the dev split only, by bench/fit_scorer.py",
               "fitted_at": time.strftime("%Y-%m-%d"), "fit": meta, "report": report}
        features.SCORER_FILE.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {features.SCORER_FILE}")


if __name__ == "__main__":
    main()
