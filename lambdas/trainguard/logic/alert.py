"""Alarm notifications: per-host GPU-idle alarms (Lambda alarm action) and the stack's own
health alarms ("CloudWatch Alarm State Change" events).

GPU idle: ALARM opens the host's episode (one email), OK closes it (one recovery email): the
rule answers the change (:meth:`~trainguard.core.gpu_idle.GpuIdleRule.on_alarm`, in the shape
every episode rule answers in) and :meth:`.ledger.Ledger.episodes` writes it; repeated
deliveries of the same state are no-ops (conditional updates). The email names the
host and gives per-GPU utilization, how long, and the $/hour the idle host costs (the numbers
come from the rule, ``core/gpu_idle.py``). Auto-stop after ``gpu_idle.stop_after_minutes``
happens in the evaluator's tick, which sees the open episodes on the job item
(``idle_hosts``), so enforce/observe/opt-in are decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config import gpu_idle_rule, settings_for
from ..constants import GPU_METRIC, TRAINING_NAMESPACE
from ..core.curves import fmt
from ..core.episode import EpisodeState, IdleEpisode, Opening
from ..core.gpu_idle import GpuIdleRule, HostStatus
from ..core.instances import GpuHosts, gpu_hosts, instances_text
from ..core.series import floor_minute
from ..core.stored import Record
from ..core.values import mutable
from ..models import AlarmChange, JobRecord, MetricQuery, parse_gpu_idle_alarm_name
from ..observability import logger
from . import messages
from .dependencies import Dependencies
from .ledger import ALERT, Ledger, mail_key


@mutable
class AlertResult:
    alarm: str
    state: str
    action: str
    job: str | None = None
    host: str | None = None
    notified: bool = False


def forged(change: AlarmChange, record: JobRecord, host: str, gpus: int | None) -> str | None:
    """Why this GPU-idle alarm is not the one trainguard created for this run's host (None:
    it is). Anyone allowed PutMetricAlarm can create an alarm with our name prefix and point
    it anywhere; only an alarm the lifecycle created for this run, on this host's
    GPUUtilization, may open an episode (and so, later, lead to an idle stop)."""
    if change.name not in record.alarms:
        return "an alarm trainguard did not create for this job"
    stats: list[Record] = [
        stat for m in change.metrics if isinstance(stat := m.get("metricStat"), Mapping)
    ]
    if len(stats) != 1:
        return "not a single-metric alarm"
    metric = stats[0].get("metric", {})
    dimensions = metric.get("dimensions") if isinstance(metric, Mapping) else None
    if (
        not isinstance(metric, Mapping)
        or metric.get("namespace") != TRAINING_NAMESPACE
        or metric.get("name") != GPU_METRIC
        or dimensions != {"Host": host}
    ):
        return f"not on {GPU_METRIC} of {host}"
    expressions = [m.get("expression") for m in change.metrics if m.get("expression")]
    if gpus is not None and expressions != [f"m1 / {gpus}"]:
        return "not normalized by the host's GPU count"
    return None


def handle_alarm(change: AlarmChange, deps: Dependencies) -> AlertResult:
    """Act on one alarm's change (parsed at the handler's edge: :mod:`..handlers.events`)."""
    parsed = parse_gpu_idle_alarm_name(change.name)
    if parsed is None:
        return _record_health_alarm(change, deps)
    job_name, host = parsed
    logger.append_keys(job=job_name)
    result = AlertResult(change.name, change.state, "ignored", job_name, host)
    if change.state not in ("ALARM", "OK"):
        return result
    # the alarm's own time: the episode opens (and closes) when the alarm changed state
    now = change.time if change.time is not None else deps.clock()
    record = deps.jobs.latest_run(job_name)
    if record is None or record.start_time > now + 60.0:
        logger.info("GPU-idle alarm for no run of this name that had started: ignored")
        return result
    plan = gpu_hosts(record.groups, deps.catalog)
    why_not = forged(change, record, host, plan.gpus if plan.gpus else None)
    if why_not is not None:
        logger.warning("GPU-idle alarm refused", extra={"alarm": change.name, "why": why_not})
        result.action = f"refused: {why_not}"
        return result
    if change.state == "ALARM" and not record.running:
        logger.info("GPU-idle alarm for a job that is not running: ignored")
        return result
    settings = settings_for(record, deps.policy)
    rule = settings.gpu_idle if settings else gpu_idle_rule(deps.policy)
    # the rule answers the change from the host's episode as stored (:meth:`GpuIdleRule.on_alarm`)
    # and the ledger writes its answer (conditional: a delivery again finds it done)
    stored = IdleEpisode.from_item(host, deps.idle_episodes.episode(record.run, host))
    open_since = stored.opened_at if stored is not None and stored.open else None
    if change.state == "ALARM":
        # a delivery again (or the retry of an invocation that died after opening): the same
        # episode, whose email the outbox sends at most once
        since = now if open_since is None else open_since
        status = _host_status(rule, record, host, plan.gpus or 1, deps, since)
        answer = rule.on_alarm(
            record.name,
            host,
            True,
            open_since,
            now=now,
            started=record.start_time,
            status=status,
            hosts_total=plan.hosts or record.instance_count,  # the GPU hosts
            alarm_per_gpu=_alarm_mean(change),
        )
        (opening,) = answer.opened
        ledger = Ledger(deps, since)  # the episode's time: its audit record's and its email's
        opened = opening.key in ledger.episodes(record, {opening.key: opening.since})
        _announce_idle(ledger, record, host, rule, plan, status, opening)
        result.action, result.notified = ("opened" if opened else "duplicate"), opened
        return result
    answer = rule.on_alarm(record.name, host, False, open_since, now=now, started=record.start_time)
    closing = dict.fromkeys(answer.closed)
    closed = bool(closing) and set(closing) <= Ledger(deps, now).episodes(record, closing)
    if closing and not closed:  # a delivery racing this one closed it first
        stored = IdleEpisode.from_item(host, deps.idle_episodes.episode(record.run, host))
    if closed:
        opened_at = open_since if open_since is not None else now
        result.action, result.notified = "closed", True
    elif stored is not None and stored.state is EpisodeState.CLOSED:
        # said again (or the retry of an invocation that died after closing): the same
        # recovery, whose email the outbox sends at most once
        opened_at = stored.opened_at
        now = stored.closed_at if stored.closed_at is not None else now
        result.action = "duplicate"
    else:
        result.action = "no open episode"
        return result
    minutes = (now - opened_at) / 60.0
    Ledger(deps, now).say(
        mail_key(record.run, "gpu_recovered", host, f"{opened_at:.0f}"),
        messages.gpu_recovered(host, minutes, deps.region, job_name),
    )
    return result


def _announce_idle(
    ledger: Ledger,
    record: JobRecord,
    host: str,
    rule: GpuIdleRule,
    plan: GpuHosts,
    status: HostStatus | None,
    opening: Opening,
) -> None:
    """The episode's audit record and email, with the host's numbers (the rule's own
    reading of its recent GPUUtilization, else the alarm's datapoints)."""
    decision = opening.alert
    price = plan.usd_per_host
    details = {
        "Host": host,
        "Instances": instances_text(record.groups),
        "Wasting": "unknown" if price is None else f"${price:,.2f}/hour on this host",
        "Opted in": "yes" if record.opted_in else "no (alert only, never stopped)",
    }
    if rule.stop_after_minutes is not None and record.opted_in:
        details["Auto-stop"] = f"after {fmt(rule.stop_after_minutes)} min idle (enforce mode only)"
    mode = record.mode if record.opted_in else "not opted in"
    ledger.announce(
        record.run,
        decision,
        ALERT,
        mode,
        key=mail_key(record.run, *opening.key.parts(), f"{opening.since:.0f}"),
        message=messages.decision(
            decision,
            subject=messages.gpu_idle_subject(host, decision.value, rule.episode_minutes(status)),
            outcome=ALERT.text,
            mode=mode,
            region=ledger.deps.region,
            details=details,
        ),
    )


def _host_status(
    rule: GpuIdleRule, record: JobRecord, host: str, gpus: int, deps: Dependencies, now: float
) -> HostStatus | None:
    """The host's GPUUtilization over the hour before ``now`` (one query), judged by the rule;
    None when it cannot be read."""
    end = floor_minute(now) + 60.0
    try:
        series = deps.metrics.get_series(
            [MetricQuery("g0", GPU_METRIC, (("Host", host),))], end - 3600.0, end
        )["g0"]
    except Exception:
        logger.exception("reading GPUUtilization for the alert failed")
        return None
    if not series:
        return None
    samples = [((ts - floor_minute(record.start_time)) / 60.0, v) for ts, v in series]
    return rule.host_status(host, samples, gpus)


def _alarm_mean(change: AlarmChange) -> float | None:
    """The mean of the alarm's own recent datapoints (already per GPU), if it gave any."""
    points = change.reason_data.get("recentDatapoints")
    if isinstance(points, list):
        values = [float(p) for p in points if isinstance(p, (int, float))]
        if values:
            return sum(values) / len(values)
    return None


def _record_health_alarm(change: AlarmChange, deps: Dependencies) -> AlertResult:
    """The stack's health alarms email the topic themselves (their SNS action works even when
    this function is the one failing), so here a state change is only logged, for the audit in
    CloudWatch Logs: a second email for the same alarm would be noise."""
    result = AlertResult(change.name, change.state, "ignored")
    if change.state == "ALARM" or (change.state == "OK" and change.previous == "ALARM"):
        logger.warning(
            "health alarm state change",
            extra={
                "alarm": change.name,
                "previous": change.previous,
                "state": change.state,
                "reason": change.reason,
            },
        )
        result.action = "recorded"
    return result
