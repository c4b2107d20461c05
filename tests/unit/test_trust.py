"""Trust under faults (the evaluator and the act module over in-memory fakes): never act on
the wrong job, never lose a stop or its email. Each test injects the fault and shows what
happens instead."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakes import FakeTrainingJobs, median_policy
from test_logic_evaluator import world_with_references
from world import REFS, TAGS, World, alarm_configuration

from trainguard.config import CoverageSettings, GpuIdleSettings, job_settings
from trainguard.core.decision import Decision
from trainguard.core.series import MAX_CURVE_POINTS, downsample
from trainguard.logic import evaluator
from trainguard.logic.actions import Act
from trainguard.logic.decide import judge
from trainguard.logic.evaluator import Budget
from trainguard.logic.outbox import MAX_ATTEMPTS
from trainguard.models import REFERENCE_WINDOW, StopRefused

pytestmark = pytest.mark.unit

WORSE = [1.5] * 5


class Crash(BaseException):
    """The invocation dies here (a timeout, an out-of-memory kill): no except clause of the
    code under test catches it."""


def worse_job(world: World, name: str = "worse", tags: dict[str, str] | None = None) -> None:
    world.report(world.start(name, tags), WORSE)
    world.fakes.advance(6)


# ---- acting on the wrong job ---------------------------------------------------------------
def test_a_job_whose_opt_in_tag_was_removed_is_not_stopped() -> None:
    world = world_with_references()
    worse_job(world)
    del world.fakes.training_jobs.jobs["worse"].tags["trainguard:group"]  # after InProgress
    # before the tick's re-read of the job's tags (trainguard.logic.retag) comes round: the
    # pre-stop re-check is what holds the stop
    slow = replace(world.policy, coverage=CoverageSettings(tag_reread_minutes=1440.0))
    world.fakes.policy = slow
    tick = world.tick()
    assert tick.retagged == []
    assert tick.stops == 0 and world.fakes.training_jobs.calls["stop"] == 0
    (subject,) = world.emails()
    assert "NOT STOPPED (no longer opted in" in subject
    (audit,) = world.decisions("worse")
    assert audit["action"].startswith("NOT STOPPED (no longer opted in")
    world.fakes.advance(1)
    assert world.tick().stops == 0 and world.emails() == []  # said once


class OwnerStopsFirst(FakeTrainingJobs):
    """The owner presses Stop between our re-check and our StopTrainingJob call."""

    def stop(self, job: str) -> str:
        self.jobs[job].status = self.jobs[job].secondary = "Stopping"
        return super().stop(job)


def test_a_job_its_owner_stopped_first_is_not_counted_as_our_stop() -> None:
    world = world_with_references()
    jobs = OwnerStopsFirst()
    jobs.jobs = world.fakes.training_jobs.jobs
    world.fakes.training_jobs = jobs
    worse_job(world)
    tick = world.tick()
    assert (tick.stops, tick.dollars_saved) == (0, 0.0)
    (audit,) = world.decisions("worse")
    assert audit["action"] == "NOT STOPPED (already ending)"
    assert audit.get("estimated_dollars_saved") is None
    assert "NOT STOPPED (already ending)" in world.emails()[0]


def test_a_job_stopped_by_its_owner_before_the_tick_is_never_judged() -> None:
    world = world_with_references()
    worse_job(world)
    job = world.fakes.training_jobs.jobs["worse"]
    job.status = job.secondary = "Stopped"
    tick = world.tick()
    assert (tick.jobs, tick.stops) == (0, 0) and world.decisions("worse") == []


def test_a_name_that_belongs_to_another_job_now_is_not_stopped() -> None:
    world = world_with_references()
    worse_job(world)
    record = world.record("worse")
    world.fakes.training_jobs.jobs["worse"].start += 600  # deleted and created again
    settings = job_settings(record.tags, world.policy)
    decision = Decision(
        job="worse",
        rule="median",
        stop=True,
        step=5.0,
        value=1.5,
        threshold=0.9,
        references=3,
        reason="stop: test",
    )
    outcome = Act(world.deps(), world.fakes.now).stop(record, settings, decision, None)
    assert outcome == "NOT STOPPED (the name belongs to another job now)"
    assert world.fakes.training_jobs.calls["stop"] == 0


def test_a_forged_gpu_idle_alarm_opens_no_episode_and_stops_nothing() -> None:
    policy = median_policy(mode="enforce", gpu_idle=GpuIdleSettings(stop_after_minutes=1.0))
    world = world_with_references(policy)
    world.start("victim", instance_type="ml.g5.12xlarge")
    alarm = "trainguard-gpu-idle-victim-algo-1"
    ours = world.fakes.alarms.alarms[alarm]
    # someone with PutMetricAlarm points an alarm of our name at another metric
    other = alarm_configuration(ours)
    other["metrics"][0]["metricStat"]["metric"]["name"] = "CPUUtilization"
    assert world.alarm(alarm, "ALARM", configuration=other).action.startswith("refused")
    # or creates one for a host trainguard made no alarm for
    stray = "trainguard-gpu-idle-victim-algo-7"
    conf = alarm_configuration({**ours, "host": "victim/algo-7"})
    assert world.alarm(stray, "ALARM", configuration=conf).action.startswith("refused")
    assert world.record("victim").idle_hosts == {} and world.emails() == []
    world.fakes.advance(30)
    assert world.tick().stops == 0


def test_alarms_that_failed_part_way_are_created_by_the_next_tick() -> None:
    world = World()
    world.fakes.alarms.fail("put_gpu_idle_alarm", RuntimeError("Rate exceeded"), after=2)
    world.start("eight", count=8)
    assert len(world.record("eight").alarms) == 2
    world.fakes.advance(1)
    assert world.tick().errors == 0
    assert len(world.record("eight").alarms) == 8 == len(world.fakes.alarms.alarms)


def test_a_300_instance_job_gets_its_alarms_over_a_few_ticks_within_each_timeout() -> None:
    world = World()
    result = world.start("huge", count=300)
    assert world.fakes.alarms.calls["put_gpu_idle_alarm"] == 60  # one invocation: ~20 s
    ticks = 0
    while len(world.record("huge").alarms) < 300:
        before = world.fakes.alarms.calls["put_gpu_idle_alarm"]
        world.fakes.advance(1)
        world.tick()
        assert world.fakes.alarms.calls["put_gpu_idle_alarm"] - before <= 60
        ticks += 1
    assert ticks == 4 and result is not None


# ---- losing an action ----------------------------------------------------------------------
def test_a_failed_publish_after_a_stop_is_sent_by_the_next_tick() -> None:
    world = world_with_references()
    worse_job(world)
    world.fakes.notifier.fail("publish", RuntimeError("SNS throttled"))
    tick = world.tick()
    assert tick.stops == 1 and tick.emails_failed == 1 and world.emails() == []
    world.fakes.advance(2)  # past the retry delay
    world.tick()
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] STOPPED worse")
    world.fakes.advance(60)
    world.tick()
    assert world.emails() == []  # sent once


def test_an_email_that_never_goes_out_ends_in_the_dead_letters() -> None:
    world = world_with_references()
    worse_job(world)
    world.fakes.notifier.fail("publish", RuntimeError("SNS down"), times=MAX_ATTEMPTS)
    dead = 0
    for _ in range(MAX_ATTEMPTS):
        dead += world.tick().emails_dead
        world.fakes.advance(61)
    assert dead == 1
    (letter,) = world.fakes.outbox.dead_letters()
    assert letter["subject"].startswith("[trainguard] STOPPED worse")


def test_killed_between_the_claim_and_the_stop_the_next_tick_stops_once() -> None:
    world = world_with_references()
    worse_job(world)
    world.fakes.training_jobs.fail("describe", Crash())  # the re-check: never reaches Stop
    with pytest.raises(Crash):
        world.tick()
    assert world.fakes.training_jobs.stopped == [] and world.emails() == []
    world.fakes.advance(1)
    tick = world.tick()
    assert (tick.resumed, tick.stops) == (1, 1)
    assert world.fakes.training_jobs.stopped == ["worse"]
    assert len(world.emails()) == 1 and len(world.decisions("worse")) == 1


def test_killed_just_after_the_stop_the_next_tick_audits_and_emails_it_as_ours() -> None:
    world = world_with_references()
    worse_job(world)
    world.fakes.audit.fail("put_decision", Crash())  # right after StopTrainingJob returned
    with pytest.raises(Crash):
        world.tick()
    assert world.fakes.training_jobs.stopped == ["worse"] and world.emails() == []
    world.fakes.advance(1)
    tick = world.tick()
    assert tick.stops == 1  # SageMaker says "already stopping": that was our request
    assert world.fakes.training_jobs.stopped == ["worse"]  # not stopped twice
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] STOPPED worse")
    (audit,) = world.decisions("worse")
    assert audit["action"] == "STOPPED"


def test_killed_after_the_email_was_written_it_is_sent_once() -> None:
    world = world_with_references()
    worse_job(world)
    world.fakes.notifier.fail("publish", Crash())
    with pytest.raises(Crash):
        world.tick()
    world.fakes.advance(3)  # the dead sender's lease runs out
    world.tick()
    world.fakes.advance(3)
    world.tick()
    assert len(world.emails()) == 1


def test_a_stop_sagemaker_refuses_is_said_once_backed_off_and_given_up() -> None:
    world = world_with_references()
    worse_job(world)
    refused = StopRefused("AccessDeniedException: not authorized to perform StopTrainingJob")
    world.fakes.training_jobs.fail("stop", refused, times=10)
    tick = world.tick()
    assert (tick.stops, tick.stop_failures) == (0, 1) and tick.errors >= 1
    (subject,) = [s for s in world.emails() if "STOP" in s]
    assert subject.startswith("[trainguard] COULD NOT STOP (AccessDeniedException")
    attempts = 1
    for _ in range(24 * 60 // 5):  # a day of ticks, 5 minutes apart
        world.fakes.advance(5)
        attempts += world.tick().stop_failures
    assert attempts == 5  # back-off: 5, 10, 20, 40 minutes, then given up
    assert [s for s in world.emails() if "STOP" in s] == []  # said once
    assert world.fakes.ledger.open_actions() == []


def test_a_tick_that_runs_out_of_time_saves_what_it_did_and_leaves_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_with_references()
    for i in range(5):
        world.report(world.start(f"job-{i}"), [0.5] * 5)
    world.fakes.advance(6)
    # each job judged costs 10 s of the function's time; 35 s were left, 10 s are kept back
    remaining = [35_000]

    def slow_judge(*args: Any, **kwargs: Any) -> Any:
        remaining[0] -= 10_000
        return judge(*args, **kwargs)

    monkeypatch.setattr(evaluator, "judge", slow_judge)
    tick = world.tick(budget=Budget(lambda: remaining[0]))
    assert (tick.evaluated, tick.deferred) == (3, 2)
    saved = [world.record(f"job-{i}").progress is not None for i in range(5)]
    assert saved == [True, True, True, False, False]
    monkeypatch.undo()
    assert world.tick().evaluated == 5  # the next tick does them all


def test_observe_mode_and_the_kill_switch_never_call_stop_even_when_resuming() -> None:
    observe_tags = {**TAGS, "trainguard:mode": "observe"}
    for policy, tags in (
        (median_policy(mode="observe"), observe_tags),
        (median_policy(mode="enforce", stops_disabled=True), TAGS),
    ):
        world = world_with_references(policy)
        worse_job(world, tags=tags)
        world.fakes.audit.fail("put_decision", Crash())
        with pytest.raises(Crash):
            world.tick()
        world.fakes.advance(1)
        world.tick()
        assert world.fakes.training_jobs.calls["stop"] == 0


# ---- who can set a group's threshold -------------------------------------------------------
def test_foreign_jobs_tagged_into_a_group_with_another_metric_cannot_poison_it() -> None:
    world = world_with_references()  # three references of validation:loss, minimized
    for i in range(4):  # someone tags four jobs into "g" that report loss 0 on another metric
        foreign = {**TAGS, "trainguard:objective": "train:loss"}
        job = world.start(f"foreign-{i}", foreign)
        world.report(job, [0.0] * 10, metric="train:loss")
        world.fakes.advance(11)
        world.end(job)
    maximized = {**TAGS, "trainguard:direction": "maximize"}  # or the same name, maximized
    job = world.start("upside-down", maximized)
    world.report(job, [99.0] * 10)
    world.fakes.advance(11)
    world.end(job)
    world.emails()
    healthy = world.start("healthy")
    world.report(healthy, [0.95 - 0.01 * i for i in range(5)])  # as good as the references
    world.fakes.advance(6)
    assert world.tick().stops == 0
    stats = world.fakes.references.get_stats(REFS)
    assert stats is not None and stats.references == 3


def test_the_stop_email_names_the_references_that_set_the_median() -> None:
    world = world_with_references()
    worse_job(world)
    world.tick()
    body = world.fakes.notifier.sent[-1].body if world.fakes.notifier.sent else ""
    setter = str(world.record("ref-1").run)
    assert f"Set by:     {setter} (the median of 3)" in body


def test_concurrent_completions_never_lose_a_reference() -> None:
    world = World()
    for i in range(4):
        world.complete_with(f"ref-{i}", [1.0 - 0.01 * j for j in range(5)])
    # two completions read the same statistics; the second one's write must not win blindly
    a = world.start("a")
    b = world.start("b")
    for job in (a, b):
        world.report(job, [0.5] * 5)
    world.fakes.advance(6)
    references = world.fakes.references
    real_put = references.put_stats
    raced = []

    def put_after_a_rival(stats: Any, expected: int | None) -> bool:
        if not raced:  # b's completion lands between a's read and a's write
            raced.append(1)
            world.end(b)
        return real_put(stats, expected)

    references.put_stats = put_after_a_rival  # type: ignore[method-assign]
    world.end(a)
    stats = references.get_stats(REFS)
    assert stats is not None and stats.references == 6 and stats.completed == 6
    assert len(references.group_curves(REFS)) == 6


def test_the_reference_window_keeps_the_latest_jobs_and_bounds_a_completion() -> None:
    world = World()
    for i in range(REFERENCE_WINDOW + 5):
        world.complete_with(f"ref-{i:03d}", [1.0, 0.9])
    stats = world.fakes.references.get_stats(REFS)
    assert stats is not None and stats.references == REFERENCE_WINDOW
    assert stats.completed == REFERENCE_WINDOW + 5
    assert stats.window[0].startswith("ref-005@")  # the oldest five left the window
    before = world.fakes.references.calls["get_curves"]
    world.complete_with("one-more", [1.0, 0.9])
    assert world.fakes.references.calls["get_curves"] - before == 1  # one read of the window


def test_a_28_day_curve_is_stored_downsampled_with_its_last_point() -> None:
    curve = [(float(m), 1.0 / m) for m in range(1, 40_321)]
    small = downsample(curve, MAX_CURVE_POINTS)
    assert len(small) <= MAX_CURVE_POINTS and small[-1] == curve[-1]
    size = len(curve) // (MAX_CURVE_POINTS - 1) + 1
    # the running average at a bucket's end is the raw curve's
    k = 10 * size
    raw = sum(v for _, v in curve[:k]) / k
    stored = [v for s, v in small if s <= curve[k - 1][0]]
    assert sum(stored) / len(stored) == pytest.approx(raw, rel=1e-12)
