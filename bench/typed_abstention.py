"""Would abstaining help when no candidate of the asked type sits in a sentence read that is about the
question? Measured on the DEV sets only (eval/sets.json, role "dev"), with the scorer as it is.

    .venv/bin/python bench/typed_abstention.py

For every typed question (who, where, when, how many, ...; not yes/no) that the relevance floor lets
through, the reader abstains today only when no candidate of an expected or loosely expected label is read
at all. This prints, for a range of sentence relevance thresholds, what a stricter rule would do: abstain
when no candidate of the asked type (`strict`: an expected label; `loose`: expected or loosely expected)
sits in a sentence read at least that relevant. Counts: answerable questions it would abstain on (and how
many of those the reader answers right today: top candidate F1 >= 0.5) against unanswerable questions it
would abstain on.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fit_scorer as fs  # noqa: E402
from qa.eval import load_gold  # noqa: E402
from qa.read import features  # noqa: E402

THRESHOLDS = (0.0, 0.28, 0.35, 0.4, 0.45, 0.5)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    services, rows = {}, []
    for s in fs.SETS:
        if s.role != "dev":
            continue
        corpus = ROOT / s.corpus
        if corpus not in services:
            services[corpus] = fs.open_service(corpus, tmp)
        rows.extend(fs.rows(services[corpus], load_gold(ROOT / s.gold), s.name))
    scorer = features.Scorer.load()
    floor = scorer.meta.get("fit", {}).get("relevance_floor", 0.28)
    typed = [r for r in rows if not r["yes_no"] and r["relevance"] >= floor and r["q"].typed]
    T, L, R = (features.NAMES.index(n) for n in ("type", "loose", "rel"))
    answerable = sum(r["answerable"] for r in typed)
    print(f"{len(typed)} typed dev questions above the floor {floor}: {answerable} answerable, "
          f"{len(typed) - answerable} unanswerable")
    print("relevance  labels | answerable abstained (right today) | unanswerable abstained")
    for threshold in THRESHOLDS:
        for strict in (True, False):
            lost = right = gained = 0
            for r in typed:
                X = r["X"]
                asked = X[:, T] > 0 if strict else (X[:, T] + X[:, L]) > 0
                found = bool(len(X)) and bool((asked & (X[:, R] >= threshold)).any())
                if found:
                    continue
                if r["answerable"]:
                    lost += 1
                    right += bool(len(X)) and r["f1"][fs._best(r, scorer)] >= fs.POSITIVE_F1
                else:
                    gained += 1
            print(f"{threshold:9.2f}  {'strict' if strict else 'loose':6} | {lost:3d} ({right:3d}) | {gained:3d}")


if __name__ == "__main__":
    main()
