"""Alarm notifications: per-host GPU-idle alarms (Lambda alarm action) and the stack's own
health alarms ("CloudWatch Alarm State Change" events).

GPU idle: ALARM opens the host's episode (one email), OK closes it (one recovery email);
repeated deliveries of the same state are no-ops (conditional updates). The email names the
host and gives per-GPU utilization, how long, and the $/hour the idle host costs (the numbers
come from the rule, ``core/gpu_idle.py``). Auto-stop after ``gpu_idle.stop_after_minutes``
happens in the evaluator's tick, which sees the open episodes on the job item
(``idle_hosts``), so enforce/observe/opt-in are decided in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..constants import ALARM_STATE_CHANGE, GPU_METRIC
from ..core.curves import fmt
from ..core.gpu_idle import GpuIdleRule, HostStatus
from ..core.series import floor_minute
from ..models import EventError, JobRecord, MetricQuery, event_time, parse_gpu_idle_alarm_name
from ..observability import logger
from ..policy import gpu_idle_rule, settings_for
from . import messages
from .act import ALERT, Act
from .dependencies import Dependencies


@dataclass(frozen=True)
class AlarmChange:
    name: str
    state: str
    previous: str
    reason: str
    reason_data: Mapping[str, Any]
    time: float | None = None  # the payload's / event's ``time`` (epoch s), if readable


@dataclass
class AlertResult:
    alarm: str
    state: str
    action: str
    job: str | None = None
    host: str | None = None
    notified: bool = False


def parse_alarm_event(event: object) -> AlarmChange:
    """The alarm Lambda-action payload (``alarmData``) or an EventBridge alarm event."""
    if not isinstance(event, Mapping):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    if isinstance(event.get("alarmData"), Mapping):
        data = event["alarmData"]
    elif event.get("detail-type") == ALARM_STATE_CHANGE and isinstance(
        event.get("detail"), Mapping
    ):
        data = event["detail"]
    else:
        raise EventError(
            "not an alarm notification: expected alarmData (alarm Lambda action) or a "
            f"{ALARM_STATE_CHANGE!r} event"
        )
    name = data.get("alarmName")
    if not isinstance(name, str) or not name:
        raise EventError("alarmName must be a non-empty string")
    state = data.get("state")
    if not isinstance(state, Mapping) or not isinstance(state.get("value"), str):
        raise EventError("state.value must be a string")
    previous = data.get("previousState") or {}
    reason_data: Mapping[str, Any] = {}
    raw = state.get("reasonData")
    if isinstance(raw, str):
        try:
            loaded = json.loads(raw)
            reason_data = loaded if isinstance(loaded, Mapping) else {}
        except json.JSONDecodeError:
            reason_data = {}
    return AlarmChange(
        name,
        str(state["value"]),
        str(previous.get("value", "")) if isinstance(previous, Mapping) else "",
        str(state.get("reason", "")),
        reason_data,
        event_time(event),
    )


def handle_alarm(event: object, deps: Dependencies) -> AlertResult:
    change = parse_alarm_event(event)
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
    record = deps.store.latest_run(job_name)
    if change.state == "ALARM":
        if record is None or not record.running:
            logger.info("GPU-idle alarm for a job that is not running: ignored")
            return result
        if not deps.store.open_episode(record.run, host, now):
            result.action = "duplicate"
            return result
        _announce_idle(record, host, change, deps, now)
        result.action, result.notified = "opened", True
        return result
    opened = deps.store.close_episode(record.run, host, now) if record is not None else None
    if opened is None:
        result.action = "no open episode"
        return result
    minutes = (now - opened) / 60.0
    subject = f"{messages.PREFIX} GPU recovered: {host} (after {fmt(minutes)} min)"
    deps.notifier.publish(
        subject,
        f"Host:     {host}\nRecovered: GPU utilization is back above the threshold\n"
        f"Episode:  {fmt(minutes)} min since the idle alert\n\n"
        f"Console: {messages.console_link(deps.region, job_name)}\n",
    )
    result.action, result.notified = "closed", True
    return result


def _announce_idle(
    record: JobRecord, host: str, change: AlarmChange, deps: Dependencies, now: float
) -> None:
    """The episode's audit record and email, with the host's numbers (the rule's own
    reading of its recent GPUUtilization, else the alarm's datapoints)."""
    settings = settings_for(record, deps.policy)
    rule = settings.gpu_idle if settings else gpu_idle_rule(deps.policy)
    spec = deps.catalog.get(record.instance_type)
    gpus = spec.gpus if spec and spec.gpus > 0 else 1
    status = _host_status(rule, record, host, gpus, deps, now)
    decision = rule.alert(
        record.name,
        host,
        status,
        hosts_total=record.instance_count,
        elapsed_minutes=(now - record.start_time) / 60.0,
        alarm_per_gpu=_alarm_mean(change),
    )
    price = spec.usd_per_hour if spec else None
    details = {
        "Host": host,
        "Instances": f"{record.instance_count} x {record.instance_type}",
        "Wasting": "unknown" if price is None else f"${price:,.2f}/hour on this host",
        "Opted in": "yes" if record.opted_in else "no (alert only, never stopped)",
    }
    if rule.stop_after_minutes is not None and record.opted_in:
        details["Auto-stop"] = f"after {fmt(rule.stop_after_minutes)} min idle (enforce mode only)"
    Act(deps, now).announce(
        record.run,
        decision,
        outcome=ALERT,
        mode=record.mode if record.opted_in else "not opted in",
        subject=f"{messages.PREFIX} GPU idle: {host} ({fmt(decision.value)}%/GPU, "
        f"{fmt(rule.episode_minutes(status))} min)",
        details=details,
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
