"""Throughput rule: samples/s per instance against the group's completed jobs and against the
job's own established level; the O(1) summary behind it, kept between ticks."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.throughput import (
    WINDOW,
    ThroughputBaseline,
    ThroughputRule,
    ThroughputSummary,
    completed_per_instance,
)

pytestmark = pytest.mark.unit

RULE = ThroughputRule()


def series(minutes: Iterable[int], value: Callable[[int], float]) -> list[tuple[float, float]]:
    """One datapoint a minute: ``(minute since training start, samples/s of the job)``."""
    return [(float(m), value(m)) for m in minutes]


def first_alert(
    curve: list[tuple[float, float]], *, instances: int, group: ThroughputBaseline | None = None
) -> tuple[float, str] | None:
    """Fold the datapoints one tick at a time; the first alert's minute and reason."""
    summary = RULE.new_summary()
    for step, value in curve:
        summary = summary.add(step, value)
        decision = RULE.check(
            "job", summary, instances=instances, group=group, elapsed_minutes=step
        )
        if decision is not None:
            return step, decision.reason
    return None


def test_a_throughput_that_halves_mid_run_is_alerted() -> None:
    halves = series(range(120), lambda m: 1000.0 if m < 60 else 500.0)
    # the window's median falls once 6 of its 10 minutes are slow
    assert first_alert(halves, instances=4) == (
        65.0,
        "4 instances at 125 samples/s per instance, 0.5 of its own earlier 250 per instance "
        "(minute 19), a drop of more than 0.3",
    )
    assert first_alert(series(range(120), lambda m: 1000.0), instances=4) is None


def test_a_ramp_up_is_not_a_drop() -> None:
    ramp = series(range(120), lambda m: min(700.0, 300.0 + 10.0 * m))
    assert first_alert(ramp, instances=1) is None
    assert first_alert(ramp, instances=1, group=ThroughputBaseline(500.0, 12)) is None


def test_below_the_groups_median_per_instance_with_the_scaling_efficiency() -> None:
    summary = ThroughputSummary.of(series(range(30), lambda m: 1240.0), 10.0)
    decision = RULE.check(
        "job",
        summary,
        instances=4,
        group=ThroughputBaseline(500.0, 12),
        single=ThroughputBaseline(310.0 / 0.55, 3),
        elapsed_minutes=29,
    )
    assert decision is not None
    assert decision.reason == (
        "4 instances at 310 samples/s per instance, 0.62 of the group's median 500 per "
        "instance (12 completed jobs); scaling efficiency 0.55 against 3 single-instance jobs"
    )
    assert (decision.rule, decision.alert, decision.stop) == ("throughput", True, False)
    assert (decision.value, decision.threshold, decision.references) == (310.0, 350.0, 12)


def test_both_findings_in_one_reason_and_no_efficiency_for_a_single_instance() -> None:
    curve = series(range(60), lambda m: 400.0 if m < 40 else 200.0)
    summary = ThroughputSummary.of(curve, 10.0)
    decision = RULE.check(
        "job",
        summary,
        instances=1,
        group=ThroughputBaseline(400.0, 1),
        single=ThroughputBaseline(400.0, 1),
        elapsed_minutes=59,
    )
    assert decision is not None
    assert decision.reason == (
        "1 instance at 200 samples/s per instance, 0.5 of the group's median 400 per instance "
        "(1 completed job) and 0.5 of its own earlier 400 per instance (minute 19), a drop of "
        "more than 0.3"
    )


@pytest.mark.parametrize(("total", "low"), [(1400.0, False), (1399.0, True)])
def test_exactly_the_fraction_of_the_group_is_not_low(total: float, low: bool) -> None:
    summary = ThroughputSummary.of(series(range(30), lambda m: total), 10.0)
    status = RULE.judge(summary, instances=4, group=ThroughputBaseline(500.0, 5))
    assert status is not None
    assert (status.below_group, status.dropped, status.low) == (low, False, low)


@pytest.mark.parametrize(("after", "dropped"), [(700.0, False), (699.0, True)])
def test_exactly_the_allowed_drop_is_not_a_drop(after: float, dropped: bool) -> None:
    summary = ThroughputSummary.of(series(range(60), lambda m: 1000.0 if m < 40 else after), 10.0)
    status = RULE.judge(summary, instances=1, group=None)
    assert status is not None
    assert (status.dropped, status.below_group) == (dropped, False)


def test_no_verdict_before_a_full_window_after_the_warm_up() -> None:
    summary = ThroughputSummary.of(series(range(19), lambda m: 10.0), 10.0)
    assert summary.level is None  # minutes 10-18: nine datapoints after the warm-up
    assert RULE.judge(summary, instances=1, group=ThroughputBaseline(500.0, 3)) is None
    summary = summary.add(19.0, 10.0)
    assert summary.level == 10.0
    decision = RULE.check(
        "job", summary, instances=1, group=ThroughputBaseline(500.0, 3), elapsed_minutes=19
    )
    assert decision is not None
    # the warm-up's (fast) datapoints never set the established level
    fast_start = ThroughputSummary.of(series(range(40), lambda m: 5000.0 if m < 10 else 1000.0), 10)
    assert (fast_start.established, fast_start.count) == (1000.0, 40)


def test_a_checkpoint_dip_is_not_a_drop() -> None:
    dips = series(range(120), lambda m: 100.0 if m % 15 == 14 else 1000.0)
    assert first_alert(dips, instances=2) is None


@settings(max_examples=150, deadline=None)
@given(
    level=st.floats(1.0, 1e5),
    spike_at=st.integers(0, 59),
    factor=st.sampled_from([0.0, 0.1, 3.0, 100.0]),
)
def test_one_spike_or_dip_never_sets_the_established_level(
    level: float, spike_at: int, factor: float
) -> None:
    curve = series(range(60), lambda m: level * factor if m == spike_at else level)
    summary = ThroughputSummary.of(curve, 10.0)
    assert summary.established == level
    assert summary.level == level


finite = st.floats(0.0, 1e6, allow_nan=False)
curves = st.lists(st.one_of(finite, st.just(float("nan"))), max_size=40).map(
    lambda vs: [(float(i) * 1.5, v) for i, v in enumerate(vs)]
)


@settings(max_examples=200, deadline=None)
@given(curve=curves, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_the_same_summary_whatever_the_split_into_ticks(
    curve: list[tuple[float, float]], cuts: list[int]
) -> None:
    """Each tick folds its new datapoints into the summary read back from the job's item."""
    summary = ThroughputSummary(10.0)
    bounds = [0, *sorted(min(c, len(curve)) for c in cuts), len(curve)]
    for lo, hi in itertools.pairwise(bounds):
        summary = ThroughputSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
        for step, value in curve[lo:hi]:
            summary = summary.add(step, value)
    whole = ThroughputSummary.of(curve, 10.0)
    assert summary == whole
    assert len(whole.recent) <= WINDOW
    if whole.established is not None and whole.level is not None:
        assert whole.established >= whole.level


def test_json_round_trip_and_unusable_records() -> None:
    summary = ThroughputSummary.of(series(range(40), lambda m: 100.0 + m), 10.0)
    assert ThroughputSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
    assert ThroughputSummary.from_dict({}) == ThroughputSummary()
    with pytest.raises(ValueError):
        ThroughputSummary.from_dict({"recent": [1.0] * (WINDOW + 1)})
    with pytest.raises(ValueError):
        ThroughputSummary.from_dict({"recent": ["nan"]})
    with pytest.raises(ValueError):
        summary.add(39.0, 1.0)  # steps must increase


def test_a_completed_jobs_figure_and_the_groups_baseline() -> None:
    curve = series(range(60), lambda m: 9000.0 if m < 10 else (100.0 if m % 10 == 0 else 800.0))
    assert completed_per_instance(curve, 4) == 200.0  # the median after the warm-up, per instance
    assert completed_per_instance(curve[:10], 4) is None  # nothing after the warm-up
    assert completed_per_instance(curve, 0) is None
    assert ThroughputBaseline.of([200.0, 300.0, 250.0, float("nan")]) == ThroughputBaseline(
        250.0, 3
    )
    assert ThroughputBaseline.of([]) is None


def test_a_drop_inside_the_first_window_after_the_warm_up_is_alerted() -> None:
    """Issue 20: a 40% drop at minute 15 of a 10-minute warm-up; the first full window's
    median (800) must not be the job's own baseline, the level it showed before is."""
    early = series(range(60), lambda m: 1000.0 if m < 15 else 600.0)
    assert first_alert(early, instances=1) == (
        20.0,
        "1 instance at 600 samples/s per instance, 0.6 of its own earlier 1000 per instance "
        "(minute 14), a drop of more than 0.3",
    )
    # one or two fast minutes at the start of the window never set the early level
    spiky = series(range(60), lambda m: 5000.0 if m in (10, 11) else 1000.0)
    assert ThroughputSummary.of(spiky, 10.0).best == (1000.0, 19.0)
