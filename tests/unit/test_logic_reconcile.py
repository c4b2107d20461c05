"""The reconcile over in-memory fakes: lost events and orphaned alarms."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeJob
from world import REFS, World

from trainguard.logic.reconcile import due, reconcile

pytestmark = pytest.mark.unit


def test_a_lost_in_progress_is_registered_by_the_next_tick() -> None:
    world = World()
    world.start("lost", deliver=False)
    tick = world.tick()
    assert tick.registered == ["lost"] and tick.jobs == 1
    assert "trainguard-gpu-idle-lost-algo-1" in world.fakes.alarms.alarms


def test_a_lost_end_is_finalized_with_its_alarms_deleted() -> None:
    world = World()
    job = world.start("ended")
    world.report(job, [1.0, 0.9])
    world.fakes.advance(3)
    world.end(job, deliver=False)
    tick = world.tick()
    assert tick.finalized == ["ended"] and tick.jobs == 0
    assert world.fakes.alarms.alarms == {}
    assert str(world.record("ended").run) in world.fakes.references.group_curves(
        REFS
    )  # the completion was applied


def test_a_job_sagemaker_no_longer_knows_is_finalized() -> None:
    world = World()
    world.start("deleted")
    world.fakes.training_jobs.jobs.clear()
    tick = world.tick()
    assert tick.finalized == ["deleted"]
    assert world.record("deleted").status == "Unknown"


def test_orphaned_alarms_are_deleted() -> None:
    world = World()
    world.fakes.alarms.put_gpu_idle_alarm("gone", 1, 1, 10.0, 15.0, None)
    world.start("alive")
    tick = world.tick()
    assert tick.orphan_alarms_deleted == 1
    assert list(world.fakes.alarms.alarms) == ["trainguard-gpu-idle-alive-algo-1"]


def test_one_job_failing_in_the_reconcile_does_not_stop_the_others() -> None:
    world = World()
    world.start("a", deliver=False)
    world.start("b", deliver=False)
    world.fakes.training_jobs.fail("describe", RuntimeError("Throttling"))
    tick = world.tick()
    assert tick.errors == 1 and tick.registered == ["b"]


# ---- bounded work (issue 21) --------------------------------------------------------------------
DAY = 86400.0


def history(world: World, count: int, *, days_ago: float, span_days: float = 1.0) -> None:
    """``count`` ended jobs in the account, created from ``days_ago`` over ``span_days``."""
    for i in range(count):
        start = world.fakes.now - days_ago * DAY + span_days * DAY * i / max(1, count)
        world.fakes.training_jobs.add(FakeJob(f"old-{i:06d}", {}, status="Completed", start=start))


def test_the_reconcile_is_due_once_in_each_window_of_its_cadence() -> None:
    for tick_minutes, every in ((1, 5), (2, 5), (5, 5), (3, 60)):
        offset = 17.0  # a schedule's ticks need not fall on the minute
        times = [offset + k * tick_minutes * 60.0 for k in range(600)]
        due_at = [t for t in times if due(t, tick_minutes, every)]
        windows = [int(t // (every * 60.0)) for t in due_at]
        assert len(windows) == len(set(windows))  # never twice in a window
        assert set(windows) >= set(range(windows[0], windows[-1]))  # never a window missed
    assert all(due(float(t), 1, 1) for t in range(0, 600, 60))


def test_a_regular_reconcile_reads_one_page_whatever_the_history() -> None:
    """The account's history was paged every tick (1,000 pages at 100,000 jobs); newest first,
    the listing now stops at the first job older than the oldest running one."""
    world = World()
    history(world, 5_000, days_ago=40, span_days=30)
    for name in ("a", "b", "c"):
        world.start(name)
    world.fakes.advance(1)
    running = world.fakes.running.running_jobs()
    result = reconcile(world.deps(), running, world.fakes.now, full=False)
    assert (result.pages, result.complete, len(result.running)) == (1, True, 3)
    # a full reconcile goes back as far as a job can run: the history of the last 58 days
    full = reconcile(world.deps(), running, world.fakes.now, full=True)
    assert full.pages == 51 and full.complete  # 5,000 jobs in 40-10 days ago, + the 3


def test_a_regular_reconcile_reaches_back_to_the_oldest_running_job() -> None:
    world = World()
    old = world.start("long-runner")
    old.start = world.fakes.now  # created now; then 10 days of history after it
    world.fakes.advance(10 * 24 * 60)
    history(world, 250, days_ago=9, span_days=8)
    world.end(old, deliver=False)  # its end event is lost
    result = reconcile(
        world.deps(), world.fakes.running.running_jobs(), world.fakes.now, full=False
    )
    assert result.finalized == ["long-runner"] and result.pages == 3


def test_the_reconcile_runs_every_n_minutes_not_every_tick() -> None:
    world = World()
    policy = replace(world.policy, reconcile_every_minutes=5, reconcile_full_every_minutes=60)
    reconciled = []
    for _ in range(60):
        world.fakes.advance(1)
        reconciled.append(world.tick(policy).reconciled)
    assert reconciled.count("recent") == 11 and reconciled.count("full") == 1
    assert world.fakes.training_jobs.calls["list_since"] == 12


def test_a_listing_cut_by_its_budget_registers_the_newest_and_finalizes_only_what_it_reached() -> (
    None
):
    world = World()
    ended = world.start("ended-unseen")  # the oldest running run: the listing's far end
    world.fakes.advance(60)
    history(world, 300, days_ago=0.03, span_days=0.02)  # 300 jobs since
    lost = world.start("lost", deliver=False)  # the newest: its InProgress event was lost
    world.end(ended, deliver=False)
    world.fakes.advance(1)
    running = world.fakes.running.running_jobs()
    # a budget spent by the first page (the listing always reads one)
    hurried = replace(world.policy, reconcile_budget_seconds=1e-9)
    cut = reconcile(world.deps(hurried), running, world.fakes.now, full=False)
    assert not cut.complete and cut.pages == 1
    assert cut.registered == [lost.name]  # the newest jobs come first
    assert cut.finalized == []  # not reached: not known to be gone
    assert world.record("ended-unseen").status == "InProgress"
    whole = reconcile(world.deps(), world.fakes.running.running_jobs(), world.fakes.now)
    assert whole.complete and whole.finalized == ["ended-unseen"]


def test_a_fresh_job_s_alarm_is_kept_while_the_index_lags_and_re_created_if_deleted() -> None:
    world = World()
    world.start("fresh")
    alarm = "trainguard-gpu-idle-fresh-algo-1"
    hidden = world.fakes.training_jobs.jobs.pop("fresh")  # listed before it was created
    lagging = reconcile(world.deps(), [], world.fakes.now)  # ... and not in the index yet
    assert lagging.orphan_alarms_deleted == 0 and alarm in world.fakes.alarms.alarms
    world.fakes.training_jobs.add(hidden)
    # an alarm deleted anyway (a cleanup, an older version's reconcile): its item still lists
    # it, the next reconcile creates it again from what CloudWatch has
    world.fakes.alarms.delete_alarms([alarm])
    assert alarm in world.record("fresh").alarms
    repaired = reconcile(world.deps(), world.fakes.running.running_jobs(), world.fakes.now)
    assert repaired.alarms_repaired == 1 and alarm in world.fakes.alarms.alarms
