"""Handlers end to end on moto: references from completed jobs, stop / report, emails."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import median_policy
from runtime_support import Aws, LambdaContext, state_change

from trainguard.adapters import TablePorts, table_ports
from trainguard.config import Policy
from trainguard.handlers import alert, evaluator, lifecycle
from trainguard.models import ReferenceSet, RunId

pytestmark = pytest.mark.integration

CTX = LambdaContext()
GROUP_TAGS = {"trainguard:group": "digits", "trainguard:objective": "val_loss"}
REF_CURVES = [
    [1.0 - 0.035 * i for i in range(20)],
    [0.9 - 0.030 * i for i in range(20)],
    [1.1 - 0.040 * i for i in range(20)],
]
BAD_CURVE = [1.3 - 0.01 * i for i in range(12)]  # best 1.19 at step 12: far above the median


def complete_references(aws: Aws, deps: Any) -> None:
    """Three jobs of the group live InProgress -> Completed with 20 minutes of val_loss."""
    now = aws.now()
    for k, values in enumerate(REF_CURVES):
        name = f"digits-ref-{k}"
        start = now - 3 * 3600 + k * 1800
        arn = aws.create_job(name, GROUP_TAGS, start=start)
        aws.put_curve(name, "val_loss", start, values)
        lifecycle.handler(state_change(name, "InProgress", arn=arn, start=start), CTX, deps=deps)
        aws.set_status(name, "Completed")
        end = start + 21 * 60
        out = lifecycle.handler(
            state_change(name, "Completed", arn=arn, start=start, end=end), CTX, deps=deps
        )
        assert out["curve_points"] == 20


def start_bad_job(aws: Aws, deps: Any, name: str, tags: dict[str, str]) -> None:
    start = aws.now() - 13 * 60
    arn = aws.create_job(name, tags, start=start)
    aws.put_curve(name, "val_loss", start, BAD_CURVE)
    lifecycle.handler(
        state_change(name, "InProgress", arn=arn, start=start, tags=tags), CTX, deps=deps
    )


def test_life_builds_references_and_enforce_stops_once(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    complete_references(aws, deps)
    stats = table_ports(aws.dynamodb, "trainguard-test").references.get_stats(
        ReferenceSet("digits", "val_loss", "minimize")
    )
    assert stats is not None and stats.references == 3
    assert stats.median_duration_min == pytest.approx(21.0)
    aws.emails()

    start_bad_job(aws, deps, "digits-mlp-017", {**GROUP_TAGS, "trainguard:mode": "enforce"})
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 1 and tick["errors"] == 0
    assert aws.stopped() == ["digits-mlp-017"]
    mails = aws.emails()
    assert len(mails) == 1
    subject, body = mails[0]["subject"], mails[0]["body"]
    assert subject.startswith("[trainguard] STOPPED digits-mlp-017: median rule, 1.19 > ")
    assert "at step 12" in subject and len(subject) < 100
    assert "Threshold:" in body and "References: 3" in body and "Mode:       enforce" in body
    assert "Savings:    $" in body  # ml.g5.2xlarge x 1 x (21 - 13) min
    assert "#/jobs/digits-mlp-017" in body
    decisions = _decisions(table_ports(aws.dynamodb, "trainguard-test"), "digits-mlp-017")
    assert [d["action"] for d in decisions] == ["STOPPED"]
    assert decisions[0]["ttl"] > aws.now()

    # the next tick sees the same verdict (the Stopped event has not arrived): no second stop
    again = evaluator.handler({}, CTX, deps=deps)
    assert aws.stopped() == ["digits-mlp-017"]
    assert aws.emails() == [] and again["stops"] == 0


def test_observe_mode_reports_and_never_stops(aws: Aws) -> None:
    deps = aws.deps(median_policy(mode="observe"))
    complete_references(aws, deps)
    aws.emails()
    start_bad_job(aws, deps, "digits-obs", GROUP_TAGS)
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 0 and tick["would_stops"] == 1
    assert aws.stopped() == []
    mails = aws.emails()
    assert len(mails) == 1
    assert mails[0]["subject"].startswith("[trainguard] WOULD STOP (observe) digits-obs: median")
    assert "Mode:       observe" in mails[0]["body"]


def test_global_switch_turns_a_stop_into_a_report(aws: Aws) -> None:
    deps = aws.deps(median_policy(mode="enforce", stops_disabled=True))
    complete_references(aws, deps)
    aws.emails()
    start_bad_job(aws, deps, "digits-off", GROUP_TAGS)
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 0 and tick["would_stops"] == 1
    assert aws.stopped() == []
    (mail,) = aws.emails()
    assert "WOULD STOP (stops disabled)" in mail["subject"]


def test_job_without_opt_in_tag_is_never_stopped(aws: Aws) -> None:
    deps = aws.deps(median_policy(mode="enforce"))
    complete_references(aws, deps)
    aws.emails()
    start_bad_job(aws, deps, "rogue", {"trainguard:objective": "val_loss", "team": "x"})
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("rogue")
    assert job is not None and not job.opted_in and job.running
    # it still gets its GPU-idle alarm: alerted on, never stopped
    alarms = aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-gpu-idle-rogue")
    assert len(alarms["MetricAlarms"]) == 1
    evaluator.handler({}, CTX, deps=deps)
    assert aws.stopped() == []
    assert aws.emails() == []


def test_gpu_alarm_shape_and_lifecycle_end_deletes_alarms(aws: Aws) -> None:
    deps = aws.deps()
    arn = aws.create_job(
        "multi", GROUP_TAGS, instance_type="ml.p4d.24xlarge", count=2, start=aws.now() - 60
    )
    out = lifecycle.handler(
        state_change(
            "multi",
            "InProgress",
            arn=arn,
            start=aws.now() - 60,
            instance_type="ml.p4d.24xlarge",
            count=2,
            tags=GROUP_TAGS,
        ),
        CTX,
        deps=deps,
    )
    assert out["alarms_created"] == 2
    alarms = aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == [
        "trainguard-gpu-idle-multi-algo-1",
        "trainguard-gpu-idle-multi-algo-2",
    ]
    a = alarms[0]
    assert a["Metrics"][1]["Expression"] == "m1 / 8"
    assert a["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Host", "Value": "multi/algo-1"}
    ]
    assert a["EvaluationPeriods"] == 15 and a["DatapointsToAlarm"] == 15
    assert a["AlarmActions"] == a["OKActions"] == [deps.alert_function_arn]
    assert a["TreatMissingData"] == "missing" and a["ComparisonOperator"] == "LessThanThreshold"
    aws.set_status("multi", "Failed")
    lifecycle.handler(
        state_change(
            "multi",
            "Failed",
            arn=arn,
            start=aws.now() - 60,
            end=aws.now(),
            instance_type="ml.p4d.24xlarge",
            count=2,
            failure="AlgorithmError: OOM",
        ),
        CTX,
        deps=deps,
    )
    assert aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"] == []
    (mail,) = aws.emails()
    assert mail["subject"] == "[trainguard] FAILED multi: AlgorithmError: OOM"
    assert "#/jobs/multi" in mail["body"]


def test_gpu_idle_alarm_opens_once_recovers_once_and_health_alarms_are_recorded(aws: Aws) -> None:
    deps = aws.deps()
    start = aws.now() - 40 * 60
    arn = aws.create_job("idle", GROUP_TAGS, instance_type="ml.g5.12xlarge", count=2, start=start)
    lifecycle.handler(
        state_change(
            "idle",
            "InProgress",
            arn=arn,
            start=start,
            tags=GROUP_TAGS,
            instance_type="ml.g5.12xlarge",
            count=2,
        ),
        CTX,
        deps=deps,
    )
    base = aws.now() - aws.now() % 60 - 20 * 60
    aws.put_host_metric(
        "idle/algo-2", "GPUUtilization", [base + 60 * i + 5 for i in range(20)], [16.0] * 20
    )  # 4 GPUs: 4 % per GPU
    payload = aws.alarm_payload("trainguard-gpu-idle-idle-algo-2", "ALARM")
    del payload["time"]  # the handler's clock then
    first = alert.handler(payload, CTX, deps=deps)
    second = alert.handler(payload, CTX, deps=deps)
    assert (first["action"], second["action"]) == ("opened", "duplicate")
    (mail,) = aws.emails()
    assert mail["subject"] == "[trainguard] GPU idle: idle/algo-2 (4%/GPU, 20 min)"
    assert "$7.09/hour" in mail["body"] and "1 of 2 hosts" in mail["body"]
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("idle")
    assert job is not None and "idle/algo-2" in job.idle_hosts
    ok = {**payload, "alarmData": {**payload["alarmData"], "state": {"value": "OK"}}}
    assert alert.handler(ok, CTX, deps=deps)["action"] == "closed"
    assert alert.handler(ok, CTX, deps=deps)["action"] == "duplicate"  # no second email
    (recovered,) = aws.emails()
    assert recovered["subject"].startswith("[trainguard] GPU recovered: idle/algo-2")

    health = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {
            "alarmName": "trainguard-evaluator-heartbeat",
            "state": {"value": "ALARM", "reason": "no Ticks for 5 minutes"},
            "previousState": {"value": "OK"},
        },
    }
    # the health alarm's own SNS action already emailed the topic: no second email from here
    assert alert.handler(health, CTX, deps=deps)["action"] == "recorded"
    assert aws.emails() == []


def test_idle_job_is_auto_stopped_in_enforce_mode_after_the_limit(aws: Aws) -> None:
    policy = Policy.from_mapping({"mode": "enforce", "gpu_idle": {"stop_after_minutes": 30}})
    deps = aws.deps(policy)
    start = aws.now() - 3600
    arn = aws.create_job("sleepy", {"trainguard:group": "g"}, start=start)
    lifecycle.handler(
        state_change("sleepy", "InProgress", arn=arn, start=start, tags={"trainguard:group": "g"}),
        CTX,
        deps=deps,
    )
    state = table_ports(aws.dynamodb, "trainguard-test")
    sleepy = _run(state, "sleepy")
    assert state.idle_episodes.open_episode(sleepy, "sleepy/algo-1", aws.now() - 20 * 60)
    # the host's own samples still say idle (an idle stop is confirmed from them)
    base = aws.now() - aws.now() % 60 - 20 * 60
    aws.put_host_metric(
        "sleepy/algo-1", "GPUUtilization", [base + 60 * i + 5 for i in range(20)], [1.0] * 20
    )
    tick = evaluator.handler({}, CTX, deps=deps)  # 20 min since the alarm + 15 min window >= 30
    assert tick["stops"] == 1
    assert aws.stopped() == ["sleepy"]
    (mail,) = aws.emails()
    assert mail["subject"].startswith("[trainguard] STOPPED sleepy: GPU idle")


def _run(state: TablePorts, name: str) -> RunId:
    record = state.jobs.latest_run(name)
    assert record is not None
    return record.run


def _decisions(state: TablePorts, name: str) -> list[dict[str, Any]]:
    return state.audit.decisions(_run(state, name))
