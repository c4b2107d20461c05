"""The optimistic convex bound (bench/candidates/bound.py): the climb's arithmetic, a stop only
where the catch-up rule's allowance or the job's own climb rules it out, never stopping the
best, a job climbing fast enough is never stopped, monotonicity, and the numbers in the
sentence."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.candidates.bound import ConvexBoundRule, climb, horizon_of
from trainguard.core.catchup import NO_STREAK, CatchUpModel, CatchUpRule
from trainguard.core.rule import NO_GROUP, GroupState
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

Curve = list[tuple[float, float]]
R1: Curve = [(1, 0.5), (2, 0.625), (3, 0.75), (4, 0.875)]
R2: Curve = [(1, 0.625), (2, 0.6875), (3, 0.75), (4, 0.75)]
R3: Curve = [(1, 0.375), (2, 0.5), (3, 0.75), (4, 0.9375)]
MODEL = CatchUpModel.build([R1, R2, R3], "maximize")


def test_the_climb_and_the_horizon() -> None:
    assert horizon_of(MODEL) == 4.0
    assert horizon_of(CatchUpModel("maximize")) is None
    c = climb(1.0, 0.5, 3.0, 0.6, 11.0, "maximize")
    assert c is not None
    assert c.slope == pytest.approx(0.05) and c.gain == pytest.approx(0.4)
    # minimize: a falling loss climbs; a rising one does not
    down = climb(1.0, 1.0, 2.0, 0.75, 4.0, "minimize")
    assert down is not None and down.gain == pytest.approx(0.5)
    assert climb(1.0, 0.5, 1.0, 0.5, 4.0, "maximize") is None  # one step: no slope yet


def test_its_stops_include_the_catchup_rules() -> None:
    """The allowance is min(U(s), own climb) <= U(s): worse under catch-up => worse here."""
    rng = random.Random(11)
    for _ in range(300):
        k = rng.choice([0.0, 2.0, 8.0])
        rule = ConvexBoundRule(direction="maximize", noise_multiple=k, consecutive=1)
        base = CatchUpRule(direction="maximize", noise_multiple=k, consecutive=1)
        n = rng.randint(2, 4)
        curve = [(float(s), rng.uniform(0.2, 0.95)) for s in range(1, n + 1)]
        summary = CurveSummary.of(curve, "maximize")
        if base.check_summary(summary, MODEL).worse:
            assert rule.check_summary(summary, MODEL).worse


def test_never_stops_the_best_nor_a_fast_climber() -> None:
    rule = ConvexBoundRule(direction="maximize", noise_multiple=0.0, consecutive=1)
    at_best = CurveSummary.of([(1, 0.9), (2, 0.95)], "maximize")
    assert not rule.check_summary(at_best, MODEL).worse  # 0.95 >= T = 0.9375
    # 0.25 -> 0.5 in one step: its climb allows 0.5 more by step 4, and U(2) = 0.4375
    fast = CurveSummary.of([(1, 0.25), (2, 0.5)], "maximize")
    assert not rule.check_summary(fast, MODEL).worse
    flat = CurveSummary.of([(1, 0.8), (2, 0.8)], "maximize")
    v = rule.check_summary(flat, MODEL)
    assert v.worse and v.stop  # no climb of its own: 0.8 + 0 < 0.9375
    # the catch-up rule alone allows U(2) = 0.4375 (R3's comeback): 0.8 + 0.4375 >= 0.9375
    base = CatchUpRule("maximize", noise_multiple=0.0, consecutive=1)
    assert not base.check_summary(flat, MODEL).worse


def test_monotone_in_the_best_and_k() -> None:
    rng = random.Random(13)
    for _ in range(300):
        first = rng.uniform(0.2, 0.6)
        b, better = sorted(rng.uniform(first, 1.0) for _ in range(2))
        k, larger = sorted(rng.uniform(0.0, 16.0) for _ in range(2))
        lo = CurveSummary.of([(1, first), (3, b)], "maximize")
        hi = CurveSummary.of([(1, first), (3, better)], "maximize")
        rule = ConvexBoundRule(direction="maximize", noise_multiple=k, consecutive=1)
        safer = ConvexBoundRule(direction="maximize", noise_multiple=larger, consecutive=1)
        if rule.check_summary(hi, MODEL).worse:
            assert rule.check_summary(lo, MODEL).worse
        if safer.check_summary(lo, MODEL).worse:
            assert rule.check_summary(lo, MODEL).worse


def test_gates_nan_and_the_sentence() -> None:
    rule = ConvexBoundRule(direction="maximize", noise_multiple=8.0, consecutive=2)
    one = CurveSummary.of([(1, 0.2)], "maximize")
    assert rule.check_summary(one, MODEL).threshold is None  # no climb yet
    nan = CurveSummary.of([(1, 0.2), (2, math.nan)], "maximize")
    assert not rule.check_summary(nan, MODEL).worse
    flat = CurveSummary.of([(1, 0.5), (2, 0.5), (3, 0.5)], "maximize")
    v = rule.check_summary(flat, MODEL, NO_STREAK.record(2.0, 1))
    assert v.stop and v.streak == 2
    d = rule.explain("j", v, MODEL, flat)
    margin = 8 * MODEL.sigma
    assert d.rule == "convex-bound" and d.stop
    assert d.reason == (
        "stop: best 0.5 by step 3 + at most 0 (its own climb so far, 0 a step from 0.5 at step "
        f"1, over the 1 steps to step 4) + {margin:.4g} (8 x noise {MODEL.sigma:.4g}) = "
        f"{0.5 + margin:.4g} is worse than 0.9375, the best final of 3 completed jobs "
        "(2 reports in a row)"
    )
    assert d.threshold == pytest.approx(0.9375 - margin)


def test_min_progress_and_a_given_group_allowance() -> None:
    flat = CurveSummary.of([(1, 0.8), (2, 0.8)], "maximize")  # H = 4: progress 0.5 at step 2
    late = ConvexBoundRule(direction="maximize", noise_multiple=0.0, min_progress=0.75)
    assert late.allowance(flat, MODEL, 1.0) == (0.4375, None)  # before 0.75 x 4: U(2) alone
    assert not late.check_summary(flat, MODEL).worse
    early = ConvexBoundRule(direction="maximize", noise_multiple=0.0, min_progress=0.5)
    gain, own = early.allowance(flat, MODEL, 1.0) or (None, None)
    assert gain == 0.0 and own is not None  # from 0.5 x 4 on: its own (flat) climb
    # a group allowance given in place of U(s) (e.g. a quantile of the gains)
    rising = CurveSummary.of([(1, 0.5), (2, 0.6)], "maximize")  # its climb: 0.1 x 2 = 0.2
    rule = ConvexBoundRule(direction="maximize", noise_multiple=0.0)
    assert rule.allowance(rising, MODEL, 1.0, gain=0.125) == (0.125, None)
    assert rule.allowance(rising, MODEL, 1.0)[1] is not None  # U(2) = 0.4375 > 0.2
    v = rule.check_summary(rising, MODEL, gain=0.125)
    assert v.worse  # 0.6 + 0.125 < 0.9375
    d = rule.explain("j", v, MODEL, rising, gain=0.125, source="the 2nd largest gain")
    assert "at most 0.125 (the 2nd largest gain)" in d.reason


def test_it_speaks_the_objective_rules_verb() -> None:
    """judge/decision/carry read the GroupState's model and counter (None: no model)."""
    rule = ConvexBoundRule(direction="maximize", noise_multiple=0.0, consecutive=1)
    slow = CurveSummary.of([(1, 0.2), (2, 0.21)], "maximize")
    assert rule.judge(slow, NO_GROUP) is None
    group = GroupState(catchup=MODEL)
    verdict = rule.judge(slow, group, first_step=1.0)
    assert verdict == rule.check_summary(slow, MODEL, NO_STREAK, first_step=1.0)
    assert verdict is not None and verdict.stop
    assert rule.carry(NO_STREAK, verdict) == NO_STREAK.after(verdict)
    d = rule.decision("x", slow, verdict, group, first_step=1.0)
    assert d == rule.explain("x", verdict, MODEL, slow, first_step=1.0)
    assert d.stop and d.rule == "convex-bound"
