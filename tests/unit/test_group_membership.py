"""Group poisoning (issue 21): four foreign jobs tagged into a group with loss 0 got its healthy
job stopped under the median rule. A group's references are bound to an execution role: the
group's ``referenceRoles``, else the role of its first reference."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeJob
from test_logic_evaluator import world_with_references
from world import REFS, TAGS, World

pytestmark = pytest.mark.unit

OURS = "arn:aws:iam::123456789012:role/training"  # the fakes' default role: the references'
FOREIGN = "arn:aws:iam::123456789012:role/someone-else"


def complete_with_zero_loss(world: World, name: str, role: str) -> FakeJob:
    job = world.start(name, deliver=False)
    job.role_arn = role
    world.event(job)
    world.report(job, [0.0] * 10)
    world.fakes.advance(11)
    world.end(job)
    return job


def healthy_tick(world: World) -> int:
    world.emails()
    healthy = world.start("healthy")
    world.report(healthy, [0.95 - 0.01 * i for i in range(5)])  # as good as the references
    world.fakes.advance(6)
    return world.tick().stops


def test_foreign_jobs_of_another_role_cannot_poison_a_group() -> None:
    world = world_with_references()  # three references, run with OURS
    for i in range(4):
        complete_with_zero_loss(world, f"foreign-{i}", FOREIGN)
    stats = world.fakes.references.get_stats(REFS)
    assert stats is not None and stats.references == 3 and stats.role == OURS
    assert healthy_tick(world) == 0


def test_references_of_the_group_s_role_still_set_its_threshold() -> None:
    world = world_with_references()
    for i in range(4):
        complete_with_zero_loss(world, f"ours-{i}", OURS)
    assert world.fakes.references.get_stats(REFS).references == 7  # type: ignore[union-attr]
    assert healthy_tick(world) == 1  # the median of 7 is now 0: the healthy job is worse


def test_a_group_s_reference_roles_admit_whom_they_name() -> None:
    world = world_with_references()
    both = f"{OURS}, {FOREIGN}"
    world.fakes.policy = replace(
        world.policy, references=replace(world.policy.references, roles=both)
    )
    for i in range(4):
        complete_with_zero_loss(world, f"partner-{i}", FOREIGN)
    assert world.fakes.references.get_stats(REFS).references == 7  # type: ignore[union-attr]
    only_ours = replace(world.policy.references, roles=OURS)
    world.fakes.policy = replace(world.policy, references=only_ours)
    complete_with_zero_loss(world, "not-partner", FOREIGN)
    assert world.fakes.references.get_stats(REFS).references == 7  # type: ignore[union-attr]


def test_the_first_reference_binds_a_new_group_to_its_role() -> None:
    world = World()
    first = world.start("first", {**TAGS, "trainguard:group": "new"}, deliver=False)
    first.role_arn = FOREIGN
    world.event(first)
    world.report(first, [1.0] * 5)
    world.fakes.advance(6)
    world.end(first)
    new = replace(REFS, group="new")
    assert world.fakes.references.get_stats(new).role == FOREIGN  # type: ignore[union-attr]
    assert world.record("first").role_arn == FOREIGN  # kept on the run since it registered
