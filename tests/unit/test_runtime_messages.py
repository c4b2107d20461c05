"""Email subjects a person can triage from an inbox: the numbers, in the units of the rule."""

from __future__ import annotations

import pytest

from trainguard.core.decision import Decision
from trainguard.core.median import MedianStoppingRule
from trainguard.core.runtime_guard import RuntimeGuard
from trainguard.logic import messages

pytestmark = pytest.mark.unit


def test_median_stop_subject_names_job_rule_and_comparison() -> None:
    refs = {"a": [(1.0, 0.5)], "b": [(1.0, 0.6)], "c": [(1.0, 0.7)]}
    d = MedianStoppingRule().decide("job-x", [(1.0, 0.9)], refs)
    subject = messages.stop_subject(d, "STOPPED")
    assert subject == "[trainguard] STOPPED job-x: median rule, 0.9 > 0.6 at step 1"
    assert len(subject) <= 100


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (RuntimeGuard().check_max_runtime("j", 28 * 86400), "max runtime, 672 h > cap 72 h"),
        (RuntimeGuard().check_overtime("j", 400.0, 100.0, 5), "overtime, 400 min > 300 min"),
        (RuntimeGuard().check_stalled("j", 90.0, 45.0), "metric stalled, 45 min > 30 min"),
    ],
)
def test_runtime_alert_subjects_speak_hours_and_minutes(
    decision: Decision | None, expected: str
) -> None:
    assert decision is not None
    assert messages.alert_subject(decision) == f"[trainguard] ALERT j: {expected}"
