"""Patience and divergence rules, and how the engine combines them with the median rule."""

from __future__ import annotations

import math

import pytest

from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.patience import PatienceRule

pytestmark = pytest.mark.unit

NAN, INF = math.nan, math.inf


def at_steps(*values: float) -> list[tuple[float, float]]:
    return [(float(i), float(v)) for i, v in enumerate(values, start=1)]


# ---- patience ----------------------------------------------------------------------------


def test_patience_empty_curve_is_no_decision() -> None:
    d = PatienceRule("minimize", 2).decide("x", [])
    assert (d.stop, d.step, d.value, d.threshold) == (False, None, None, None)


def test_patience_single_measurement_continues() -> None:
    d = PatienceRule("minimize", 1).decide("x", at_steps(3.0))
    assert (d.stop, d.step, d.value) == (False, 1.0, 3.0)


@pytest.mark.parametrize(
    ("values", "stop"),
    [
        ([5, 4, 3, 2], False),  # improving every time
        ([5, 4, 4, 4], True),  # two measurements without improvement: patience 2 reached
        ([5, 4, 4], False),  # only one so far
        ([5, 4, 4, 3.9], False),  # a small improvement resets the count (min_delta 0)
        ([5, 6, 7], True),  # getting worse counts as "not improved"
    ],
)
def test_patience_counts_measurements_since_the_best(values: list[float], stop: bool) -> None:
    d = PatienceRule("minimize", patience=2).decide("x", at_steps(*values))
    assert d.stop is stop
    assert d.value == min(values)


def test_patience_min_delta_needs_a_strict_improvement_beyond_it() -> None:
    rule = PatienceRule("minimize", patience=2, min_delta=0.5)
    # 1.0 -> 0.75 -> 0.5: improvements of at most 0.5 do not count; 0.5 is exactly 1.0 - 0.5
    d = rule.decide("x", at_steps(1.0, 0.75, 0.5))
    assert (d.stop, d.value, d.threshold) == (True, 1.0, 0.5)
    # 0.25 is below 1.0 - 0.5: a real improvement resets the count
    d = rule.decide("x", at_steps(1.0, 0.75, 0.25))
    assert (d.stop, d.value, d.threshold) == (False, 0.25, -0.25)


def test_patience_maximize() -> None:
    rule = PatienceRule("maximize", patience=2, min_delta=0.5)
    assert rule.decide("x", at_steps(0.0, 0.5, 0.5)).stop is True
    d = rule.decide("x", at_steps(0.0, 0.5, 0.75))
    assert (d.stop, d.value) == (False, 0.75)


def test_patience_skips_non_finite_values() -> None:
    rule = PatienceRule("minimize", patience=2)
    # NaN and inf are the divergence rule's business: they neither improve nor count
    d = rule.decide("x", at_steps(5, NAN, INF, 4))
    assert (d.stop, d.value, d.step) == (False, 4.0, 4.0)
    d = rule.decide("x", at_steps(NAN, NAN))
    assert (d.stop, d.value, d.step) == (False, None, 2.0)


def test_patience_misaligned_steps_count_measurements_not_steps() -> None:
    rule = PatienceRule("minimize", patience=2)
    assert rule.decide("x", [(0.5, 3.0), (100.0, 3.0)]).stop is False
    assert rule.decide("x", [(0.5, 3.0), (7.0, 3.5), (100.0, 3.0)]).stop is True


# ---- divergence --------------------------------------------------------------------------


def test_divergence_empty_curve() -> None:
    d = DivergenceRule().decide("x", [])
    assert (d.stop, d.rule, d.step) == (False, "diverged", None)


def test_divergence_single_finite_measurement() -> None:
    assert DivergenceRule().decide("x", at_steps(1.0)).stop is False


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_divergence_non_finite_latest_value_stops(bad: float, direction: str) -> None:
    d = DivergenceRule(direction).decide("x", at_steps(2.0, 1.5, bad))  # type: ignore[arg-type]
    assert (d.stop, d.rule, d.step) == (True, "diverged", 3.0)
    assert "diverged" in d.reason


def test_divergence_single_nan_measurement_stops() -> None:
    assert DivergenceRule().decide("x", at_steps(NAN)).stop is True


def test_divergence_earlier_nan_then_finite_is_not_a_stop() -> None:
    # only the latest value counts: a job that reported one NaN and recovered is left alone
    assert DivergenceRule().decide("x", at_steps(2.0, NAN, 1.5)).stop is False


def test_divergence_explosion_shape() -> None:
    rule = DivergenceRule("minimize", explode_factor=10.0)
    # first finite value 2 (the leading NaN is skipped): the limit is 20
    d = rule.decide("x", at_steps(NAN, 2.0, 1.0, 25.0))
    assert (d.stop, d.value, d.threshold) == (True, 25.0, 20.0)
    assert "exploded" in d.reason
    # exactly at the limit is not past it
    assert rule.decide("x", at_steps(2.0, 20.0)).stop is False


def test_divergence_explosion_does_not_apply_to_maximized_or_non_positive_objectives() -> None:
    assert DivergenceRule("maximize").decide("x", at_steps(2.0, 500.0)).stop is False
    assert DivergenceRule("minimize").decide("x", at_steps(-2.0, 500.0)).stop is False


def test_divergence_silence_after_a_rise_stops() -> None:
    rule = DivergenceRule("minimize", silence_minutes=10.0)
    rising = at_steps(2.0, 1.0, 3.0)  # last value worse than the first
    d = rule.decide("x", rising, silent_minutes=12.0)
    assert (d.stop, d.value, d.threshold) == (True, 3.0, 2.0)
    assert "silent for 12 min" in d.reason
    # not silent long enough yet
    assert rule.decide("x", rising, silent_minutes=9.0).stop is False
    # unknown silence (or everything silent): no verdict
    assert rule.decide("x", rising, silent_minutes=None).stop is False


def test_divergence_silence_without_a_rise_is_a_stall_not_a_stop() -> None:
    rule = DivergenceRule("minimize", silence_minutes=10.0)
    falling = at_steps(2.0, 1.5, 1.0)
    assert rule.decide("x", falling, silent_minutes=60.0).stop is False
    flat = at_steps(2.0, 2.0)
    assert rule.decide("x", flat, silent_minutes=60.0).stop is False


def test_divergence_silence_after_a_fall_of_a_maximized_metric_stops() -> None:
    rule = DivergenceRule("maximize", silence_minutes=10.0)
    assert rule.decide("x", at_steps(0.5, 0.7, 0.3), silent_minutes=10.0).stop is True
    assert rule.decide("x", at_steps(0.5, 0.7, 0.6), silent_minutes=10.0).stop is False


# ---- engine ------------------------------------------------------------------------------

REFERENCES = {"A": at_steps(10, 9, 8), "B": at_steps(11, 10, 9), "C": at_steps(12, 11, 10)}


def test_verdict_picks_divergence_even_when_the_median_says_continue() -> None:
    median = MedianStoppingRule("minimize", 1)
    x = at_steps(1.0, 0.5, NAN)  # the best job of the group, until it diverged
    assert median.decide("x", x, REFERENCES).stop is False
    rules = ObjectiveRules(median, PatienceRule("minimize", 1), DivergenceRule())
    decisions = rules.decide("x", x, ReferenceTable.build(REFERENCES))
    assert [d.rule for d in decisions] == ["diverged"]
    final = verdict(decisions)
    assert final is not None and (final.rule, final.stop) == ("diverged", True)


def test_verdict_picks_a_stop_in_any_position() -> None:
    median = MedianStoppingRule("minimize", 1)
    x = at_steps(1.0, 0.5, NAN)
    keep = median.decide("x", x, REFERENCES)
    diverged = DivergenceRule().decide("x", x)
    final = verdict([keep, diverged])
    assert final is diverged


def test_verdict_without_a_stop_reports_the_median_numbers() -> None:
    rules = ObjectiveRules(
        MedianStoppingRule("minimize", 1), PatienceRule("minimize", 5), DivergenceRule()
    )
    decisions = rules.decide("x", at_steps(9.0, 8.0), REFERENCES)
    assert [d.rule for d in decisions] == ["diverged", "median", "patience"]
    final = verdict(decisions)
    assert final is not None and (final.rule, final.stop, final.threshold) == (
        "median",
        False,
        10.5,  # running averages at step 2: 9.5, 10.5, 11.5
    )


def test_verdict_patience_stop_when_the_median_continues() -> None:
    rules = ObjectiveRules(MedianStoppingRule("minimize", 1), PatienceRule("minimize", 1), None)
    decisions = rules.decide("x", at_steps(1.0, 1.0), REFERENCES)
    final = verdict(decisions)
    assert final is not None and (final.rule, final.stop) == ("patience", True)


def test_verdict_of_nothing_is_none() -> None:
    assert verdict([]) is None
    assert ObjectiveRules().decide("x", at_steps(1.0)) == []


def test_diverged_decision_is_json_ready() -> None:
    d = DivergenceRule().decide("x", at_steps(1.0, NAN))
    out = d.to_dict()
    # JSON has no NaN: the value becomes null, a whole step an int
    assert (out["rule"], out["stop"], out["step"], out["value"]) == ("diverged", True, 2, None)


def test_divergence_explosion_is_measured_against_a_robust_scale() -> None:
    # recorded wine-mlp-018 (Adam, lr 1): an over-confident first epoch (1e-12), a transient
    # spike, then 0.0 to the end. Against its first value every later point "explodes"; against
    # the larger of the first value and the running median, none does.
    curve = at_steps(1.0583e-12, 3.3641, 3.7004, 22.739, 0.40619, 0.0, 0.0)
    rule = DivergenceRule("minimize", explode_factor=10.0)
    assert not any(rule.decide("x", curve[:k]).stop for k in range(1, len(curve) + 1))
    # a real blow-up still stops: median of [2.3, 50, 1e4] is 50 -> limit 500
    d = rule.decide("x", at_steps(2.3, 50.0, 1e4))
    assert (d.stop, d.threshold) == (True, 500.0)
