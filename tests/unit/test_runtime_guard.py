"""Runtime guard: alerts on a missing or oversized max runtime, overtime and stalled jobs."""

from __future__ import annotations

import pytest

from trainguard.core.runtime_guard import RuntimeGuard

pytestmark = pytest.mark.unit

GUARD = RuntimeGuard(max_runtime_cap_hours=72.0, duration_factor=3.0, stall_minutes=30.0)


@pytest.mark.parametrize("max_runtime", [None, 0, -5])
def test_missing_max_runtime_alerts(max_runtime: float | None) -> None:
    d = GUARD.check_max_runtime("job", max_runtime)
    assert d is not None
    assert (d.rule, d.alert, d.stop, d.threshold) == ("max_runtime", True, False, 72 * 3600.0)
    assert "no MaxRuntimeInSeconds" in d.reason


def test_max_runtime_above_the_cap_alerts() -> None:
    d = GUARD.check_max_runtime("job", 5 * 24 * 3600)  # SageMaker's 5-day default-ish limit
    assert d is not None
    assert (d.rule, d.alert, d.stop, d.value) == ("max_runtime", True, False, 432000)
    assert "120 h exceeds the cap 72 h" in d.reason


@pytest.mark.parametrize("max_runtime", [3600, 72 * 3600])
def test_max_runtime_within_the_cap_is_fine(max_runtime: float) -> None:
    assert GUARD.check_max_runtime("job", max_runtime) is None


def test_overtime_against_k_times_the_group_median() -> None:
    # median 40 min, k = 3: the limit is 120 min
    assert GUARD.check_overtime("job", 120.0, 40.0, references=5) is None
    d = GUARD.check_overtime("job", 121.0, 40.0, references=5)
    assert d is not None
    assert (d.rule, d.alert, d.stop, d.value, d.threshold, d.references) == (
        "overtime",
        True,
        False,
        121.0,
        120.0,
        5,
    )
    assert "3 x the group's median duration 40 min of 5 completed jobs" in d.reason


@pytest.mark.parametrize(("median", "references"), [(None, 3), (0.0, 3), (40.0, 0)])
def test_overtime_needs_a_group_median(median: float | None, references: int) -> None:
    assert GUARD.check_overtime("job", 10_000.0, median, references) is None


def test_stalled_objective_metric() -> None:
    assert GUARD.check_stalled("job", 90.0, None) is None  # unknown: no verdict
    assert GUARD.check_stalled("job", 90.0, 29.0) is None
    d = GUARD.check_stalled("job", 90.0, 30.0)
    assert d is not None
    assert (d.rule, d.alert, d.stop, d.step, d.value, d.threshold) == (
        "stalled",
        True,
        False,
        90.0,
        30.0,
        30.0,
    )
    assert "silent for 30 min" in d.reason


def test_runtime_guard_never_stops() -> None:
    decisions = [
        GUARD.check_max_runtime("job", None),
        GUARD.check_overtime("job", 1e6, 1.0, 1),
        GUARD.check_stalled("job", 1e6, 1e6),
    ]
    assert all(d is not None and d.alert and not d.stop and d.actionable for d in decisions)
