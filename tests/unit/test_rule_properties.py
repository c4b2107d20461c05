"""Invariants of the median stopping rule and of its materialized threshold, by hypothesis.

Curves are small and their steps are multiples of 1/2 drawn independently per job, so the
references are misaligned; query steps are multiples of 1/4, so they fall on, between and
outside the references' breakpoints. Both averagings are drawn: the spec's ("all", grace a
gate only) and Ray Tune's ("since_grace").
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.curves import Direction, best_so_far
from trainguard.core.median import Average, DirectReferences, MedianStoppingRule, ReferenceTable

pytestmark = pytest.mark.unit

# fast and deterministic enough for every run; no deadline (CI machines vary)
fast = settings(max_examples=200, deadline=None)

Point = tuple[float, float]
Curves = st.SearchStrategy[list[Point]]
ReferenceSets = st.SearchStrategy[dict[str, list[Point]]]

# integers make ties frequent (the interesting case for a strict rule); floats cover the rest
finite_values = st.one_of(
    st.integers(-10, 10).map(float),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)
any_values = st.one_of(finite_values, st.sampled_from([math.nan, math.inf, -math.inf]))
directions = st.sampled_from(["minimize", "maximize"])
graces = st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0])
averages: st.SearchStrategy[Average] = st.sampled_from(["all", "since_grace"])
query_steps = st.integers(-4, 48).map(lambda k: k / 4)


def curves(values: st.SearchStrategy[float] = finite_values, min_size: int = 0) -> Curves:
    steps = st.lists(st.integers(0, 20), min_size=min_size, max_size=7, unique=True).map(sorted)
    return steps.flatmap(
        lambda ks: st.lists(values, min_size=len(ks), max_size=len(ks)).map(
            lambda vs: [(k / 2, v) for k, v in zip(ks, vs, strict=True)]
        )
    )


def reference_sets(values: st.SearchStrategy[float] = finite_values) -> ReferenceSets:
    return st.lists(curves(values), min_size=0, max_size=6).map(
        lambda cs: {f"job-{i}": c for i, c in enumerate(cs)}
    )


def negate(curve: list[Point]) -> list[Point]:
    return [(s, -v) for s, v in curve]


def flip(direction: Direction) -> Direction:
    return "maximize" if direction == "minimize" else "minimize"


@fast
@given(
    refs=reference_sets(),
    running=curves(min_size=1),
    direction=directions,
    min_completed=st.integers(1, 4),
    grace=graces,
    average=averages,
)
def test_direction_symmetry(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    min_completed: int,
    grace: float,
    average: Average,
) -> None:
    a = MedianStoppingRule(direction, min_completed, grace, average).decide("x", running, refs)
    b = MedianStoppingRule(flip(direction), min_completed, grace, average).decide(
        "x", negate(running), {k: negate(c) for k, c in refs.items()}
    )
    assert a.stop == b.stop
    assert a.references == b.references
    assert (a.threshold is None) == (b.threshold is None)
    if a.threshold is not None and b.threshold is not None:
        assert b.threshold == -a.threshold
    if a.value is not None and b.value is not None:
        assert b.value == -a.value


@fast
@given(
    refs=reference_sets(any_values),
    running=curves(min_size=1),
    direction=directions,
    grace=graces,
    average=averages,
    data=st.data(),
)
def test_permuting_references_changes_nothing(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    grace: float,
    average: Average,
    data: st.DataObject,
) -> None:
    rule = MedianStoppingRule(direction, 1, grace, average)
    order = data.draw(st.permutations(list(refs)))
    shuffled = {f"renamed-{i}": refs[k] for i, k in enumerate(order)}
    assert rule.decide("x", running, refs) == rule.decide("x", running, shuffled)
    a = ReferenceTable.build(refs, grace, average=average)
    b = ReferenceTable.build(shuffled, grace, average=average)
    # the thresholds are the same; only the names of who set them differ
    assert (a.breakpoints, a.at_point, a.between) == (b.breakpoints, b.at_point, b.between)


@fast
@given(
    refs=reference_sets(),
    running=curves(min_size=1),
    direction=directions,
    min_completed=st.integers(1, 4),
    grace=graces,
    average=averages,
    extra_steps=st.lists(st.integers(0, 24), min_size=1, max_size=7, unique=True).map(sorted),
)
def test_adding_a_better_reference_never_turns_stop_into_continue(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    min_completed: int,
    grace: float,
    average: Average,
    extra_steps: list[int],
) -> None:
    rule = MedianStoppingRule(direction, min_completed, grace, average)
    # strictly better than every value anyone has: its running average beats every other one
    everything = [v for c in [*refs.values(), running] for _, v in c]
    if direction == "minimize":
        champion = min(everything, default=0.0) - 1.0
    else:
        champion = max(everything, default=0.0) + 1.0
    better = [(k / 2, champion) for k in extra_steps]
    before = rule.decide("x", running, refs)
    after = rule.decide("x", running, {**refs, "champion": better})
    if before.stop:
        assert after.stop
    if before.threshold is not None and after.threshold is not None:
        # the median can only move toward the champion
        if direction == "minimize":
            assert after.threshold <= before.threshold
        else:
            assert after.threshold >= before.threshold


@fast
@given(
    refs=reference_sets(),
    worse_steps=st.lists(st.integers(0, 20), max_size=5, unique=True).map(sorted),
    worse_by=st.lists(st.floats(0.001, 100), min_size=5, max_size=5),
    step=st.integers(0, 20),
    direction=directions,
)
def test_ties_never_stop(
    refs: dict[str, list[Point]],
    worse_steps: list[int],
    worse_by: list[float],
    step: int,
    direction: Direction,
) -> None:
    s = step / 2
    threshold, count = DirectReferences(refs).at(s)
    if threshold is None or not math.isfinite(threshold):
        return
    sign = 1.0 if direction == "minimize" else -1.0
    # earlier measurements are all worse than M, the latest equals it: best so far == M
    running = [
        (k / 2 - 11, threshold + sign * d) for k, d in zip(worse_steps, worse_by, strict=False)
    ]
    running = [(t, v) for t, v in running if math.isfinite(v) and v != threshold]
    running.append((s, threshold))
    d = MedianStoppingRule(direction, 1, 0).decide("x", running, refs)
    assert d.value == d.threshold == threshold
    assert d.references == count
    assert d.stop is False


@fast
@given(
    refs=reference_sets(any_values),
    running=curves(any_values, min_size=1),
    direction=directions,
    min_completed=st.integers(1, 8),
    grace=graces,
    average=averages,
)
def test_no_decision_below_the_gates(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    min_completed: int,
    grace: float,
    average: Average,
) -> None:
    rule = MedianStoppingRule(direction, min_completed, grace, average)
    d = rule.decide("x", running, refs)
    step = running[-1][0]
    _, count = DirectReferences(refs, grace, average).at(step)
    assert d.references == count
    if count < min_completed or step < grace:
        assert d.stop is False
        assert d.threshold is None


@fast
@given(
    refs=reference_sets(any_values),
    grace=graces,
    average=averages,
    steps=st.lists(query_steps, max_size=12),
)
def test_table_equals_definition_at_any_step(
    refs: dict[str, list[Point]], grace: float, average: Average, steps: list[float]
) -> None:
    direct = DirectReferences(refs, grace, average)
    table = ReferenceTable.build(refs, grace, average=average)
    breakpoints = sorted({s for c in refs.values() for s, _ in c})
    # every breakpoint, a point just either side of it, and arbitrary steps
    probes = [*steps, *breakpoints]
    probes += [b + d for b in breakpoints for d in (-0.25, 0.25, -1e-9, 1e-9)]
    for s in probes:
        assert table.at(s) == direct.at(s), s


@fast
@given(
    refs=reference_sets(any_values),
    grace=graces,
    average=averages,
    steps=st.lists(query_steps, max_size=8),
)
def test_table_round_trips_through_its_dict_and_json(
    refs: dict[str, list[Point]], grace: float, average: Average, steps: list[float]
) -> None:
    table = ReferenceTable.build(refs, grace, average=average)
    assert ReferenceTable.from_dict(table.to_dict()) == table
    stored = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    restored = ReferenceTable.from_dict(stored)
    assert restored == table
    for s in steps:
        assert restored.at(s) == table.at(s)


@fast
@given(
    refs=reference_sets(any_values),
    running=curves(any_values, min_size=1),
    direction=directions,
    min_completed=st.integers(1, 4),
    grace=graces,
    average=averages,
)
def test_rule_decides_the_same_from_table_and_from_curves(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    min_completed: int,
    grace: float,
    average: Average,
) -> None:
    rule = MedianStoppingRule(direction, min_completed, grace, average)
    assert rule.decide("x", running, refs) == rule.decide(
        "x", running, ReferenceTable.build(refs, grace, average=average)
    )


@fast
@given(
    refs=reference_sets(any_values),
    running=curves(any_values, min_size=1),
    direction=directions,
    min_completed=st.integers(1, 4),
    grace=graces,
)
def test_grace_is_a_gate_only(
    refs: dict[str, list[Point]],
    running: list[Point],
    direction: Direction,
    min_completed: int,
    grace: float,
) -> None:
    """With the spec's averaging, grace changes no threshold and no table: from the grace step
    on, the rule decides as without grace; before it, it makes no comparison."""
    gated = MedianStoppingRule(direction, min_completed, grace)
    ungated = MedianStoppingRule(direction, min_completed, 0.0)
    table = ReferenceTable.build(refs, grace)
    assert table == ReferenceTable.build(refs)
    d, d0 = gated.decide("x", running, table), ungated.decide("x", running, refs)
    if running[-1][0] >= grace:
        assert d == d0
    else:
        assert (d.stop, d.threshold, d.references) == (False, None, d0.references)


@fast
@given(refs=reference_sets(any_values), steps=st.lists(query_steps, max_size=12))
def test_since_grace_before_every_step_is_the_spec(
    refs: dict[str, list[Point]], steps: list[float]
) -> None:
    """Ray's window starting at or before every reference's first step holds every
    measurement: it is the spec's running average (steps here are >= 0)."""
    windowed = ReferenceTable.build(refs, 0.0, average="since_grace")
    spec = ReferenceTable.build(refs)
    for s in [*steps, *(s for c in refs.values() for s, _ in c)]:
        assert windowed.at(s) == spec.at(s)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([1e308, -1e308, math.nan, math.inf, -math.inf]),
        ),
        min_size=1,
        max_size=30,
    ),
    direction=st.sampled_from(["minimize", "maximize"]),
)
def test_best_so_far_skips_non_finite_values_whatever_the_mix(
    values: list[float], direction: str
) -> None:
    curve = [(float(i), v) for i, v in enumerate(values, start=1)]
    finite = [v for v in values if math.isfinite(v)]
    expected = (min if direction == "minimize" else max)(finite) if finite else None
    # the whole curve (the fast path) and a step inside it (the loop) agree with the definition
    assert best_so_far(curve, float(len(values)), direction) == expected  # type: ignore[arg-type]
    head = [v for v in values[:-1] if math.isfinite(v)]
    head_best = (min if direction == "minimize" else max)(head) if head else None
    assert best_so_far(curve, len(values) - 0.5, direction) == head_best  # type: ignore[arg-type]
