"""The cheap decision path: a verdict for every job, a Decision (and its reason) only when one
is emitted. It must decide exactly as the Decision-building path does, for every rule."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.curves import Direction
from trainguard.core.decision import Decision
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import MedianStoppingRule, MedianVerdict, ReferenceTable
from trainguard.core.patience import PatienceRule
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

values = st.one_of(
    st.integers(0, 8).map(float),  # ties with the references' medians are frequent
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
curves = st.lists(values, min_size=0, max_size=15).map(
    lambda vs: [(float(i), v) for i, v in enumerate(vs, start=1)]
)
directions = st.sampled_from(["minimize", "maximize"])


@settings(max_examples=300, deadline=None)
@given(
    curve=curves,
    refs=st.lists(curves, max_size=5),
    direction=directions,
    min_completed=st.integers(1, 3),
    grace=st.sampled_from([0.0, 2.0, 5.0]),
    average=st.sampled_from(["all", "since_grace"]),
)
def test_check_then_explain_is_decide(
    curve: list[tuple[float, float]],
    refs: list[list[tuple[float, float]]],
    direction: Direction,
    min_completed: int,
    grace: float,
    average: str,
) -> None:
    rule = MedianStoppingRule(direction, min_completed, grace, average)  # type: ignore[arg-type]
    table = ReferenceTable.build(refs, grace, average=rule.average)
    summary = CurveSummary.of(curve, direction)
    cheap = rule.check_summary(summary, table)
    decision = rule.decide_summary("j", summary, table)
    assert isinstance(cheap, MedianVerdict)
    assert (cheap.stop, cheap.step, cheap.threshold, cheap.references) == (
        decision.stop,
        decision.step,
        decision.threshold,
        decision.references,
    )
    assert rule.explain("j", cheap) == decision
    assert rule.decide("j", curve, table) == decision


@settings(max_examples=400, deadline=None)
@given(
    curve=curves,
    refs=st.lists(curves, max_size=5),
    direction=directions,
    rules_on=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    silent=st.sampled_from([None, 5.0, 30.0]),
)
def test_stop_summary_is_the_first_stop_of_decide_summary(
    curve: list[tuple[float, float]],
    refs: list[list[tuple[float, float]]],
    direction: Direction,
    rules_on: tuple[bool, bool, bool],
    silent: float | None,
) -> None:
    median, patience, divergence = rules_on
    rules = ObjectiveRules(
        MedianStoppingRule(direction, min_completed=1) if median else None,
        PatienceRule(direction, patience=3, min_delta=0.1) if patience else None,
        DivergenceRule(direction, explode_factor=3.0) if divergence else None,
    )
    summary = rules.summarize(curve)
    table = ReferenceTable.build(refs)
    chosen = verdict(rules.decide_summary("j", summary, table, silent_minutes=silent))
    expected = chosen if chosen is not None and chosen.stop else None
    assert rules.stop_summary("j", summary, table, silent_minutes=silent) == expected
    # each rule's cheap test says what its Decision says
    if rules.patience is not None:
        assert rules.patience.stops(summary) is rules.patience.decide_summary("j", summary).stop
    if rules.divergence is not None:
        d = rules.divergence.decide_summary("j", summary, silent_minutes=silent)
        assert rules.divergence.stops(summary, silent_minutes=silent) is d.stop


def test_a_continue_builds_no_decision() -> None:
    rule = MedianStoppingRule(min_completed=1)
    table = ReferenceTable.build([[(1.0, 5.0), (2.0, 5.0)]])
    ahead = CurveSummary.of([(1.0, 4.0), (2.0, 3.0)])
    assert rule.check_summary(ahead, table) == MedianVerdict(False, 2.0, 3.0, 5.0, 1)
    assert ObjectiveRules(median=rule).stop_summary("j", ahead, table) is None
    behind = CurveSummary.of([(1.0, 6.0), (2.0, 7.0)])
    stop = ObjectiveRules(median=rule).stop_summary("j", behind, table)
    assert stop is not None and (stop.rule, stop.stop, stop.threshold) == ("median", True, 5.0)
    assert stop.reason.startswith("stop: best 6 by step 2 is worse than the median 5 of 1 ")
    empty = rule.check_summary(CurveSummary(), table)
    assert rule.explain("j", empty).reason == "no measurements yet"


def test_add_leaves_the_summary_it_was_called_on_as_it_was() -> None:
    before = CurveSummary.of([(1.0, 3.0), (2.0, 2.0)], min_delta=0.5)
    kept = before.to_dict()
    after = before.add(3.0, 1.0)
    assert before.to_dict() == kept
    assert (after.count, after.last_step, after.best, after.head) == (3, 3.0, 1.0, (3.0, 2.0, 1.0))


def test_decision_takes_keywords_only() -> None:
    with pytest.raises(TypeError):
        Decision("j", "median", False, 1.0, 1.0, 1.0, 3, "why")  # type: ignore[misc]
    d = Decision(
        job="j",
        rule="median",
        stop=False,
        step=1.0,
        value=1.0,
        threshold=1.0,
        references=3,
        reason="why",
    )
    with pytest.raises(FrozenInstanceError):
        d.stop = True  # type: ignore[misc]
