"""The demo's revive group (issue 23): its plan, the revival it plays, and the summary's
``revive`` checks on a synthetic run."""

from __future__ import annotations

import math
from typing import Any

import pytest

from trainguard.config import Policy
from trainguard.constants import TAG_REVIVED_FROM
from trainguard_local.demo.fleet import FULL, QUICK, plan_fleet
from trainguard_local.demo.revive import (
    REFERENCES,
    REVIVAL_ROLE,
    REVIVE_GROUP,
    STOPPED,
    checkpoint_uri,
    new_revivals,
    revival_name,
    revive_section,
)
from trainguard_local.demo.summary import _coverage_checks, _retry_checks, build_summary
from trainguard_local.emulator_deploy import REPO_ROOT
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay

pytestmark = pytest.mark.unit

REVIVAL = revival_name(STOPPED)


@pytest.fixture(scope="module")
def records() -> Any:
    loaded, problems = load_curves(REPO_ROOT / "data" / "curves.jsonl")
    assert problems == []
    return loaded


@pytest.mark.parametrize("scenario", [QUICK, FULL], ids=["quick", "full"])
def test_the_revive_group_checkpoints_and_its_poor_job_is_stopped_by_catch_up(
    records: Any, scenario: Any
) -> None:
    fleet = plan_fleet(records, scenario)
    jobs = {j.name: j for j in fleet if j.group == REVIVE_GROUP}
    assert sorted(jobs) == sorted([*REFERENCES, STOPPED])
    assert all(j.checkpoint == checkpoint_uri(j.name) and j.tagged for j in jobs.values())
    refs_end = max(jobs[r].end_minute for r in REFERENCES)
    assert jobs[STOPPED].start_minute > refs_end  # judged against three completed references
    assert revival_name("job") == "job-revived-1"
    # what the deployed catch-up rule will do with the group (steps = minutes since the start)
    replayed = [
        CurveRecord(
            job=j.name,
            group=j.group,
            status="Completed",
            objective=j.objective,
            direction=j.direction,  # type: ignore[arg-type]
            start_minute=float(j.start_minute),
            minutes_per_step=1.0,
            instance_type=j.instance_type,
            instance_count=j.instance_count,
            curve=tuple(
                (float(j.epoch_minute(e) - j.start_minute), v)
                for e, v in j.curve
                if math.isfinite(v)
            ),
            end_minute=float(j.end_minute),
        )
        for j in jobs.values()
    ]
    result = replay(replayed, Policy(mode="enforce"))
    stops = [(s.job, s.rule) for g in result.groups.values() for s in g.stops if not s.at_end]
    assert stops == [(STOPPED, "catch-up")]


class FakeShim:
    """The shim's one question here: does SageMaker know the job."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def job(self, name: str) -> object:
        if name not in self.names:
            raise KeyError(name)
        return object()


def test_a_revival_is_played_once_on_the_original_s_curve_after_its_checkpoint(
    records: Any,
) -> None:
    fleet = plan_fleet(records, QUICK)
    original = next(j for j in fleet if j.name == STOPPED)
    published = {STOPPED: [(1, 2.5), (2, 2.2), (3, 1.9)]}  # stopped after its epoch 3
    assert new_revivals(FakeShim(set()), fleet, set(), 20, published) == []  # not created yet
    [revival] = new_revivals(FakeShim({REVIVAL}), fleet, set(), 20, published)
    assert revival.name == REVIVAL and revival.role == REVIVAL_ROLE
    assert revival.checkpoint == original.checkpoint and revival.end_status == "Completed"
    assert revival.curve == tuple((e, v) for e, v in original.curve if e > 3)
    assert revival.values_at(21) == [] and revival.values_at(22) == [original.curve[3][1]]
    assert revival.end_minute == 21 + original.epochs - 3
    assert new_revivals(FakeShim({REVIVAL}), fleet, {REVIVAL}, 21, published) == []


def _run(*, exit_codes: list[int], announced: bool = True, status: str = "Completed") -> Any:
    uri = checkpoint_uri(STOPPED)
    emails = [
        (
            f"[trainguard] STOPPED {STOPPED}: catch-up at step 4",
            f"Resumable: yes: its checkpoints are in {uri} (trainguard revive {STOPPED})",
        )
    ]
    if announced:
        emails.append((f"[trainguard] REVIVED {STOPPED} as {REVIVAL}", "Requested by demo-owner"))
    descriptions = {
        STOPPED: {"TrainingJobStatus": "Stopped", "CheckpointConfig": {"S3Uri": uri}},
        REVIVAL: {
            "TrainingJobStatus": status,
            "CheckpointConfig": {"S3Uri": uri},
        },
    }
    published = {STOPPED: [(1, 2.5), (2, 2.2), (3, 1.9)], REVIVAL: [(4, 1.6), (5, 1.4)]}
    requested = {"requested_at_minute": 22, "cli_exit_codes": exit_codes, "cli_output": ["ok"]}
    fleet = plan_fleet(load_curves(REPO_ROOT / "data" / "curves.jsonl")[0], QUICK)
    created = ["capacity-job-retry-1", REVIVAL]
    tags = {REVIVAL: {TAG_REVIVED_FROM: STOPPED}}
    return revive_section(fleet, emails, descriptions, published, created, requested, tags)


def test_the_revive_checks_pass_on_a_run_that_revived_and_finished() -> None:
    section = _run(exit_codes=[0])
    checks = _coverage_checks(section)
    assert len(checks) == 5 and all(c.ok for c in checks), [c.detail for c in checks]
    assert section["revived_jobs"] == [REVIVAL] and section["checkpoint"]
    # the revival an owner asked for is not one more job trainguard created by itself
    summary = {
        "retries": {
            "capacity_failures": ["capacity-job"],
            "attempted": 1,
            "succeeded": 1,
            "retry_jobs": {"capacity-job-retry-1": "Completed"},
        },
        "created_by_trainguard": ["capacity-job-retry-1", REVIVAL],
        "revive": section,
    }
    assert [c.ok for c in _retry_checks(summary)] == [True]


@pytest.mark.parametrize(
    ("run", "failed"),
    [
        ({"exit_codes": [1]}, "trainguard revive accepted the owner's request"),
        ({"exit_codes": [0], "announced": False}, "the revival created once and announced"),
        (
            {"exit_codes": [0], "status": "Stopped"},
            "the revival resumed from the same checkpoints and finished",
        ),
    ],
)
def test_a_revive_check_fails_by_its_name(run: dict[str, Any], failed: str) -> None:
    checks = _coverage_checks(_run(**run))
    assert [c.name for c in checks if not c.ok] == [failed]


def test_a_revival_s_gpu_time_is_spent_against_its_original_s_baseline(records: Any) -> None:
    fleet = [j for j in plan_fleet(records, QUICK) if j.group == REVIVE_GROUP]
    published = {STOPPED: [(1, 2.5), (2, 2.2), (3, 1.9)]}
    [revival] = new_revivals(FakeShim({REVIVAL}), fleet, set(), 20, published)
    alone = build_summary(fleet, [], {}, [], Policy().catalog())
    both = build_summary([*fleet, revival], [], {}, [], Policy().catalog())
    assert both["gpu_hours_baseline"] == alone["gpu_hours_baseline"]
