"""Live tags (issue 20): a tag added, fixed or removed on a running job takes effect within a
few ticks (the tick re-reads each running job's tags on a bounded cadence:
``trainguard.logic.retag``), and the notices' promises come true."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import Email, FakeJob
from world import OBJECTIVE, TAGS, World

from trainguard.config import CoverageSettings, Policy
from trainguard.logic import retag
from trainguard.logic.evaluator import TickResult

pytestmark = pytest.mark.unit

PERIOD = 5  # the default tagRereadMinutes, in one-minute ticks


def minutes(
    world: World, job: FakeJob, count: int, metric: str | None = OBJECTIVE
) -> tuple[list[TickResult], list[Email]]:
    """Minute by minute: a busy GPU, the job's ``metric`` (None: nothing), a tick."""
    ticks: list[TickResult] = []
    sent: list[Email] = []
    for m in range(count):
        world.fakes.advance(1)
        now = world.fakes.now
        world.fakes.metrics.put("GPUUtilization", {"Host": f"{job.name}/algo-1"}, now, 90.0)
        if metric is not None:
            world.fakes.metrics.put(metric, {"TrainingJobName": job.name}, now, 1.0 / (m + 2))
        ticks.append(world.tick())
        sent += world.fakes.notifier.take()
    return ticks, sent


def test_a_group_tag_added_mid_run_opts_the_job_in_within_a_period() -> None:
    world = World()
    job = world.start("late", {"team": "research"})
    ticks, _ = minutes(world, job, 3)
    assert not world.record("late").opted_in and all(t.jobs == 0 for t in ticks)
    job.tags.update(TAGS)  # aws sagemaker add-tags, mid-run
    ticks, _ = minutes(world, job, PERIOD)
    record = world.record("late")
    assert record.opted_in and (record.group, record.objective) == ("g", OBJECTIVE)
    (changed,) = [i for i, t in enumerate(ticks) if t.retagged == ["late"]]
    assert all(t.jobs == 1 for t in ticks[changed:])  # judged from that tick on
    minutes(world, job, 2)
    assert world.record("late").progress is not None


def test_a_removed_group_tag_opts_the_job_out_within_a_period() -> None:
    world = World()
    job = world.start("leaving")
    ticks, _ = minutes(world, job, 2)
    assert all(t.jobs == 1 for t in ticks)
    del job.tags["trainguard:group"]
    ticks, _ = minutes(world, job, PERIOD)
    assert not world.record("leaving").opted_in and ticks[-1].jobs == 0


def test_a_fixed_bad_tag_clears_the_config_notice_and_the_job_is_judged() -> None:
    world = World()
    job = world.start("typo", {**TAGS, "trainguard:direction": "down"})
    _, sent = minutes(world, job, 2)
    (config,) = sent
    assert config.subject.startswith("[trainguard] CONFIG typo: trainguard:direction must be")
    assert "re-reads a running job's tags" in config.body
    assert "unwatched:config" in world.record("typo").episodes
    job.tags["trainguard:direction"] = "minimize"
    ticks, sent = minutes(world, job, PERIOD + 1)
    (watched,) = sent
    assert watched.subject == "[trainguard] WATCHED typo: its trainguard tags are fixed"
    assert "catch-up" not in watched.body or "Watched by" in watched.body
    record = world.record("typo")
    assert record.config_error is None and "unwatched:config" not in record.episodes
    assert record.progress is not None and ticks[-1].decisions == 1  # judged


def test_a_fixed_objective_tag_resets_the_progress_and_the_notice_is_closed() -> None:
    world = World()
    tags = {**TAGS, "trainguard:objective": "validation:los"}  # a typo
    job = world.start("objective-typo", tags)
    _, sent = minutes(world, job, 16)
    (notice,) = sent
    assert "NOT JUDGED objective-typo: objective validation:los not arriving" in notice.subject
    assert "In CloudWatch: validation:loss" in notice.body  # ListMetrics' names
    assert "did you mean `validation:loss`?" in notice.body
    job.tags["trainguard:objective"] = OBJECTIVE
    _, sent = minutes(world, job, PERIOD + 1)
    (watched,) = sent
    assert watched.subject == "[trainguard] WATCHED objective-typo: its objective metric arrives"
    record = world.record("objective-typo")
    assert record.objective == OBJECTIVE and record.progress is not None
    assert record.progress.summary.count <= PERIOD + 1 + 16  # read from the start, once
    assert "unwatched:objective" not in record.episodes


def test_a_tag_that_did_not_change_costs_a_read_and_no_write() -> None:
    world = World()
    job = world.start("steady")
    ticks, _ = minutes(world, job, PERIOD)
    assert world.fakes.training_jobs.calls["tags"] == 1  # once a period
    assert "retag" not in world.fakes.running.calls
    assert all(t.retagged == [] for t in ticks)


def test_each_job_is_read_once_a_period_and_a_tick_reads_at_most_the_cap() -> None:
    policy = Policy()
    for jobs in (1, 40, 250, 1000, 5000):
        period = retag.period_s(jobs, policy)
        assert period == max(300.0, 60.0 * -(-2 * jobs // retag.TAG_READS_PER_TICK))
        names = [f"job-{i}" for i in range(jobs)]
        ticks = int(period // 60)
        start = 1_767_225_600.0
        per_tick = [
            sum(retag.due(n, start + 60.0 * k, period, 60.0) for n in names) for k in range(ticks)
        ]
        assert sum(per_tick) == jobs  # each exactly once
        assert max(per_tick) <= retag.TAG_READS_PER_TICK
    slow = replace(policy, coverage=CoverageSettings(tag_reread_minutes=30.0))
    assert retag.period_s(10, slow) == 1800.0


def test_a_failed_list_tags_is_counted_and_the_tick_goes_on() -> None:
    world = World()
    job = world.start("flaky")
    world.fakes.training_jobs.fail("tags", RuntimeError("Rate exceeded"), times=10)
    ticks, _ = minutes(world, job, PERIOD)
    assert sum(t.errors for t in ticks) == 1 and all(t.jobs == 1 for t in ticks)


def test_a_tag_broken_mid_run_keeps_the_other_causes_open_and_says_config_once() -> None:
    world = World()
    tags = {k: v for k, v in TAGS.items() if k != "trainguard:objective"}
    job = world.start("breaking", tags)
    _, sent = minutes(world, job, 2)
    assert [e.subject.split(":")[0] for e in sent] == ["[trainguard] NOT JUDGED breaking"]
    job.tags["trainguard:mode"] = "enforcing"
    _, sent = minutes(world, job, PERIOD)
    (config,) = sent  # no WATCHED: the objective tag is still missing
    assert config.subject.startswith("[trainguard] CONFIG breaking: trainguard:mode")
    causes = {k for k in world.record("breaking").episodes if k.startswith("unwatched:")}
    assert causes == {"unwatched:config", "unwatched:objective-tag"}
