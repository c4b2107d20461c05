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
from collections.abc import Collection, Sequence
from dataclasses import field
from typing import cast

from ..config import Mode, Policy, PolicyError, is_opted_in, job_settings, settings_for
from ..config.resolve import calibrated
from ..core.curves import Direction, Point
from ..core.group import GroupFigures, Reference, fold_group, join
from ..core.instances import gpu_hosts, instances_text
from ..core.median import MedianStoppingRule
from ..core.series import MAX_CURVE_POINTS, downsample, floor_minute, in_steps, minute_curve
from ..core.stored import Record
from ..core.throughput import completed_per_instance
from ..core.values import mutable
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
    alarmed_hosts,
    gpu_idle_alarm_name,
    parse_job_description,
)
from ..observability import logger
from . import revive
from .dependencies import Dependencies


@mutable
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
    if change.creation_time is None:
        placed = with_creation_time(change, deps)
        if placed is None:
            return LifecycleResult(change.name, change.status, "ignored: no CreationTime")
        change = placed
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


def with_creation_time(change: StateChange, deps: Dependencies) -> StateChange | None:
    """``change`` with the CreationTime its event lacked: a run is its name and its
    CreationTime, and a run keyed without one (0) would be a second run of the same job once
    the reconcile or the next event names the real one. SageMaker's own word
    (DescribeTrainingJob, the same ARN), else the newest run the table has of the name; None
    (the event ignored, logged) when neither knows the job. A failed describe raises: the event
    is retried, then dead-lettered, rather than handled as another run."""
    try:
        description = deps.training_jobs.describe(change.name)
    except JobNotFoundError:
        description = None
    if description is not None and (
        not change.arn or str(description.get("TrainingJobArn", "")) in ("", change.arn)
    ):
        created = parse_job_description(description, event_time=None).creation_time
        if created is not None:
            return dataclasses.replace(change, creation_time=created)
    latest = deps.jobs.latest_run(change.name)
    if latest is not None and latest.created_ms > 0:
        return dataclasses.replace(change, creation_time=latest.created_ms / 1000.0)
    logger.warning("state-change event without CreationTime for a job nobody knows: ignored")
    return None


# ---- InProgress ------------------------------------------------------------------------------
def _in_progress(change: StateChange, deps: Dependencies, now: float) -> LifecycleResult:
    existing = deps.jobs.get_job(change.run)
    if existing is not None:
        if not existing.running:
            logger.info("late InProgress after the job ended: ignored")
            return LifecycleResult(change.name, change.status, "ignored: already ended")
        if change.start_time is not None and not existing.start_exact:
            trained, _ = revive.trained_before(deps, existing)  # a revival's logical start
            deps.jobs.update_start_time(change.run, change.start_time - trained)
        return LifecycleResult(change.name, change.status, "already registered", existing.opted_in)
    record = build_record(change, resolve_tags(change, None, deps), deps, now)
    record = revive.continued(deps, record, now)  # a revival continues its original's curve
    if not deps.jobs.register_job(record):
        return LifecycleResult(change.name, change.status, "already registered", record.opted_in)
    if record.progress is not None:
        deps.running.save_progress([(record.run, record.progress)])
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
        instance_groups=change.instance_groups,
        max_runtime_s=change.max_runtime_s,
        start_time=start,
        start_exact=change.start_time is not None,
        status=change.status,
        end_time=change.end_time,
        failure_reason=change.failure_reason,
        role_arn=change.role_arn,
    )
    return with_tags(record, tags, deps.policy)


def with_tags(record: JobRecord, tags: dict[str, str], policy: Policy) -> JobRecord:
    """``record`` with ``tags`` and what they decide (opted in, group, objective, direction,
    mode, or the bad tag): at registration, and when a running job's tags change
    (:mod:`.retag`)."""
    out = dataclasses.replace(
        record,
        tags=dict(tags),
        opted_in=is_opted_in(tags),
        group="",
        objective=None,
        direction=Direction.MINIMIZE,
        mode=Mode.OBSERVE,
        config_error=None,
    )
    if out.opted_in:
        try:
            settings = job_settings(tags, policy)
        except PolicyError as exc:
            out.config_error = str(exc)
            out.group = tags.get("trainguard:group", "").strip()
        else:
            out.group = settings.group
            out.objective = settings.objective
            out.direction = settings.direction
            out.mode = settings.mode
    return out


ALARMS_PER_INVOCATION = 60  # PutMetricAlarm allows 3 a second: ~20 s; the reconcile does the rest


def create_alarms(
    record: JobRecord,
    deps: Dependencies,
    warnings: list[str],
    reporting: Collection[int] = (),
) -> int:
    """The run's missing GPU-idle alarms, one per GPU host (its first
    :data:`MAX_ALARMED_HOSTS`), at most ``ALARMS_PER_INVOCATION``
    (a 300-instance job gets the rest from the next ticks' reconcile); each one created is
    recorded on the run (``JobRecord.alarms``), so a failure part way leaves a list of what
    is missing. None when the GPU count is unknown (a warning) or no host has GPUs.

    A heterogeneous cluster whose hosts are not all GPU hosts: SageMaker does not say which
    ``algo-n`` is in which instance group (:class:`~trainguard.core.instances.GpuHosts`), so
    its alarms are created by the reconcile for the hosts that report ``GPUUtilization``
    (``reporting``, host numbers), up to the GPU groups' instances."""
    settings = settings_for(record, deps.policy)
    gpu_idle = (settings.policy if settings else deps.policy).gpu_idle
    if not gpu_idle.enabled:
        return 0
    plan = gpu_hosts(record.groups, deps.catalog)
    if plan.unknown:
        message = f"{plan.why}: no GPU-idle alarms (add it to the policy's prices with its gpus)"
        warnings.append(message)
        logger.warning(message, extra={"instances": instances_text(record.groups)})
        return 0
    if plan.gpus is None:
        logger.info("no GPUUtilization for these instance types: no GPU-idle alarms")
        return 0
    wanted = range(1, alarmed_hosts(record.instance_count) + 1) if plan.named else sorted(reporting)
    missing = [i for i in wanted if gpu_idle_alarm_name(record.name, i) not in record.alarms]
    if not plan.named:
        missing = missing[: max(0, plan.hosts - len(record.alarms))]
        if not reporting:
            logger.info(
                "heterogeneous cluster: its GPU hosts get their GPU-idle alarms once they "
                "report (SageMaker does not say which algo-n is in which group)",
                extra={"instances": instances_text(record.groups), "gpu_hosts": plan.hosts},
            )
    gpus = plan.gpus
    created: list[str] = []
    try:
        for index in missing[:ALARMS_PER_INVOCATION]:
            created.append(
                deps.alarms.put_gpu_idle_alarm(
                    record.name,
                    index,
                    gpus,
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
        if result.curve_points:  # the group's evidence changed: revive what it no longer stops
            revive.on_completion(deps, record, now)
    deps.jobs.finalize_job(change.run, change.status, change.end_time, change.failure_reason)
    count = alarmed_hosts(max(record.instance_count, change.instance_count))
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
    role = record.role_arn or change.role_arn
    why = foreign_reference(record.reference_set, role, deps)
    if why is not None:
        logger.warning(
            "a completed job of another role is not a reference of its group",
            extra={"group": record.group, "role": role, "why": why},
        )
        return 0
    start = change.start_time or record.start_time
    end = change.end_time or (deps.clock() if now is None else now)
    settings = settings_for(record, deps.policy)
    throughput = settings.throughput_metric if settings is not None else None
    queries = [MetricQuery("o0", record.objective, (("TrainingJobName", record.name),))]
    if throughput:
        queries.append(MetricQuery("t0", throughput, (("TrainingJobName", record.name),)))
    # a revival is one job with the runs it continues: their curves first, on its steps
    earlier = revive.chain_runs(deps, record)[:-1]
    if earlier:
        start = record.start_time
    queries += [
        MetricQuery(f"c{i}", record.objective, (("TrainingJobName", run.name),))
        for i, run in enumerate(earlier)
    ]
    first = earlier[0].start_time if earlier else start
    series = deps.metrics.get_series(queries, floor_minute(first), floor_minute(end) + 120.0)
    parts = [minute_curve(series.get(f"c{i}", []), run.start_time) for i, run in enumerate(earlier)]
    points: list[Point] = []
    for point in [p for part in parts for p in part] + minute_curve(series.get("o0", []), start):
        if not points or point[0] > points[-1][0]:
            points.append(point)
    curve = downsample(points, MAX_CURVE_POINTS)
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
    update_stats(record.reference_set, deps, add=[joined], role=role)
    return len(curve)


def foreign_reference(refs: ReferenceSet, role: str, deps: Dependencies) -> str | None:
    """Why a completed job that ran with ``role`` may not join ``refs`` (None: it may). A
    group's references are who may stop its jobs, and anyone who can tag a training job can
    tag it into any group: membership is bound to the execution role. The group's
    ``referenceRoles`` (its calibrated policy's, else the deployed one) when set; else the
    role of the group's first reference (its STATS keep it). A job without a known role joins
    only a group that has no role yet."""
    stats, group_policies = deps.references.batch_get_group_state({refs})
    policy = calibrated(deps.policy, group_policies.get(refs.group))
    allowed = policy.references.allowed()
    if allowed:
        return None if role in allowed else "its role is not in the group's referenceRoles"
    bound = stats[refs].role if refs in stats else ""
    if not bound or role == bound:
        return None
    return "the group's references ran with another role"


STATS_ATTEMPTS = 8  # concurrent completions: each re-reads and retries until its write holds


def update_stats(
    refs: ReferenceSet,
    deps: Dependencies,
    *,
    add: Sequence[Completed | tuple[str, float]] = (),
    extra_keys: set[str] | None = None,
    role: str = "",
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
            role=(old.role if old else "") or role,  # the first reference's binds the group
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


def change_from_description(description: Record, tags: dict[str, str] | None) -> StateChange:
    """A DescribeTrainingJob response as a :class:`StateChange` (for the reconcile)."""
    change = parse_job_description(description, event_time=None)
    return dataclasses.replace(change, tags=tags if tags else change.tags)
