"""The reconcile over in-memory fakes: lost events and orphaned alarms."""

from __future__ import annotations

import pytest
from world import REFS, World

pytestmark = pytest.mark.unit


def test_a_lost_in_progress_is_registered_by_the_next_tick() -> None:
    world = World()
    world.start("lost", deliver=False)
    tick = world.tick()
    assert tick.registered == ["lost"] and tick.jobs == 1
    assert "trainguard-gpu-idle-lost-algo-1" in world.fakes.alarms.alarms


def test_a_lost_end_is_finalized_with_its_alarms_deleted() -> None:
    world = World()
    job = world.start("ended")
    world.report(job, [1.0, 0.9])
    world.fakes.advance(3)
    world.end(job, deliver=False)
    tick = world.tick()
    assert tick.finalized == ["ended"] and tick.jobs == 0
    assert world.fakes.alarms.alarms == {}
    assert str(world.record("ended").run) in world.fakes.references.group_curves(
        REFS
    )  # the completion was applied


def test_a_job_sagemaker_no_longer_knows_is_finalized() -> None:
    world = World()
    world.start("deleted")
    world.fakes.training_jobs.jobs.clear()
    tick = world.tick()
    assert tick.finalized == ["deleted"]
    assert world.record("deleted").status == "Unknown"


def test_orphaned_alarms_are_deleted() -> None:
    world = World()
    world.fakes.alarms.put_gpu_idle_alarm("gone", 1, 1, 10.0, 15.0, None)
    world.start("alive")
    tick = world.tick()
    assert tick.orphan_alarms_deleted == 1
    assert list(world.fakes.alarms.alarms) == ["trainguard-gpu-idle-alive-algo-1"]


def test_one_job_failing_in_the_reconcile_does_not_stop_the_others() -> None:
    world = World()
    world.start("a", deliver=False)
    world.start("b", deliver=False)
    world.fakes.training_jobs.fail("describe", RuntimeError("Throttling"))
    tick = world.tick()
    assert tick.errors == 1 and tick.registered == ["b"]
