"""The demo's coverage jobs (issue 20) and the summary's ``coverage`` checks."""

from __future__ import annotations

from typing import Any

import pytest

from trainguard_local.demo.coverage import (
    BAD_TAG,
    COVERAGE_GROUP,
    LATE_GROUP,
    MISTYPED,
    NO_OBJECTIVE,
    coverage_section,
)
from trainguard_local.demo.fleet import FULL, QUICK, plan_fleet
from trainguard_local.demo.summary import _coverage_checks
from trainguard_local.emulator_deploy import REPO_ROOT
from trainguard_tools.curvefile import load_curves

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def records() -> Any:
    loaded, problems = load_curves(REPO_ROOT / "data" / "curves.jsonl")
    assert problems == []
    return loaded


def test_the_coverage_jobs_are_opted_in_wrong_or_late(records: Any) -> None:
    for scenario in (FULL, QUICK):
        jobs = {j.name: j for j in plan_fleet(records, scenario) if j.group == COVERAGE_GROUP}
        assert sorted(jobs) == sorted([MISTYPED, NO_OBJECTIVE, BAD_TAG, LATE_GROUP])
        mistyped = jobs[MISTYPED]
        assert mistyped.tags["trainguard:objective"] == "validation:loss"
        assert mistyped.objective == "validation_loss"  # what it defines and publishes
        assert "trainguard:objective" not in jobs[NO_OBJECTIVE].tags
        assert jobs[BAD_TAG].tags["trainguard:direction"] == "down"
        assert jobs[BAD_TAG].tag_changes[0][1] == (("trainguard:direction", "minimize"),)
        assert "trainguard:group" not in jobs[LATE_GROUP].tags and jobs[LATE_GROUP].tagged
        assert all(j.end_minute - j.start_minute >= 30 for j in jobs.values())


EMAILS = [
    f"[trainguard] NOT JUDGED {MISTYPED}: objective validation:loss not arriving after 5 min",
    f"[trainguard] NOT JUDGED {NO_OBJECTIVE}: not judged by the stopping rules: no "
    "trainguard:objective tag",
    f"[trainguard] CONFIG {BAD_TAG}: trainguard:direction must be 'minimize' or 'maximize'",
    f"[trainguard] WATCHED {BAD_TAG}: its trainguard tags are fixed",
]
BODIES = {0: "Fix: did you mean `validation_loss`? Tag the job ..."}
SENT = [(s, BODIES.get(i, "")) for i, s in enumerate(EMAILS)]
ITEMS = {
    BAD_TAG: {"progress": {}, "episodes": {}},
    LATE_GROUP: {"opted_in": True, "progress": {}, "episodes": {"unwatched:references": 1.0}},
}


def test_the_coverage_checks_pass_when_each_job_was_noticed_fixed_or_watched(
    records: Any,
) -> None:
    fleet = plan_fleet(records, QUICK)
    section = coverage_section(fleet, SENT, ITEMS)
    assert [c.ok for c in _coverage_checks(section)] == [True] * 5
    assert section["open_causes"][LATE_GROUP] == ["unwatched:references"]
    assert section["emails"][BAD_TAG] == EMAILS[2:]


def test_a_coverage_check_fails_naming_what_was_not_said(records: Any) -> None:
    fleet = plan_fleet(records, QUICK)
    items = {**ITEMS, LATE_GROUP: {"opted_in": False, "episodes": {}}}
    checks = _coverage_checks(coverage_section(fleet, SENT[:3], items))
    failed = [c.name for c in checks if not c.ok]
    assert failed == [
        "the bad tag fixed mid-run, and said",
        "the job tagged into a group mid-run is opted in and watched",
    ]


def test_the_mistyped_check_needs_the_nearest_name_in_the_body(records: Any) -> None:
    fleet = plan_fleet(records, QUICK)
    bare = [(s, "") for s in EMAILS]
    (first, *_) = _coverage_checks(coverage_section(fleet, bare, ITEMS))
    assert not first.ok and first.detail == "no such email"
