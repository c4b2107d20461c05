"""CurveSummary: the incremental form of a curve that the evaluator keeps between ticks.

Folding ``add`` over a curve, summarizing it at once, and deciding from the curve itself must
all agree, for every rule, whatever the values (NaN and inf included)."""

from __future__ import annotations

import json
import math
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.curves import Direction
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules
from trainguard.core.median import MedianStoppingRule
from trainguard.core.patience import PatienceRule
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
)
curves = st.lists(values, min_size=0, max_size=25).map(
    lambda vs: [(float(i) * 1.5, v) for i, v in enumerate(vs, start=1)]
)
directions = st.sampled_from(["minimize", "maximize"])


def same(a: object, b: object) -> bool:
    """Equality where NaN equals NaN (dataclass equality says nan != nan)."""
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(curve=curves, direction=directions, min_delta=st.sampled_from([0.0, 0.1, 5.0]))
def test_summary_of_a_curve_equals_folding_add(
    curve: list[tuple[float, float]], direction: Direction, min_delta: float
) -> None:
    folded = reduce(
        lambda s, p: s.add(*p), curve, CurveSummary(direction=direction, min_delta=min_delta)
    )
    assert same(CurveSummary.of(curve, direction, min_delta).to_dict(), folded.to_dict())


@settings(max_examples=300, deadline=None)
@given(
    curve=curves,
    direction=directions,
    refs=st.lists(st.lists(st.floats(0, 10), min_size=1, max_size=25), min_size=0, max_size=5),
    silent=st.sampled_from([None, 5.0, 30.0]),
)
def test_every_rule_decides_the_same_from_the_summary(
    curve: list[tuple[float, float]],
    direction: Direction,
    refs: list[list[float]],
    silent: float | None,
) -> None:
    references = {
        f"r{i}": [(float(k) * 1.5, v) for k, v in enumerate(r, 1)] for i, r in enumerate(refs)
    }
    rules = ObjectiveRules(
        MedianStoppingRule(direction, min_completed=1),
        PatienceRule(direction, patience=3, min_delta=0.1),
        DivergenceRule(direction),
    )
    summary = rules.summarize(curve)
    assert summary.direction == direction and summary.min_delta == 0.1
    for from_curve, from_summary in [
        (
            rules.median.decide("j", curve, references),
            rules.median.decide_summary("j", summary, references),
        ),  # type: ignore[union-attr]
        (rules.patience.decide("j", curve), rules.patience.decide_summary("j", summary)),  # type: ignore[union-attr]
        (
            rules.divergence.decide("j", curve, silent_minutes=silent),  # type: ignore[union-attr]
            rules.divergence.decide_summary("j", summary, silent_minutes=silent),  # type: ignore[union-attr]
        ),
    ]:
        assert same(from_curve.to_dict(), from_summary.to_dict())


@settings(max_examples=200, deadline=None)
@given(curve=curves, direction=directions)
def test_summary_round_trips_through_json(
    curve: list[tuple[float, float]], direction: Direction
) -> None:
    summary = CurveSummary.of(curve, direction, 0.1)
    stored = json.loads(json.dumps(summary.to_dict()))  # what the job item holds
    assert same(CurveSummary.from_dict(stored).to_dict(), summary.to_dict())


def test_summary_keeps_the_head_and_the_patience_counter() -> None:
    s = CurveSummary.of([(1, 5.0), (2, math.nan), (3, 4.0), (4, 4.05), (5, 4.02)], min_delta=0.1)
    assert s.head == (5.0, 4.0, 4.05, 4.02)
    assert (s.best, s.best_step, s.bar, s.bar_step, s.waited) == (4.0, 3, 4.0, 3, 2)
    assert s.count == 5 and s.last_step == 5 and s.last_value == 4.02


def test_summary_refuses_steps_that_do_not_increase() -> None:
    with pytest.raises(ValueError, match="steps must increase"):
        CurveSummary.of([(1, 1.0), (1, 2.0)])
    with pytest.raises(ValueError, match="steps must increase"):
        CurveSummary.of([(1, 1.0)]).add(0.5, 2.0)


def test_patience_refuses_a_summary_built_for_another_min_delta() -> None:
    with pytest.raises(ValueError, match=r"the rule needs minimize beyond 0\.5"):
        PatienceRule(min_delta=0.5).decide_summary("j", CurveSummary.of([(1, 1.0)], min_delta=0.0))
