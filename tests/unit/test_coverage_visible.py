"""Coverage is visible (issue 20): ``trainguard status`` shows per job which rules watch it and,
for each that does not, why; the weekly digest lists the opted-in jobs not fully watched; the
tick counts them (``UnwatchedJobs``). One computation (``trainguard.logic.coverage``) says
it in each place, so they agree."""

from __future__ import annotations

import pytest
from test_coverage_notices import busy_minutes, mistyped
from world import TAGS, World

from trainguard.config import Controls
from trainguard.logic.digest import send_digest
from trainguard_tools.status import format_text, job_status

pytestmark = pytest.mark.unit


def status_of(world: World, name: str):  # type: ignore[no-untyped-def]
    record = world.record(name)
    stats, _ = world.fakes.references.batch_get_group_state([record.reference_set])
    return job_status(record, world.policy, Controls(), stats, world.fakes.now)


def test_status_says_which_rules_watch_a_job_and_why_the_others_do_not() -> None:
    world = World()
    job = mistyped(world, "first-day")
    busy_minutes(world, job, 16, "validation_loss")
    row = status_of(world, "first-day")
    assert row.coverage["median"].startswith(
        "not watched: objective validation:loss not arriving (15 min after the start"
    )
    assert row.coverage["runtime"] == row.coverage["gpu-idle"] == "watched"
    assert row.coverage["straggler"] == "n/a: one instance"
    assert not row.fully_watched
    text = format_text(Controls(), world.policy, "false", [row])
    line = next(x for x in text.splitlines() if x.startswith("  first-day: watched by"))
    assert "NOT watched by median (objective validation:loss not arriving" in line


def test_status_of_a_job_waiting_for_references_says_how_many_it_has_and_needs() -> None:
    world = World()
    world.complete_with("ref-0", [0.5, 0.4])
    world.start("new")
    world.tick()
    row = status_of(world, "new")
    assert row.coverage["median"] == (
        "not watched: waiting for references: 1 of 3 completed jobs in its reference set"
    )


def test_a_bad_tag_shows_in_status_as_the_cause_of_every_gap() -> None:
    world = World()
    world.start("typo", {**TAGS, "trainguard:mode": "enforcing"})
    world.tick()
    row = status_of(world, "typo")
    assert row.coverage["median"].startswith("not watched: bad trainguard tag: trainguard:mode")
    assert row.coverage["gpu-idle"] == "watched"  # its alarms do not need its tags


def test_the_digest_lists_the_jobs_not_fully_watched_with_the_tick_count() -> None:
    world = World()
    job = mistyped(world, "first-day")
    untagged = {k: v for k, v in TAGS.items() if k != "trainguard:objective"}
    world.start("no-objective", untagged)
    busy_minutes(world, job, 16, "validation_loss")
    for i in range(3):
        world.complete_with(f"ref-{i}", [0.5, 0.4, 0.3])
    tick = world.tick()
    assert tick.unwatched == 2  # the references are in: the two jobs' own causes are left
    world.fakes.notifier.take()
    digest = send_digest(world.deps(), world.fakes.now)
    assert [u.run.name for u in digest.unwatched] == ["first-day", "no-objective"]
    (email,) = world.fakes.notifier.take()
    assert "Opted-in jobs not fully watched" in email.body
    assert "no-objective (g): not watched by median (no trainguard:objective tag)" in email.body
