"""The alert function over in-memory fakes: GPU-idle episodes and the idle auto-stop."""

from __future__ import annotations

import pytest
from world import World

from trainguard.config import GpuIdleSettings, Policy

pytestmark = pytest.mark.unit

ALARM = "trainguard-gpu-idle-idle-algo-2"


def idle_world(policy: Policy | None = None) -> World:
    world = World()
    if policy is not None:
        world.fakes.policy = policy
    world.start("idle", count=2, instance_type="ml.g5.12xlarge")  # 4 GPUs a host
    gpu_minutes(world, 40)
    return world


def gpu_minutes(world: World, minutes: int, idle_host_summed: float = 16.0) -> None:
    """``minutes`` more minutes of GPUUtilization: algo-1 busy, algo-2 at ``idle_host_summed``
    (4 GPUs summed: 16 is 4 % each)."""
    for _ in range(minutes):
        world.fakes.advance(1)
        for host, summed in (("idle/algo-1", 360.0), ("idle/algo-2", idle_host_summed)):
            world.fakes.metrics.put("GPUUtilization", {"Host": host}, world.fakes.now, summed)


def test_an_idle_host_is_alerted_once_with_its_numbers_and_recovers_once() -> None:
    world = idle_world()
    result = world.alarm(ALARM, "ALARM")
    assert (result.action, result.host) == ("opened", "idle/algo-2")
    (subject,) = world.emails()
    # 4 GPUs summing 16: 4 % each, over the 31 minutes after the 10-minute warm-up
    assert subject == "[trainguard] GPU idle: idle/algo-2 (4%/GPU, 31 min)"
    (audit,) = world.decisions("idle")
    assert audit["rule"] == "gpu_idle" and audit["value"] == 4.0
    assert "1 of 2 hosts" in audit["reason"]
    assert world.alarm(ALARM, "ALARM").action == "duplicate"
    assert world.emails() == []
    world.fakes.advance(10)
    assert world.alarm(ALARM, "OK", previous="ALARM").action == "closed"
    (subject,) = world.emails()
    assert subject == "[trainguard] GPU recovered: idle/algo-2 (after 10 min)"
    assert world.alarm(ALARM, "OK").action == "duplicate"  # the same recovery, again
    assert world.emails() == []
    other = "trainguard-gpu-idle-idle-algo-1"  # a host that was never idle
    assert world.alarm(other, "OK").action == "no open episode"


def test_an_alarm_for_a_job_that_is_not_running_is_ignored() -> None:
    world = World()
    assert world.alarm("trainguard-gpu-idle-nobody-algo-1", "ALARM").action == "ignored"
    assert world.emails() == []


def test_an_idle_job_is_stopped_in_enforce_mode_after_the_limit() -> None:
    policy = Policy(mode="enforce", gpu_idle=GpuIdleSettings(stop_after_minutes=30.0))
    world = idle_world(policy)
    world.alarm(ALARM, "ALARM")
    world.emails()
    gpu_minutes(world, 10)  # 10 min since the alarm + its 15 min window: not yet
    assert world.tick().stops == 0
    gpu_minutes(world, 6)
    tick = world.tick()
    assert tick.stops == 1 and world.fakes.training_jobs.stopped == ["idle"]
    (stopped,) = [s for s in world.emails() if "STOPPED" in s]
    assert stopped.startswith("[trainguard] STOPPED idle: GPU idle")


def test_health_alarms_are_only_logged() -> None:
    world = World()
    result = world.alarm("trainguard-health-evaluator-errors", "ALARM")
    assert result.action == "recorded" and world.emails() == []


def test_a_lost_recovery_never_stops_a_job_whose_gpu_is_busy_again() -> None:
    policy = Policy(mode="enforce", gpu_idle=GpuIdleSettings(stop_after_minutes=30.0))
    world = idle_world(policy)
    world.alarm(ALARM, "ALARM")
    gpu_minutes(world, 20, idle_host_summed=300.0)  # it recovered; the alarm's OK was lost
    tick = world.tick()
    assert tick.stops == 0 and world.fakes.training_jobs.calls["stop"] == 0
    assert world.record("idle").idle_hosts  # the episode is still open, as the alarm left it
