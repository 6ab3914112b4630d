"""The quality gate: the hybrid mode's key metrics on the gold set must stay at or above the floors
in eval/thresholds.json (set from measured values; raise them as the service improves, never lower them)."""

from __future__ import annotations

import pytest

from qa.eval import evaluate, flatten, load_floors, load_gold, shortfalls
from qa.eval_backend import LocalBackend
from tests.helpers import ROOT

THRESHOLDS = ROOT / "eval" / "thresholds.json"
GOLD = ROOT / "eval" / "gold.jsonl"


@pytest.fixture(scope="module")
def gated(real_service):
    mode, floors = load_floors(THRESHOLDS)
    run = evaluate(LocalBackend(real_service), load_gold(GOLD), [mode], GOLD.name).run(mode)
    return run, floors


def test_floors_name_reported_metrics():
    mode, floors = load_floors(THRESHOLDS)
    assert mode == "hybrid" and floors
    assert all(0 < f <= 1 for f in floors.values())
    assert all(round(f, 2) == f for f in floors.values()), "floors are rounded down to 0.01"


@pytest.mark.model
def test_hybrid_meets_its_floors(gated):
    run, floors = gated
    assert set(floors) <= set(flatten(run.summary)), "a floor names a metric the report does not have"
    missed = shortfalls(run.summary, floors)
    if missed:
        pytest.fail(f"{len(missed)} metric(s) of the {run.mode} mode fell below eval/thresholds.json:\n  "
                    + "\n  ".join(missed))
