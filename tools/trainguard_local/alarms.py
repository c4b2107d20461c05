"""Alarm evaluator: evaluates the stored ``trainguard-`` alarms on the emulator's metric data.

What moto lacks (aws_facts.md 7.2): ``PutMetricAlarm`` stores an alarm that is never evaluated
(it starts ``OK`` where AWS starts ``INSUFFICIENT_DATA``); ``SetAlarmState`` runs no action;
no "CloudWatch Alarm State Change" event is emitted; ``GetMetricData`` does not compute metric
math beyond a bare ``m1`` and, with Dimensions, does not filter by namespace.

What :class:`AlarmEvaluator` does at each ``evaluate(now)``:

1. Reads the alarms whose name starts with ``prefix`` (``DescribeAlarms``, paged). Supported
   shapes: a plain metric alarm (``Namespace``/``MetricName``/``Dimensions``/``Statistic``/
   ``Period``) and a metric-math alarm of one ``MetricStat`` ``m1`` and one returned expression
   ``m1``, ``m1 / k`` or ``m1 * k`` (the runtime's GPU-idle alarm is ``m1 / <gpus>``).
   Anything else (``ExtendedStatistic``, other expressions, Metrics Insights) is listed in
   ``unsupported`` with the reason and left alone.
2. Reads the last ``EvaluationPeriods`` complete periods before ``now`` through
   ``GetMetricStatistics`` (it filters by namespace), one call per alarm, and applies the math.
   Periods are aligned to the period grid (``now`` floored); a datapoint belongs to the period
   its timestamp falls in. Publish metrics on whole minutes for exact bucketing.
3. Decides the state with :func:`decide_state` (the documented M-of-N rule, below), and on a
   change calls ``SetAlarmState`` on the emulator, then, if actions are enabled, runs the new
   state's actions: a Lambda ARN is invoked in-process through the router with the CloudWatch
   alarm Lambda payload (aws_facts.md 5.1); an SNS topic ARN gets the alarm JSON published to
   it. It also routes a "CloudWatch Alarm State Change" event to the deployed rules (as AWS
   always emits one), unless ``emit_events=False``.

On first sight of an alarm moto still reports its fake initial ``OK`` ("Unchecked: Initial alarm
creation"): the evaluator sets it to ``INSUFFICIENT_DATA`` without running actions, as AWS
starts it.

Time base: ``now`` is the run's clock (:class:`.clock.SimClock`), the same clock the fleet
stamps its metric datapoints with. The evaluator never reads the wall clock.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import ge, gt, le, lt
from typing import TYPE_CHECKING, Any, Literal

from trainguard.constants import ALARM_PREFIX, ALARM_STATE_CHANGE

from .clock import as_utc
from .emulator import ACCOUNT_ID, REGION, make_client
from .router import EventRouter, Invocation

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef
    from mypy_boto3_sns import SNSClient

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Statistic = Literal["Average", "Sum", "Minimum", "Maximum", "SampleCount"]
STATISTICS: dict[str, Statistic] = {
    "Average": "Average",
    "Sum": "Sum",
    "Minimum": "Minimum",
    "Maximum": "Maximum",
    "SampleCount": "SampleCount",
}
STATES: dict[str, State] = {"OK": "OK", "ALARM": "ALARM", "INSUFFICIENT_DATA": "INSUFFICIENT_DATA"}
OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (ge, "greater than or equal to"),
    "GreaterThanThreshold": (gt, "greater than"),
    "LessThanThreshold": (lt, "less than"),
    "LessThanOrEqualToThreshold": (le, "less than or equal to"),
}
_MATH = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:([/*])\s*([0-9]+(?:\.[0-9]+)?)\s*)?$")


class UnsupportedAlarm(ValueError):
    """The alarm has a shape the evaluator does not compute."""


@dataclass(frozen=True)
class AlarmMetric:
    """The one metric an alarm reads, and the math applied to each period's statistic."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    period: int
    stat: Statistic
    query_id: str = "m1"
    expression: str | None = None  # e.g. "m1 / 8"
    expression_id: str | None = None
    scale: float = 1.0  # value = statistic * scale

    def apply(self, statistic: float) -> float:
        return statistic * self.scale


@dataclass(frozen=True)
class AlarmSpec:
    """What the evaluator needs of a stored alarm (``DescribeAlarms`` ``MetricAlarms`` entry)."""

    name: str
    arn: str
    query: AlarmMetric
    operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    description: str = ""

    @classmethod
    def from_api(cls, alarm: Mapping[str, Any]) -> AlarmSpec:
        """Parse an alarm; raises :class:`UnsupportedAlarm` for shapes not computed here."""
        operator = alarm.get("ComparisonOperator", "")
        if operator not in OPERATORS:
            raise UnsupportedAlarm(f"comparison operator {operator!r}")
        if "Threshold" not in alarm:
            raise UnsupportedAlarm("no static Threshold (anomaly-detection band?)")
        n = int(alarm.get("EvaluationPeriods") or 1)
        return cls(
            name=alarm["AlarmName"],
            arn=alarm["AlarmArn"],
            query=_parse_query(alarm),
            operator=operator,
            threshold=float(alarm["Threshold"]),
            evaluation_periods=n,
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or n),
            treat_missing=alarm.get("TreatMissingData") or "missing",
            actions_enabled=bool(alarm.get("ActionsEnabled", True)),
            alarm_actions=tuple(alarm.get("AlarmActions") or ()),
            ok_actions=tuple(alarm.get("OKActions") or ()),
            insufficient_data_actions=tuple(alarm.get("InsufficientDataActions") or ()),
            description=alarm.get("AlarmDescription") or "",
        )

    def actions_for(self, state: str) -> tuple[str, ...]:
        if not self.actions_enabled:
            return ()
        return {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            "INSUFFICIENT_DATA": self.insufficient_data_actions,
        }[state]

    def configuration(self) -> dict[str, Any]:
        """``alarmData.configuration`` of the Lambda payload / state-change event."""
        q = self.query
        metric_stat = {
            "metric": {
                "namespace": q.namespace,
                "name": q.metric_name,
                "dimensions": dict(q.dimensions),
            },
            "period": q.period,
            "stat": q.stat,
        }
        metrics: list[dict[str, Any]] = [
            {"id": q.query_id, "metricStat": metric_stat, "returnData": q.expression is None}
        ]
        if q.expression is not None:
            metrics.append(
                {
                    "id": q.expression_id,
                    "expression": q.expression,
                    "label": q.expression_id,
                    "returnData": True,
                }
            )
        return {"description": self.description, "metrics": metrics}


def _metric_stat(
    stat_block: Mapping[str, Any],
) -> tuple[str, str, tuple[tuple[str, str], ...], int, Statistic]:
    metric = stat_block["Metric"]
    stat = STATISTICS.get(stat_block.get("Stat", ""))
    if stat is None:
        raise UnsupportedAlarm(f"statistic {stat_block.get('Stat')!r}")
    return (
        metric["Namespace"],
        metric["MetricName"],
        tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
        int(stat_block["Period"]),
        stat,
    )


def _parse_query(alarm: Mapping[str, Any]) -> AlarmMetric:
    metrics = alarm.get("Metrics") or []
    if not metrics:
        if alarm.get("ExtendedStatistic"):
            raise UnsupportedAlarm(f"extended statistic {alarm['ExtendedStatistic']!r}")
        if not alarm.get("MetricName") or not alarm.get("Statistic"):
            raise UnsupportedAlarm("neither MetricName+Statistic nor Metrics")
        ns, name, dims, period, stat = _metric_stat(
            {
                "Metric": {
                    "Namespace": alarm.get("Namespace", ""),
                    "MetricName": alarm["MetricName"],
                    "Dimensions": alarm.get("Dimensions", []),
                },
                "Period": alarm.get("Period") or 60,
                "Stat": alarm["Statistic"],
            }
        )
        return AlarmMetric(ns, name, dims, period, stat)
    stats = {m["Id"]: m for m in metrics if "MetricStat" in m}
    returned = [m for m in metrics if m.get("ReturnData", True)]
    if len(returned) != 1:
        raise UnsupportedAlarm(f"{len(returned)} returned series (one is evaluated)")
    out = returned[0]
    if "MetricStat" in out:
        return AlarmMetric(*_metric_stat(out["MetricStat"]), query_id=out["Id"])
    match = _MATH.match(out.get("Expression", ""))
    if not match or match.group(1) not in stats or len(stats) != 1:
        raise UnsupportedAlarm(
            f"expression {out.get('Expression')!r} (supported: m1, m1 / k, m1 * k)"
        )
    ref, op, number = match.groups()
    scale = 1.0
    if op == "/":
        if float(number) == 0:
            raise UnsupportedAlarm("division by zero")
        scale = 1.0 / float(number)
    elif op == "*":
        scale = float(number)
    return AlarmMetric(
        *_metric_stat(stats[ref]["MetricStat"]),
        query_id=ref,
        expression=out["Expression"],
        expression_id=out["Id"],
        scale=scale,
    )


# --- the pure part ------------------------------------------------------------------------------
def breaches(value: float, operator: str, threshold: float) -> bool:
    return bool(OPERATORS[operator][0](value, threshold))


def decide_state(
    values: Sequence[float | None],
    *,
    operator: str,
    threshold: float,
    datapoints_to_alarm: int,
    treat_missing: str,
    current: State,
) -> tuple[State, int]:
    """The state after evaluating ``values`` (the last N periods, oldest first, None = missing).

    Returns ``(state, breaching_count)``. With M = ``datapoints_to_alarm``:

    - ``breaching`` / ``notBreaching``: missing periods count as breaching / not breaching;
      ALARM iff at least M breach, else OK.
    - ``missing`` / ``ignore``: with no datapoint at all, INSUFFICIENT_DATA (``missing``) or the
      current state (``ignore``); else ALARM iff at least M present datapoints breach; OK iff
      even counting every missing period as breaching fewer than M could breach; otherwise
      (too few datapoints to tell) the current state is kept. This is a documented
      simplification: AWS may look further back for datapoints, and never alarms here on fewer
      than M breaching datapoints.
    """
    n_missing = sum(v is None for v in values)
    n_breaching = sum(1 for v in values if v is not None and breaches(v, operator, threshold))
    if treat_missing in ("breaching", "notBreaching"):
        if treat_missing == "breaching":
            n_breaching += n_missing
        return ("ALARM" if n_breaching >= datapoints_to_alarm else "OK"), n_breaching
    if n_missing == len(values):
        return ("INSUFFICIENT_DATA" if treat_missing == "missing" else current), 0
    if n_breaching >= datapoints_to_alarm:
        return "ALARM", n_breaching
    if n_breaching + n_missing < datapoints_to_alarm:
        return "OK", n_breaching
    return current, n_breaching


def evaluation_window(now: datetime, period: int, periods: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of the last ``periods`` complete periods before ``now`` (period grid)."""
    now = as_utc(now)
    seconds = int(now.timestamp())
    end = datetime.fromtimestamp(seconds - seconds % period, tz=now.tzinfo)
    return end - timedelta(seconds=period * periods), end


def bucket(
    datapoints: Sequence[tuple[datetime, float]], start: datetime, period: int, periods: int
) -> list[float | None]:
    """One value per period from ``start`` (None where no datapoint fell), later ones winning."""
    values: list[float | None] = [None] * periods
    for stamp, value in datapoints:
        index = int((as_utc(stamp) - start).total_seconds() // period)
        if 0 <= index < periods:
            values[index] = value
    return values


def _stamp(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000+0000``: CloudWatch's timestamp format in alarm payloads."""
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


# --- the evaluator ------------------------------------------------------------------------------
@dataclass
class AlarmState:
    value: State
    reason: str
    timestamp: datetime
    reason_data: str = "{}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "reason": self.reason,
            "reasonData": self.reason_data,
            "timestamp": _stamp(self.timestamp),
        }


@dataclass
class AlarmTransition:
    """One state change of one alarm, and what its actions did."""

    alarm_name: str
    previous: str
    state: str
    reason: str
    at: datetime
    values: list[float | None]
    payload: dict[str, Any]
    invocations: list[Invocation] = field(default_factory=list)
    published: list[str] = field(default_factory=list)  # SNS topic ARNs notified
    skipped_actions: list[str] = field(default_factory=list)


class AlarmEvaluator:
    """Evaluates stored alarms on the emulator's data and runs their actions on a state change.

    Usage::

        evaluator = AlarmEvaluator(emu.endpoint_url, router)
        for minute in ...:
            clock.advance(timedelta(minutes=1))
            ...                                   # the fleet publishes datapoints at clock.now()
            for t in evaluator.evaluate(clock.now()):
                print(t.alarm_name, t.previous, "->", t.state)
        evaluator.transitions                     # every transition so far (alert spans)
    """

    def __init__(
        self,
        endpoint_url: str,
        router: EventRouter | None,
        *,
        prefix: str = ALARM_PREFIX,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        emit_events: bool = True,
    ) -> None:
        self.cloudwatch: CloudWatchClient = make_client("cloudwatch", endpoint_url, region)
        self.sns: SNSClient = make_client("sns", endpoint_url, region)
        self.router = router
        self.prefix = prefix
        self.region = region
        self.account_id = account_id
        self.emit_events = emit_events
        self.states: dict[str, AlarmState] = {}
        self.unsupported: dict[str, str] = {}
        self.transitions: list[AlarmTransition] = []

    def alarms(self) -> list[MetricAlarmTypeDef]:
        """The stored metric alarms with the prefix (``DescribeAlarms``, every page)."""
        pages = self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=self.prefix, AlarmTypes=["MetricAlarm"]
        )
        return [alarm for page in pages for alarm in page.get("MetricAlarms", [])]

    def read_values(self, spec: AlarmSpec, now: datetime) -> list[float | None]:
        """The alarm's series over its evaluation window (oldest first, None = missing)."""
        q = spec.query
        start, end = evaluation_window(now, q.period, spec.evaluation_periods)
        response = self.cloudwatch.get_metric_statistics(
            Namespace=q.namespace,
            MetricName=q.metric_name,
            Dimensions=[{"Name": k, "Value": v} for k, v in q.dimensions],
            StartTime=start,
            EndTime=end,
            Period=q.period,
            Statistics=[q.stat],
        )
        points = sorted(
            (p["Timestamp"], q.apply(float(p[q.stat]))) for p in response.get("Datapoints", [])
        )
        return bucket(points, start, q.period, spec.evaluation_periods)

    def evaluate(self, now: datetime) -> list[AlarmTransition]:
        """Evaluate every supported alarm at ``now`` (the run's clock); return the transitions."""
        now = as_utc(now)
        done: list[AlarmTransition] = []
        present: set[str] = set()
        for raw in self.alarms():
            name = raw["AlarmName"]
            present.add(name)
            try:
                spec = AlarmSpec.from_api(raw)
            except UnsupportedAlarm as exc:
                self.unsupported[name] = str(exc)
                continue
            current = self._current(raw, now)
            values = self.read_values(spec, now)
            state, n_breaching = decide_state(
                values,
                operator=spec.operator,
                threshold=spec.threshold,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                treat_missing=spec.treat_missing,
                current=current.value,
            )
            if state != current.value:
                done.append(self._transition(spec, current, state, values, n_breaching, now))
        for gone in set(self.states) - present:  # deleted alarms (the job ended)
            del self.states[gone]
        return done

    def _current(self, raw: Mapping[str, Any], now: datetime) -> AlarmState:
        name = raw["AlarmName"]
        if name not in self.states:
            if raw.get("StateReason") == "Unchecked: Initial alarm creation":
                reason = "Unchecked: Initial alarm creation"
                self.cloudwatch.set_alarm_state(
                    AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason=reason
                )
                self.states[name] = AlarmState("INSUFFICIENT_DATA", reason, now)
            else:  # evaluated before (e.g. by an earlier evaluator): trust the stored state
                stored = STATES.get(raw.get("StateValue", ""), "INSUFFICIENT_DATA")
                self.states[name] = AlarmState(stored, raw.get("StateReason", ""), now)
        return self.states[name]

    def _transition(
        self,
        spec: AlarmSpec,
        previous: AlarmState,
        state: State,
        values: list[float | None],
        n_breaching: int,
        now: datetime,
    ) -> AlarmTransition:
        q = spec.query
        start, _ = evaluation_window(now, q.period, spec.evaluation_periods)
        words = OPERATORS[spec.operator][1]
        shown = ", ".join(
            f"{_fmt(v)} ({(start + timedelta(seconds=i * q.period)).strftime('%d/%m/%y %H:%M:%S')})"
            for i, v in reversed(list(enumerate(values)))
            if v is not None
        )
        if state == "INSUFFICIENT_DATA":
            reason = f"Insufficient Data: {spec.evaluation_periods} datapoints were unknown."
        else:
            reason = (
                f"Threshold Crossed: {n_breaching} out of the last {len(values)} datapoints "
                f"[{shown}] {'were' if state == 'ALARM' else 'were not'} {words} the threshold "
                f"({_fmt(spec.threshold)}) (minimum {spec.datapoints_to_alarm} datapoints for "
                f"{previous.value} -> {state} transition)."
            )
        reason_data = json.dumps(
            {
                "version": "1.0",
                "queryDate": _stamp(now),
                "startDate": _stamp(start),
                "period": q.period,
                "recentDatapoints": [v for v in values if v is not None],
                "threshold": spec.threshold,
                "evaluatedDatapoints": [
                    {"timestamp": _stamp(start + timedelta(seconds=i * q.period)), "value": v}
                    for i, v in enumerate(values)
                    if v is not None
                ],
            }
        )
        new = AlarmState(state, reason, now, reason_data)
        self.cloudwatch.set_alarm_state(
            AlarmName=spec.name, StateValue=state, StateReason=reason, StateReasonData=reason_data
        )
        self.states[spec.name] = new
        payload = self.lambda_payload(spec, new, previous, now)
        transition = AlarmTransition(spec.name, previous.value, state, reason, now, values, payload)
        for action in spec.actions_for(state):
            if ":lambda:" in action and self.router is not None:
                transition.invocations.append(
                    self.router.invoke(action, payload, trigger=f"alarm:{spec.name}")
                )
            elif ":sns:" in action:
                self.sns.publish(
                    TopicArn=action,
                    Subject=f'{state}: "{spec.name}" in {self.region}'[:100],
                    Message=json.dumps(self.sns_message(spec, new, previous)),
                )
                transition.published.append(action)
            else:
                transition.skipped_actions.append(action)
        if self.emit_events and self.router is not None:
            transition.invocations += self.router.route(
                self.state_change_event(spec, new, previous, now)
            )
        self.transitions.append(transition)
        return transition

    # --- payload shapes -------------------------------------------------------------------
    def lambda_payload(
        self, spec: AlarmSpec, state: AlarmState, previous: AlarmState, now: datetime
    ) -> dict[str, Any]:
        """The payload CloudWatch gives a Lambda alarm action (aws_facts.md 5.1)."""
        return {
            "source": "aws.cloudwatch",
            "alarmArn": spec.arn,
            "accountId": self.account_id,
            "time": _stamp(now),
            "region": self.region,
            "alarmData": {
                "alarmName": spec.name,
                "state": state.to_payload(),
                "previousState": previous.to_payload(),
                "configuration": spec.configuration(),
            },
        }

    def state_change_event(
        self, spec: AlarmSpec, state: AlarmState, previous: AlarmState, now: datetime
    ) -> dict[str, Any]:
        """The EventBridge "CloudWatch Alarm State Change" event (aws_facts.md 5.3)."""
        import uuid

        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": ALARM_STATE_CHANGE,
            "source": "aws.cloudwatch",
            "account": self.account_id,
            "time": as_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [spec.arn],
            "detail": {
                "alarmName": spec.name,
                "state": state.to_payload(),
                "previousState": previous.to_payload(),
                "configuration": spec.configuration(),
            },
        }

    def sns_message(
        self, spec: AlarmSpec, state: AlarmState, previous: AlarmState
    ) -> dict[str, Any]:
        """The JSON body CloudWatch publishes to an SNS alarm action (the main fields)."""
        q = spec.query
        return {
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            "AWSAccountId": self.account_id,
            "NewStateValue": state.value,
            "NewStateReason": state.reason,
            "StateChangeTime": _stamp(state.timestamp),
            "Region": self.region,
            "AlarmArn": spec.arn,
            "OldStateValue": previous.value,
            "Trigger": {
                "MetricName": q.metric_name,
                "Namespace": q.namespace,
                "Statistic": q.stat.upper(),
                "Dimensions": [{"name": k, "value": v} for k, v in q.dimensions],
                "Period": q.period,
                "EvaluationPeriods": spec.evaluation_periods,
                "ComparisonOperator": spec.operator,
                "Threshold": spec.threshold,
                "TreatMissingData": spec.treat_missing,
            },
        }
