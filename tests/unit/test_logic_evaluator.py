"""The evaluator's tick over in-memory fakes: who is stopped, once, and who never is."""

from __future__ import annotations

import pytest
from fakes import median_policy
from world import TAGS, World

from trainguard.config import Policy

pytestmark = pytest.mark.unit

REFERENCES = [1.0 - 0.02 * i for i in range(10)]  # 1.00 .. 0.82


def world_with_references(policy: Policy | None = None) -> World:
    world = World()
    if policy is not None:
        world.fakes.policy = policy
    for i in range(3):
        world.complete_with(f"ref-{i}", [v + 0.01 * i for v in REFERENCES])
    world.emails()
    return world


def test_enforce_stops_a_worse_job_once_with_its_numbers() -> None:
    world = world_with_references()
    job = world.start("worse")
    world.report(job, [1.5 - 0.01 * i for i in range(5)])
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.jobs, tick.stops, tick.errors) == (1, 1, 0)
    assert world.fakes.training_jobs.stopped == ["worse"]
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] STOPPED worse: median rule, 1.46 > ")
    (audit,) = world.decisions("worse")
    assert audit["action"] == "STOPPED" and audit["rule"] == "median"
    assert audit["references"] == 3 and audit["step"] == 5
    # the next tick sees the claim and does nothing again
    world.fakes.advance(1)
    assert world.tick().stops == 0
    assert world.fakes.training_jobs.stopped == ["worse"] and world.emails() == []


def test_a_better_job_is_not_stopped() -> None:
    world = world_with_references()
    job = world.start("better")
    world.report(job, [0.5 - 0.01 * i for i in range(5)])
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.decisions, tick.stops, tick.would_stops) == (1, 0, 0)
    assert world.fakes.training_jobs.stopped == [] and world.emails() == []


@pytest.mark.parametrize(
    ("policy", "tags", "outcome"),
    [
        (
            median_policy(mode="observe"),
            {**TAGS, "trainguard:mode": "observe"},
            "WOULD STOP (observe)",
        ),
        (median_policy(stops_disabled=True), TAGS, "WOULD STOP (stops disabled)"),
    ],
)
def test_observe_mode_and_the_kill_switch_never_stop(
    policy: Policy, tags: dict[str, str], outcome: str
) -> None:
    world = world_with_references(policy)
    job = world.start("worse", tags)
    world.report(job, [1.5] * 5)
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.stops, tick.would_stops) == (0, 1)
    assert world.fakes.training_jobs.stopped == []
    assert world.fakes.training_jobs.calls["stop"] == 0
    (subject,) = world.emails()
    assert subject.startswith(f"[trainguard] {outcome} worse")
    world.fakes.advance(1)
    assert world.tick().would_stops == 0 and world.emails() == []  # reported once


def test_a_job_without_the_opt_in_tag_is_never_evaluated_or_stopped() -> None:
    world = world_with_references()
    job = world.start("untagged", {"team": "x"})
    world.report(job, [9.0] * 5)
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.jobs, tick.stops, tick.would_stops) == (0, 0, 0)
    assert world.fakes.training_jobs.calls["stop"] == 0
    assert "trainguard-gpu-idle-untagged-algo-1" in world.fakes.alarms.alarms  # still alerted


def test_a_stop_that_failed_in_passing_stays_open_and_the_next_tick_finishes_it() -> None:
    world = world_with_references()
    for name in ("a-throttled", "b-fine"):
        world.report(world.start(name), [1.5] * 5)
    world.fakes.advance(6)
    world.fakes.training_jobs.fail("stop", RuntimeError("Rate exceeded"))
    tick = world.tick()
    assert (tick.stops, tick.errors) == (1, 1)
    assert world.fakes.training_jobs.stopped == ["b-fine"]
    assert [a for _, a in world.fakes.ledger.open_actions()] == ["median#stop"]
    world.emails()
    world.fakes.advance(1)
    tick = world.tick()
    assert (tick.resumed, tick.stops) == (1, 1)
    assert world.fakes.training_jobs.stopped == ["b-fine", "a-throttled"]
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] STOPPED a-throttled")
    assert world.fakes.ledger.open_actions() == []


def test_a_bad_tag_is_reported_once_and_the_tick_goes_on() -> None:
    world = world_with_references()
    world.report(world.start("typo", {**TAGS, "trainguard:direction": "down"}), [1.0])
    world.report(world.start("worse"), [1.5] * 5)
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.stops, tick.alerts) == (1, 1)
    subjects = sorted(world.emails())
    assert subjects[0].startswith("[trainguard] CONFIG typo: trainguard:direction must be")
    assert "STOPPED worse" in subjects[1]
    world.fakes.advance(1)
    world.tick()
    assert world.emails() == []


def test_metrics_unreadable_the_rest_of_the_tick_goes_on() -> None:
    world = world_with_references()
    world.report(world.start("worse"), [1.5] * 5)
    world.fakes.advance(6)
    world.fakes.metrics.fail("get_series", RuntimeError("Throttling"))
    tick = world.tick()
    assert (tick.errors, tick.stops, tick.evaluated) == (1, 0, 1)
    world.fakes.advance(1)
    assert world.tick().stops == 1  # read from the start on the next tick


def test_a_steady_tick_reads_only_the_recent_window_once_per_job() -> None:
    world = world_with_references()
    job = world.start("long")
    world.report(job, [0.5] * 120)
    world.fakes.advance(121)
    world.tick()  # first read: from the start
    world.fakes.metrics.requests.clear()
    world.fakes.advance(1)
    world.tick()
    (request,) = world.fakes.metrics.requests
    # one call: the objective, and the host's GPU utilization (the hung-job rule's samples,
    # which also say the instance reports: no separate liveness query)
    assert sorted(q.id for q in request) == ["g0_0", "o0"]


def test_runtime_guard_alerts_once_on_a_missing_max_runtime() -> None:
    world = world_with_references()
    job = world.start("forever", deliver=False)
    job.max_runtime_s = 0
    world.event(job)
    world.fakes.advance(1)
    assert world.tick().alerts == 1
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] ALERT forever: max runtime")
    world.fakes.advance(1)
    assert world.tick().alerts == 0


def test_ingestion_lag_delays_what_the_evaluator_counts_by_the_lag() -> None:
    world = world_with_references(median_policy(ingestion_lag_minutes=3.0))
    job = world.start("worse")
    world.report(job, [1.5])  # the datapoint of minute 1
    world.fakes.advance(2)
    assert world.tick().stops == 0  # minute 1 + 3 min lag > now: not counted yet
    world.fakes.advance(2)
    assert world.tick().stops == 1
