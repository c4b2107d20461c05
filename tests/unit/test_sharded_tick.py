"""The sharded tick over in-memory fakes: the planner's inline path for small fleets, the
fan-out (whole groups, a large group split and pinned at one statistics version), a failing
shard that blocks no other, a duplicate delivery that acts once and counts a streak once."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from fakes import FakeJob, FakeShardQueue
from world import OBJECTIVE, TAGS, World

from trainguard.config import Policy
from trainguard.handlers import shard as shard_handler
from trainguard.logic.evaluator import TickResult, evaluate_shard, run_tick
from trainguard.logic.shards import Shard, ShardMessageError, plan_shards
from trainguard.models import JobRecord, RunId
from trainguard_local.lambda_context import LambdaContext

CONTEXT = LambdaContext(function_name="trainguard-evaluator-shard", aws_request_id="test")

pytestmark = pytest.mark.unit

REFERENCE = [1.0, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.28, 0.26, 0.25]


class Sharded(World):
    """A world whose evaluator fans out to :attr:`queue` when the fleet exceeds ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.fakes.policy = Policy()  # the default: the catch-up rule (its streak)
        self.queue = FakeShardQueue()
        self.size = size

    def deps(self, policy: Policy | None = None) -> Any:
        return replace(self.fakes.deps(policy), shards=self.queue, shard_size=self.size)

    def plan(self) -> TickResult:
        return run_tick(self.deps(), now=self.fakes.now)

    def run_shards(self, messages: list[dict[str, Any]]) -> list[TickResult]:
        out = []
        for message in messages:
            shard = Shard.from_message(message)
            out.append(evaluate_shard(self.deps(), shard.runs, shard.now, pinned=shard.pinned))
        return out


def references(world: World, group: str = "g", first: int = 0) -> None:
    """Three completed jobs of ``group`` (its references)."""
    for i in range(first, first + 3):
        job = start(world, f"{group}-ref-{i}", group)
        world.report(job, [v + 0.01 * i for v in REFERENCE])
        world.fakes.advance(len(REFERENCE) + 1)
        world.end(job)
    world.emails()


def start(world: World, name: str, group: str = "g", mode: str = "enforce") -> FakeJob:
    return world.start(name, {**TAGS, "trainguard:group": group, "trainguard:mode": mode})


def report(world: World, job: FakeJob, value: float) -> None:
    world.fakes.metrics.put(OBJECTIVE, {"TrainingJobName": job.name}, world.fakes.now, value)


def record(name: str, group: str, created: int = 1) -> JobRecord:
    tags = {**TAGS, "trainguard:group": group}
    return JobRecord(
        name,
        created,
        tags=tags,
        group=group,
        objective=OBJECTIVE,
        status="InProgress",
        start_time=0.0,
    )


# ---- the plan --------------------------------------------------------------------------------
def test_the_plan_keeps_small_groups_whole_and_splits_a_large_one_evenly() -> None:
    jobs = [record(f"a{i}", "a") for i in range(3)] + [record(f"b{i}", "b") for i in range(4)]
    jobs += [record(f"big{i:02d}", "big") for i in range(11)]
    plan = plan_shards(jobs, 5)
    sizes = sorted(len(s) for s in plan.shards)
    assert sum(sizes) == 18 and max(sizes) <= 5
    big = [[j.name for j in s if j.group == "big"] for s in plan.shards]
    assert sorted(len(b) for b in big if b) == [3, 4, 4]  # 11 in ceil(11/5) = 3 near-equal
    for group in ("a", "b"):  # whole
        assert sum(1 for s in plan.shards if any(j.group == group for j in s)) == 1
    assert {r.group for r in plan.split} == {"big"}
    assert plan_shards(list(reversed(jobs)), 5) == plan  # deterministic
    with pytest.raises(ValueError, match="at least one job"):
        plan_shards(jobs, 0)


def test_a_shard_message_round_trips_and_a_bad_one_is_refused() -> None:
    shard = Shard(1.5e9, (RunId("a", 1), RunId("b", 2)), 1, 3, {record("x", "g").reference_set: 4})
    assert Shard.from_message(shard.to_message()) == shard
    bad_messages = [
        None,
        {"v": 1},
        {"v": 1, "now": "x", "runs": [["a", 1]]},
        {"v": 1, "now": 1.0, "runs": []},
        {"v": 2, "now": 1.0, "runs": [["a", 1]]},
    ]
    for bad in bad_messages:
        with pytest.raises(ShardMessageError):
            Shard.from_message(bad)


# ---- the planner -------------------------------------------------------------------------------
def test_a_small_fleet_is_judged_inline_without_fan_out() -> None:
    world = Sharded(size=5)
    references(world)
    job = start(world, "hopeless")
    for value in (3.0, 2.95, 2.9):
        world.fakes.advance(1)
        report(world, job, value)
        tick = world.plan()
    assert tick.shards == 0 and world.queue.messages == []
    assert world.fakes.training_jobs.stopped == ["hopeless"]


def test_a_large_fleet_fans_out_and_every_shard_is_judged() -> None:
    world = Sharded(size=2)
    for group in ("g1", "g2"):
        references(world, group)
    jobs = [start(world, f"{g}-job-{i}", g) for g in ("g1", "g2") for i in range(2)]
    jobs.append(start(world, "g1-job-2", "g1"))  # g1: 3 jobs, split across 2 shards
    reconciles = 0
    for value in (3.0, 2.95, 2.9):
        world.fakes.advance(1)
        for job in jobs:
            report(world, job, value)
        tick = world.plan()
        reconciles += tick.reconciled is not None
        assert tick.jobs == 5 and tick.shards == 3 and tick.evaluated == 0
        results = world.run_shards(world.queue.take())
        assert sum(r.evaluated for r in results) == 5 and all(r.errors == 0 for r in results)
    assert sorted(world.fakes.training_jobs.stopped) == sorted(j.name for j in jobs)
    # one ListTrainingJobs a reconcile (in the planner, every reconcileEveryMinutes), never
    # one a shard
    assert world.fakes.training_jobs.calls["list_since"] == reconciles


def test_a_failing_shard_blocks_no_other_and_is_raised_for_the_queue_to_retry() -> None:
    world = Sharded(size=1)
    for group in ("g1", "g2", "g3"):
        references(world, group)
    jobs = [start(world, f"{g}-job", g) for g in ("g1", "g2", "g3")]
    world.fakes.advance(1)
    for job in jobs:
        report(world, job, 3.0)
    world.plan()
    messages = world.queue.take()
    assert len(messages) == 3
    # the g2 shard's metrics cannot be read: the handler reports it as a batch failure
    real = world.fakes.metrics.get_series

    def get_series(queries: Any, *args: Any, **kwargs: Any) -> Any:
        if any("g2-job" in str(q.dimensions) for q in queries):
            raise RuntimeError("throttled (injected)")
        return real(queries, *args, **kwargs)

    world.fakes.metrics.get_series = get_series  # type: ignore[method-assign]
    messages.sort(key=lambda m: m["runs"][0][0])  # g1, g2, g3
    records = [{"messageId": f"m{i}", "body": json.dumps(m)} for i, m in enumerate(messages)]
    out = shard_handler.handler({"Records": records[:1]}, CONTEXT, deps=world.deps())
    assert out["batchItemFailures"] == []
    out = shard_handler.handler({"Records": records[1:2]}, CONTEXT, deps=world.deps())
    assert out["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    out = shard_handler.handler({"Records": records[2:]}, CONTEXT, deps=world.deps())
    assert out["batchItemFailures"] == []
    done = {j.name for j in jobs if world.record(j.name).progress is not None}
    assert done == {"g1-job", "g3-job"}  # the others were judged and saved
    # SQS delivers the failed one again: now it goes through
    world.fakes.metrics.get_series = real  # type: ignore[method-assign]
    out = shard_handler.handler({"Records": records[1:2]}, CONTEXT, deps=world.deps())
    assert out["batchItemFailures"] == [] and world.record("g2-job").progress is not None
    # an unreadable message is a failure too (dead-lettered after its retries)
    bad = shard_handler.handler(
        {"Records": [{"messageId": "x", "body": "{}"}]}, CONTEXT, deps=world.deps()
    )
    assert bad["batchItemFailures"] == [{"itemIdentifier": "x"}]


def test_a_failed_send_is_an_error_of_the_tick_and_the_next_tick_plans_again() -> None:
    world = Sharded(size=1)
    references(world)
    for i in range(2):
        start(world, f"job-{i}")
    world.queue.fail = True
    tick = world.plan()
    assert tick.errors == 1 and tick.shards == 0
    world.queue.fail = False
    world.fakes.advance(1)
    assert world.plan().shards == 2


def test_a_duplicate_delivery_acts_once_and_counts_a_streak_once() -> None:
    world = Sharded(size=1)
    references(world)
    jobs = [start(world, "hopeless"), start(world, "other")]
    for value in (3.0, 2.95):
        world.fakes.advance(1)
        for job in jobs:
            report(world, job, value)
        world.plan()
        messages = world.queue.take()
        world.run_shards(messages + messages)  # every shard delivered twice
    progress = world.record("hopeless").progress
    assert progress is not None and progress.streak.current == 2  # not 4
    world.fakes.advance(1)
    for job in jobs:
        report(world, job, 2.9)
    world.plan()
    messages = world.queue.take()
    first, again = world.run_shards(messages), world.run_shards(messages)
    assert sum(r.stops for r in first) == 2 and sum(r.stops for r in again) == 0
    assert sorted(world.fakes.training_jobs.stopped) == ["hopeless", "other"]
    assert len(world.decisions("hopeless")) == 1
    assert world.fakes.training_jobs.calls["stop"] == 2


def two_jobs_planned(world: Sharded) -> tuple[list[FakeJob], list[dict[str, Any]]]:
    """Jobs a and b, one shard each, each reported once and planned: (jobs, shard messages)."""
    references(world)
    jobs = [start(world, "a"), start(world, "b")]
    world.fakes.advance(1)
    for job in jobs:
        report(world, job, 3.0)
    world.plan()
    return jobs, world.queue.take()


def test_a_late_duplicate_never_moves_progress_back() -> None:
    world = Sharded(size=1)
    jobs, old = two_jobs_planned(world)
    world.run_shards(old)
    world.fakes.advance(1)
    for job in jobs:
        report(world, job, 2.95)
    world.plan()
    world.run_shards(world.queue.take())
    newer = world.record("a").progress
    world.run_shards(old)  # the first tick's shards, delivered again after the second tick
    assert world.record("a").progress == newer


def test_a_split_group_is_judged_against_one_statistics_version() -> None:
    world = Sharded(size=2)
    references(world)
    jobs = [start(world, f"job-{i}") for i in range(4)]  # one group of 4: two shards of 2
    world.fakes.advance(1)
    for job in jobs:
        report(world, job, 3.0)
    world.plan()
    messages = world.queue.take()
    shards = [Shard.from_message(m) for m in messages]
    assert len(shards) == 2
    refs = world.record("job-0").reference_set
    version = world.fakes.references.get_stats(refs).version  # type: ignore[union-attr]
    assert [s.pinned for s in shards] == [{refs: version}, {refs: version}]
    # both shards read the statistics at the pinned version: the same threshold both sides
    first = world.run_shards(messages[:1])[0]
    assert first.evaluated == 2 and first.deferred == 0
    # a completion lands between the two shards: the second leaves its jobs to the next tick
    # rather than judging them against other statistics than the first shard's
    references(world, "g", first=3)  # three more completions of group g
    second = world.run_shards(messages[1:])[0]
    assert (second.evaluated, second.deferred) == (0, 2)
    late = {j.name for j in jobs if world.record(j.name).progress is None}
    assert late == {r.name for r in shards[1].runs}
    world.fakes.advance(1)
    world.plan()
    assert all(r.deferred == 0 for r in world.run_shards(world.queue.take()))
    assert all(world.record(j.name).progress is not None for j in jobs)
