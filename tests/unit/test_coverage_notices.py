"""Issue 20's coverage notices over the fakes: an opted-in job the stopping rules cannot
judge says why, once a run, with the fix (no objective tag; an objective that does not
arrive, with the names the job defines and the nearest one); nothing is stopped for it."""

from __future__ import annotations

import pytest
from fakes import Email, FakeJob
from world import OBJECTIVE, TAGS, World

from trainguard.config import CoverageSettings, Policy

pytestmark = pytest.mark.unit

DEFINITIONS = [
    {"Name": "train_loss", "Regex": "train_loss=([0-9.]+)"},
    {"Name": "validation_loss", "Regex": "validation_loss=([0-9.]+)"},
]


def busy_minutes(
    world: World, job: FakeJob, minutes: int, metric: str | None, policy: Policy | None = None
) -> list[Email]:
    """Minute by minute: a busy GPU, the job's metric under ``metric`` (None: nothing), a
    tick (under ``policy``); the emails sent."""
    sent: list[Email] = []
    for m in range(minutes):
        world.fakes.advance(1)
        now = world.fakes.now
        world.fakes.metrics.put("GPUUtilization", {"Host": f"{job.name}/algo-1"}, now, 90.0 + m % 3)
        if metric is not None:
            world.fakes.metrics.put(metric, {"TrainingJobName": job.name}, now, 1.0 / (m + 2))
        world.tick(policy)
        sent += world.fakes.notifier.take()
    return sent


def mistyped(world: World, name: str) -> FakeJob:
    """The first-day mistake: the tag says validation:loss, the job logs validation_loss."""
    job = world.start(name)
    job.extra = {
        "AlgorithmSpecification": {
            "TrainingImage": "train:latest",
            "TrainingInputMode": "File",
            "MetricDefinitions": DEFINITIONS,
        }
    }
    world.emails()
    return job


def test_a_mistyped_objective_gets_one_notice_with_the_nearest_name_and_no_stop() -> None:
    world = World()
    job = mistyped(world, "first-day")
    sent = busy_minutes(world, job, 40, "validation_loss")
    (email,) = sent
    assert email.subject == (
        "[trainguard] NOT JUDGED first-day: objective validation:loss not arriving after 15 min"
    )
    assert "did you mean `validation_loss`?" in email.body
    assert "validation:loss" in email.body
    assert "train_loss, validation_loss" in email.body  # the names the job defines
    assert f"trainguard:objective={'validation_loss'}" in email.body  # the fix
    assert world.fakes.training_jobs.stopped == []
    assert world.record("first-day").running


def test_the_objective_notice_waits_for_the_declared_grace() -> None:
    world = World()
    job = mistyped(world, "patient")
    assert busy_minutes(world, job, 14, "validation_loss") == []
    policy = Policy(coverage=CoverageSettings(objective_grace_minutes=30.0))
    world = World()
    job = mistyped(world, "later")
    assert busy_minutes(world, job, 29, None, policy) == []
    (email,) = busy_minutes(world, job, 11, None, policy)
    assert email.subject.endswith("objective validation:loss not arriving after 30 min")


def test_a_job_whose_objective_arrives_gets_no_notice() -> None:
    world = World()
    job = world.start("fine")
    world.emails()
    assert busy_minutes(world, job, 40, OBJECTIVE) == []


def test_a_job_without_an_objective_tag_is_told_once_why_it_is_not_judged() -> None:
    world = World()
    tags = {k: v for k, v in TAGS.items() if k != "trainguard:objective"}
    job = world.start("untagged", tags)
    world.emails()
    (email,) = busy_minutes(world, job, 20, None)
    assert email.subject == (
        "[trainguard] NOT JUDGED untagged: not judged by the stopping rules: no "
        "trainguard:objective tag"
    )
    assert "trainguard:objective=<the metric>" in email.body
    assert world.fakes.training_jobs.stopped == []


# ---- the coverage guarantee: watched, or one open cause that says why ----------------------------
def test_a_job_waiting_for_references_has_its_cause_open_and_no_email() -> None:
    world = World()
    job = world.start("early")
    world.emails()
    tick = world.tick()
    assert (tick.jobs, tick.unwatched) == (1, 1)
    assert "unwatched:references" in world.record("early").episodes
    assert busy_minutes(world, job, 3, OBJECTIVE) == []  # never emailed: a new group's state
    for i in range(3):
        world.complete_with(f"ref-{i}", [0.5, 0.4, 0.3])
    tick = world.tick()
    assert tick.unwatched == 0
    assert "unwatched:references" not in world.record("early").episodes  # closed
    assert not [s for s in world.emails() if "JUDGED" in s or "WATCHED" in s]  # quietly


def test_an_unknown_instance_type_is_said_once_with_the_rules_it_leaves() -> None:
    world = World()
    job = world.start("odd", instance_type="ml.g5.mega", count=2)
    world.emails()
    sent = busy_minutes(world, job, 3, OBJECTIVE)
    (email,) = sent
    assert email.subject == "[trainguard] NOT WATCHED odd: unknown instance type 'ml.g5.mega'"
    assert "Not watched: gpu-idle, hang, straggler; no cost or savings" in email.body
    assert "unwatched:instance-type" in world.record("odd").episodes


def test_a_gpu_job_whose_objective_never_reports_gets_the_objective_notice() -> None:
    # issue 21: "A GPU job whose objective never reports gets no alert at all": the hang rule
    # needs one report, the stall alert is for jobs without GPU metrics; the notice says it
    world = World()
    job = world.start("silent-gpu")
    world.emails()
    sent = busy_minutes(world, job, 40, None)
    (email,) = sent
    assert email.subject == (
        "[trainguard] NOT JUDGED silent-gpu: objective validation:loss not arriving after 15 min"
    )
    assert "In CloudWatch: no metric with the job's TrainingJobName yet" in email.body
    assert world.fakes.training_jobs.stopped == []


def test_a_cpu_job_whose_objective_never_reports_gets_the_notice_and_the_stall_alert() -> None:
    world = World()
    job = world.start("silent-cpu", instance_type="ml.m5.xlarge")
    world.emails()
    sent: list[Email] = []
    for _ in range(35):
        world.fakes.advance(1)
        host = {"Host": "silent-cpu/algo-1"}
        world.fakes.metrics.put("CPUUtilization", host, world.fakes.now, 80.0)
        world.tick()
        sent += world.fakes.notifier.take()
    subjects = [e.subject for e in sent]
    assert subjects[0].startswith("[trainguard] NOT JUDGED silent-cpu: objective validation:loss")
    assert any(s.startswith("[trainguard] ALERT silent-cpu: metric stalled") for s in subjects)
    assert len(subjects) == 2
    assert job.status == "InProgress"
