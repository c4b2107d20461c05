"""The reconcile: catch lost events once per tick.

Registers InProgress jobs the table lacks (their InProgress event was lost), finalizes jobs
that ended unseen (their end event was lost), deletes the GPU-idle alarms of jobs that no
longer run. Every step goes through the lifecycle's own path, so a reconciled job is handled
exactly as if its event had arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..constants import GPU_IDLE_ALARM_PREFIX
from ..models import JobNotFoundError, JobRecord, parse_gpu_idle_alarm_name
from ..observability import logger
from .dependencies import Dependencies
from .lifecycle import apply_change, change_from_description


@dataclass
class Reconciled:
    running: list[JobRecord]  # the running jobs after the reconcile
    registered: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    errors: int = 0


def reconcile(deps: Dependencies, running: list[JobRecord], now: float) -> Reconciled:
    """``running``: the jobs the table's running index lists; ``now``: the tick's time. One
    job's failure is logged with its name and counted; the others go on."""
    listed = {s.name: s for s in deps.training_jobs.list_in_progress()}
    by_name = {j.name: j for j in running}
    result = Reconciled([])
    for name, summary in listed.items():
        if name in by_name:
            continue
        try:
            if deps.store.get_job(name) is not None:
                continue  # known (the index is eventually consistent, or it just ended)
            description = deps.training_jobs.describe(name)
            arn = str(description.get("TrainingJobArn") or summary.arn)
            change = change_from_description(description, deps.training_jobs.tags(arn))
            apply_change(change, deps, now)
            record = deps.store.get_job(name)
            if record is not None and record.running:
                by_name[name] = record
                result.registered.append(name)
                logger.info(
                    "reconcile: registered a job whose InProgress event was lost",
                    extra={"job": name},
                )
        except Exception:
            result.errors += 1
            logger.exception("reconcile: registering failed", extra={"job": name})
    for name, job in list(by_name.items()):
        if name in listed:
            continue
        try:
            try:
                description = deps.training_jobs.describe(name)
            except JobNotFoundError:
                deps.store.finalize_job(name, "Unknown", now, "not found in SageMaker")
                by_name.pop(name)
                result.finalized.append(name)
                continue
            if description.get("TrainingJobStatus") == "InProgress":
                continue  # listed a moment before it started
            apply_change(change_from_description(description, job.tags), deps, now)
            by_name.pop(name)
            result.finalized.append(name)
            logger.info("reconcile: finalized a job that ended unseen", extra={"job": name})
        except Exception:
            result.errors += 1
            logger.exception("reconcile: finalizing failed", extra={"job": name})
    alive = set(by_name) | set(listed)
    orphans = []
    for alarm in deps.alarms.alarm_names(GPU_IDLE_ALARM_PREFIX):
        parsed = parse_gpu_idle_alarm_name(alarm)
        if parsed is not None and parsed[0] not in alive:
            orphans.append(alarm)
    if orphans:
        result.orphan_alarms_deleted = deps.alarms.delete_alarms(orphans)
        logger.info("reconcile: deleted orphaned alarms", extra={"count": len(orphans)})
    result.running = list(by_name.values())
    return result
