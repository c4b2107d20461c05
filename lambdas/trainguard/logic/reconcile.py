"""The reconcile: catch lost events once per tick.

Registers InProgress jobs the table lacks (their InProgress event was lost), finalizes jobs
that ended unseen (their end event was lost), deletes the GPU-idle alarms of jobs that no
longer run. Every step goes through the lifecycle's own path, so a reconciled job is handled
exactly as if its event had arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..constants import GPU_IDLE_ALARM_PREFIX
from ..models import JobNotFoundError, JobRecord, JobStatus, RunId, parse_gpu_idle_alarm_name
from ..observability import logger
from .dependencies import Dependencies


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
            from .lifecycle import apply_change, change_from_description  # rare: see above

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
    result.alarms_repaired = _repair_alarms(deps, list(by_run.values()), budget)
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


def _repair_alarms(deps: Dependencies, running: list[JobRecord], budget: TimeLeft | None) -> int:
    """Create the GPU-idle alarms a running run lacks (a creation that failed part way, a
    job with more hosts than one invocation creates), ``ALARMS_PER_TICK`` at most."""
    created = 0
    for job in running:
        if created >= ALARMS_PER_TICK or (budget is not None and budget.exhausted()):
            break
        spec = deps.catalog.get(job.instance_type)
        if spec is None or not spec.reports_gpu_utilization:
            continue
        if len(job.alarms) >= job.instance_count:
            continue
        try:
            from .lifecycle import create_alarms  # a missing alarm is rare (see above)

            made = create_alarms(job, deps, [])
        except Exception:
            logger.exception("reconcile: repairing the alarms failed", extra={"job": job.name})
            continue
        if made:
            logger.info(
                "reconcile: created missing GPU-idle alarms",
                extra={"job": job.name, "alarms_created": made},
            )
        created += made
    return created


def _gone(deps: Dependencies, run: RunId, now: float, why: str, result: Reconciled) -> None:
    """A run SageMaker no longer has (deleted, or its name taken by a newer job)."""
    deps.jobs.finalize_job(run, JobStatus.UNKNOWN, now, why)
    result.finalized.append(run.name)
    logger.info(f"reconcile: finalized a run that is gone: {why}", extra={"job": run.name})
