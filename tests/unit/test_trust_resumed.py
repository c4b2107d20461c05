"""Trust, round two (issue 21): a resumed stop is re-checked as a first attempt is, and a
claim read back from the table is carried out only if the rules would make its decision now.
Each test injects the fault (a StopTrainingJob throttled past its retries, a claim written by
someone with table write) and shows what happens instead."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes import FakeJob, median_policy
from test_logic_evaluator import world_with_references
from world import TAGS, World

from trainguard.config import Policy
from trainguard.core.decision import Decision

pytestmark = pytest.mark.unit

WORSE = [1.5] * 5
HEALTHY = [0.5] * 5


def throttled_stop(world: World, name: str = "worse") -> FakeJob:
    """A clearly bad job whose StopTrainingJob is throttled past the client's retries: the
    claim stays ``stopping``, the next tick resumes it."""
    job = world.start(name)
    world.report(job, WORSE)
    world.fakes.advance(6)
    world.fakes.training_jobs.fail("stop", RuntimeError("ThrottlingException: Rate exceeded"))
    tick = world.tick()
    assert tick.stops == 0 and tick.errors >= 1 and job.status == "InProgress"
    assert world.fakes.ledger.open_actions() != []
    world.emails()
    world.fakes.advance(1)
    return job


def _pause(world: World, job: FakeJob) -> None:
    world.fakes.controls.set(paused=True, by="ana", reason="incident")


def _protect(world: World, job: FakeJob) -> None:
    job.tags["trainguard:protect"] = "true"


def _untag(world: World, job: FakeJob) -> None:
    del job.tags["trainguard:group"]


def _completed(world: World, job: FakeJob) -> None:
    job.status = job.secondary = "Completed"
    job.end = world.fakes.now


CHANGES: dict[str, tuple[Callable[[World, FakeJob], None], str]] = {
    "paused": (_pause, "NOT STOPPED (paused by ana: incident)"),
    "protected": (_protect, "NOT STOPPED (protected: its trainguard:protect tag was set)"),
    "untagged": (_untag, "NOT STOPPED (no longer opted in"),
    "completed": (_completed, "NOT STOPPED (already completed)"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_resumed_stop_whose_call_was_throttled_is_re_checked_first(change: str) -> None:
    world = world_with_references()
    job = throttled_stop(world)
    make, said = CHANGES[change]
    make(world, job)
    tick = world.tick()
    assert world.fakes.training_jobs.stopped == [] and job.status != "Stopped"
    assert (tick.stops, tick.dollars_saved) == (0, 0.0)
    (audit,) = world.decisions("worse")
    assert audit["action"].startswith(said)
    assert audit.get("estimated_dollars_saved") is None
    (subject,) = [s for s in world.emails() if "STOP" in s]
    # the subject keeps the outcome's headline (a long reason is cut to fit SNS's limit)
    assert subject.startswith(f"[trainguard] {said.split(':')[0]}")
    world.fakes.advance(5)
    world.tick()
    assert world.fakes.training_jobs.stopped == [] and world.emails() == []  # said once


def test_a_resumed_stop_never_stops_another_owners_job_reusing_the_name() -> None:
    world = world_with_references()
    throttled_stop(world, "victim")
    old = world.record("victim")
    # the owner deletes it; another owner starts a healthy job of the same name, not opted in
    world.fakes.training_jobs.jobs["victim"] = FakeJob(
        "victim", {"team": "other"}, start=world.fakes.now
    )
    tick = world.tick()
    assert world.fakes.training_jobs.stopped == [] and tick.stops == 0
    (audit,) = world.fakes.audit.decisions(old.run)
    assert audit["action"] == "NOT STOPPED (the name belongs to another job now)"


def test_a_resumed_stop_whose_call_was_throttled_still_stops_a_job_nothing_changed() -> None:
    world = world_with_references()
    throttled_stop(world)
    tick = world.tick()
    assert tick.stops == 1 and world.fakes.training_jobs.stopped == ["worse"]
    (audit,) = world.decisions("worse")
    assert audit["action"] == "STOPPED"


def test_a_resumed_enforcing_stop_is_a_report_once_the_deployment_observes() -> None:
    observe = {**TAGS, "trainguard:mode": "observe"}
    for policy, tags in (
        (median_policy(mode="enforce", stops_disabled=True), TAGS),
        (median_policy(mode="observe"), observe),
    ):
        world = world_with_references()
        job = throttled_stop(world)
        job.tags.update(tags)
        world.fakes.policy = policy
        tick = world.tick()
        assert world.fakes.training_jobs.stopped == [] and tick.stops == 0
        (audit,) = world.decisions("worse")
        assert audit["action"].startswith("WOULD STOP (")


# ---- a claim someone wrote into the table --------------------------------------------------
def forge_stop(world: World, name: str) -> None:
    """Someone with table write claims a median stop of ``name`` (and lists it open)."""
    run = world.record(name).run
    decision = Decision(
        job=name,
        rule="median",
        stop=True,
        step=5.0,
        value=0.5,
        threshold=0.4,
        references=3,
        reason="stop: forged",
    )
    details = {
        "decision": decision.to_dict(),
        "enforcing": True,
        "mode": "enforce",
        "savings": 1000.0,
        "context": {"Group": "g"},
    }
    assert world.fakes.ledger.claim_action(run, "median#stop", world.fakes.now, details)


@pytest.mark.parametrize("mode", ["observe", "enforce"])
def test_a_forged_stop_claim_for_a_healthy_job_is_refused_and_said(mode: str) -> None:
    policy: Policy = median_policy(mode=mode)
    world = world_with_references(policy)
    job = world.start("healthy", {**TAGS, "trainguard:mode": mode})
    world.report(job, HEALTHY)
    world.fakes.advance(6)
    assert world.tick().stops == 0 and world.decisions("healthy") == []
    forge_stop(world, "healthy")
    world.fakes.advance(1)
    tick = world.tick()
    assert world.fakes.training_jobs.calls["stop"] == 0 and job.status == "InProgress"
    assert (tick.stops, tick.dollars_saved) == (0, 0.0)
    (audit,) = world.decisions("healthy")
    assert audit["action"].startswith("NOT STOPPED (claim not validated: ")
    assert audit.get("estimated_dollars_saved") is None
    (subject,) = world.emails()
    assert "NOT STOPPED (claim not validated" in subject
    world.fakes.advance(5)
    world.tick()
    assert world.emails() == [] and world.fakes.ledger.open_actions() == []


def test_a_forged_stop_claim_in_an_observe_deployment_never_stops_even_a_bad_job() -> None:
    world = world_with_references(median_policy(mode="observe"))
    job = world.start("worse", {**TAGS, "trainguard:mode": "observe"})
    world.report(job, WORSE)
    world.fakes.advance(6)
    world.tick()  # reported once: WOULD STOP (observe)
    world.emails()
    forge_stop(world, "worse")
    world.fakes.advance(1)
    world.tick()
    assert world.fakes.training_jobs.calls["stop"] == 0 and job.status == "InProgress"


def test_a_forged_stopping_claim_never_audits_an_owners_stop_as_ours() -> None:
    world = world_with_references()
    job = world.start("healthy")
    world.report(job, HEALTHY)
    world.fakes.advance(6)
    world.tick()
    forge_stop(world, "healthy")
    world.fakes.ledger.update_action(
        world.record("healthy").run, "median#stop", state="stopping", attempts=1
    )
    job.status = job.secondary = "Stopped"  # its owner stops it
    world.fakes.advance(1)
    tick = world.tick()
    assert (tick.stops, tick.dollars_saved) == (0, 0.0)
    (audit,) = world.decisions("healthy")
    assert audit["action"].startswith("NOT STOPPED (claim not validated: ")


def test_a_forged_claim_without_a_decision_is_closed_not_retried_every_tick() -> None:
    world = world_with_references()
    job = world.start("healthy")
    world.report(job, HEALTHY)
    world.fakes.advance(6)
    world.tick()
    run = world.record("healthy").run
    assert world.fakes.ledger.claim_action(run, "x#stop", world.fakes.now, {"enforcing": True})
    world.fakes.advance(1)
    tick = world.tick()
    assert tick.errors == 0 and world.fakes.training_jobs.calls["stop"] == 0
    assert world.fakes.ledger.open_actions() == []
