"""The scheduled tick: reconcile, observe, decide, act, for every running opted-in job,
under the runtime controls in force (:mod:`.controls`: a pause holds every stop).

The tick is a planner and shards (docs/sharded-tick.md). :func:`run_tick` (the scheduled
evaluator) reads the running index once, reconciles once and resumes the open actions once;
then it judges every job itself when the fleet is at most one shard's worth of jobs
(``Dependencies.shard_size``), or sends the jobs to the shard queue in shards (:mod:`.shards`:
whole reference sets, a large one split in chunks), each judged by :func:`evaluate_shard` in
its own invocation with its own time budget. Both run the same loop (:func:`_evaluate`).

Reads per tick: the ``running`` index (the runs without their progress: what planning needs),
the judged jobs' items (one consistent BatchGetItem a hundred, as a shard reads its own), one
BatchGetItem of the groups' ``STATS``, one GetMetricData batch (:mod:`.observe`); every
``reconcileEveryMinutes``, ListTrainingJobs (newest first, as far back as
:mod:`.reconcile` needs, within its time budget) and DescribeAlarms for the reconcile.
Writes: each job's progress when it took a new datapoint; and only when something happens, an
``ACTION#`` claim, StopTrainingJob, an audit record and one email (:mod:`.act`).

One job's failure is logged with its name and never blocks the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING

from ..config import JobSettings, PolicyError, resolve_settings, tag_problems
from ..core.instances import gpu_hosts
from ..core.progress import Progress
from ..core.values import mutable
from ..models import GroupStats, JobRecord, ReferenceSet, RunId
from ..observability import logger
from . import messages
from .actions import Act
from .controls import read_controls
from .coverage import track_coverage
from .decide import judge
from .dependencies import Dependencies
from .ledger import STOPPED, Counts
from .observe import Observation, observe
from .reconcile import due as reconcile_due
from .reconcile import reconcile
from .retag import refresh_tags

if TYPE_CHECKING:
    from ..ports import RunningJobs

RESERVE_S = 10.0  # stop starting new work this long before the function's timeout
SAVE_EVERY = 200  # progress records written as the tick goes, in chunks of this many


@mutable
class TickResult(Counts):
    """What the tick did: the ledger counts its actions straight into it (:class:`Counts`:
    stops, would-be stops, alerts, refused stops, dollars saved), the rest is the tick's."""

    jobs: int = 0
    evaluated: int = 0
    decisions: int = 0
    errors: int = 0
    registered: list[str] = field(default_factory=list)
    retagged: list[str] = field(default_factory=list)  # running jobs whose tags changed
    unwatched: int = 0  # opted-in jobs judged this tick that a rule on does not watch
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    reconciled: str | None = None  # "full" or "recent" on a reconcile tick (:mod:`.reconcile`)
    reconcile_pages: int = 0  # ListTrainingJobs pages the reconcile read
    resumed: int = 0  # actions an earlier invocation left unfinished, finished now
    deferred: int = 0  # jobs left for the next tick when the time ran out
    emails_failed: int = 0  # sends that failed (they stay in the outbox)
    emails_dead: int = 0  # sends that failed for the last time (dead letters)
    shards: int = 0  # shards sent to the shard queue (0: the planner judged the jobs inline)
    duration_ms: float = 0.0
    controls_error: str | None = None  # the runtime controls could not be used: stops held
    paused: bool = False  # a runtime pause held this tick's stops (all or some groups')
    actions: list[dict[str, object]] = field(default_factory=list)


@mutable
class Budget:
    """The invocation's time: ``remaining_ms`` (Lambda's ``get_remaining_time_in_millis``;
    None: unbounded). New work stops when less than ``reserve_s`` is left, so that the tick
    saves what it did and ends before its timeout."""

    remaining_ms: Callable[[], int] | None = None
    reserve_s: float = RESERVE_S

    def exhausted(self) -> bool:
        return self.remaining_ms is not None and self.remaining_ms() < self.reserve_s * 1000.0


def run_tick(
    deps: Dependencies, now: float | None = None, budget: Budget | None = None
) -> TickResult:
    """One tick at ``now`` (epoch seconds: the scheduled event's time; default the clock),
    within ``budget``: reconcile, finish the actions earlier invocations left open, then judge
    and act on every running opted-in job, saving progress as it goes; last, send the emails
    that failed before."""
    started = time.monotonic()
    now = deps.clock() if now is None else now
    budget = budget or Budget()
    result = TickResult()
    act = _act(deps, now, result)
    running = deps.running.running_runs()  # what planning needs: a tenth of the items' bytes
    policy = deps.policy
    if reconcile_due(now, policy.tick_minutes, policy.reconcile_every_minutes):
        full = reconcile_due(now, policy.tick_minutes, policy.reconcile_full_every_minutes)
        try:
            reconciled = reconcile(deps, running, now, budget, full=full)
            running = reconciled.running
            result.registered, result.finalized = reconciled.registered, reconciled.finalized
            result.orphan_alarms_deleted = reconciled.orphan_alarms_deleted
            result.reconciled = "full" if full else "recent"
            result.reconcile_pages = reconciled.pages
            result.errors += reconciled.errors
        except Exception:
            result.errors += 1
            logger.exception("reconcile failed; evaluating the jobs the table knows")
    try:  # live tags: a tag added, fixed or removed on a running job (:mod:`.retag`)
        retagged = refresh_tags(deps, running, now)
        running, result.retagged = retagged.running, retagged.changed
        result.errors += retagged.errors
    except Exception:
        result.errors += 1
        logger.exception("re-reading the jobs' tags failed; the next period reads them")
    try:
        result.resumed = act.resume_open(budget)
    except Exception:
        result.errors += 1
        logger.exception("listing the open actions failed; the next tick resumes them")

    opted_in = [job for job in running if job.opted_in]
    size = max(1, deps.shard_size)
    if deps.shards is None or len(opted_in) <= size:  # a small fleet: judged here, no fan-out
        # their whole items, as a shard reads its own (consistent: what a tick saved is seen)
        runs = [job.run for job in opted_in]
        try:
            jobs = [j for j in deps.running.get_jobs(runs) if j.running and j.opted_in]
        except Exception:
            result.errors += 1
            jobs = []
            logger.exception("reading the running jobs failed; the next tick judges them")
        _evaluate(deps, act, jobs, now, budget, result)
    else:
        result.jobs = len(opted_in)
        try:
            result.shards = _fan_out(deps, opted_in, now, size)
        except Exception:
            result.errors += 1
            logger.exception("sending the shards failed; the next tick plans them again")
    if not budget.exhausted():
        act.mail.drain()
    _count(result, act)
    result.duration_ms = (time.monotonic() - started) * 1000.0
    return result


def evaluate_shard(
    deps: Dependencies,
    runs: Sequence[RunId],
    now: float,
    budget: Budget | None = None,
    *,
    pinned: Mapping[ReferenceSet, int] | None = None,
) -> TickResult:
    """One shard of the tick at ``now`` (the planner's "now", not the shard's clock): read its
    runs' items (one consistent BatchGetItem a hundred: what an earlier delivery of the same
    shard saved is seen), then judge and act on those still running and opted in, saving their
    progress. A reference set in ``pinned`` (a group split across shards, at the STATS version
    the planner read) whose STATS moved on since is left to the next tick, so that every shard
    of one tick judges a group against the same statistics. Raises when the shard's jobs, its
    groups' statistics or its metrics could not be read (the queue retries the shard, then
    dead-letters it): a shard never judges without its references."""
    started = time.monotonic()
    budget = budget or Budget()
    result = TickResult()
    act = _act(deps, now, result)
    jobs = [job for job in deps.running.get_jobs(runs) if job.running and job.opted_in]
    _evaluate(deps, act, jobs, now, budget, result, pinned=pinned, strict=True)
    _count(result, act)
    result.duration_ms = (time.monotonic() - started) * 1000.0
    return result


def _act(deps: Dependencies, now: float, result: TickResult) -> Act:
    """This invocation's acting, under the runtime controls in force (read once: every shard
    reads them itself, so a pause holds in each within the controls' cache age)."""
    controls = read_controls(deps.controls)
    result.controls_error = controls.error
    result.paused = controls.global_.paused or any(c.paused for c in controls.groups.values())
    return Act(deps, now, controls=controls, counts=result)


def _fan_out(deps: Dependencies, jobs: Sequence[JobRecord], now: float, size: int) -> int:
    """Send ``jobs`` to the shard queue in shards of at most ``size`` jobs; the number sent.
    A reference set split across shards is pinned at the STATS version read here."""
    from .shards import Shard, plan_shards  # a fleet larger than a shard: not every tick's

    plan = plan_shards(jobs, size)
    versions: dict[ReferenceSet, int] = {}
    if plan.split:
        stats, _ = deps.references.batch_get_group_state(plan.split)
        versions = {refs: stats[refs].version if refs in stats else 0 for refs in plan.split}
    shards = [
        Shard(
            now,
            tuple(job.run for job in members),
            i,
            len(plan.shards),
            {r: v for r, v in versions.items() if any(j.reference_set == r for j in members)},
        )
        for i, members in enumerate(plan.shards)
    ]
    assert deps.shards is not None
    deps.shards.send([shard.to_message() for shard in shards])
    logger.info(
        "tick fanned out",
        extra={"jobs": len(jobs), "shards": len(shards), "split_sets": len(plan.split)},
    )
    return len(shards)


def _evaluate(
    deps: Dependencies,
    act: Act,
    opted_in: Sequence[JobRecord],
    now: float,
    budget: Budget,
    result: TickResult,
    *,
    pinned: Mapping[ReferenceSet, int] | None = None,
    strict: bool = False,
) -> None:
    """Judge and act on ``opted_in`` (the inline tick's jobs, or one shard's), saving their
    progress as it goes. ``strict`` (a shard): a failed read of the statistics or of the
    metrics raises (the shard is retried) instead of judging without them."""
    try:
        stats, group_policies = deps.references.batch_get_group_state(
            {job.reference_set for job in opted_in}
        )
    except Exception:
        if strict:
            raise
        result.errors += 1
        stats, group_policies = {}, {}
        logger.exception("reading the groups' statistics failed: no references this tick")
    moved = _moved(stats, pinned or {})
    jobs: list[tuple[JobRecord, JobSettings]] = []
    for job in opted_in:
        if job.reference_set in moved:
            result.deferred += 1  # its group's statistics changed since the planner read them
            continue
        try:
            settings = resolve_settings(
                job.tags, deps.policy, group_policies.get(job.group), act.controls
            )
            jobs.append((job, settings))
        except PolicyError as exc:
            _report_config_error(act, job, str(exc), result)
            _track_coverage(act, job, None, None, 0, now, result, error=str(exc))
    result.jobs = len(jobs)
    observed: dict[RunId, Observation] | None
    try:
        observed = observe(
            jobs,
            deps.metrics,
            now=now,
            unit=deps.policy.step_unit,
            lag_minutes=deps.policy.ingestion_lag_minutes,
            gpus_of=lambda job: gpus_of(deps, job),
        )
    except Exception:
        if strict:
            raise
        result.errors += 1
        observed = None
        logger.exception("GetMetricData failed: objective rules skipped this tick")

    unsaved: list[tuple[RunId, Progress]] = []
    for job, settings in jobs:
        if budget.exhausted():
            result.deferred += len(jobs) - result.evaluated
            logger.warning(
                "the tick's time is up: the rest waits for the next tick",
                extra={"deferred": result.deferred},
            )
            break
        logger.append_keys(job=job.name)
        try:
            seen = observed.get(job.run) if observed is not None else None
            group = stats.get(job.reference_set)
            hosts = gpu_hosts(job.groups, deps.catalog)
            judgement = judge(job, settings, seen, group, now, hosts.gpus, hosts=hosts)
            if seen is not None and seen.progress is not None:
                progress, save = seen.progress, seen.save
                if judgement.streak is not None and judgement.streak != progress.streak:
                    progress, save = replace(progress, streak=judgement.streak), True
                if save:
                    unsaved.append((job.run, progress))
            result.evaluated += 1
            if judgement.judged:
                result.decisions += 1
            stopped = False
            for decision in judgement.stops:
                if act.stop(job, settings, decision, group) == STOPPED.text:
                    stopped = True
                    break  # stopped: the job's other stops have nothing left to do
            act.episodes(job, judgement.episodes)
            for alert in [] if stopped else judgement.alerts:  # nothing to say of a stopped job
                act.alert(
                    job, settings, alert.decision, group, episode=alert.episode, since=alert.since
                )
            if not stopped:  # which rules cannot watch it, and why (a stopped job: moot)
                references = group.references if group is not None else 0
                _track_coverage(act, job, settings, seen, references, now, result)
        except Exception:
            result.errors += 1
            logger.exception("evaluating the job failed; the tick goes on")
        finally:
            logger.remove_keys(["job"])
        if len(unsaved) >= SAVE_EVERY:
            result.errors += _save(deps.running, unsaved)
    result.errors += _save(deps.running, unsaved)


def _moved(
    stats: Mapping[ReferenceSet, GroupStats], pinned: Mapping[ReferenceSet, int]
) -> set[ReferenceSet]:
    """The pinned reference sets whose STATS are no longer at the planner's version."""
    moved = {r for r, v in pinned.items() if (stats[r].version if r in stats else 0) != v}
    if moved:
        logger.warning(
            "a split group's statistics changed during the tick: its jobs wait",
            extra={"sets": sorted(str(r) for r in moved)},
        )
    return moved


def _count(result: TickResult, act: Act) -> None:
    """What ``act`` sent and audited, into ``result`` (it counted its actions there)."""
    result.emails_failed, result.emails_dead = act.mail.failed, act.mail.dead
    result.errors += act.counts.stop_failures + act.mail.failed  # in the alarmed JobErrors
    result.actions = act.records


def gpus_of(deps: Dependencies, job: JobRecord) -> int | None:
    """GPUs per host that report GPUUtilization (None: unknown type, CPU or Trainium; a
    heterogeneous cluster: see :func:`~trainguard.core.instances.gpu_hosts`)."""
    return gpu_hosts(job.groups, deps.catalog).gpus


def _save(running: RunningJobs, unsaved: list[tuple[RunId, Progress]]) -> int:
    """Write the progress gathered so far (and forget it); 1 if that failed (those jobs are
    read from their start again next tick), else 0."""
    if not unsaved:
        return 0
    try:
        running.save_progress(list(unsaved))
    except Exception:
        logger.exception("saving the jobs' progress failed")
        return 1
    finally:
        unsaved.clear()
    return 0


def _track_coverage(
    act: Act,
    job: JobRecord,
    settings: JobSettings | None,
    seen: Observation | None,
    references: int,
    now: float,
    result: TickResult,
    *,
    error: str | None = None,
) -> None:
    """Which rules cannot watch the job and why, its notices and the ``UnwatchedJobs`` count
    (:mod:`.coverage`); never a crash of the tick nor in the way of the job's judgement."""
    try:
        coverage = track_coverage(act, job, settings, seen, references, now, error=error)
    except Exception:
        result.errors += 1
        logger.exception("the coverage notice failed")
        return
    if not coverage.watched:
        result.unwatched += 1


def _report_config_error(act: Act, job: JobRecord, error: str, result: TickResult) -> None:
    """A bad tag value: reported once for that job, never a crash of the tick."""
    logger.warning("bad trainguard tag", extra={"job": job.name, "error": error})
    try:
        message = messages.config_error(job.name, error, act.deps.region, tag_problems(job.tags))
        act.notice(job, "config", message)
    except Exception:
        result.errors += 1
        logger.exception("reporting the bad tag failed")
