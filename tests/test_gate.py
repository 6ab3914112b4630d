"""The quality gate: the hybrid mode's key metrics on every question set of eval/sets.json (the dev set and
the frozen test split) must stay at or above the floors in eval/thresholds.json (set from measured values;
raise them as the service improves, never lower them to make this pass)."""

from __future__ import annotations

import pytest

from qa.eval import evaluate, flatten, load_floors, load_gold, load_sets, shortfalls
from qa.eval_backend import CorpusBackends
from tests.helpers import ROOT

THRESHOLDS = ROOT / "eval" / "thresholds.json"
SETS = load_sets(ROOT / "eval" / "sets.json")


@pytest.fixture(scope="module")
def backends(real_service, real_settings):
    return CorpusBackends(real_settings, real_service.embedder)


def test_floors_name_reported_metrics_for_every_set():
    mode, floors = load_floors(THRESHOLDS)
    assert mode == "hybrid" and set(floors) == {s.name for s in SETS}
    for per_set in floors.values():
        assert per_set and all(0 < f <= 1 for f in per_set.values())
        assert all(round(f, 2) == f for f in per_set.values()), "floors are rounded down to 0.01"


@pytest.mark.model
@pytest.mark.parametrize("question_set", SETS, ids=[s.name for s in SETS])
def test_hybrid_meets_its_floors(backends, question_set):
    mode, floors = load_floors(THRESHOLDS)
    run = evaluate(backends(ROOT / question_set.corpus), load_gold(ROOT / question_set.gold), [mode],
                   question_set.gold.name).run(mode)
    wanted = floors[question_set.name]
    assert set(wanted) <= set(flatten(run.summary)), "a floor names a metric the report does not have"
    missed = shortfalls(run.summary, wanted)
    if missed:
        pytest.fail(f"{len(missed)} metric(s) of {question_set.name} ({run.mode}) fell below eval/thresholds.json:\n  "
                    + "\n  ".join(missed))
