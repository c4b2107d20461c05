"""The family-gain bound (bench/candidates/familygain.py): the catch-up rule itself at quantile
1 without a family, the allowance's sources and fallbacks, never stopping the best,
monotonicity, the numbers in the sentence, and the profiles' JSON round trip."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.candidates.familygain import (
    TOP,
    Allowance,
    FamilyGainModel,
    FamilyGainRule,
    GainProfile,
    family_of,
    rank_for,
    spread,
)
from trainguard.core.catchup import NO_STREAK, CatchUpModel, CatchUpRule
from trainguard.core.engine import ObjectiveRules
from trainguard.core.rule import NO_GROUP, GroupState
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

Curve = list[tuple[float, float]]
R1: Curve = [(1, 0.5), (2, 0.625), (3, 0.75), (4, 0.875)]
R2: Curve = [(1, 0.625), (2, 0.6875), (3, 0.75), (4, 0.75)]
R3: Curve = [(1, 0.375), (2, 0.5), (3, 0.75), (4, 0.9375)]
MODEL = CatchUpModel.build([R1, R2, R3], "maximize")


def random_curves(rng: random.Random, n: int, steps: int = 12) -> list[Curve]:
    out = []
    for _ in range(n):
        a, b, tau = rng.uniform(0.2, 0.8), rng.uniform(0.0, 0.4), rng.uniform(1, 8)
        out.append(
            [
                (float(s), a + b * (1 - math.exp(-s / tau)) + rng.gauss(0, 0.01))
                for s in range(1, steps + 1)
            ]
        )
    return out


def test_without_family_and_at_quantile_1_it_is_the_catchup_rule() -> None:
    rng = random.Random(3)
    for direction in ("maximize", "minimize"):
        for _ in range(30):
            curves = random_curves(rng, rng.randint(3, 9))
            if direction == "minimize":
                curves = [[(s, -v) for s, v in c] for c in curves]
            model = CatchUpModel.build(curves, direction)
            group = GainProfile()
            for c in curves:
                group = group.add(c, direction)
            ours = FamilyGainRule(direction=direction, noise_multiple=2.0, consecutive=1)
            theirs = CatchUpRule(direction=direction, noise_multiple=2.0, consecutive=1)
            job = random_curves(rng, 1)[0]
            if direction == "minimize":
                job = [(s, -v) for s, v in job]
            for cut in range(1, len(job) + 1):
                summary = CurveSummary.of(job[:cut], direction)
                a = ours.allowance(model, summary.last_step or 0.0, group=group)
                mine = ours.check_summary(summary, model, NO_STREAK, a)
                assert mine == theirs.check_summary(summary, model, NO_STREAK)


def test_the_group_profile_at_quantile_1_is_the_catchup_models_gain() -> None:
    profile = GainProfile()
    for c in (R1, R2, R3):
        profile = profile.add(c, "maximize")
    for step in (1, 2, 3, 4):
        gain, n, r = profile.at(step)
        assert (gain, n) == MODEL.at(step)
        assert r == 1
    # the 2nd largest gain after step 1 among 3: gains 0.375, 0.125, 0.5625
    assert profile.at(1, quantile=0.5) == (0.375, 3, 2)


def test_ranks_and_the_top_cap() -> None:
    assert rank_for(10, 1.0) == 1
    assert rank_for(10, 0.9) == 1
    assert rank_for(10, 0.8) == 2
    assert rank_for(41, 0.9) == 5
    profile = GainProfile()
    for g in range(10):  # gains 0..9 after step 1
        profile = profile.add([(1, 0.0), (2, float(g))], "maximize")
    gain, n, r = profile.at(1, quantile=0.5)  # the 5th largest: capped at TOP
    assert (n, r) == (10, TOP)
    assert gain == 9.0 - (TOP - 1)  # never smaller than the 5th largest (5.0): safer


def test_the_family_allowance_scales_by_the_groups_spread_and_falls_back() -> None:
    families = FamilyGainModel("maximize")
    for g in range(12):  # family "slow": gains of g/10 after step 1, in spreads of 0.5
        families = families.add("slow", [(1, 0.0), (2, 0.05 * g)], 0.5)
    families = families.add("rare", [(1, 0.0), (2, 1.0)], 0.5)
    rule = FamilyGainRule(direction="maximize", quantile=1.0, min_family=10)
    a = rule.allowance(MODEL, 1, families=families, family="slow", group_spread=0.2)
    assert a is not None and a.family == "slow" and a.jobs == 12 and a.rank == 1
    assert a.unit == pytest.approx(1.1) and a.gain == pytest.approx(0.22)
    # too few jobs of the family, no family, or no spread: the group's largest gain
    group_u = Allowance(0.5625, 1, 3)
    assert rule.allowance(MODEL, 1, families=families, family="rare", group_spread=0.2) == group_u
    assert rule.allowance(MODEL, 1, families=families, family=None, group_spread=0.2) == group_u
    assert rule.allowance(MODEL, 1, families=families, family="slow") == group_u
    # a spread that is zero or missing adds nothing to the family model
    assert families.add("slow", R1, None) is families
    assert families.add("slow", R1, 0.0) is families


def test_it_never_stops_a_job_at_or_above_the_best_final() -> None:
    rng = random.Random(5)
    for _ in range(200):
        rule = FamilyGainRule(
            direction="maximize", noise_multiple=rng.choice([0.0, 2.0, 8.0]), consecutive=1
        )
        step = float(rng.randint(1, 4))
        best = MODEL.best_final + rng.uniform(0.0, 0.2)
        allowance = Allowance(rng.uniform(0.0, 0.5), 1, 3)
        v = rule.check(MODEL, step, best, allowance=allowance)
        assert not v.worse and not v.stop


def test_monotone_in_the_best_the_allowance_and_k() -> None:
    rng = random.Random(7)
    for _ in range(300):
        step = float(rng.randint(1, 4))
        best, better = sorted(rng.uniform(0.2, 1.0) for _ in range(2))
        a, more = sorted(rng.uniform(0.0, 0.5) for _ in range(2))
        k, larger = sorted(rng.uniform(0.0, 16.0) for _ in range(2))
        rule = FamilyGainRule(direction="maximize", noise_multiple=k, consecutive=1)
        safer = FamilyGainRule(direction="maximize", noise_multiple=larger, consecutive=1)
        worse = rule.check(MODEL, step, best, allowance=Allowance(a, 1, 3)).worse
        if rule.check(MODEL, step, better, allowance=Allowance(a, 1, 3)).worse:
            assert worse
        if rule.check(MODEL, step, best, allowance=Allowance(more, 1, 3)).worse:
            assert worse
        if safer.check(MODEL, step, best, allowance=Allowance(a, 1, 3)).worse:
            assert worse


def test_a_stop_reads_as_one_sentence_with_its_numbers() -> None:
    families = FamilyGainModel("maximize")
    for g in range(12):
        families = families.add("SVC_poly", [(2, 0.0), (3, 0.005 * g)], 0.5)
    rule = FamilyGainRule(direction="maximize", noise_multiple=0.0, consecutive=2, quantile=0.9)
    summary = CurveSummary.of([(1, 0.25), (2, 0.25)], "maximize")
    a = rule.allowance(MODEL, 2, families=families, family="SVC_poly", group_spread=0.25)
    assert a is not None and a.rank == 2  # ceil(0.1 * 12) = 2nd largest: 0.1 spreads
    v = rule.check_summary(summary, MODEL, NO_STREAK.record(1.0, 1), a)
    assert v.stop and v.streak == 2
    d = rule.explain("j", v, MODEL, a)
    assert d.stop and d.rule == "family-gain"
    assert d.reason == (
        "stop: best 0.25 by step 2 + at most 0.025 (the 2nd largest gain after step 2 among 12 "
        "completed jobs of family SVC_poly, 0.1 x this group's spread 0.25) + 0 (0 x noise "
        f"{MODEL.sigma:.4g}) = 0.275 is worse than 0.9375, the best final of 3 completed jobs "
        "(2 reports in a row)"
    )
    assert d.threshold == pytest.approx(0.9375 - 0.025)


def test_json_round_trip_and_helpers() -> None:
    families = FamilyGainModel("minimize").add("mlp", [(1, 1.0), (2, 0.5), (3, 0.25)], 0.1)
    again = FamilyGainModel.from_dict(json.loads(json.dumps(families.to_dict())))
    assert again == families
    assert family_of({"learner": "SVC_rbf", "model": "x"}) == "SVC_rbf"
    assert family_of({"lr": 0.1}) is None
    assert spread([0.9, 0.8, 0.7], "maximize") == pytest.approx(0.1)
    assert spread([0.1, 0.2, 0.3], "minimize") == pytest.approx(0.1)
    assert spread([0.5, 0.5, 0.5], "maximize") is None
    with pytest.raises(ValueError):
        FamilyGainRule(quantile=1.5)


def test_it_speaks_the_objective_rules_verb() -> None:
    """judge/decision/carry read the GroupState's model and counter, as the catch-up rule's;
    in the engine's walk (the catch-up rule's slot) it counts and stops as that rule does."""
    rule = FamilyGainRule(direction="maximize", quantile=1.0, consecutive=2)
    base = CatchUpRule(direction="maximize", consecutive=2)
    assert rule.judge(CurveSummary.of([(1, 0.1)], "maximize"), NO_GROUP) is None
    curve = [(1.0, 0.1), (2.0, 0.12), (3.0, 0.13)]
    ours = ObjectiveRules(catchup=rule)  # type: ignore[arg-type]  # in the catch-up rule's slot
    theirs = ObjectiveRules(catchup=base)
    streak = NO_STREAK
    for n in range(1, len(curve) + 1):
        summary = CurveSummary.of(curve[:n], "maximize")
        group = GroupState(catchup=MODEL, streak=streak)
        verdict = rule.judge(summary, group)
        assert verdict == rule.check_summary(summary, MODEL, streak)
        a, b = ours.judge("x", summary, group), theirs.judge("x", summary, group)
        assert a.streak == b.streak == rule.carry(streak, verdict)
        assert (a.stop is None) == (b.stop is None)
        streak = a.streak
    assert a.stop is not None and a.stop.rule == "family-gain" and a.stop.stop
    assert a.stop == rule.decision("x", summary, verdict, group)
