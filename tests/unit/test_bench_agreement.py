"""Our median rule decides as Optuna's MedianPruner and Ray Tune's MedianStoppingRule do, where
their semantics meet (aligned steps, completed references only, gates off), on a tiny seeded
fleet through the same harnesses ``make bench`` times. Behaviour only: no timing here.

Optuna and Ray live in the ``bench`` dependency group; without them these tests skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainguard.core.curves import running_average
from trainguard.core.median import MedianStoppingRule, ReferenceTable

# bench/ is a top-level folder outside the wheel (never shipped); put the repository root on
# the path so that its modules import here as they do under ``python -m bench.run``.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.fleet import make_fleet, raw_value_references

pytestmark = pytest.mark.unit

FLEET = make_fleet(completed=7, running=60, steps=25, seed=3)
RULE = MedianStoppingRule(min_completed=1)


def our_stops(completed: list[list[tuple[float, float]]]) -> list[bool]:
    table = ReferenceTable.build(completed)
    return [RULE.decide(n, c, table).stop for n, c in zip(FLEET.names, FLEET.running, strict=True)]


def test_raw_value_references_turn_running_averages_into_raw_values() -> None:
    curve = FLEET.completed[0]
    rewritten = raw_value_references(curve)
    for step, value in curve:
        assert running_average(rewritten, step) == pytest.approx(value, rel=1e-12)


def test_fleet_has_both_decisions() -> None:
    stops = our_stops(FLEET.completed)
    assert any(stops)
    assert not all(stops)


def test_agrees_with_optuna_median_pruner_on_raw_value_references() -> None:
    pytest.importorskip("optuna")
    from bench.peers import OptunaHarness

    optuna = OptunaHarness(FLEET.completed)
    theirs = [optuna.prune(optuna.frozen(c)) for c in FLEET.running]
    assert our_stops([raw_value_references(c) for c in FLEET.completed]) == theirs
    # On the original curves the rules differ by design (raw value vs running average).
    assert our_stops(FLEET.completed) != theirs


def test_agrees_with_ray_tune_median_stopping_rule() -> None:
    pytest.importorskip("ray.tune.schedulers")
    from bench.peers import RayHarness

    ray = RayHarness(FLEET.completed)
    theirs = [ray.timed_decide(n, c)[0] for n, c in zip(FLEET.names, FLEET.running, strict=True)]
    assert our_stops(FLEET.completed) == theirs
    # The harness leaves only the completed trials as references after each decision.
    assert len(ray.scheduler._results) == len(FLEET.completed)


def test_the_timed_tick_decides_as_the_whole_curves() -> None:
    """The bench times summaries + ``stop_summary``; it must stop exactly the jobs that the
    whole-curve rule stops (measure_ours raises otherwise)."""
    from bench.decision_cost import measure_ours

    row, stops = measure_ours(FLEET, repeats=1)
    assert stops == our_stops(FLEET.completed)
    assert row["stop_fraction"] == sum(stops) / len(stops)
