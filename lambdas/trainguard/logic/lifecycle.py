"""Lifecycle of a training job, driven by "SageMaker Training Job State Change" events (and by
the evaluator's reconcile, which feeds DescribeTrainingJob results through the same path).

* InProgress: register the job item (every job, opted in or not: a job without the opt-in
  tag gets GPU-idle alerts but is never evaluated or stopped), then its per-host alarms.
* Completed: read its objective curve once into ``CURVE#`` and rebuild the group's ``STATS``.
* Completed / Stopped / Failed: finalize, delete the alarms, email a failure (opted-in jobs);
  a capacity failure of a job tagged ``trainguard:retry`` is claimed for a retry
  (:mod:`.retry`), which its email announces.

Idempotent: an ``EVENT#<status>#<secondary>`` marker is written after the change was applied
and checked first, and every step in between is safe to repeat. Reordering: an InProgress that
arrives after the end is ignored; an end without a prior InProgress registers from the end
event's own detail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ..config import PolicyError, is_opted_in, job_settings, settings_for
from ..core.curves import Direction
from ..core.group import GroupFigures, Reference, fold_group, join
from ..core.median import MedianStoppingRule
from ..core.series import MAX_CURVE_POINTS, downsample, floor_minute, in_steps, minute_curve
from ..core.throughput import completed_per_instance
from ..models import (
    REFERENCE_WINDOW,
    TERMINAL,
    Completed,
    GroupStats,
    JobNotFoundError,
    JobRecord,
    JobStatus,
    MetricQuery,
    ReferenceSet,
    StateChange,
    gpu_idle_alarm_name,
    parse_job_description,
)
from ..observability import logger
from .dependencies import Dependencies


@dataclass
class LifecycleResult:
    job: str
    status: str
    action: str
    opted_in: bool = False
    alarms_created: int = 0
    alarms_deleted: int = 0
    curve_points: int = 0
    notified: bool = False
    warnings: list[str] = field(default_factory=list)


def apply_change(
    change: StateChange, deps: Dependencies, now: float | None = None
) -> LifecycleResult:
    """Apply one state change. ``now``: when it is handled (the evaluator's tick time for the
    reconcile); default the event's own time, else the clock."""
    if now is None:
        now = change.event_time if change.event_time is not None else deps.clock()
    logger.append_keys(job=change.name)
    if deps.events.event_seen(change.run, change.dedup_key):
        logger.info("duplicate state-change event ignored", extra={"status": change.dedup_key})
        return LifecycleResult(change.name, change.status, "duplicate")
    if change.status == JobStatus.IN_PROGRESS:
        result = _in_progress(change, deps, now)
    elif change.status in TERMINAL:
        result = _ended(change, deps, now)
    else:
        logger.info("status needs no action", extra={"status": change.status})
        result = LifecycleResult(change.name, change.status, "ignored")
    deps.events.mark_event(change.run, change.dedup_key, now)
    return result


# ---- InProgress ------------------------------------------------------------------------------
def _in_progress(change: StateChange, deps: Dependencies, now: float) -> LifecycleResult:
    existing = deps.jobs.get_job(change.run)
    if existing is not None:
        if not existing.running:
            logger.info("late InProgress after the job ended: ignored")
            return LifecycleResult(change.name, change.status, "ignored: already ended")
        if change.start_time is not None and not existing.start_exact:
            deps.jobs.update_start_time(change.run, change.start_time)
        return LifecycleResult(change.name, change.status, "already registered", existing.opted_in)
    record = build_record(change, resolve_tags(change, None, deps), deps, now)
    if not deps.jobs.register_job(record):
        return LifecycleResult(change.name, change.status, "already registered", record.opted_in)
    result = LifecycleResult(change.name, change.status, "registered", record.opted_in)
    if record.config_error:
        result.warnings.append(record.config_error)
        logger.warning("bad trainguard tag", extra={"error": record.config_error})
    logger.info(
        "job registered",
        extra={"opted_in": record.opted_in, "group": record.group, "objective": record.objective},
    )
    result.alarms_created = create_alarms(record, deps, result.warnings)
    if record.opted_in and not record.config_error:
        _ensure_table(record, deps)
    return result


def resolve_tags(
    change: StateChange, existing: JobRecord | None, deps: Dependencies
) -> dict[str, str]:
    """Stored tags, else the event's, else ListTags (an unknown job has none)."""
    if existing is not None:
        return dict(existing.tags)
    if change.tags is not None:
        return dict(change.tags)
    if not change.arn:
        logger.warning("event has neither Tags nor TrainingJobArn: treated as not opted in")
        return {}
    try:
        return deps.training_jobs.tags(change.arn)
    except JobNotFoundError:
        logger.warning("ListTags: job not found; treated as not opted in")
        return {}


def build_record(
    change: StateChange, tags: dict[str, str], deps: Dependencies, now: float | None = None
) -> JobRecord:
    now = deps.clock() if now is None else now
    start = change.start_time or change.creation_time or change.event_time or now
    record = JobRecord(
        name=change.name,
        created_ms=change.run.created_ms,
        arn=change.arn,
        tags=tags,
        opted_in=is_opted_in(tags),
        instance_type=change.instance_type,
        instance_count=change.instance_count,
        max_runtime_s=change.max_runtime_s,
        start_time=start,
        start_exact=change.start_time is not None,
        status=change.status,
        end_time=change.end_time,
        failure_reason=change.failure_reason,
    )
    if record.opted_in:
        try:
            settings = job_settings(tags, deps.policy)
        except PolicyError as exc:
            record.config_error = str(exc)
            record.group = tags.get("trainguard:group", "").strip()
        else:
            record.group = settings.group
            record.objective = settings.objective
            record.direction = settings.direction
            record.mode = settings.mode
    return record


ALARMS_PER_INVOCATION = 60  # PutMetricAlarm allows 3 a second: ~20 s; the reconcile does the rest


def create_alarms(record: JobRecord, deps: Dependencies, warnings: list[str]) -> int:
    """The run's missing GPU-idle alarms, one per host, at most ``ALARMS_PER_INVOCATION``
    (a 300-instance job gets the rest from the next ticks' reconcile); each one created is
    recorded on the run (``JobRecord.alarms``), so a failure part way leaves a list of what
    is missing. None when the GPU count is unknown (a warning) or the type has no GPUs."""
    settings = settings_for(record, deps.policy)
    gpu_idle = (settings.policy if settings else deps.policy).gpu_idle
    if not gpu_idle.enabled:
        return 0
    spec = deps.catalog.get(record.instance_type)
    if spec is None:
        message = (
            f"unknown instance type {record.instance_type!r}: no GPU-idle alarms "
            "(add it to the policy's prices with its gpus)"
        )
        warnings.append(message)
        logger.warning(message)
        return 0
    if not spec.reports_gpu_utilization:
        logger.info("no GPUUtilization for this instance type: no GPU-idle alarms")
        return 0
    missing = [
        i
        for i in range(1, record.instance_count + 1)
        if gpu_idle_alarm_name(record.name, i) not in record.alarms
    ]
    created: list[str] = []
    try:
        for index in missing[:ALARMS_PER_INVOCATION]:
            created.append(
                deps.alarms.put_gpu_idle_alarm(
                    record.name,
                    index,
                    spec.gpus,
                    gpu_idle.threshold_pct,
                    gpu_idle.window_minutes,
                    deps.alert_function_arn,
                )
            )
    except Exception:
        logger.exception(
            "creating the GPU-idle alarms failed part way: the reconcile repairs it",
            extra={"alarms_created": len(created), "alarms_missing": len(missing)},
        )
    finally:
        if created:
            deps.jobs.add_alarms(record.run, created)
            record.alarms = record.alarms | frozenset(created)
    return len(created)


def _ensure_table(record: JobRecord, deps: Dependencies) -> None:
    """A job whose median rule reads a table its reference set does not materialize yet
    (Ray's windowed average with a grace of its own) gets it built now."""
    settings = settings_for(record, deps.policy)
    rule = settings.rules.median if settings is not None else None
    if rule is None or not record.group or not record.objective:
        return
    stats = deps.references.get_stats(record.reference_set)
    if stats is not None and stats.table(rule.table_key) is None:
        update_stats(record.reference_set, deps, extra_keys={rule.table_key})


# ---- Completed / Stopped / Failed --------------------------------------------------------------
def _ended(change: StateChange, deps: Dependencies, now: float) -> LifecycleResult:
    existing = deps.jobs.get_job(change.run)
    if existing is None:
        # Completed before InProgress (or the InProgress was lost): register from this event
        record = build_record(change, resolve_tags(change, None, deps), deps, now)
        deps.jobs.register_job(record)
    else:
        record = existing
    result = LifecycleResult(change.name, change.status, "finalized", record.opted_in)
    completed = change.status == JobStatus.COMPLETED
    if completed and record.opted_in and record.objective and record.group:
        result.curve_points = record_curve(record, change, deps, now)
    deps.jobs.finalize_job(change.run, change.status, change.end_time, change.failure_reason)
    count = max(record.instance_count, change.instance_count)
    result.alarms_deleted = _delete_alarms(record, count, deps)
    if change.status == JobStatus.FAILED and record.opted_in:
        result.notified = _notify_failed(record, change, deps, now)
    logger.info("job finalized", extra={"status": change.status})
    return result


def _delete_alarms(record: JobRecord, count: int, deps: Dependencies) -> int:
    """The run's GPU-idle alarms, unless a newer run of the same name owns them now (the
    alarms are named by the job's name, as its metrics are: a late end event of a deleted
    job must not take a running successor's alarms)."""
    latest = deps.jobs.latest_run(record.name)
    if latest is not None and latest.created_ms > record.created_ms and latest.running:
        logger.info("a newer run of this name owns the alarms: kept")
        return 0
    return deps.alarms.delete_alarms(
        gpu_idle_alarm_name(record.name, i) for i in range(1, count + 1)
    )


def record_curve(
    record: JobRecord, change: StateChange, deps: Dependencies, now: float | None = None
) -> int:
    """Read the whole objective curve once (Period 60, steps = minutes since the start;
    longer than ``MAX_CURVE_POINTS``, it is kept as that many bucket means, see
    :func:`~trainguard.core.series.downsample`); it ends at TrainingEndTime, else at ``now``
    (default the clock). Then the job joins its reference set."""
    assert record.objective is not None
    start = change.start_time or record.start_time
    end = change.end_time or (deps.clock() if now is None else now)
    settings = settings_for(record, deps.policy)
    throughput = settings.throughput_metric if settings is not None else None
    queries = [MetricQuery("o0", record.objective, (("TrainingJobName", record.name),))]
    if throughput:
        queries.append(MetricQuery("t0", throughput, (("TrainingJobName", record.name),)))
    series = deps.metrics.get_series(queries, floor_minute(start), floor_minute(end) + 120.0)
    curve = downsample(minute_curve(series.get("o0", []), start), MAX_CURVE_POINTS)
    if not curve:
        logger.warning("completed job has no objective datapoints: not a reference")
        return 0
    duration_min = max(0.0, (end - start) / 60.0)
    per_instance = None
    if throughput and settings is not None:
        per_instance = completed_per_instance(
            minute_curve(series.get("t0", []), start),
            record.instance_count,
            warmup_minutes=settings.policy.throughput.warmup_minutes,
        )
    deps.references.put_curve(record.reference_set, str(record.run), curve, duration_min)
    joined = Completed(str(record.run), duration_min, per_instance, record.instance_count)
    update_stats(record.reference_set, deps, add=[joined])
    return len(curve)


STATS_ATTEMPTS = 8  # concurrent completions: each re-reads and retries until its write holds


def update_stats(
    refs: ReferenceSet,
    deps: Dependencies,
    *,
    add: Sequence[Completed | tuple[str, float]] = (),
    extra_keys: set[str] | None = None,
) -> None:
    """The reference set's statistics with ``add`` (completed jobs' run ids and durations,
    their curves already stored) in its window of the ``REFERENCE_WINDOW`` most recent
    references, every table in use rebuilt from the window's curves: the work and the item's
    size do not grow with the group's history. Written only if nobody wrote them since they
    were read (a concurrent completion makes this one read again and retry: none is lost)."""
    joining = [Reference(*c) for c in add]
    for _ in range(STATS_ATTEMPTS):
        old = deps.references.get_stats(refs)
        before = _figures(old) if old is not None else None
        window, added = join(before.window if before else (), joining, REFERENCE_WINDOW)
        if add and not added:
            return  # these completions are in already (a duplicate event)
        keys = {_policy_rule(deps).table_key} | set(extra_keys or ())
        if old is not None:
            keys |= set(old.tables)
        runs = [r.run for r in window]
        curves = deps.references.get_curves(refs, runs)
        stepped = {
            job: in_steps(curves[job][0], deps.policy.step_unit) for job in runs if job in curves
        }
        figures = fold_group(
            before,
            joining,
            stepped,
            direction=cast(Direction, refs.direction),
            table_keys=keys,
            limit=REFERENCE_WINDOW,
        )
        assert figures is not None  # not a duplicate: checked above
        for run, error in figures.rejected:  # not a usable curve: no reference of the rule
            logger.warning(
                "curve left out of the catch-up model", extra={"run": run, "error": error}
            )
        stats = GroupStats(
            refs=refs,
            tables=figures.tables,
            median_duration_min=figures.median_duration_min,
            references=len(figures.window),
            window=tuple(r.run for r in figures.window),
            durations=tuple(r.duration_min for r in figures.window),
            completed=figures.completed,
            version=(old.version if old else 0) + 1,
            throughput=tuple(r.throughput_per_instance for r in figures.window),
            instances=tuple(r.instances for r in figures.window),
            catchup=figures.catchup,
        )
        if deps.references.put_stats(stats, old.version if old else None):
            logger.info(
                "reference statistics updated",
                extra={"group": refs.group, "references": len(figures.window)},
            )
            return
        logger.info("reference statistics written meanwhile: reading them again")
    raise RuntimeError(f"{refs}: statistics kept changing under {STATS_ATTEMPTS} attempts")


def _figures(stats: GroupStats) -> GroupFigures:
    """The stored statistics as the fold's figures (statistics written before a field existed
    lack it: no throughput, one instance)."""
    n = len(stats.window)
    throughput = [*stats.throughput, *[None] * n][:n]
    instances = [*stats.instances, *[1] * n][:n]
    window = tuple(
        Reference(run, duration, figure, count)
        for run, duration, figure, count in zip(
            stats.window, stats.durations, throughput, instances, strict=False
        )
    )
    return GroupFigures(
        window, stats.completed, stats.tables, stats.median_duration_min, stats.catchup
    )


def _policy_rule(deps: Dependencies) -> MedianStoppingRule:
    m = deps.policy.median
    return MedianStoppingRule(grace=m.grace, average=m.average)


def _notify_failed(record: JobRecord, change: StateChange, deps: Dependencies, now: float) -> bool:
    # the failure path's modules (retry, the ledger's carry-outs, the messages) are imported
    # by the first failure, not by every cold start of the function
    from . import messages, retry
    from .actions import Act

    reason = change.failure_reason or "no FailureReason given"
    failed = dataclasses.replace(
        record, status=JobStatus.FAILED, failure_reason=change.failure_reason
    )
    plan = retry.on_failed(failed, change.failure_reason, deps, now)  # a capacity retry
    status = messages.status("Failed", change.secondary_status)
    message = messages.failed(
        record.name,
        status,
        reason,
        record.group,
        plan,
        deps.region,
        hang=messages.after_hang(record.actions),
    )
    return Act(deps, now).notice(record, "failed", message)


def change_from_description(
    description: dict[str, Any], tags: dict[str, str] | None
) -> StateChange:
    """A DescribeTrainingJob response as a :class:`StateChange` (for the reconcile)."""
    change = parse_job_description(description, event_time=None)
    return dataclasses.replace(change, tags=tags if tags else change.tags)
