"""Fit the reader's candidate scorer on the DEV sets, and check it on the test sets (reported, never used
to choose anything).

    .venv/bin/python bench/fit_scorer.py            # fit, write qa/read/scorer.json, print dev and test
    .venv/bin/python bench/fit_scorer.py --check    # only print, with the scorer as it is

The sets and their roles come from eval/sets.json (role "dev": fitted on; role "test": reported only).
Training rows: every candidate of the sentences the reader reads for each answerable, non-yes/no
question of the dev sets; label 1 when its token F1 against a gold answer is at least 0.5.
The model: scikit-learn's LogisticRegression (L2, C chosen by 5-fold cross-validation grouped by question).
Printed besides the fit: out-of-fold figures on dev, and for each dev set, the figures of a model fitted
on the other dev sets only (how the reader does on articles or questions it was not fitted on).

The relevance floor (QA_RELEVANCE_FLOOR): the dev sets' unanswerable questions are near misses about
their own articles; a user also asks about things the articles never touch. Below the floor, no sentence
read is about the question and the reader abstains `not_in_corpus` before any scoring. It is set from
the dev sets: the largest value (rounded down to 0.01) that no more than FLOOR_SHARE of the answerable
dev questions fall below (half the issue's budget of 2 wrongly abstained per 50; the learned abstention
spends the rest). Printed with the share of off-topic questions it stops: the answerable dev questions
of each set asked of another dev corpus, about other events, which no article there answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import warnings
from dataclasses import replace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.eval import load_gold, load_sets  # noqa: E402
from qa.metrics import normalize_answer, token_f1  # noqa: E402
from qa.read import features  # noqa: E402
from qa.retrieve import Query  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.text import query_tokens  # noqa: E402

SETS = load_sets(ROOT / "eval" / "sets.json")
warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
POSITIVE_F1 = 0.5
FOLDS = 5
FLOOR_SHARE = 0.02


def open_service(corpus: Path, tmp: Path) -> QAService:
    settings = Settings(_env_file=None, seeds_dir=corpus, index_dir=tmp / corpus.name / "index", data_dir=tmp / "data")
    return QAService.open(settings)


def rows(service: QAService, gold, set_name: str) -> list[dict]:
    """Per question: the reader's candidate features and labels, and what abstention looks at."""
    out = []
    reader = service.reader
    for g in gold:
        vector = service.embedder.embed_queries([g.question])[0]
        query = Query(g.question, tuple(query_tokens(g.question)), vector)
        hits = service.retriever.search(query, service.settings.read_passages, "hybrid")
        q = reader.question(g.question)
        scored = reader.relevance(query.tokens, vector, hits, g.question)
        ranked = reader.rank(q, scored, vector) if scored and not q.yes_no else []
        golds = g.answers[1:] if g.yes_no else g.answers
        read = [s.sentence.index for s in scored[: reader.params.read_sentences]]
        wanted = [a for a in (normalize_answer(a) for a in golds) if a]
        out.append({
            "key": (set_name, g.id), "set": set_name, "id": g.id, "kind": g.kind, "answerable": g.answerable,
            "yes_no": q.yes_no or g.yes_no,
            "relevance": scored[0].score if scored else 0.0,
            "lexical": scored[0].lexical if scored else 0.0, "dense": scored[0].dense if scored else 0.0,
            "q": q, "missing": reader.missing(query.tokens, scored) if scored else 0.0,
            "X": np.stack([r.features for r in ranked]) if ranked else np.zeros((0, len(features.NAMES))),
            "f1": np.array([token_f1(r.sentence.text[r.candidate.start:r.candidate.end], golds) if golds else 0.0
                            for r in ranked]),
            # which sentence read each candidate is in, and which sentences read hold a gold answer
            "sentence": np.array([read.index(r.sentence.index) for r in ranked], dtype=int),
            "holds_answer": np.array([any(a in normalize_answer(reader.index.sentences[i].text) for a in wanted)
                                      for i in read], dtype=bool),
            # (question class, candidate class) of each candidate: what the label prior counts
            "classes": [(features.question_class(q), features.candidate_class(r.candidate)) for r in ranked],
            "texts": [r.sentence.text[r.candidate.start:r.candidate.end] for r in ranked],
            "answers": list(golds), "question": g.question,
        })
    return out


def _trainable(split: list[dict]) -> list[dict]:
    return [r for r in split if r["answerable"] and not r["yes_no"] and len(r["X"])]


def _xy(train: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([r["X"] for r in train]),
            (np.concatenate([r["f1"] for r in train]) >= POSITIVE_F1).astype(int))


def fit_candidates(train: list[dict], strength: float, ranking: str) -> features.Scorer:
    """The candidate scorer (no abstention model): the label prior counted on `train`, and the weights of a
    conditional logit over each question's candidates (softmax; L2 penalty `strength`), or of a logistic
    regression over all candidates (C = `strength`)."""
    train = _trainable(train)
    prior = fit_prior(train)
    return features.Scorer(_weights(_with_prior(train), strength, ranking), {}, None, ranking, prior)


def _weights(train: list[dict], strength: float, ranking: str) -> np.ndarray:
    if ranking == "logistic":
        from sklearn.linear_model import LogisticRegression

        X, y = _xy(train)
        return LogisticRegression(C=strength, max_iter=5000, fit_intercept=False).fit(X, y).coef_[0]
    from scipy.optimize import minimize

    train = [r for r in train if (r["f1"] >= POSITIVE_F1).any()]
    X = np.concatenate([r["X"] for r in train])
    right = np.concatenate([r["f1"] >= POSITIVE_F1 for r in train])
    starts = np.cumsum([0] + [len(r["X"]) for r in train[:-1]])
    group = np.repeat(np.arange(len(train)), [len(r["X"]) for r in train])

    def lse(z):  # log-sum-exp of each question's candidates
        top = np.maximum.reduceat(z, starts)
        return np.log(np.add.reduceat(np.exp(z - top[group]), starts)) + top

    def loss(w):  # minus the log of the probability mass on right candidates, plus the penalty
        z = X @ w
        all_, mass = lse(z), lse(np.where(right, z, -np.inf))
        p = np.exp(z - all_[group])
        q = np.where(right, np.exp(z - mass[group]), 0.0)
        return float(all_.sum() - mass.sum() + strength * w @ w), X.T @ (p - q) + 2 * strength * w

    return minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


PRIOR = features.NAMES.index("label_prior")
USE_PRIOR = True  # --no-prior: the label_prior feature stays 0 (to compare)


def fit_prior(train: list[dict]) -> features.LabelPrior | None:
    """The label prior counted on the candidates of `train`'s questions."""
    if not USE_PRIOR:
        return None
    return features.LabelPrior.count((qc, cc, f1 >= POSITIVE_F1) for r in _trainable(train)
                                     for (qc, cc), f1 in zip(r["classes"], r["f1"]))


def _X(r: dict, prior: features.LabelPrior | None) -> np.ndarray:
    """The question's candidate features with `prior`'s column (as the reader computes it)."""
    X = r["X"].copy()
    X[:, PRIOR] = prior.features(r["classes"][0][0], [cc for _, cc in r["classes"]]) if prior is not None and len(X) else 0.0
    return X


def _with_prior(train: list[dict]) -> list[dict]:
    """`train` with each question's label prior counted without its fold (a question's own answers must
    not tell the model how much to trust the prior: counted with them, it looks better than it is)."""
    out = []
    for k in range(FOLDS):
        prior = fit_prior([r for n, r in enumerate(train) if n % FOLDS != k])
        out.extend(dict(r, X=_X(r, prior)) for n, r in enumerate(train) if n % FOLDS == k)
    return out


STRENGTHS = {"softmax": (0.01, 0.03, 0.1, 0.3), "logistic": (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)}


def choose_strength(dev: list[dict], ranking: str) -> float:
    """The regularization with the best cross-validated top-1 over dev questions (a question's candidates
    in one fold); on a tie, the stronger regularization."""
    train = _trainable(dev)
    best = None
    for strength in STRENGTHS[ranking]:
        oof = out_of_fold(train, strength, ranking)
        top1 = np.mean([r["f1"][_best(r, oof[r["key"]])] >= POSITIVE_F1 for r in train])
        regularized = strength if ranking == "softmax" else -strength
        if best is None or (top1, regularized) > best[:2]:
            best = (top1, regularized, strength)
    return best[2]


def out_of_fold(split: list[dict], strength: float, ranking: str) -> dict:
    """Question key -> a candidate scorer fitted without that question's fold."""
    oof = {}
    for k in range(FOLDS):
        scorer = fit_candidates([r for n, r in enumerate(split) if n % FOLDS != k], strength, ranking)
        oof.update({r["key"]: scorer for n, r in enumerate(split) if n % FOLDS == k})
    return oof


def fit_abstention(split: list[dict], oof: dict) -> np.ndarray:
    """The 3-way abstention model (OUTCOMES x ABSTAIN_NAMES) on out-of-fold candidate scores."""
    from sklearn.linear_model import LogisticRegression

    G = np.stack([question_vector(r, oof[r["key"]]) for r in split])
    outcome = np.array([outcome_of(r, oof[r["key"]]) for r in split])
    model = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False).fit(G, outcome)
    # classes_ are sorted outcome indexes; lay the weights out in OUTCOMES order (a missing class can never win)
    W = np.full((len(features.OUTCOMES), len(features.ABSTAIN_NAMES)), 0.0)
    W[:, 0] = -50.0
    for row, cls in enumerate(model.classes_):
        W[cls] = model.coef_[row] if len(model.classes_) > 2 else (model.coef_[0] if row else -model.coef_[0])
    return W


def elsewhere(dev_sets: list, services: dict) -> dict:
    """(set name, corpus) -> rows of that set's questions read against a corpus they are not about."""
    out = {}
    for s in dev_sets:
        asked = [g for g in load_gold(ROOT / s.gold) if g.answerable]
        for corpus, service in services.items():
            if corpus != ROOT / s.corpus and any(ROOT / d.corpus == corpus for d in dev_sets):
                unanswerable = [replace(g, answers=(), support=(), kind="unanswerable") for g in asked]
                out[(s.name, corpus)] = rows(service, unanswerable, f"{s.name}@{corpus.name}")
    return out


def relevance_floor(dev: list[dict], off_topic: list[dict]) -> float:
    relevance = np.array([r["relevance"] for r in dev if r["answerable"]])
    floor = float(np.floor(np.quantile(relevance, FLOOR_SHARE) * 100) / 100)
    stopped = np.mean([r["relevance"] < floor for r in off_topic]) if off_topic else 0.0
    print(f"relevance floor {floor:.2f}: below it {np.mean(relevance < floor):.3f} of {len(relevance)} answerable "
          f"dev questions, {stopped:.3f} of {len(off_topic)} off-topic ones")
    return floor


def fit(dev: list[dict], ranking: str, floor: float) -> tuple[features.Scorer, dict]:
    """The candidate scorer, then the abstention model on cross-validated candidate probabilities (over the
    questions the relevance floor lets through: the others are never scored)."""
    split = [r for r in dev if not r["yes_no"] and r["relevance"] >= floor]
    strength = choose_strength(dev, ranking)
    candidate = fit_candidates(dev, strength, ranking)
    X, y = _xy(_trainable(dev))
    print(f"candidates: {len(_trainable(dev))} dev questions, {len(y)} candidates ({y.sum()} positive); "
          f"{ranking}, regularization {strength}")
    # Out-of-fold candidate weights, so the abstention model learns from scores like unseen questions get.
    oof = out_of_fold(split, strength, ranking)
    cv = [float(r["f1"][_best(r, oof[r["key"]])] >= POSITIVE_F1) for r in _trainable(split)]
    print(f"dev out-of-fold top-1 (F1 >= {POSITIVE_F1}, before abstention): {np.mean(cv):.3f} of {len(cv)}")
    print(f"dev out-of-fold F1 (above the floor, abstention model included): {_oof_f1(split, oof):.3f}")
    W = fit_abstention(split, oof)
    counts = {o: int(sum(outcome_of(r, oof[r["key"]]) == n for r in split)) for n, o in enumerate(features.OUTCOMES)}
    print(f"abstention: {len(split)} dev questions, outcomes {counts}")
    return (replace(candidate, abstention=W),
            {"questions": len(_trainable(dev)), "candidates": int(len(y)), "positives": int(y.sum()),
             "ranking": ranking, "regularization": strength, "out_of_fold_top1": round(float(np.mean(cv)), 4),
             "abstention_outcomes": counts})


def held_out(data: dict, dev_names: list[str], ranking: str, floor: float) -> dict:
    """For each dev set: both models fitted on the other dev sets only, scored on it."""
    out = {}
    for name in dev_names if len(dev_names) > 1 else []:
        rest = [r for other in dev_names if other != name for r in data[other]]
        split = [r for r in rest if not r["yes_no"] and r["relevance"] >= floor]
        strength = choose_strength(rest, ranking)
        scorer = replace(fit_candidates(rest, strength, ranking),
                         abstention=fit_abstention(split, out_of_fold(split, strength, ranking)))
        out[name] = outcomes(data[name], scorer, 0.5, floor)
    return out


def _oof_f1(split: list[dict], oof: dict) -> float:
    """Mean F1 over the dev questions with both models fitted without the question's fold."""
    f1s = []
    for k in range(FOLDS):
        train = [r for n, r in enumerate(split) if n % FOLDS != k]
        abstention = features.Scorer(np.zeros(len(features.NAMES)), {}, fit_abstention(train, oof))
        for r in (r for n, r in enumerate(split) if n % FOLDS == k):
            answer = abstention.confidence(question_vector(r, oof[r["key"]])) >= 0.5
            if not r["answerable"]:
                f1s.append(0.0 if answer else 1.0)
            else:
                f1s.append(float(r["f1"][_best(r, oof[r["key"]])]) if answer and len(r["X"]) else 0.0)
    return float(np.mean(f1s))


def _best(r: dict, scorer: features.Scorer) -> int:
    return int(np.argmax(_X(r, scorer.prior) @ scorer.weights))


def question_vector(r: dict, scorer: features.Scorer) -> np.ndarray:
    X = _X(r, scorer.prior)
    p = np.sort(scorer.probability(X))[::-1]
    score = scorer.evidence(X[_best(r, scorer)]) if len(X) else 0.0
    return features.abstain_vector(r["q"], list(p[:2]), r["relevance"], r["lexical"], r["dense"], r["missing"], score)


def outcome_of(r: dict, scorer: features.Scorer) -> int:
    if not r["answerable"]:
        return features.OUTCOMES.index("unanswerable")
    right = len(r["X"]) and r["f1"][_best(r, scorer)] >= POSITIVE_F1
    return features.OUTCOMES.index("correct" if right else "wrong")


def outcomes(split: list[dict], scorer: features.Scorer, threshold: float, floor: float) -> dict:
    """hit@1 (F1 >= 0.5), F1 and abstention of the top candidate under the scorer (yes/no questions left out)."""
    oracle = []
    ranking, f1s, hits, wrong_abstain, answered_unanswerable, n_answerable, n_unanswerable = [], [], [], 0, 0, 0, 0
    for r in split:
        if r["yes_no"]:
            continue
        best = _best(r, scorer) if len(r["X"]) else None
        abstain = (best is None or r["relevance"] < floor
                   or scorer.confidence(question_vector(r, scorer)) < threshold)
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
    ap.add_argument("--no-prior", action="store_true", help="leave the label prior out (to compare)")
    ap.add_argument("--ranking", choices=features.RANKINGS, default="softmax",
                    help="softmax: a conditional logit over each question's candidates; logistic: each on its own")
    args = ap.parse_args()
    global USE_PRIOR
    USE_PRIOR = not args.no_prior
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
    for s in SETS:
        corpus = ROOT / s.corpus
        if corpus not in services:
            services[corpus] = open_service(corpus, tmp)
        t = time.perf_counter()
        data[s.name] = rows(services[corpus], load_gold(ROOT / s.gold), s.name)
        print(f"{s.name} ({s.role}): {len(data[s.name])} questions read in {time.perf_counter() - t:.1f} s")
    dev_names = [s.name for s in SETS if s.role == "dev"]
    dev = [r for name in dev_names for r in data[name]]
    off_topic = [r for rs in elsewhere([s for s in SETS if s.role == "dev"], services).values() for r in rs]
    floor = relevance_floor(dev, off_topic)
    if args.check:
        scorer, meta = features.Scorer.load(), {}
    else:
        scorer, meta = fit(dev, args.ranking, floor)
        meta["relevance_floor"] = floor
    threshold = 0.5  # the decision rule (qa/read/features.Scorer.confidence), not a fitted value
    data["off-topic"] = off_topic
    report = {name: outcomes(split, scorer, threshold, floor) for name, split in data.items()}
    for name, o in report.items():
        print(f"  {name:11s} " + _line(o))
    if not args.check:
        meta["held_out"] = held_out(data, dev_names, args.ranking, floor)
        for name, o in meta["held_out"].items():
            print(f"  {name:11s} fitted on the other dev sets only: " + _line(o))
    if args.show:
        for r in _trainable(dev):
            b = _best(r, scorer)
            print(f"{r['f1'][b]:.2f} {r['question']!r} -> {r['texts'][b]!r} gold {r['answers'][:2]}")
    print("weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(features.NAMES, scorer.weights)))
    if not args.check:
        out = {"features": list(features.NAMES), "ranking": scorer.ranking,
               "weights": [round(float(w), 6) for w in scorer.weights],
               "abstention": {"features": list(features.ABSTAIN_NAMES), "outcomes": list(features.OUTCOMES),
                              "weights": [[round(float(w), 6) for w in row] for row in scorer.abstention]},
               **({"label_prior": scorer.prior.to_json()} if scorer.prior is not None else {}),
               "fitted_on": f"the dev sets only ({', '.join(dev_names)}), by bench/fit_scorer.py",
               "fitted_at": time.strftime("%Y-%m-%d"), "fit": meta, "report": report}
        features.SCORER_FILE.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {features.SCORER_FILE}")


def _line(o: dict) -> str:
    return "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in o.items())


if __name__ == "__main__":
    main()
