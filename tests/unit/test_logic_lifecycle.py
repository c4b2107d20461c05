"""The lifecycle over in-memory fakes: registration, duplicates, reordering, completion, failure."""

from __future__ import annotations

import pytest
from fakes import state_change
from world import TAGS, World

from trainguard.logic.lifecycle import handle_state_change
from trainguard.models import EventError

pytestmark = pytest.mark.unit


def test_in_progress_registers_once_with_an_alarm_per_host() -> None:
    world = World()
    job = world.start("multi", count=3, deliver=False)
    first = world.event(job)
    assert (first.action, first.opted_in, first.alarms_created) == ("registered", True, 3)
    assert world.event(job).action == "duplicate"
    assert sorted(world.fakes.alarms.alarms) == [
        f"trainguard-gpu-idle-multi-algo-{i}" for i in (1, 2, 3)
    ]
    alarm = world.fakes.alarms.alarms["trainguard-gpu-idle-multi-algo-2"]
    assert (alarm["gpus"], alarm["threshold"], alarm["window"]) == (1, 10.0, 15.0)


def test_completion_records_the_curve_and_the_group_statistics() -> None:
    world = World()
    job = world.complete_with("done", [1.0, 0.8, 0.6])
    (curve, duration) = world.fakes.store.group_curves("g")["done"]
    assert curve == [(1.0, 1.0), (2.0, 0.8), (3.0, 0.6)] and duration == 4.0
    stats = world.fakes.store.get_stats("g")
    assert stats is not None and stats.references == 1 and stats.median_duration_min == 4.0
    assert world.fakes.alarms.alarms == {}  # deleted at the end
    assert world.fakes.store.get_job(job.name).status == "Completed"  # type: ignore[union-attr]


def test_completed_before_in_progress_still_builds_the_reference() -> None:
    world = World()
    job = world.start("early", deliver=False)
    world.report(job, [1.0, 0.9])
    world.fakes.advance(3)
    world.end(job)
    job.status = "InProgress"  # the late InProgress event
    assert world.event(job).action == "ignored: already ended"
    assert "early" in world.fakes.store.group_curves("g")


def test_a_failed_job_is_emailed_once() -> None:
    world = World()
    job = world.start("broken")
    world.fakes.advance(2)
    world.end(job, "Failed", reason="CUDA out of memory")
    (subject,) = world.emails()
    assert subject == "[trainguard] FAILED broken: CUDA out of memory"
    job.secondary = "Failed-again"  # a second, different event for the same failure
    world.event(job)
    assert world.emails() == []


def test_tags_come_from_list_tags_when_the_event_has_none() -> None:
    world = World()
    job = world.start("quiet", deliver=False)
    result = world.event(job, tags=False)
    assert result.opted_in is True
    assert world.fakes.training_jobs.calls["tags"] == 1


def test_an_unknown_job_without_tags_is_not_opted_in_and_nothing_is_retried() -> None:
    world = World()
    job = world.start("ghost", deliver=False)
    event = state_change(job, tags=False)
    world.fakes.training_jobs.jobs.clear()  # SageMaker no longer knows it
    result = handle_state_change(event, world.deps())
    assert (result.action, result.opted_in) == ("registered", False)
    assert world.fakes.training_jobs.calls["tags"] == 1


def test_a_malformed_event_names_the_field_and_writes_nothing() -> None:
    world = World()
    with pytest.raises(EventError, match="TrainingJobStatus"):
        handle_state_change(
            {"detail-type": "SageMaker Training Job State Change", "detail": {
                "TrainingJobName": "x", "TrainingJobStatus": "Exploded"}},
            world.deps(),
        )  # fmt: skip
    assert world.fakes.store.items == {}


def test_an_unknown_instance_type_registers_without_alarms_and_says_why() -> None:
    world = World()
    job = world.start("exotic", instance_type="ml.zz.huge", deliver=False)
    result = world.event(job)
    assert result.action == "registered" and result.alarms_created == 0
    assert "unknown instance type 'ml.zz.huge'" in result.warnings[0]


def test_stopped_and_failed_are_never_references() -> None:
    world = World()
    for status in ("Stopped", "Failed"):
        job = world.start(f"job-{status}", TAGS)
        world.report(job, [1.0, 0.9])
        world.fakes.advance(3)
        world.end(job, status)
    assert world.fakes.store.group_curves("g") == {}
