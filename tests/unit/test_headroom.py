"""Policy study 3's headroom candidate (bench/candidates/headroom.py): without a bound it is
the catch-up default, stop for stop; with one, a job far below is judged against the share of
its headroom the best comeback on record closed, not against that comeback's gain in units."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.candidates.headroom import headroom_rules, kendall_tau, shrinks
from bench.frontier import DEFAULT_KEY, Row, _policy, replay_dataset, rows

pytestmark = pytest.mark.unit
DATA = Path(__file__).resolve().parents[2] / "data"


def acc(job: str, values: list[float], start: float = 0.0) -> CurveRecord:
    return CurveRecord(
        job=job,
        group="g",
        status="Completed",
        objective="accuracy",
        direction="maximize",
        start_minute=start,
        minutes_per_step=1.0,
        instance_type="ml.g5.xlarge",
        instance_count=1,
        curve=tuple((float(i + 1), v) for i, v in enumerate(values)),
    )


def test_the_share_of_headroom_left_at_each_grid_point() -> None:
    # best 0.5, 0.5, 0.9 by steps 1-3; final 0.95: 0.05 of the headroom left of 0.5, 0.5, 0.1
    assert shrinks([(1.0, 0.5), (2.0, 0.4), (3.0, 0.9), (4.0, 0.95)], 1.0, 1.0) == pytest.approx(
        {1: 0.1, 2: 0.1, 3: 0.5, 4: 1.0}
    )
    assert shrinks([(1.0, float("nan"))], 1.0, 1.0) == {}


def test_without_a_bound_it_is_the_catch_up_default_stop_for_stop() -> None:
    records, _ = load_curves(DATA / "lcdb_dev_a.jsonl")
    group = [r for r in records if r.group in {"lcdb-14", "lcdb-46"}]
    default = next(r for r in rows(quick=True) if r.key == DEFAULT_KEY)
    same = Row(
        "h", "h", "h", _policy(catchup={"enabled": False}), rules_for=headroom_rules(bounds={})
    )
    ours, theirs = replay_dataset([group], same, 2), replay_dataset([group], default, 2)
    assert ours.to_dict() == theirs.to_dict()
    assert [(j, o.stop.step) for r in ours.results for j, o in r.outcomes.items() if o.stop] == [
        (j, o.stop.step) for r in theirs.results for j, o in r.outcomes.items() if o.stop
    ]


def test_a_job_far_below_is_judged_by_the_share_of_headroom_closed() -> None:
    # a comeback from 0.5 to 0.95 (gain 0.45, 0.1 of its headroom left) and a steady 0.9 ->
    # 0.96 (T); z at 0.55 could gain 0.45 (1.0 >= T) but close at most 0.9 of its headroom:
    # 0.55 + 0.405 = 0.955 < 0.96; y at 0.65 could reach 0.965: it runs on
    refs = [
        acc("a", [0.5, 0.5, 0.5, 0.95]),
        acc("b", [0.9, 0.92, 0.94, 0.96]),
        acc("c", [0.6, 0.6, 0.6, 0.6]),
    ]
    jobs = [acc("z", [0.55] * 4, start=4.0), acc("y", [0.65] * 4, start=4.0)]
    policy = Policy(mode="enforce")
    result = replay([*refs, *jobs], policy, rules_for=headroom_rules(k=0.0, consecutive=1))
    assert [(s.job, s.step) for s in result.groups["g"].stops] == [("z", 1.0)]
    assert "share of headroom" in result.groups["g"].stops[0].reason
    plain = replay([*refs, *jobs], policy, rules_for=headroom_rules(0.0, 1, bounds={}))
    assert not plain.groups["g"].stops  # the gain in units lets both run


def test_kendall_s_tau() -> None:
    assert kendall_tau([(1, 10), (2, 20), (3, 30)]) == 1.0
    assert kendall_tau([(1, 30), (2, 20), (3, 10)]) == -1.0
    assert kendall_tau([(1, 1), (1, 1)]) == 0.0 and kendall_tau([]) == 0.0


def linear(job: str, first: float, last: float) -> CurveRecord:
    return acc(job, [first + (last - first) * i / 3 for i in range(4)])


def test_where_ranks_persist_the_quantile_gain_replaces_the_largest() -> None:
    # five references whose order at step 1 is their final order (tau 1); one climbs 0.4 from
    # the bottom, the others 0.02: at quantile 0.75 the allowance is the 2nd largest, 0.02, so
    # z at 0.85 (0.85 + 0.02 < 0.92) stops; with the largest gain (0.4) it runs on
    refs = [linear("r0", 0.1, 0.5)] + [
        linear(f"r{i}", 0.5 + 0.1 * i, 0.52 + 0.1 * i) for i in range(1, 5)
    ]
    jobs = [*refs, acc("z", [0.85] * 4, start=4.0)]
    policy = Policy(mode="enforce")
    rules = headroom_rules(0.0, 1, bounds={}, persist=0.9, quantile=0.75)
    assert [s.job for s in replay(jobs, policy, rules_for=rules).groups["g"].stops] == ["z"]
    plain = headroom_rules(0.0, 1, bounds={})
    assert not replay(jobs, policy, rules_for=plain).groups["g"].stops
    # r1 falls below r0 by its end: 1 pair of 10 discordant, tau 0.8 < 0.9: the largest gain
    shuffled = [refs[0], linear("r1", 0.6, 0.3), *refs[2:], jobs[-1]]
    assert not replay(shuffled, policy, rules_for=rules).groups["g"].stops
    loose = headroom_rules(0.0, 1, bounds={}, persist=0.8, quantile=0.75)
    assert [s.job for s in replay(shuffled, policy, rules_for=loose).groups["g"].stops] == ["z"]
