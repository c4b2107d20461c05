"""A forged clock (issue 21): a tick or a shard message dated days ahead is bounded by the
function's own clock. The tick runs at its clock instead (it is still due); the shard message
is refused (its ``now`` is the planner's moment, which the clock cannot stand in for)."""

from __future__ import annotations

import json

import pytest
from test_sharded_tick import CONTEXT, Sharded, references, report, start, two_jobs_planned

from trainguard.handlers import evaluator as evaluator_handler
from trainguard.handlers import shard as shard_handler
from trainguard.handlers.events import MAX_CLOCK_SKEW_S, MAX_EVENT_AGE_S, bounded_time
from trainguard.times import iso

pytestmark = pytest.mark.unit

DAYS_AHEAD = 3 * 86400.0


def test_a_time_is_kept_within_the_skew_and_refused_beyond_it() -> None:
    clock = 1_800_000_000.0
    assert bounded_time(None, clock, "x") is None
    assert bounded_time(clock + MAX_CLOCK_SKEW_S, clock, "x") == clock + MAX_CLOCK_SKEW_S
    assert bounded_time(clock - MAX_EVENT_AGE_S, clock, "x") == clock - MAX_EVENT_AGE_S
    assert bounded_time(clock + MAX_CLOCK_SKEW_S + 1, clock, "x") is None
    assert bounded_time(clock + DAYS_AHEAD, clock, "x") is None
    assert bounded_time(clock - MAX_EVENT_AGE_S - 1, clock, "x") is None


def test_a_tick_dated_days_ahead_runs_at_the_functions_clock() -> None:
    world = Sharded(size=100)  # judged inline
    references(world)
    job = start(world, "a")
    world.fakes.advance(1)
    report(world, job, 3.0)
    forged = {"time": iso(world.fakes.now + DAYS_AHEAD, zulu=True)}
    evaluator_handler.handler(forged, CONTEXT, deps=world.deps())
    progress = world.record("a").progress
    assert progress is not None and progress.checked == world.fakes.now
    # the next honest tick is not frozen out by the forged one: it moves progress on
    world.fakes.advance(1)
    report(world, job, 2.9)
    evaluator_handler.handler({"time": iso(world.fakes.now, zulu=True)}, CONTEXT, deps=world.deps())
    progress = world.record("a").progress
    assert progress is not None and progress.checked == world.fakes.now


def test_a_shard_dated_days_ahead_is_refused_and_saves_nothing() -> None:
    world = Sharded(size=1)
    _, messages = two_jobs_planned(world)
    forged = [{**m, "now": m["now"] + DAYS_AHEAD} for m in messages]
    records = [{"messageId": str(i), "body": json.dumps(m)} for i, m in enumerate(forged)]
    out = shard_handler.handler({"Records": records}, CONTEXT, deps=world.deps())
    assert len(out["batchItemFailures"]) == len(records)
    assert world.record("a").progress is None
    # the planner's own messages still go through, at the planner's now
    records = [{"messageId": str(i), "body": json.dumps(m)} for i, m in enumerate(messages)]
    out = shard_handler.handler({"Records": records}, CONTEXT, deps=world.deps())
    assert out["batchItemFailures"] == []
    progress = world.record("a").progress
    assert progress is not None and progress.checked == world.fakes.now
