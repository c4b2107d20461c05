"""``make bench``'s frontier part on small inputs: the lagged median baseline on a hand-made
group, the study's launch orders, and the decision-cost harness's own agreement check.
Behaviour only: the full frontier (all of LCDB) is the bench's, not the suite's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay, replay_orders

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.frontier import (
    DEFAULT_KEY,
    Row,
    decision_cost_group,
    lagged_rules,
    replay_dataset,
    rows,
    study_permutation,
)

pytestmark = pytest.mark.unit
DATA = Path(__file__).resolve().parents[2] / "data"


def rec(job: str, values: list[float], start: float = 0.0) -> CurveRecord:
    return CurveRecord(
        job=job,
        group="g",
        status="Completed",
        objective="loss",
        direction="minimize",
        start_minute=start,
        minutes_per_step=1.0,
        instance_type="ml.g5.xlarge",
        instance_count=1,
        curve=tuple((float(i + 1), v) for i, v in enumerate(values)),
    )


def test_the_rows_cover_the_median_the_lagged_median_and_the_ladder() -> None:
    keys = [r.key for r in rows()]
    assert keys[:5] == ["median_g0", "median_g4", "median_g6", "median_g8", "lagged_median_d2"]
    assert DEFAULT_KEY in keys and len(keys) == 5 + 12
    assert "|" not in "".join(r.label for r in rows())  # Markdown table cells


def test_the_lagged_median_on_a_hand_made_group() -> None:
    # three flat references (best so far 1, 2, 3: median 2; no jitter) complete at minute 4;
    # x (5.0) is judged at its steps 2, 3, 4 (step 1 looks back at s/2 = 0.5: no reference has
    # a value by then): worse at 2 and 3 -> stopped at step 3, minute 7
    refs = [rec(f"r{i}", [float(i + 1)] * 4) for i in range(3)]
    x = rec("x", [5.0] * 10, start=4.0)
    result = replay([*refs, x], Policy(mode="enforce"), rules_for=lagged_rules)
    (stop,) = result.groups["g"].stops
    assert (stop.job, stop.rule, stop.step, stop.minute, stop.threshold) == (
        "x",
        "lagged-median",
        3.0,
        7.0,
        2.0,
    )
    fine = rec("y", [1.5] * 10, start=4.0)  # better than the median: never stopped
    assert (
        not replay([*refs, fine], Policy(mode="enforce"), rules_for=lagged_rules).groups["g"].stops
    )


def test_the_bench_replays_as_replay_orders_does_with_the_study_s_draws() -> None:
    records, _ = load_curves(DATA / "lcdb_dev_a.jsonl")
    group = [r for r in records if r.group == "lcdb-14"]
    row: Row = next(r for r in rows() if r.key == DEFAULT_KEY)
    ours = replay_dataset([group], row, 3)
    same = replay_orders(group, row.policy, 3, 0, permutation=study_permutation)
    assert ours.to_dict() == same.to_dict()
    perm = study_permutation(0, 1, "lcdb-14", len(group))
    assert sorted(perm) == list(range(len(group)))


def test_the_decision_cost_harness_checks_its_own_decisions() -> None:
    row = decision_cost_group(10, 40, 1)  # raises if the cheap path and the decisions differ
    assert row["catchup_model_grid_points"] == 111  # steps 1..500 on the bounded grid
    assert row["catchup_us_per_decision"] > 0 and row["median_us_per_decision"] > 0
