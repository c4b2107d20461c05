"""The reconcile: catch lost events, every few ticks, within a time budget.

Registers InProgress jobs the table lacks (their InProgress event was lost), finalizes jobs
that ended unseen (their end event was lost), deletes the GPU-idle alarms of jobs that no
longer run and re-creates the missing ones of jobs that do. Every step goes through the
lifecycle's own path, so a reconciled job is handled exactly as if its event had arrived.

Bounded work (issue 21): the listing read every tick was the account's whole training-job
history (ListTrainingJobs filters its status after paging). Now

* it runs on the first tick of every ``reconcileEveryMinutes`` (:func:`due`), not every tick;
* it lists newest first and stops at the first job created before :func:`listing_since`: the
  oldest running job the table knows, and at least an hour back; every
  ``reconcileFullEveryMinutes`` as far back as a job can still run (:data:`MAX_JOB_AGE_S`), so
  a job none of whose events arrived is found too;
* it stops paging after ``reconcileBudgetSeconds`` (or when the tick's time is up). There is
  no cursor: a listing cut short registers what it read (the newest jobs, whose lost events
  matter first), finalizes only the runs it reached, and the next reconcile starts again from
  the newest; the cut is logged with how far back it reached.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import field, replace
from typing import Protocol

from ..config import Policy, settings_for
from ..constants import GPU_IDLE_ALARM_PREFIX, GPU_METRIC
from ..core.instances import gpu_hosts
from ..core.series import floor_minute
from ..core.values import mutable
from ..models import (
    JobListing,
    JobNotFoundError,
    JobRecord,
    JobStatus,
    MetricQuery,
    RunId,
    alarmed_hosts,
    gpu_idle_alarm_name,
    parse_gpu_idle_alarm_name,
)
from ..observability import logger
from .dependencies import Dependencies

# How old an InProgress job can be. SageMaker's MaxRuntimeInSeconds is at most 2,419,200 s
# (28 days), and "the maximum time that a TrainingJob can run in total, including any time
# spent publishing metrics or archiving and uploading models after it has been stopped, is 30
# days"; before it runs, a job on a training plan may be pending up to MaxPendingTimeInSeconds
# (at most 2,419,200 s). API reference, StoppingCondition.
MAX_JOB_AGE_S = (28 + 30) * 86400.0
RECENT_S = 3600.0  # a regular reconcile lists at least this far back


def due(now: float, tick_minutes: int, every_minutes: int) -> bool:
    """Whether the tick at ``now`` is the first of its ``every_minutes`` window (ticks every
    ``tick_minutes``): one tick in each window, with no state kept (a retried tick at the same
    time is due again)."""
    if every_minutes <= tick_minutes:
        return True
    window, tick = every_minutes * 60.0, tick_minutes * 60.0
    return math.floor(now / window) != math.floor((now - tick) / window)


def listing_since(now: float, running: list[JobRecord], policy: Policy, full: bool) -> float:
    """How far back the reconcile lists (epoch s): as far as a job can run on a full
    reconcile, else an hour (or two reconcile windows); and never after the oldest running run
    the table knows, so that every one of them is in the listing (a run without a
    CreationTime, ``created_ms`` 0, is described on its own instead)."""
    if full:
        since = now - MAX_JOB_AGE_S
    else:
        since = now - max(RECENT_S, 2 * 60.0 * policy.reconcile_every_minutes)
    known = [job.created_ms / 1000.0 for job in running if job.created_ms > 0]
    return min([since, *known])


@mutable
class Reconciled:
    running: list[JobRecord]  # the running jobs after the reconcile
    registered: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    alarms_repaired: int = 0
    errors: int = 0
    pages: int = 0  # ListTrainingJobs pages read
    complete: bool = True  # False: the listing was cut short by the budget


class TimeLeft(Protocol):
    """The tick's time budget (``logic.evaluator.Budget``)."""

    def exhausted(self) -> bool: ...


def reconcile(
    deps: Dependencies,
    running: list[JobRecord],
    now: float,
    budget: TimeLeft | None = None,
    *,
    full: bool = True,
) -> Reconciled:
    """``running``: the runs the table's running index lists; ``now``: the tick's time;
    ``full``: list as far back as a job can run (else :func:`listing_since`'s shorter way).
    One job's failure is logged with its name and counted; the others go on. A run is a name
    and a CreationTime: a name that SageMaker lists with another CreationTime than the table's
    running run is a new job (the old one was deleted), and both are handled as such."""
    deadline = time.monotonic() + deps.policy.reconcile_budget_seconds

    def tick_over() -> bool:
        return budget is not None and budget.exhausted()

    def out_of_time() -> bool:  # the listing's budget: its own, and the tick's
        return time.monotonic() > deadline or tick_over()

    since = listing_since(now, running, deps.policy, full)
    listing = deps.training_jobs.list_since(since, out_of_time)
    if not listing.complete:
        logger.warning(
            "reconcile: the listing was cut short by its time budget; the next reconcile "
            "starts again from the newest jobs",
            extra={"pages": listing.pages, "reached_ms": listing.reached_ms, "since": since},
        )
    listed = {RunId(s.name, s.created_ms): s for s in listing.jobs}
    by_run = {j.run: j for j in running}
    result = Reconciled([], pages=listing.pages, complete=listing.complete)
    for run, summary in listed.items():
        if run in by_run:
            continue
        if tick_over():
            break  # the next reconcile registers the rest
        try:
            if deps.jobs.get_job(run) is not None:
                continue  # known (the index is eventually consistent, or it just ended)
            # a lost event is rare: the lifecycle (its failure path, its group statistics) is
            # imported by the first one, not by every cold start of the tick's functions
            from .lifecycle import apply_change, change_from_description

            description = deps.training_jobs.describe(run.name)
            arn = str(description.get("TrainingJobArn") or summary.arn)
            change = change_from_description(description, deps.training_jobs.tags(arn))
            if change.run != run:
                continue  # the name moved on to a newer job since the listing: next tick
            apply_change(change, deps, now)
            record = deps.jobs.get_job(run)
            if record is not None and record.running:
                by_run[run] = record
                result.registered.append(run.name)
                logger.info(
                    "reconcile: registered a job whose InProgress event was lost",
                    extra={"job": run.name},
                )
        except Exception:
            result.errors += 1
            logger.exception("reconcile: registering failed", extra={"job": run.name})
    for run in list(by_run):
        if run in listed or not _covered(listing, since, run):
            continue  # listed, or older than the listing reached: not known to be gone
        try:
            try:
                description = deps.training_jobs.describe(run.name)
            except JobNotFoundError:
                _gone(deps, run, now, "not found in SageMaker", result)
                by_run.pop(run)
                continue
            from .lifecycle import apply_change, change_from_description  # rare: see above

            change = change_from_description(description, None)  # the item's tags apply
            if change.run != run:
                _gone(deps, run, now, "replaced by a newer job of the same name", result)
                by_run.pop(run)
                continue
            if change.status == JobStatus.IN_PROGRESS:
                continue  # listed a moment before it started
            apply_change(change, deps, now)
            by_run.pop(run)
            result.finalized.append(run.name)
            logger.info("reconcile: finalized a job that ended unseen", extra={"job": run.name})
        except Exception:
            result.errors += 1
            logger.exception("reconcile: finalizing failed", extra={"job": run.name})
    existing = set(deps.alarms.alarm_names(GPU_IDLE_ALARM_PREFIX))
    result.alarms_repaired = _repair_alarms(deps, list(by_run.values()), existing, tick_over, now)
    alive = {run.name for run in by_run} | {run.name for run in listed}
    result.orphan_alarms_deleted = _delete_orphans(deps, existing, alive)
    result.running = list(by_run.values())
    return result


def _covered(listing: JobListing, since: float, run: RunId) -> bool:
    """Whether ``run`` would be in ``listing`` if it were InProgress (a run without a
    CreationTime is checked by itself: it cannot be placed in the listing)."""
    if run.created_ms <= 0:
        return True
    return run.created_ms >= since * 1000.0 and listing.covers(run.created_ms)


def _delete_orphans(deps: Dependencies, existing: set[str], alive: set[str]) -> int:
    """Delete the GPU-idle alarms of jobs that neither run in the listing nor in the running
    index, unless the job's own item says it runs: the index is eventually consistent, and a
    job registered a moment ago (its alarms just created) may be in neither yet."""
    candidates: dict[str, list[str]] = {}
    for alarm in sorted(existing):
        parsed = parse_gpu_idle_alarm_name(alarm)
        if parsed is not None and parsed[0] not in alive:
            candidates.setdefault(parsed[0], []).append(alarm)
    orphans: list[str] = []
    for name, alarms in candidates.items():
        try:
            latest = deps.jobs.latest_run(name)
        except Exception:
            logger.exception("reconcile: reading a job before deleting its alarms failed")
            continue
        if latest is not None and latest.running:
            continue  # registered, not yet in the index: its alarms are its own
        orphans += alarms
    if not orphans:
        return 0
    deleted = deps.alarms.delete_alarms(orphans)
    logger.info("reconcile: deleted orphaned alarms", extra={"count": len(orphans)})
    return deleted


ALARMS_PER_TICK = 60  # PutMetricAlarm allows 3 a second


def _repair_alarms(
    deps: Dependencies,
    running: list[JobRecord],
    existing: set[str],
    out_of_time: Callable[[], bool],
    now: float,
) -> int:
    """Create the GPU-idle alarms a running run lacks in CloudWatch (``existing``: the alarms
    there now), whatever its item records: a creation that failed part way, a job with more
    hosts than one invocation creates, an alarm deleted as an orphan while the running index
    lagged, a heterogeneous cluster's GPU hosts once they report. ``ALARMS_PER_TICK`` at
    most."""
    created = 0
    waiting: list[JobRecord] = []  # heterogeneous: which hosts are GPU hosts is read first
    for job in running:
        if created >= ALARMS_PER_TICK or out_of_time():
            return created
        plan = gpu_hosts(job.groups, deps.catalog)
        if plan.gpus is None:
            continue
        present = frozenset(
            name
            for i in range(1, alarmed_hosts(job.instance_count) + 1)
            if (name := gpu_idle_alarm_name(job.name, i)) in existing
        )
        if len(present) >= min(plan.hosts, alarmed_hosts(job.instance_count)):
            continue
        job = replace(job, alarms=present)  # what CloudWatch has, whatever its item says
        if not plan.named:
            settings = settings_for(job, deps.policy)
            # its hosts are read only when there are alarms to make of what they say
            if (settings.policy if settings else deps.policy).gpu_idle.enabled:
                waiting.append(job)
            continue
        created += _repair(deps, job, ())
    if waiting and created < ALARMS_PER_TICK:
        reporting = gpu_reporting_hosts(deps, waiting, now)
        for job in waiting:
            if created >= ALARMS_PER_TICK or out_of_time():
                break
            if reporting.get(job.run):
                created += _repair(deps, job, reporting[job.run])
    return created


def _repair(deps: Dependencies, job: JobRecord, reporting: Collection[int]) -> int:
    try:
        from .lifecycle import create_alarms  # a missing alarm is rare: loaded by it

        made = create_alarms(job, deps, [], reporting)
    except Exception:
        logger.exception("reconcile: repairing the alarms failed", extra={"job": job.name})
        return 0
    if made:
        logger.info(
            "reconcile: created missing GPU-idle alarms",
            extra={"job": job.name, "alarms_created": made},
        )
    return made


REPORTING_LOOKBACK_MIN = 15.0


def gpu_reporting_hosts(
    deps: Dependencies, jobs: list[JobRecord], now: float
) -> dict[RunId, list[int]]:
    """The host numbers of each job that reported ``GPUUtilization`` in the last
    ``REPORTING_LOOKBACK_MIN`` minutes (a CPU host never does): one GetMetricData batch
    for all of them, a query per host without its alarm yet."""
    queries: list[MetricQuery] = []
    asked: dict[str, tuple[RunId, int]] = {}
    for i, job in enumerate(jobs):
        for n in range(1, job.instance_count + 1):
            if gpu_idle_alarm_name(job.name, n) in job.alarms:
                continue
            qid = f"r{i}_{n}"
            asked[qid] = (job.run, n)
            queries.append(MetricQuery(qid, GPU_METRIC, (("Host", f"{job.name}/algo-{n}"),)))
    if not queries:
        return {}
    end = floor_minute(now) + 60.0
    try:
        series = deps.metrics.get_series(queries, end - REPORTING_LOOKBACK_MIN * 60.0, end)
    except Exception:
        logger.exception("reconcile: reading which hosts report GPUs failed: next tick")
        return {}
    out: dict[RunId, list[int]] = {}
    for qid, (run, n) in asked.items():
        if series.get(qid):
            out.setdefault(run, []).append(n)
    return out


def _gone(deps: Dependencies, run: RunId, now: float, why: str, result: Reconciled) -> None:
    """A run SageMaker no longer has (deleted, or its name taken by a newer job)."""
    deps.jobs.finalize_job(run, JobStatus.UNKNOWN, now, why)
    result.finalized.append(run.name)
    logger.info(f"reconcile: finalized a run that is gone: {why}", extra={"job": run.name})
