"""The median stopping rule on the 12 worked cases of reference/early_stopping.md section 9.

The expected numbers are the VZ column (canonical Vizier rule): no gates (min_completed=1,
grace=0), best-so-far comparator, running average over the measurements with step <= s,
strict comparison. Every case runs through the plain definition (``DirectReferences``) and the
materialized ``ReferenceTable``; both must give the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest

from trainguard.core.curves import Curve, Direction
from trainguard.core.decision import Decision
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import DirectReferences, MedianStoppingRule, ReferenceTable

pytestmark = pytest.mark.unit

NAN = math.nan


def at_steps(*values: float) -> list[tuple[float, float]]:
    """Values at steps 1, 2, 3, ... (the section's convention)."""
    return [(float(i), float(v)) for i, v in enumerate(values, start=1)]


def keyed(points: Mapping[int, float]) -> list[tuple[float, float]]:
    return [(float(s), float(v)) for s, v in sorted(points.items())]


@dataclass(frozen=True)
class Case:
    id: str
    direction: Direction
    completed: Mapping[str, Curve]
    running: Curve
    stop: bool
    threshold: float | None
    value: float | None
    references: int
    min_completed: int = 1


CASES = [
    Case(
        "1-baseline-stop",
        "minimize",
        {"A": at_steps(10, 8, 6, 4), "B": at_steps(12, 9, 7, 5), "C": at_steps(9, 7, 5, 3)},
        at_steps(11, 10, 9),
        stop=True,
        threshold=8.0,  # r = 8, 28/3, 7
        value=9.0,
        references=3,
    ),
    Case(
        "2-running-average-not-raw-value",
        "minimize",
        {"A": at_steps(10, 6, 2), "B": at_steps(10, 5, 1), "C": at_steps(10, 7, 3)},
        at_steps(10, 6, 5),
        stop=False,
        threshold=6.0,  # r = 6, 16/3, 20/3 (raw values at step 3 would give 2 and a stop)
        value=5.0,
        references=3,
    ),
    Case(
        "3-best-so-far-not-current-max",
        "maximize",
        {"A": at_steps(50, 60, 70), "B": at_steps(40, 50, 60), "C": at_steps(60, 70, 80)},
        at_steps(50, 80, 55),
        stop=False,
        threshold=60.0,
        value=80.0,  # the current value 55 would stop (SageMaker-literal reading)
        references=3,
    ),
    Case(
        "4-tie-continues",
        "minimize",
        {"A": at_steps(4, 4), "B": at_steps(6, 6), "C": at_steps(5, 5)},
        at_steps(5, 5),
        stop=False,
        threshold=5.0,
        value=5.0,
        references=3,
    ),
    Case(
        "5-no-gate-two-references",
        "minimize",
        {"A": at_steps(10, 9), "B": at_steps(10, 9)},
        at_steps(20, 20),
        stop=True,
        threshold=9.5,
        value=20.0,
        references=2,
    ),
    Case(
        "5-default-gate-blocks",
        "minimize",
        {"A": at_steps(10, 9), "B": at_steps(10, 9)},
        at_steps(20, 20),
        stop=False,
        threshold=None,  # 2 references < min_completed 3: no decision, no threshold
        value=20.0,
        references=2,
        min_completed=3,
    ),
    Case(
        "6-maximize-sign",
        "maximize",
        {"A": at_steps(1, 3, 5), "B": at_steps(2, 4, 6), "C": at_steps(0, 2, 4)},
        at_steps(1, 2, 2),
        stop=True,
        threshold=3.0,  # r = 3, 4, 2
        value=2.0,  # max, not min (min-logic would compare 1 and continue)
        references=3,
    ),
    Case(
        "7-short-reference-dropped-even-median",
        "minimize",
        {"A": at_steps(8, 6, 4, 2), "B": at_steps(9, 7), "C": at_steps(7, 5, 3, 1)},
        at_steps(9, 8, 6),
        stop=True,
        threshold=5.5,  # B ends at step 2 < 3: only A (6) and C (5)
        value=6.0,
        references=2,
    ),
    Case(
        "8-misaligned-steps",
        "minimize",
        {
            "A": keyed({10: 8, 20: 6, 30: 4}),
            "B": keyed({10: 9, 20: 7, 30: 5}),
            "C": keyed({10: 7, 20: 5, 30: 3}),
        },
        keyed({15: 9, 25: 8}),
        stop=True,
        threshold=7.0,  # averages over steps <= 25: A 7, B 8, C 6
        value=8.0,
        references=3,
    ),
    Case(
        "10-median-not-mean",
        "minimize",
        {"A": at_steps(1, 1), "B": at_steps(2, 2), "C": at_steps(30, 30)},
        at_steps(5, 5),
        stop=True,
        threshold=2.0,  # the mean would be 11 and continue
        value=5.0,
        references=3,
    ),
    Case(
        "11-only-completed-jobs-are-references",
        "minimize",
        # R1=[1,1,1,1] and R2=[2,2,2,2] are still running: the caller never passes them
        {"A": at_steps(10, 10, 10)},
        at_steps(5, 5, 5),
        stop=False,
        threshold=10.0,
        value=5.0,
        references=1,
    ),
    Case(
        "12-nan-reference-dropped",
        "minimize",
        {"A": at_steps(5, 5), "B": at_steps(6, 6), "C": at_steps(NAN, NAN)},
        at_steps(1, 1),
        stop=False,
        threshold=5.5,  # C's average is NaN and is dropped; a NaN median would stop everyone
        value=1.0,
        references=2,
    ),
]


def decide_both(
    rule: MedianStoppingRule, job: str, curve: Curve, completed: Mapping[str, Curve]
) -> Decision:
    """Decide through the definition and through the materialized table; they must agree."""
    direct = rule.decide(job, curve, DirectReferences(completed, rule.grace, rule.average))
    plain = rule.decide(job, curve, completed)  # a mapping of curves is accepted as is
    table = rule.decide(
        job, curve, ReferenceTable.build(completed, rule.grace, average=rule.average)
    )
    assert direct == plain == table
    return direct


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_worked_case(case: Case) -> None:
    rule = MedianStoppingRule(case.direction, min_completed=case.min_completed, grace=0)
    d = decide_both(rule, "x", case.running, case.completed)
    assert d.stop is case.stop
    assert d.rule == "median"
    assert d.step == case.running[-1][0]
    assert d.value == case.value
    assert d.references == case.references
    if case.threshold is None:
        assert d.threshold is None
    else:
        assert d.threshold == pytest.approx(case.threshold, rel=1e-12)
    assert ("stop" if case.stop else "continue") in d.reason or case.threshold is None


def test_case_5_default_min_completed_is_three() -> None:
    assert MedianStoppingRule("minimize").min_completed == 3
    completed = {"A": at_steps(10, 9), "B": at_steps(10, 9)}
    d = decide_both(MedianStoppingRule("minimize"), "x", at_steps(20, 20), completed)
    assert (d.stop, d.threshold, d.references) == (False, None, 2)
    assert "3 needed" in d.reason


@pytest.mark.parametrize(
    ("s", "threshold", "best"),
    [(1, 10.0, 9.0), (2, 9.5, 7.0), (3, 9.0, 7.0), (4, 8.5, 7.0)],
)
def test_case_9_late_degradation_continues_at_every_step(
    s: int, threshold: float, best: float
) -> None:
    completed = {
        "A": at_steps(10, 8, 6, 4),
        "B": at_steps(10, 9, 8, 7),
        "C": at_steps(12, 10, 8, 6),
    }
    x = at_steps(9, 7, 20, 20)[:s]
    d = decide_both(MedianStoppingRule("minimize", 1, 0), "x", x, completed)
    # the current value (20 at s=3, 4) is worse than M, but the best so far (7) is not
    assert (d.stop, d.step, d.value, d.references) == (False, s, best, 3)
    assert d.threshold == pytest.approx(threshold, rel=1e-12)


def test_case_8_table_threshold_between_breakpoints() -> None:
    """At s=25 (between the references' steps 20 and 30) the table gives the averages at 20."""
    completed = {
        "A": keyed({10: 8, 20: 6, 30: 4}),
        "B": keyed({10: 9, 20: 7, 30: 5}),
        "C": keyed({10: 7, 20: 5, 30: 3}),
    }
    table = ReferenceTable.build(completed)
    assert table.at(25) == table.at(20) == (7.0, 3)
    assert table.at(30) == (6.0, 3)  # (8+6+4)/3, (9+7+5)/3, (7+5+3)/3 -> 6, 7, 5
    assert table.at(31) == (None, 0)  # nobody reaches step 31
    assert table.at(5) == (None, 0)  # before any measurement: no running average


def test_case_11_running_jobs_would_change_the_answer() -> None:
    """Why the caller must pass completed jobs only: with R1 and R2 as references, X stops."""
    rule = MedianStoppingRule("minimize", 1, 0)
    x = at_steps(5, 5, 5)
    everyone = {"A": at_steps(10, 10, 10), "R1": at_steps(1, 1, 1, 1), "R2": at_steps(2, 2, 2, 2)}
    d = decide_both(rule, "x", x, everyone)
    assert (d.stop, d.threshold) == (True, 2.0)


def test_case_12_variant_nan_running_job_stops_by_divergence() -> None:
    completed = {"A": at_steps(5, 5), "B": at_steps(6, 6), "C": at_steps(NAN, NAN)}
    x = at_steps(NAN, NAN)
    median = decide_both(MedianStoppingRule("minimize", 1, 0), "x", x, completed)
    # no finite best: the median rule makes no comparison and leaves it to the divergence rule
    assert (median.stop, median.value, median.threshold) == (False, None, 5.5)
    rules = ObjectiveRules(MedianStoppingRule("minimize", 1, 0), None, DivergenceRule())
    final = verdict(rules.decide("x", x, ReferenceTable.build(completed)))
    assert final is not None and (final.rule, final.stop) == ("diverged", True)


# ---- edges -------------------------------------------------------------------------------


def test_empty_running_curve_is_no_decision() -> None:
    d = MedianStoppingRule("minimize", 1).decide("x", [], {"A": at_steps(1, 2)})
    assert (d.stop, d.step, d.value, d.threshold) == (False, None, None, None)


def test_no_references_at_all() -> None:
    for refs in ({}, {"A": []}):
        d = decide_both(MedianStoppingRule("minimize", 1), "x", at_steps(5), refs)
        assert (d.stop, d.threshold, d.references) == (False, None, 0)


def test_single_measurement_each() -> None:
    rule = MedianStoppingRule("minimize", 1)
    d = decide_both(rule, "x", [(3.0, 2.0)], {"A": [(3.0, 1.0)]})
    assert (d.stop, d.value, d.threshold, d.references) == (True, 2.0, 1.0, 1)
    # a reference measured only after the running job's step has no running average there
    d = decide_both(rule, "x", [(3.0, 2.0)], {"A": [(4.0, 1.0)]})
    assert (d.stop, d.threshold, d.references) == (False, None, 0)


GRACE_CASE = {
    "A": at_steps(100, 4, 4, 4),
    "B": at_steps(100, 5, 5, 5),
    "C": at_steps(100, 6, 6, 6),
}


def test_grace_is_a_gate_only() -> None:
    ruled = MedianStoppingRule("minimize", 1, grace=2)
    # before the grace step: no decision at all
    early = decide_both(ruled, "x", at_steps(50), GRACE_CASE)
    assert (early.stop, early.threshold, early.references) == (False, None, 3)
    assert "grace" in early.reason
    # from step 2 on, the references' running averages still count step 1 (the spec):
    # M = median{(100+4)/2, (100+5)/2, (100+6)/2} = 52.5, the same as without grace
    d = decide_both(ruled, "x", at_steps(50, 5.5), GRACE_CASE)
    assert (d.stop, d.threshold, d.value) == (False, 52.5, 5.5)
    d0 = decide_both(MedianStoppingRule("minimize", 1, 0), "x", at_steps(50, 5.5), GRACE_CASE)
    assert (d0.stop, d0.threshold) == (False, 52.5)


def test_since_grace_is_ray_tunes_window() -> None:
    ray = MedianStoppingRule("minimize", 1, grace=2, average="since_grace")
    early = decide_both(ray, "x", at_steps(50), GRACE_CASE)
    assert (early.stop, early.threshold) == (False, None)
    # the averages ignore step 1 (before the grace step): M = median{4, 5, 6} = 5
    d = decide_both(ray, "x", at_steps(50, 5.5), GRACE_CASE)
    assert (d.stop, d.threshold, d.value) == (True, 5.0, 5.5)
    # a reference measured only before the grace step has no average in the window
    table = ReferenceTable.build({"A": at_steps(1, 1)}, 3, average="since_grace")
    assert table.at(2) == (None, 0)
    assert ReferenceTable.build({"A": at_steps(1, 1)}).at(2) == (1.0, 1)


def test_one_table_serves_every_grace() -> None:
    tables = [ReferenceTable.build(GRACE_CASE, g) for g in (0, 2, 3.5)]
    assert tables[0] == tables[1] == tables[2]
    assert (tables[0].average, tables[0].grace) == ("all", 0.0)
    for g in (0, 2, 3.5):
        rule = MedianStoppingRule("minimize", 1, grace=g)
        assert rule.decide("x", at_steps(50, 5.5), tables[0]) == rule.decide(
            "x", at_steps(50, 5.5), GRACE_CASE
        )


def test_table_built_for_another_averaging_is_refused() -> None:
    all_table = ReferenceTable.build(GRACE_CASE)
    ray_table = ReferenceTable.build(GRACE_CASE, 1, average="since_grace")
    x = at_steps(50, 5.5)
    with pytest.raises(ValueError, match="average 'all'; the rule averages 'since_grace'"):
        MedianStoppingRule("minimize", 1, 1, average="since_grace").decide("x", x, all_table)
    with pytest.raises(ValueError, match="average 'since_grace'; the rule averages 'all'"):
        MedianStoppingRule("minimize", 1, 1).decide("x", x, ray_table)
    with pytest.raises(ValueError, match="since grace 1; the rule's grace is 2"):
        MedianStoppingRule("minimize", 1, 2, average="since_grace").decide("x", x, ray_table)
    direct = DirectReferences(GRACE_CASE, 1, "since_grace")
    with pytest.raises(ValueError, match="the rule averages 'all'"):
        MedianStoppingRule("minimize", 1, 1).decide("x", x, direct)


def test_unknown_average_is_refused() -> None:
    for make in (
        lambda: MedianStoppingRule(average="ray"),  # type: ignore[arg-type]
        lambda: DirectReferences({}, 0, "ray"),  # type: ignore[arg-type]
        lambda: ReferenceTable.build({}, average="ray"),  # type: ignore[arg-type]
        lambda: ReferenceTable.from_dict({"average": "ray", "b": [], "p": [], "o": []}),
    ):
        with pytest.raises(ValueError, match="average must be one of all, since_grace"):
            make()


def test_table_round_trip_keeps_the_averaging() -> None:
    for table in (
        ReferenceTable.build(GRACE_CASE),
        ReferenceTable.build(GRACE_CASE, 2, average="since_grace"),
    ):
        raw = table.to_dict()
        assert (raw["average"], raw["grace"]) == (table.average, table.grace)
        assert ReferenceTable.from_dict(raw) == table


def test_table_stored_before_the_averaging_was_recorded() -> None:
    """Such a table was built with Ray's window from its grace: it reads as the spec's table
    exactly when no reference step lies before that grace (the window then holds them all)."""
    legacy_all = ReferenceTable.build(GRACE_CASE, 1, average="since_grace").to_dict()
    del legacy_all["average"]
    assert ReferenceTable.from_dict(legacy_all) == ReferenceTable.build(GRACE_CASE)
    legacy_ray = ReferenceTable.build(GRACE_CASE, 2, average="since_grace").to_dict()
    del legacy_ray["average"]
    restored = ReferenceTable.from_dict(legacy_ray)
    assert restored == ReferenceTable.build(GRACE_CASE, 2, average="since_grace")


def test_infinite_reference_is_dropped_and_nan_in_running_job_is_skipped() -> None:
    completed: dict[str, Sequence[tuple[float, float]]] = {
        "A": at_steps(5, 5),
        "B": at_steps(math.inf, 6),
        "C": at_steps(7, 7),
    }
    rule = MedianStoppingRule("minimize", 1)
    # B's average is inf and is dropped: M = median{5, 7} = 6; the running job's NaN at step 1
    # is not its best, 6.5 is, and 6.5 > 6 stops
    d = decide_both(rule, "x", at_steps(NAN, 6.5), completed)
    assert (d.stop, d.value, d.threshold, d.references) == (True, 6.5, 6.0, 2)


def test_the_table_names_the_references_that_set_the_median() -> None:
    refs = {
        "low": [(1.0, 0.2), (2.0, 0.2)],
        "mid": [(1.0, 0.5), (2.0, 0.5)],
        "high": [(1.0, 0.9), (2.0, 0.9)],
        "short": [(1.0, 0.6)],
    }
    table = ReferenceTable.build(refs)
    assert table.at(1.0) == (0.55, 4) and table.set_by(1.0) == ("mid", "short")
    assert table.at(1.5) == (0.5, 3) and table.set_by(1.5) == ("mid",)
    assert ReferenceTable.from_dict(table.to_dict()) == table


def test_a_table_over_many_distinct_steps_stays_on_a_bounded_grid() -> None:
    refs = {f"r{i}": [(float(s) + i / 10, 1.0 / (s + 1)) for s in range(1, 600)] for i in range(3)}
    table = ReferenceTable.build(refs, max_breakpoints=500)
    assert len(table.breakpoints) <= 500 and not table.exact
    exact = ReferenceTable.build(refs)  # 1,797 distinct steps: under the default bound
    assert exact.exact and len(exact.breakpoints) == 3 * 599
    # on the grid's own steps the coarse table is the exact one
    for b in table.breakpoints[::50]:
        assert table.at(b) == exact.at(b)
