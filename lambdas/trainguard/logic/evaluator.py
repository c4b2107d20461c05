"""The scheduled tick: reconcile, then judge every running opted-in job.

Reads per tick: the ``running`` index (paged; it carries each job's stored ``CurveSummary``),
one BatchGetItem of the groups' ``STATS``, one GetMetricData batch over the last
``WINDOW_MIN`` minutes (each job's objective, and its instances' liveness for the
divergence-silence check; ceil(queries/500) calls), ListTrainingJobs (paged) and
DescribeAlarms (paged) for the reconcile. Writes: each job's summary when it took a new
datapoint; and only when something happens, an ``ACTION#`` claim, StopTrainingJob, an audit
record and one email.

One job's failure is logged with its name and never blocks the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..adapters.cloudwatch import MetricQuery, parse_gpu_idle_alarm_name
from ..adapters.sagemaker import JobNotFoundError
from ..adapters.store import GroupStats
from ..constants import GPU_IDLE_ALARM_PREFIX
from ..core.curves import fmt
from ..core.decision import Decision
from ..core.engine import ObjectiveRules, verdict
from ..core.summary import CurveSummary
from ..models import JobRecord
from ..observability import logger
from ..policy import JobSettings, PolicyError, is_opted_in, job_settings
from . import messages
from .dependencies import Dependencies
from .lifecycle import apply_change, change_from_description
from .series import floor_minute, last_timestamp, minute_curve

LIVENESS_METRIC = "CPUUtilization"  # every instance type reports it; GPUUtilization does not
LIVENESS_LOOKBACK_MIN = 10.0
# The liveness query rides in the objective queries' calls (one time window for all, so the
# tick makes ceil(queries/500) calls), at a coarse period so that it adds few datapoints.
LIVENESS_PERIOD_S = 300
# A steady tick reads only this recent window of each job's objective and folds the new
# datapoints into the CurveSummary kept on the job's item: a few datapoints per job whatever
# its age (no paging, O(1) work per job). A job without a usable summary (new, its rules'
# settings changed, or not read for longer than the window) is read from its start once.
WINDOW_MIN = 15.0


@dataclass
class TickResult:
    jobs: int = 0
    evaluated: int = 0
    decisions: int = 0
    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    dollars_saved: float = 0.0
    errors: int = 0
    registered: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    duration_ms: float = 0.0
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Observed:
    summary: CurveSummary
    last_objective: float | None  # epoch s of the objective's last datapoint
    last_instance: float | None
    progress: dict[str, Any] | None  # to save on the job's item; None: unchanged


def run_tick(deps: Dependencies, now: float | None = None) -> TickResult:
    """One tick at ``now`` (epoch seconds: the scheduled event's time; default the clock)."""
    started = time.monotonic()
    now = deps.clock() if now is None else now
    result = TickResult()
    running = deps.store.running_jobs()
    try:
        running = reconcile(deps, running, result, now)
    except Exception:
        result.errors += 1
        logger.exception("reconcile failed; evaluating the jobs the table knows")
    jobs: list[tuple[JobRecord, JobSettings]] = []
    for job in running:
        if not job.opted_in:
            continue
        try:
            jobs.append((job, job_settings(job.tags, deps.policy)))
        except PolicyError as exc:
            _report_config_error(job, str(exc), deps, result, now)
    result.jobs = len(jobs)
    stats = deps.store.batch_get_stats({job.group for job, _ in jobs})
    observed: dict[str, _Observed] | None
    try:
        observed = _observe(jobs, deps, now)
    except Exception:
        result.errors += 1
        observed = None
        logger.exception("GetMetricData failed: objective rules skipped this tick")
    for job, settings in jobs:
        try:
            logger.append_keys(job=job.name)
            _evaluate(job, settings, observed, stats.get(job.group), deps, now, result)
            result.evaluated += 1
        except Exception:
            result.errors += 1
            logger.exception("evaluating the job failed; the tick goes on")
        finally:
            logger.remove_keys(["job"])
    if observed:
        try:
            deps.store.save_progress(
                [(name, seen.progress) for name, seen in observed.items() if seen.progress]
            )
        except Exception:
            result.errors += 1  # the next tick reads those jobs again from their start
            logger.exception("saving the jobs' progress failed")
    result.duration_ms = (time.monotonic() - started) * 1000.0
    return result


# ---- metrics ---------------------------------------------------------------------------------
def _observe(
    jobs: list[tuple[JobRecord, JobSettings]], deps: Dependencies, now: float
) -> dict[str, _Observed]:
    """Every job's objective summary as of ``now``, and when its instances last reported.

    A steady tick is one GetMetricData batch over the last ``WINDOW_MIN`` minutes (the new
    datapoints, plus each job's liveness query): ceil(queries/500) calls. Jobs without a usable
    summary are read from their start in a second batch, once."""
    with_objective = [(j, s, _rules(s)) for j, s in jobs if s.objective]
    if not with_objective:
        return {}
    end = floor_minute(now) + 60.0
    window_start = end - WINDOW_MIN * 60.0
    unit = deps.policy.step_unit
    prior = {j.name: _prior(j, r, window_start, unit) for j, _, r in with_objective}
    recent_q: list[MetricQuery] = []
    full_q: list[MetricQuery] = []
    for i, (job, settings, _) in enumerate(with_objective):
        query = MetricQuery(f"o{i}", str(settings.objective), (("TrainingJobName", job.name),))
        (recent_q if prior[job.name] is not None else full_q).append(query)
        if settings.policy.divergence.enabled:
            recent_q.append(
                MetricQuery(
                    f"h{i}",
                    LIVENESS_METRIC,
                    (("Host", f"{job.name}/algo-1"),),
                    stat="SampleCount",
                    period=LIVENESS_PERIOD_S,
                )
            )
    series = deps.cloudwatch.get_series(recent_q, window_start, end) if recent_q else {}
    if full_q:
        oldest = floor_minute(
            min(j.start_time for j, _, _ in with_objective if prior[j.name] is None)
        )
        series.update(deps.cloudwatch.get_series(full_q, oldest, max(end, oldest + 60.0)))
    # a 5-minute bucket that starts within the lookback (plus one bucket) means the instances
    # reported lately; its start time is a lower bound of their last report (so the silence is
    # never overestimated); older buckets mean everything is silent: no verdict on silence
    recent = end - LIVENESS_LOOKBACK_MIN * 60.0 - LIVENESS_PERIOD_S
    out = {}
    for i, (job, _, rules) in enumerate(with_objective):
        points = [
            (ts, v) for ts, v in series.get(f"o{i}", []) if ts >= floor_minute(job.start_time)
        ]
        before = prior[job.name]
        summary = before.summary if before is not None else rules.summarize([])
        last_point = before.last_point if before is not None else None
        fresh = [(ts, v) for ts, v in points if last_point is None or ts > last_point]
        by_report = unit == "report"
        for minute, value in minute_curve(fresh, job.start_time):
            # the step: minutes since the start, or the report's index (the group's choice)
            step = (summary.last_step or 0.0) + 1.0 if by_report else minute
            if summary.last_step is None or step > summary.last_step:
                summary = summary.add(step, value)
        if fresh:
            last_point = fresh[-1][0]
        checked = before.checked if before is not None else None
        changed = before is None or summary.count != before.summary.count
        stale = checked is None or now - checked >= WINDOW_MIN * 30.0  # half the window
        out[job.name] = _Observed(
            summary,
            last_point,
            _recent(last_timestamp(series.get(f"h{i}", [])), recent),
            (
                {
                    "summary": summary.to_dict(),
                    "unit": unit,
                    "checked": now,
                    "last_point": last_point,
                }
                if changed or stale
                else None
            ),
        )
    return out


@dataclass(frozen=True)
class _Prior:
    summary: CurveSummary
    checked: float
    last_point: float | None


def _rules(settings: JobSettings) -> ObjectiveRules:
    policy = settings.policy
    return ObjectiveRules(
        median=settings.median_rule() if policy.median.enabled else None,
        patience=settings.patience_rule() if policy.patience.enabled else None,
        divergence=settings.divergence_rule() if policy.divergence.enabled else None,
    )


def _prior(job: JobRecord, rules: ObjectiveRules, window_start: float, unit: str) -> _Prior | None:
    """The summary on the job's item, if the recent window is enough to bring it up to date:
    read by a tick inside the window, for the same step unit, direction and patience
    min_delta."""
    progress = job.progress
    if not progress or "summary" not in progress:
        return None
    try:
        summary = CurveSummary.from_dict(progress["summary"])
        checked = float(progress["checked"])
        last = progress.get("last_point")
        last_point = None if last is None else float(last)
    except (KeyError, TypeError, ValueError):
        logger.warning("unreadable progress on the job item: reading from the start")
        return None
    if (summary.direction, summary.min_delta) != (rules.direction, rules.min_delta):
        return None
    if progress.get("unit", "minute") != unit:
        return None
    if checked < window_start:
        return None
    return _Prior(summary, checked, last_point)


def _recent(ts: float | None, since: float) -> float | None:
    return ts if ts is not None and ts >= since else None


# ---- one job -----------------------------------------------------------------------------------
def _evaluate(
    job: JobRecord,
    settings: JobSettings,
    observed: dict[str, _Observed] | None,
    stats: GroupStats | None,
    deps: Dependencies,
    now: float,
    result: TickResult,
) -> None:
    policy = settings.policy
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    seen = observed.get(job.name) if observed is not None else None
    if seen is not None:
        references = stats.table(policy.median.grace) if stats else None
        silent = None
        if seen.last_instance is not None and seen.last_objective is not None:
            silent = max(0.0, (seen.last_instance - seen.last_objective) / 60.0)
        decisions = _rules(settings).decide_summary(
            job.name, seen.summary, references, silent_minutes=silent
        )
        chosen = verdict(decisions)
        if chosen is not None:
            result.decisions += 1
            if chosen.stop:
                _act_stop(job, settings, chosen, stats, deps, now, result)
    if policy.runtime.enabled:
        guard = settings.runtime_guard()
        checks = [
            guard.check_max_runtime(job.name, job.max_runtime_s),
            guard.check_overtime(
                job.name,
                elapsed,
                stats.median_duration_min if stats else None,
                stats.references if stats else 0,
            ),
        ]
        if seen is not None:
            since = (now - seen.last_objective) / 60.0 if seen.last_objective else elapsed
            checks.append(guard.check_stalled(job.name, elapsed, since))
        for alert in checks:
            if alert is not None:
                _act_alert(job, settings, alert, deps, now, result)
    limit = policy.gpu_idle.stop_after_minutes
    if policy.gpu_idle.enabled and limit is not None and job.idle_hosts:
        host, opened = min(job.idle_hosts.items(), key=lambda kv: kv[1])
        idle = (now - opened) / 60.0 + policy.gpu_idle.window_minutes
        if idle >= limit:
            decision = Decision(
                job=job.name,
                rule="gpu_idle",
                stop=True,
                step=elapsed,
                value=idle,
                threshold=limit,
                references=0,
                reason=(
                    f"stop: {host} idle for {fmt(idle)} min (GPU below "
                    f"{fmt(policy.gpu_idle.threshold_pct)}% per GPU), limit {fmt(limit)} min"
                ),
            )
            _act_stop(job, settings, decision, stats, deps, now, result)


def estimated_savings(
    job: JobRecord, stats: GroupStats | None, deps: Dependencies, now: float
) -> float | None:
    """price x instance_count x the group's median remaining time (floor 0), in dollars."""
    spec = deps.catalog.get(job.instance_type)
    if spec is None or stats is None or stats.median_duration_min is None:
        return None
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    remaining_h = max(0.0, stats.median_duration_min - elapsed) / 60.0
    return spec.usd_per_hour * job.instance_count * remaining_h


def _act_stop(
    job: JobRecord,
    settings: JobSettings,
    decision: Decision,
    stats: GroupStats | None,
    deps: Dependencies,
    now: float,
    result: TickResult,
) -> None:
    """Stop once per job and rule (enforce), or report once ("would stop")."""
    enforcing = settings.enforcing
    kind = "stop" if enforcing else "report"
    action = f"{decision.rule}#{kind}"
    if not _claim(job, action, decision.to_dict(), deps, now):
        return  # an earlier tick (or a concurrent one) already acted on this rule
    try:
        if enforcing:
            fresh = deps.store.get_job(job.name)
            if fresh is None or not is_opted_in(fresh.tags):
                outcome = "NOT STOPPED (not opted in)"
                logger.warning("stop refused: the stored tags no longer opt the job in")
            else:
                stop = deps.sagemaker.stop(job.name)
                outcome = "STOPPED"
                logger.info("job stopped", extra={"rule": decision.rule, "result": stop})
        elif settings.mode == "observe":
            outcome = "WOULD STOP (observe)"
        else:
            outcome = "WOULD STOP (stops disabled)"
    except Exception:
        deps.store.release_action(job.name, action)  # the next tick tries again
        raise
    savings = estimated_savings(job, stats, deps, now)
    if outcome == "STOPPED":
        result.stops += 1
        result.dollars_saved += savings or 0.0
    elif outcome.startswith("WOULD"):
        result.would_stops += 1
    _record_and_notify(
        job,
        settings,
        decision,
        outcome,
        messages.stop_subject(decision, outcome),
        {"Savings": _dollars(savings), **_context(job, stats)},
        deps,
        now,
        result,
        savings,
    )


def _claim(
    job: JobRecord, action: str, details: dict[str, Any], deps: Dependencies, now: float
) -> bool:
    """Win the once-per-job ``action``; an action the job item already lists costs no write."""
    return action not in job.actions and deps.store.claim_action(job.name, action, now, details)


def _act_alert(
    job: JobRecord,
    settings: JobSettings,
    decision: Decision,
    deps: Dependencies,
    now: float,
    result: TickResult,
) -> None:
    if not _claim(job, f"{decision.rule}#alert", decision.to_dict(), deps, now):
        return
    result.alerts += 1
    _record_and_notify(
        job,
        settings,
        decision,
        "ALERT",
        messages.alert_subject(decision),
        _context(job, None),
        deps,
        now,
        result,
        None,
    )


def _record_and_notify(
    job: JobRecord,
    settings: JobSettings,
    decision: Decision,
    outcome: str,
    subject: str,
    details: dict[str, Any],
    deps: Dependencies,
    now: float,
    result: TickResult,
    savings: float | None,
) -> None:
    mode = settings.mode + (" (stops disabled)" if settings.policy.stops_disabled else "")
    record = {
        **decision.to_dict(),
        "mode": mode,
        "action": outcome,
        "estimated_dollars_saved": savings,
    }
    iso = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    ttl = int(now + deps.audit_ttl_days * 86400)
    deps.store.put_decision(job.name, iso, decision.rule, record, ttl)
    result.actions.append(record)
    logger.info("decision", extra={"decision": record})
    body = messages.body(decision, outcome=outcome, mode=mode, region=deps.region, details=details)
    deps.notifier.publish(subject, body)


def _context(job: JobRecord, stats: GroupStats | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Group": job.group,
        "Objective": f"{job.objective} ({job.direction})",
        "Instances": f"{job.instance_count} x {job.instance_type}",
    }
    if stats is not None and stats.median_duration_min is not None:
        out["Median run"] = f"{fmt(stats.median_duration_min)} min over {stats.references} jobs"
    return out


def _dollars(value: float | None) -> str:
    return "unknown (no price or no completed jobs)" if value is None else f"${value:,.2f}"


def _report_config_error(
    job: JobRecord, error: str, deps: Dependencies, result: TickResult, now: float
) -> None:
    """A bad tag value: reported once for that job, never a crash of the tick."""
    logger.warning("bad trainguard tag", extra={"job": job.name, "error": error})
    try:
        if not _claim(job, "config#alert", {"error": error}, deps, now):
            return
        result.alerts += 1
        deps.notifier.publish(
            f"{messages.PREFIX} CONFIG {job.name}: {error}",
            f"Job:     {job.name}\nProblem: {error}\nThe job is not evaluated until its tags "
            f"are fixed.\n\nConsole: {messages.console_link(deps.region, job.name)}\n",
        )
    except Exception:
        result.errors += 1
        logger.exception("reporting the bad tag failed")


# ---- reconcile --------------------------------------------------------------------------------
def reconcile(
    deps: Dependencies, running: list[JobRecord], result: TickResult, now: float | None = None
) -> list[JobRecord]:
    """Catch lost events: register InProgress jobs the table lacks, finalize jobs that ended
    unseen, delete alarms of jobs that no longer run. Returns the running jobs after that.
    ``now``: the tick's time (default the clock)."""
    now = deps.clock() if now is None else now
    listed = {s.name: s for s in deps.sagemaker.list_in_progress()}
    by_name = {j.name: j for j in running}
    for name, summary in listed.items():
        if name in by_name:
            continue
        try:
            if deps.store.get_job(name) is not None:
                continue  # known (the index is eventually consistent, or it just ended)
            description = deps.sagemaker.describe(name)
            arn = str(description.get("TrainingJobArn") or summary.arn)
            change = change_from_description(description, deps.sagemaker.tags(arn))
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
                description = deps.sagemaker.describe(name)
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
    for alarm in deps.cloudwatch.alarm_names(GPU_IDLE_ALARM_PREFIX):
        parsed = parse_gpu_idle_alarm_name(alarm)
        if parsed is not None and parsed[0] not in alive:
            orphans.append(alarm)
    if orphans:
        result.orphan_alarms_deleted = deps.cloudwatch.delete_alarms(orphans)
        logger.info("reconcile: deleted orphaned alarms", extra={"count": len(orphans)})
    return list(by_name.values())
