"""The catch-up rule (core/catchup.py): the worked example with its exact sentence, directions,
ties, NaN left to divergence, the gates, the counter, the model's JSON round trip and bound,
and the incremental model equal to the one built at once (ported from the policy study)."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from typing import Any

import pytest

from trainguard.core import catchup as C
from trainguard.core.catchup import (
    CatchUpModel,
    CatchUpRule,
    CatchUpVerdict,
    WorseStreak,
    grid_index,
    grid_point,
)
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

# A worked example (maximize). Dyadic values, so that the arithmetic below is exact.
Curve = list[tuple[float, float]]
R1: Curve = [(1, 0.5), (2, 0.625), (3, 0.75), (4, 0.875)]
R2: Curve = [(1, 0.625), (2, 0.6875), (3, 0.75), (4, 0.75)]
R3: Curve = [(1, 0.375), (2, 0.5), (3, 0.75), (4, 0.9375)]
REFS = {"r1": R1, "r2": R2, "r3": R3}
SIGMA = 0.03125 / math.sqrt(6)  # the median of the curves' noise: 0, 0.03125/√6, 0.09375/√6
K6 = CatchUpRule(direction="maximize", noise_multiple=6.0)  # the example's rule (default k 8)
DEFAULT = CatchUpRule(direction="maximize")


def flip(curve: Curve) -> Curve:
    return [(s, 1.0 - v) for s, v in curve]


def judge(
    rule: CatchUpRule, model: CatchUpModel, step: float, best: float | None, **kw: Any
) -> tuple[CatchUpVerdict, str]:
    v = rule.check(model, step, best, **kw)
    return v, rule.explain("x", v, model).reason


@pytest.fixture
def model() -> CatchUpModel:
    return CatchUpModel.build(REFS, "maximize")


# ---- the worked example ---------------------------------------------------------------------


def test_worked_example_numbers(model: CatchUpModel) -> None:
    assert model.completed == 3
    assert model.best_final == 0.9375
    assert model.sigma == pytest.approx(SIGMA, rel=1e-15)
    # after step 1 the largest gain is r3's 0.9375 - 0.375; after step 2 r3's 0.9375 - 0.5
    assert model.at(1) == (0.5625, 3)
    assert model.at(2) == (0.4375, 3)
    assert model.at(4) == (0.0, 3)


def test_worked_example_stop_sentence_and_decision(model: CatchUpModel) -> None:
    v, reason = judge(K6, model, 2, 0.4, latest=0.4, streak_before=2)
    margin = 6 * SIGMA
    assert v.worse and v.stop and v.streak == 3 and v.references == 3
    assert v.threshold == pytest.approx(0.9375 - 0.4375 - margin)
    assert reason == (
        "stop: best 0.4 by step 2 + at most 0.4375 (the largest gain after step 2 among 3 "
        "completed jobs) + 0.07655 (6 x noise 0.01276) = 0.914 is worse than 0.9375, the best "
        "final of 3 completed jobs; to continue, its best by step 2 had to be at least 0.4235 "
        "(3 reports in a row)"
    )
    d = K6.explain("job-x", v, model)
    assert (d.job, d.rule, d.stop, d.step, d.value, d.references) == (
        "job-x",
        "catch-up",
        True,
        2,
        0.4,
        3,
    )
    assert d.threshold == v.threshold
    json.dumps(d.to_dict(), allow_nan=False)


def test_worse_but_not_yet_enough_reports(model: CatchUpModel) -> None:
    v, reason = judge(K6, model, 2, 0.4, streak_before=0)
    assert v.worse and not v.stop and v.streak == 1
    assert reason.startswith("continue:") and "at 1 report(s) in a row; 3 needed" in reason


def test_default_rule_and_its_larger_margin(model: CatchUpModel) -> None:
    assert (DEFAULT.min_completed, DEFAULT.noise_multiple, DEFAULT.consecutive) == (3, 8.0, 3)
    assert CatchUpRule() == C.DEFAULT_RULE  # the default direction is minimize, like the others
    # 0.4 + 0.4375 + 8 x sigma = 0.9396 can still reach 0.9375: the default continues
    assert not DEFAULT.check(model, 2, 0.4, streak_before=2).worse
    assert DEFAULT.check(model, 2, 0.39, streak_before=2).stop


def test_can_still_catch_up(model: CatchUpModel) -> None:
    v, reason = judge(K6, model, 2, 0.5, streak_before=5)
    assert not v.worse and not v.stop and v.streak == 0
    assert reason.startswith("continue: best 0.5 by step 2 + at most 0.4375")
    assert reason.endswith("can still reach 0.9375, the best final of 3 completed jobs")


# ---- directions, ties, NaN, gates -----------------------------------------------------------


def test_minimize_mirrors_maximize(model: CatchUpModel) -> None:
    mirror = CatchUpModel.build({k: flip(c) for k, c in REFS.items()}, "minimize")
    k6 = CatchUpRule(direction="minimize", noise_multiple=6.0)
    assert mirror.best_final == 1 - 0.9375
    assert mirror.at(2) == model.at(2)
    assert mirror.sigma == model.sigma
    for best in (0.3, 0.4, 0.45, 0.5, 0.6):
        for before in (0, 1, 2):
            a = K6.check(model, 2, best, streak_before=before)
            b = k6.check(mirror, 2, 1.0 - best, streak_before=before)
            assert (a.stop, a.worse, a.streak) == (b.stop, b.worse, b.streak)
    v, reason = judge(k6, mirror, 2, 0.6, streak_before=2)
    assert v.stop and "\u2212 at most 0.4375 (the largest drop after step 2" in reason
    assert v.threshold == pytest.approx(1 - (0.9375 - 0.4375 - 6 * SIGMA))
    assert v.value == 0.6 and v.value > v.threshold  # a loss: worse = above the threshold


def test_tie_never_stops(model: CatchUpModel) -> None:
    rule = CatchUpRule(direction="maximize", noise_multiple=0.0, consecutive=1)
    # 0.5 + 0.4375 == 0.9375 exactly: equal to the best final is not worse
    assert not rule.check(model, 2, 0.5).worse
    assert rule.check(model, 2, 0.4999).stop
    mirror = CatchUpModel.build({k: flip(c) for k, c in REFS.items()}, "minimize")
    rule_min = CatchUpRule(direction="minimize", noise_multiple=0.0, consecutive=1)
    assert not rule_min.check(mirror, 2, 0.5).stop


def test_nan_and_inf_are_left_to_the_divergence_rule(model: CatchUpModel) -> None:
    for latest in (math.nan, math.inf, -math.inf):
        v, reason = judge(DEFAULT, model, 2, 0.1, latest=latest, streak_before=9)
        assert not v.stop and not v.worse and v.streak == 0 and "divergence" in reason
    v, reason = judge(DEFAULT, model, 2, None, streak_before=9)
    assert not v.stop and "no finite value" in reason
    assert not DEFAULT.check(model, 2, math.nan, streak_before=9).stop


def test_non_finite_reference_values() -> None:
    nan_mid = [(1, 0.5), (2, math.nan), (3, 0.75), (4, 0.875)]
    diverged = [(1, 0.5), (2, math.nan)]  # no finite final: adds nothing
    m = CatchUpModel.build([nan_mid, diverged, R2, R3], "maximize")
    assert m.completed == 3  # the diverged curve is skipped
    assert m.at(2) == (0.4375, 3)  # nan_mid's best by step 2 is 0.5 (its NaN is skipped)
    assert math.isfinite(m.sigma)
    assert CatchUpModel.build([[(1, math.inf)]], "maximize").completed == 0


def test_gate_on_references_reaching_the_step() -> None:
    short = [(1, 0.5), (2, 0.6)]
    m = CatchUpModel.build([R1, R2, short], "maximize")
    assert m.at(2)[1] == 3 and m.at(3)[1] == 2
    v, reason = judge(DEFAULT, m, 3, 0.0, streak_before=10)
    assert not v.stop and v.references == 2 and v.threshold is None and v.streak == 0
    assert reason == "continue: 2 completed job(s) reach step 3; 3 needed before deciding"
    two = CatchUpRule(direction="maximize", min_completed=2)
    assert two.check(m, 3, 0.0, streak_before=10).stop
    assert not DEFAULT.check(CatchUpModel("maximize"), 1, 0.0).stop
    assert not DEFAULT.check(m, 99, 0.0, streak_before=10).stop  # beyond every reference


def test_a_model_of_the_other_direction_is_no_decision(model: CatchUpModel) -> None:
    rule = CatchUpRule(direction="minimize", consecutive=1)
    v, reason = judge(rule, model, 2, 99.0)
    assert not v.stop and v.threshold is None
    assert "model is for maximize and this job minimizes" in reason
    with pytest.raises(ValueError, match="summary is for maximize"):
        rule.check_summary(CurveSummary.of([(1, 0.5)], "maximize"), model)


def test_steps_not_aligned() -> None:
    odd = [(1, 0.5), (3, 0.6), (5, 0.9)]
    even = [(2, 0.4), (4, 0.7), (6, 0.8)]
    m = CatchUpModel.build([odd, even, [(1, 0.6), (6, 0.7)]], "maximize")
    # grid step 1: odd (best 0.5) and the third (0.6) have a value at or before it
    assert m.at(1)[0] == pytest.approx(0.4) and m.at(1)[1] == 2
    # step 4: odd's best by 4 is 0.6 (gain 0.3), even's 0.7 (0.1), third's 0.6 (0.1)
    assert m.at(4)[0] == pytest.approx(0.3) and m.at(4)[1] == 3
    assert m.at(6)[1] == 2  # odd ends at 5
    assert m.at(4.5) == m.at(4)  # between grid points: the one below (never a tighter bound)


def test_large_and_fractional_steps_use_the_bounded_grid() -> None:
    assert [grid_index(s) for s in (0, 0.5, 1, 63.9)] == [0, 0, 1, 63]
    for s in (64, 65, 100, 100.5, 500, 4320, 1e6, 123456.789):
        i = grid_index(s)
        assert grid_point(i) <= s < grid_point(i + 1)
    assert C.grid_size(500) == 112 and C.grid_size(3 * 24 * 60) == 162
    assert C.grid_size(1e6) == 287
    curve = [(float(s), 1 - 1 / s) for s in range(1, 501)]
    m = CatchUpModel.build([curve] * 3, "maximize")
    assert len(m.gain) == grid_index(500) - grid_index(1) + 1
    g, n = m.at(100.5)
    exact = (1 - 1 / 500) - (1 - 1 / 100)  # the gain after step 100, the grid point below
    assert n == 3 and g is not None and g >= exact - 1e-12


# ---- the counter ----------------------------------------------------------------------------


def test_worse_streak_bookkeeping(model: CatchUpModel) -> None:
    c = WorseStreak()
    for step in (1, 2):  # worse at reports 1 and 2
        c = c.after(DEFAULT.check(model, step, 0.1, streak_before=c.start(step)))
    assert (c.step, c.before, c.current) == (2, 1, 2)
    # the references change (or a tick brings nothing new): report 2 is judged again, from
    # `before`, not counted twice
    v = DEFAULT.check(model, 2, 0.1, streak_before=c.start(2))
    assert v.streak == 2 and not v.stop
    c = c.after(v)
    v = DEFAULT.check(model, 3, 0.1, streak_before=c.start(3))
    assert v.streak == 3 and v.stop
    c = c.after(v)
    # a better report resets the streak
    c = c.after(DEFAULT.check(model, 4, 0.95, streak_before=c.start(4)))
    assert c.current == 0 and c.before == 3


def test_worse_streak_json_round_trip() -> None:
    s = WorseStreak(step=7.0, before=1, current=2)
    text = json.dumps(s.to_dict(), allow_nan=False)
    assert json.loads(text) == {"step": 7, "before": 1, "current": 2}
    assert WorseStreak.from_dict(json.loads(text)) == s
    assert WorseStreak.from_dict({"step": Decimal("2.5"), "before": Decimal(0), "current": 1})
    assert WorseStreak.from_dict(None) == WorseStreak() == WorseStreak.from_dict({})
    with pytest.raises(ValueError):
        WorseStreak.from_dict({"current": -1})


def test_summary_path_equals_the_plain_check(model: CatchUpModel) -> None:
    curve = [(1.0, 0.2), (2.0, 0.1)]
    summary = CurveSummary.of(curve, "maximize")
    streak = WorseStreak(step=1.0, before=0, current=2)
    v = DEFAULT.check_summary(summary, model, streak)
    assert v == DEFAULT.check(model, 2.0, 0.2, latest=0.1, streak_before=2)
    assert v.stop
    d = DEFAULT.decide("j", curve, model, streak)
    assert (
        d == DEFAULT.decide_summary("j", summary, model, streak) == DEFAULT.explain("j", v, model)
    )
    none = DEFAULT.check_summary(CurveSummary(direction="maximize"), model)
    assert none == C.NO_MEASUREMENTS and WorseStreak().after(none) == WorseStreak()
    assert DEFAULT.explain("j", none, model).reason == "no measurements yet"


# ---- the rules together ---------------------------------------------------------------------


def test_objective_rules_return_the_stop_and_the_new_streak(model: CatchUpModel) -> None:
    rules = ObjectiveRules(catchup=DEFAULT, divergence=DivergenceRule(direction="maximize"))
    assert rules.direction == "maximize"
    curve = [(1.0, 0.1), (2.0, 0.1)]
    streak = WorseStreak()
    seen = []
    for n in (1, 2, 2, 3):  # report 2 seen twice (a tick without a new value)
        part = [*curve, (3.0, 0.1)][:n]
        summary = CurveSummary.of(part, "maximize")
        check = rules.stop_and_streak("j", summary, catchup_model=model, streak=streak)
        streak = check.streak
        seen.append((check.stop is not None, streak.current))
    assert seen == [(False, 1), (False, 2), (False, 2), (True, 3)]
    stop = rules.stop_and_streak(
        "j",
        CurveSummary.of([*curve, (3.0, 0.1)], "maximize"),
        catchup_model=model,
        streak=WorseStreak(step=2.0, before=1, current=2),
    ).stop
    assert stop is not None and stop.rule == "catch-up" and stop.reason.startswith("stop: best")
    # the decisions' list and verdict(): the catch-up 'continue' carries the numbers
    listed = rules.decide("j", curve[:1], catchup_model=model)
    chosen = verdict(listed)
    assert [d.rule for d in listed] == ["diverged", "catch-up"]
    assert chosen is not None and chosen.rule == "catch-up" and not chosen.stop
    # without the group's model the rule makes no decision; the streak is left as it was
    kept = WorseStreak(step=1.0, before=0, current=1)
    check = rules.stop_and_streak("j", CurveSummary.of(curve, "maximize"), streak=kept)
    assert check == (None, kept)


def test_divergence_stops_first_and_leaves_the_streak(model: CatchUpModel) -> None:
    rules = ObjectiveRules(catchup=DEFAULT, divergence=DivergenceRule(direction="maximize"))
    kept = WorseStreak(step=1.0, before=0, current=2)
    summary = CurveSummary.of([(1.0, 0.1), (2.0, math.nan)], "maximize")
    check = rules.stop_and_streak("j", summary, catchup_model=model, streak=kept)
    assert check.stop is not None and check.stop.rule == "diverged" and check.streak == kept


def test_median_first_when_both_are_on_and_the_streak_still_counts() -> None:
    refs = {k: flip(c) for k, c in REFS.items()}
    table = ReferenceTable.build(refs)
    model = CatchUpModel.build(refs, "minimize")
    rules = ObjectiveRules(
        median=MedianStoppingRule(direction="minimize"),
        catchup=CatchUpRule(direction="minimize", consecutive=1, noise_multiple=0.0),
    )
    summary = CurveSummary.of([(1.0, 0.95), (2.0, 0.95)], "minimize")
    check = rules.stop_and_streak("j", summary, table, catchup_model=model)
    assert check.stop is not None and check.stop.rule == "median"
    assert check.streak == WorseStreak(step=2.0, before=0, current=1)
    # the same with the median rule off: the catch-up rule stops
    only = ObjectiveRules(catchup=rules.catchup)
    stop = only.stop_summary("j", summary, catchup_model=model)
    assert stop is not None and stop.rule == "catch-up"


def test_cheap_path_matches_the_decisions_on_random_groups() -> None:
    rnd = random.Random(3)
    for trial in range(30):
        direction = "minimize" if trial % 2 else "maximize"
        refs = [[(float(s), rnd.random()) for s in range(1, rnd.randint(3, 15))] for _ in range(6)]
        model = CatchUpModel.build(refs, direction)  # type: ignore[arg-type]
        rule = CatchUpRule(
            direction=direction,  # type: ignore[arg-type]
            noise_multiple=rnd.choice((0.0, 2.0, 8.0)),
            consecutive=rnd.choice((1, 2, 3)),
        )
        rules = ObjectiveRules(catchup=rule)
        curve = [(float(s), rnd.random()) for s in range(1, 12)]
        streak = WorseStreak()
        for n in range(1, len(curve) + 1):
            summary = CurveSummary.of(curve[:n], direction)  # type: ignore[arg-type]
            check = rules.stop_and_streak("j", summary, catchup_model=model, streak=streak)
            full = rule.decide_summary("j", summary, model, streak)
            assert (check.stop is not None) == full.stop
            if check.stop is not None:
                assert check.stop == full
            streak = check.streak


# ---- the model: incremental, JSON, size -----------------------------------------------------


def test_incremental_add_equals_build() -> None:
    rnd = random.Random(7)
    curves = [
        [(float(s), rnd.random()) for s in sorted(rnd.sample(range(1, 90), rnd.randint(3, 30)))]
        for _ in range(40)
    ]
    m = CatchUpModel("minimize")
    for c in curves:
        m = m.add(c)
    assert m == CatchUpModel.build(curves, "minimize")
    assert m.completed == 40


def test_json_round_trip(model: CatchUpModel) -> None:
    m = model.add([(10, 0.1), (11, 0.2), (12, 0.3)])  # a hole between steps 4 and 10
    text = json.dumps(m.to_dict(), allow_nan=False)
    back = CatchUpModel.from_dict(json.loads(text))
    assert back == m and None in back.gain
    # as DynamoDB returns numbers
    raw = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    raw["v"] = 1
    assert CatchUpModel.from_dict(raw) == m
    with pytest.raises(ValueError):
        CatchUpModel.from_dict({**m.to_dict(), "v": 99})
    with pytest.raises(ValueError):
        CatchUpModel.from_dict({**m.to_dict(), "count": [1]})


def test_noise_window_is_bounded() -> None:
    m = CatchUpModel("maximize")
    for i in range(C.NOISE_WINDOW + 50):
        m = m.add([(1, 0.0), (2, 0.1 * (i % 3)), (3, 0.3)])
    assert len(m.noise) == C.NOISE_WINDOW and m.completed == C.NOISE_WINDOW + 50


def test_size_for_1000_references_of_500_steps() -> None:
    rnd = random.Random(1)
    curves = [
        [(float(s), 1 - 0.5 / s + rnd.gauss(0, 0.01)) for s in range(1, 501)] for _ in range(300)
    ]
    m = CatchUpModel.build(curves, "maximize")
    for _ in range(700):  # the same references again: the size does not grow with them
        m = m.add(curves[rnd.randrange(300)])
    assert m.completed == 1000
    assert len(m.gain) <= C.grid_size(500) and len(m.noise) == C.NOISE_WINDOW
    assert len(json.dumps(m.to_dict())) < 12_000


# ---- validation -----------------------------------------------------------------------------


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        CatchUpModel("sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CatchUpModel.build([[(2, 0.1), (1, 0.2)]], "maximize")
    with pytest.raises(ValueError):
        CatchUpModel.build([[(-1, 0.1)]], "maximize")
    for bad in (
        {"min_completed": 0},
        {"noise_multiple": -1.0},
        {"consecutive": 0},
        {"noise_multiple": math.nan},
        {"consecutive": 2.5},
        {"direction": "up"},
    ):
        with pytest.raises(ValueError):
            CatchUpRule(**bad)
    ks = [k for k, c in C.LADDER if c == 3]
    assert ks == sorted(ks) and (8.0, 3) in C.LADDER and len(C.LADDER) == 12
