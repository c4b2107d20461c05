"""The catch-up rule, the default objective rule, in the evaluator's tick (over in-memory
fakes): the group's model kept with its statistics, the job's streak kept on its progress,
and a group policy written by ``trainguard calibrate --apply`` honoured without a redeploy."""

from __future__ import annotations

import pytest
from fakes import FakeJob
from world import OBJECTIVE, World

from trainguard.config import Policy

pytestmark = pytest.mark.unit

# three completed references, one value a minute: 1.0 down to about 0.25
REFERENCE = [1.0, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.28, 0.26, 0.25]


def world_with_references(policy: Policy | None = None) -> World:
    world = World()
    world.fakes.policy = policy or Policy()  # the default: catch-up on, median off
    for i in range(3):
        world.complete_with(f"ref-{i}", [v + 0.01 * i for v in REFERENCE])
    world.emails()
    return world


def report_and_tick(world: World, job: FakeJob, value: float) -> None:
    world.fakes.advance(1)
    world.fakes.metrics.put(OBJECTIVE, {"TrainingJobName": job.name}, world.fakes.now, value)
    world.tick()


def test_the_reference_sets_model_takes_in_each_completion() -> None:
    world = world_with_references()
    stats = world.fakes.references.get_stats(world.record("ref-0").reference_set)
    assert stats is not None and stats.catchup is not None
    model = stats.catchup
    assert model.completed == 3 and model.best_final == pytest.approx(0.25)
    gain, n = model.at(1.0)  # after minute 1: from 1.0 (+0.01 i) down to 0.25 (+0.01 i)
    assert n == 3 and gain == pytest.approx(0.75)


def test_a_job_that_cannot_catch_up_is_stopped_at_its_third_worse_report() -> None:
    world = world_with_references()
    job = world.start("hopeless")
    world.emails()
    for value in (3.0, 2.95):
        report_and_tick(world, job, value)
        assert world.fakes.training_jobs.stopped == []
    streak = world.record("hopeless").progress.streak  # type: ignore[union-attr]
    assert (streak.step, streak.current) == (2.0, 2)
    # a tick without a new report judges the same report again: it is not counted twice
    world.fakes.advance(1)
    world.tick()
    assert world.record("hopeless").progress.streak.current == 2  # type: ignore[union-attr]
    report_and_tick(world, job, 2.9)
    assert world.fakes.training_jobs.stopped == ["hopeless"]
    (audit,) = world.decisions("hopeless")
    assert audit["rule"] == "catch-up" and audit["action"] == "STOPPED"
    assert audit["references"] == 3
    assert audit["reason"].startswith("stop: best 2.9 by step 4 \u2212 at most ")
    assert (
        "the best final of 3 completed jobs; to continue, its best by step 4 had to be at most "
        "0.5163 (3 reports in a row)"
    ) in audit["reason"]
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] STOPPED hopeless: catch-up rule")


def test_a_job_that_can_still_catch_up_runs_on() -> None:
    world = world_with_references()
    job = world.start("close")
    for value in (1.02, 0.81, 0.62, 0.51):  # within the references' own spread
        report_and_tick(world, job, value)
    assert world.fakes.training_jobs.stopped == []
    assert world.record("close").progress.streak.current == 0  # type: ignore[union-attr]


def test_the_groups_applied_policy_is_honoured_and_a_tag_still_wins() -> None:
    world = world_with_references()
    world.fakes.references.put_group_policy("g", {"catchup": {"consecutive": 1}})
    job = world.start("once")
    report_and_tick(world, job, 3.0)  # one worse report is enough for this group
    assert world.fakes.training_jobs.stopped == ["once"]
    tagged = world.start(
        "tagged", {**world.record("once").tags, "trainguard:catchup-consecutive": "3"}
    )
    report_and_tick(world, tagged, 3.0)
    assert world.fakes.training_jobs.stopped == ["once"]  # its tag asks for 3 reports


def test_a_refused_group_policy_leaves_the_deployed_one() -> None:
    world = world_with_references()
    world.fakes.references.put_group_policy("g", {"catchup": {"consecutive": 0}})  # below 1
    job = world.start("default")
    report_and_tick(world, job, 3.0)
    tick = world.tick()
    assert tick.errors == 0 and world.fakes.training_jobs.stopped == []
    for value in (2.95, 2.9):
        report_and_tick(world, job, value)
    assert world.fakes.training_jobs.stopped == ["default"]  # after 3 reports, the default
