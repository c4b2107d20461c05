"""The reconcile: catch lost events once per tick.

Registers InProgress jobs the table lacks (their InProgress event was lost), finalizes jobs
that ended unseen (their end event was lost), deletes the GPU-idle alarms of jobs that no
longer run. Every step goes through the lifecycle's own path, so a reconciled job is handled
exactly as if its event had arrived.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from ..config import settings_for
from ..constants import GPU_IDLE_ALARM_PREFIX, GPU_METRIC
from ..core.instances import gpu_hosts
from ..core.series import floor_minute
from ..models import (
    JobNotFoundError,
    JobRecord,
    JobStatus,
    MetricQuery,
    RunId,
    gpu_idle_alarm_name,
    parse_gpu_idle_alarm_name,
)
from ..observability import logger
from .dependencies import Dependencies
from .lifecycle import apply_change, change_from_description, create_alarms


@dataclass
class Reconciled:
    running: list[JobRecord]  # the running jobs after the reconcile
    registered: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    alarms_repaired: int = 0
    errors: int = 0


class TimeLeft(Protocol):
    """The tick's time budget (``logic.evaluator.Budget``)."""

    def exhausted(self) -> bool: ...


def reconcile(
    deps: Dependencies, running: list[JobRecord], now: float, budget: TimeLeft | None = None
) -> Reconciled:
    """``running``: the runs the table's running index lists; ``now``: the tick's time. One
    job's failure is logged with its name and counted; the others go on. A run is a name and
    a CreationTime: a name that SageMaker lists with another CreationTime than the table's
    running run is a new job (the old one was deleted), and both are handled as such."""
    listed = {RunId(s.name, s.created_ms): s for s in deps.training_jobs.list_in_progress()}
    by_run = {j.run: j for j in running}
    result = Reconciled([])
    for run, summary in listed.items():
        if run in by_run:
            continue
        if budget is not None and budget.exhausted():
            break  # the next tick registers the rest
        try:
            if deps.jobs.get_job(run) is not None:
                continue  # known (the index is eventually consistent, or it just ended)
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
    for run, job in list(by_run.items()):
        if run in listed:
            continue
        try:
            try:
                description = deps.training_jobs.describe(run.name)
            except JobNotFoundError:
                _gone(deps, run, now, "not found in SageMaker", result)
                by_run.pop(run)
                continue
            change = change_from_description(description, job.tags)
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
    result.alarms_repaired = _repair_alarms(deps, list(by_run.values()), now, budget)
    alive = {run.name for run in by_run} | {run.name for run in listed}
    orphans = []
    for alarm in deps.alarms.alarm_names(GPU_IDLE_ALARM_PREFIX):
        parsed = parse_gpu_idle_alarm_name(alarm)
        if parsed is not None and parsed[0] not in alive:
            orphans.append(alarm)
    if orphans:
        result.orphan_alarms_deleted = deps.alarms.delete_alarms(orphans)
        logger.info("reconcile: deleted orphaned alarms", extra={"count": len(orphans)})
    result.running = list(by_run.values())
    return result


ALARMS_PER_TICK = 60  # PutMetricAlarm allows 3 a second


def _repair_alarms(
    deps: Dependencies, running: list[JobRecord], now: float, budget: TimeLeft | None
) -> int:
    """Create the GPU-idle alarms a running run lacks (a creation that failed part way, a
    job with more hosts than one invocation creates, a heterogeneous cluster's GPU hosts
    once they report), ``ALARMS_PER_TICK`` at most."""
    created = 0
    waiting: list[JobRecord] = []  # heterogeneous: which hosts are GPU hosts is read first
    for job in running:
        if created >= ALARMS_PER_TICK or (budget is not None and budget.exhausted()):
            return created
        plan = gpu_hosts(job.groups, deps.catalog)
        if plan.gpus is None or len(job.alarms) >= plan.hosts:
            continue
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
            if created >= ALARMS_PER_TICK or (budget is not None and budget.exhausted()):
                break
            if reporting.get(job.run):
                created += _repair(deps, job, reporting[job.run])
    return created


def _repair(deps: Dependencies, job: JobRecord, reporting: Collection[int]) -> int:
    try:
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
    deps.jobs.finalize_job(run, "Unknown", now, why)
    result.finalized.append(run.name)
    logger.info(f"reconcile: finalized a run that is gone: {why}", extra={"job": run.name})
