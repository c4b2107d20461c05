"""The lifecycle over in-memory fakes: registration, duplicates, reordering, completion, failure."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeJob, state_change
from world import REFS, TAGS, World

from trainguard.handlers.lifecycle import handle_state_change
from trainguard.models import EventError, RunId

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
    (curve, duration) = world.fakes.references.group_curves(REFS)[str(world.record("done").run)]
    assert curve == [(1.0, 1.0), (2.0, 0.8), (3.0, 0.6)] and duration == 4.0
    stats = world.fakes.references.get_stats(REFS)
    assert stats is not None and stats.references == 1 and stats.median_duration_min == 4.0
    assert world.fakes.alarms.alarms == {}  # deleted at the end
    assert world.record(job.name).status == "Completed"


def test_completed_before_in_progress_still_builds_the_reference() -> None:
    world = World()
    job = world.start("early", deliver=False)
    world.report(job, [1.0, 0.9])
    world.fakes.advance(3)
    world.end(job)
    job.status = "InProgress"  # the late InProgress event
    assert world.event(job).action == "ignored: already ended"
    assert str(world.record("early").run) in world.fakes.references.group_curves(REFS)


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
            {
                "detail-type": "SageMaker Training Job State Change",
                "detail": {"TrainingJobName": "x", "TrainingJobStatus": "Exploded"},
            },
            world.deps(),
        )
    assert world.fakes.table.items == {}


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
    assert world.fakes.references.group_curves(REFS) == {}


def test_a_name_used_again_after_delete_is_a_new_run_with_its_own_alarms_and_decisions() -> None:
    world = World()
    old = world.start("reused")
    world.report(old, [1.0, 0.9])
    world.fakes.advance(3)
    world.end(old, "Stopped")
    # DeleteTrainingJob, then CreateTrainingJob with the same name: a new CreationTime
    world.fakes.advance(10)
    del world.fakes.training_jobs.jobs["reused"]
    new = world.start("reused", deliver=False)
    result = world.event(new)
    assert (result.action, result.alarms_created) == ("registered", 1)
    latest = world.record("reused")
    assert latest.running and latest.created_ms == round(new.start * 1000)
    old_run = world.fakes.jobs.get_job(RunId("reused", round(old.start * 1000)))
    assert old_run is not None and old_run.status == "Stopped"
    assert world.tick().jobs == 1  # the new run is evaluated


def test_a_late_end_of_the_old_run_keeps_the_new_run_s_alarms() -> None:
    world = World()
    old = world.start("reused")
    world.fakes.advance(3)
    end_event_old = state_change(
        type(old)(
            **{**old.__dict__, "status": "Stopped", "secondary": "Stopped", "end": world.fakes.now}
        )
    )
    world.fakes.advance(10)
    del world.fakes.training_jobs.jobs["reused"]
    world.start("reused")  # the new run registers and creates its alarm
    handle_state_change(end_event_old, world.deps())  # the old run's end arrives late
    assert list(world.fakes.alarms.alarms) == ["trainguard-gpu-idle-reused-algo-1"]
    assert world.record("reused").running


def without_creation_time(world: World, job: FakeJob) -> dict[str, Any]:
    event = state_change(job, time=world.fakes.now)
    del event["detail"]["CreationTime"]
    return event


def test_an_event_without_creation_time_makes_one_run_not_two() -> None:
    """A run is its name and its CreationTime: keyed without one (0), the job was a second run
    once the reconcile (or its next event) named the real CreationTime."""
    world = World()
    job = world.start("timeless", deliver=False)
    result = handle_state_change(without_creation_time(world, job), world.deps())
    assert result.action == "registered"
    assert world.record("timeless").created_ms == round(job.start * 1000)
    tick = world.tick()  # the reconcile lists the job with its CreationTime: already known
    assert tick.registered == [] and tick.jobs == 1
    world.report(job, [1.0])
    world.fakes.advance(3)
    world.end(job)  # the end event carries CreationTime: the same run ends
    runs = world.fakes.table.under("JOB#timeless")
    assert len([item for _, item in runs if "record" in item]) == 1
    assert not world.record("timeless").running


def test_an_event_without_creation_time_for_an_unknown_job_is_ignored() -> None:
    world = World()
    job = world.start("ghost", deliver=False)
    event = without_creation_time(world, job)
    world.fakes.training_jobs.jobs.clear()  # SageMaker no longer knows it; nor does the table
    assert handle_state_change(event, world.deps()).action == "ignored: no CreationTime"
    assert world.fakes.jobs.latest_run("ghost") is None


def test_an_event_without_creation_time_whose_describe_fails_is_retried() -> None:
    world = World()
    job = world.start("throttled", deliver=False)
    world.fakes.training_jobs.fail("describe", RuntimeError("Throttling"))
    with pytest.raises(RuntimeError):  # the event is delivered again (then dead-lettered)
        handle_state_change(without_creation_time(world, job), world.deps())
    assert world.fakes.jobs.latest_run("throttled") is None
