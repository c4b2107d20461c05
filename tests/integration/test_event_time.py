""" "Now" is the event's time: the scheduled tick's, the state change's, the alarm's.

On a simulated timeline (the local run) the handlers' clock is the real present, hours after
the metrics they judge; on AWS the event's time is within seconds of the clock. Either way the
evaluator must judge the curve as it was at the tick's due time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from runtime_support import Aws, LambdaContext, state_change

from trainguard.adapters import table_ports
from trainguard.config import Policy
from trainguard.handlers import alert, evaluator, lifecycle
from trainguard.handlers.events import event_time

pytestmark = pytest.mark.integration

CTX = LambdaContext()
TAGS = {"trainguard:group": "g", "trainguard:objective": "val_loss"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled(ts: float) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": iso(ts),
        "detail": {},
    }


@pytest.mark.unit
def test_event_time_reads_the_time_field_and_tolerates_its_absence() -> None:
    assert event_time({"time": "2025-01-01T00:01:00Z"}) == 1735689660.0
    assert event_time({"time": "2025-01-01T00:01:00.000+0000"}) == 1735689660.0  # alarm payload
    assert event_time({}) is None
    assert event_time({"time": "not a time"}) is None
    assert event_time([1, 2]) is None


def test_evaluator_judges_the_curve_as_of_the_scheduled_events_time(aws: Aws) -> None:
    """A loss that explodes at minute 3 of a run 3 hours ago: the tick due at minute 2 sees
    no explosion (with the real clock it would); the tick due at minute 4 stops the job, and
    the audit record carries the tick's time."""
    deps = aws.deps(Policy.from_mapping({"mode": "enforce"}))
    start = aws.now() - 3 * 3600
    start -= start % 60
    arn = aws.create_job("past", TAGS, start=start)
    aws.put_curve("past", "val_loss", start, [1.0, 0.9, 50.0])  # minutes 1, 2, 3
    lifecycle.handler(
        state_change("past", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )

    early = evaluator.handler(scheduled(start + 2 * 60 + 30), CTX, deps=deps)
    assert early["stops"] == 0 and early["alerts"] == 0  # not stalled either: 1 min silent
    late = evaluator.handler(scheduled(start + 4 * 60), CTX, deps=deps)
    assert late["stops"] == 1
    assert aws.stopped() == ["past"]
    (action,) = late["actions"]
    assert action["rule"] == "diverged"
    decisions = [i["audit_at"]["S"] for i in aws.items() if "#DECISION#" in i["sk"]["S"]]
    assert [d[:19] for d in decisions] == [iso(start + 4 * 60)[:19]]


def test_alert_opens_the_episode_at_the_alarms_time(aws: Aws) -> None:
    deps = aws.deps()
    start = aws.now() - 3 * 3600
    arn = aws.create_job("idle", TAGS, count=2, start=start)
    lifecycle.handler(
        state_change("idle", "InProgress", arn=arn, start=start, tags=TAGS, count=2),
        CTX,
        deps=deps,
    )
    opened_at = float(int(start) + 40 * 60)
    payload = aws.alarm_payload("trainguard-gpu-idle-idle-algo-2", "ALARM")
    payload["time"] = iso(opened_at)[:-1] + ".000+0000"  # CloudWatch's format
    assert alert.handler(payload, CTX, deps=deps)["action"] == "opened"
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("idle")
    assert job is not None and job.idle_hosts == {"idle/algo-2": opened_at}


def test_without_a_time_the_handlers_use_their_clock(aws: Aws) -> None:
    deps = aws.deps(Policy.from_mapping({"mode": "enforce"}))
    start = aws.now() - 10 * 60
    arn = aws.create_job("now", TAGS, start=start)
    aws.put_curve("now", "val_loss", start, [1.0, 0.9, 50.0])
    lifecycle.handler(
        state_change("now", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    assert evaluator.handler({}, CTX, deps=deps)["stops"] == 1


@pytest.mark.parametrize(
    ("instance_type", "metric"),
    # a GPU host's GPU samples (which the hang rule reads) say it reports; else its CPU's
    [("ml.g5.2xlarge", "GPUUtilization"), ("ml.m5.xlarge", "CPUUtilization")],
)
@pytest.mark.parametrize(
    ("instances_report", "stopped"),
    [(True, True), (False, False)],
)
def test_a_loss_gone_silent_after_rising_stops_only_while_the_instances_report(
    aws: Aws, instances_report: bool, stopped: bool, instance_type: str, metric: str
) -> None:
    """The NaN shape on live data: CloudWatch cannot state NaN, so the metric regex stops
    matching and the objective goes silent. Silent 15 minutes after rising above its first
    value, while the host still reports -> diverged. If the host is silent too (the whole job
    is silent: an ingestion gap, a dead node), nothing is stopped for it."""
    deps = aws.deps(Policy.from_mapping({"mode": "enforce"}))
    start = aws.now() - 3 * 3600
    start -= start % 60
    arn = aws.create_job("nan", TAGS, instance_type=instance_type, start=start)
    aws.put_curve("nan", "val_loss", start, [2.0, 1.5, 2.5, 3.0])  # minutes 1..4, then silence
    if instances_report:
        minutes = range(1, 20)
        values = [70.0 + 10 * (m % 3) for m in minutes]  # busy and varying: not hung
        aws.put_host_metric("nan/algo-1", metric, [start + m * 60 + 5 for m in minutes], values)
    lifecycle.handler(
        state_change(
            "nan", "InProgress", arn=arn, start=start, tags=TAGS, instance_type=instance_type
        ),
        CTX,
        deps=deps,
    )
    tick = evaluator.handler(scheduled(start + 19 * 60 + 30), CTX, deps=deps)
    assert (tick["stops"] == 1) is stopped
    if stopped:
        (action,) = tick["actions"]
        assert action["rule"] == "diverged"
        assert aws.stopped() == ["nan"]
