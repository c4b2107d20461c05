"""The event router without an emulator: matching, schedules, invocation, capture."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from trainguard_local.router import (
    DeployedFunction,
    DeployedRule,
    EventRouter,
    RuleTarget,
    Wiring,
    WiringError,
    count_aws_calls,
    function_name_from_arn,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
JOB_PATTERN = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]}


def function(
    name: str, mode: str, handler: str = "tg_local_fixture.handlers.echo"
) -> DeployedFunction:
    return DeployedFunction(
        name=name,
        arn=ARN.format(name),
        handler=handler,
        environment={"FIXTURE_MODE": mode},
        memory_mb=256,
        timeout_s=30,
    )


def rule(
    name: str, target: str, *, pattern: Any = None, schedule: str | None = None, **kw: Any
) -> DeployedRule:
    return DeployedRule(
        name=name,
        arn=f"arn:aws:events:us-east-1:123456789012:rule/{name}",
        state=kw.pop("state", "ENABLED"),
        event_pattern=pattern,
        schedule=schedule,
        targets=(RuleTarget(id="t", arn=ARN.format(target), **kw),),
    )


@pytest.fixture
def calls() -> list[dict[str, Any]]:
    sys.path.insert(0, str(FIXTURES))
    try:
        from tg_local_fixture import handlers
    finally:
        sys.path.remove(str(FIXTURES))
    handlers.CALLS.clear()
    handlers.RESETS.clear()
    return handlers.CALLS


def make_router(*rules: DeployedRule) -> EventRouter:
    functions = {f.name: f for f in (function("fn-a", "a"), function("fn-b", "b"))}
    wiring = Wiring(rules=list(rules), functions=functions)
    return EventRouter(wiring, endpoint_url="http://localhost:9", code_roots=[FIXTURES])


def job_event(status: str = "InProgress") -> dict[str, Any]:
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change",
        "detail": {"TrainingJobName": "j", "TrainingJobStatus": status},
    }


def test_event_reaches_only_rules_whose_pattern_matches(calls: list[dict[str, Any]]) -> None:
    stopped_only = {**JOB_PATTERN, "detail": {"TrainingJobStatus": ["Stopped"]}}
    router = make_router(
        rule("jobs", "fn-a", pattern=JOB_PATTERN), rule("stops", "fn-b", pattern=stopped_only)
    )
    done = router.route(job_event("InProgress"))
    assert [(i.function, i.trigger) for i in done] == [("fn-a", "rule:jobs")]
    assert calls[0]["event"] == job_event("InProgress")
    assert {i.function for i in router.route(job_event("Stopped"))} == {"fn-a", "fn-b"}


def test_no_match_and_disabled_rules_invoke_nothing(calls: list[dict[str, Any]]) -> None:
    router = make_router(
        rule("jobs", "fn-a", pattern=JOB_PATTERN),
        rule("off", "fn-b", pattern={"source": ["aws.cloudwatch"]}, state="DISABLED"),
    )
    assert router.route({"source": "aws.cloudwatch", "detail-type": "x", "detail": {}}) == []
    assert calls == []


def test_schedule_rules_never_match_events(calls: list[dict[str, Any]]) -> None:
    router = make_router(rule("tick", "fn-a", schedule="rate(1 minute)"))
    assert router.route(job_event()) == []


def test_tick_fires_on_the_rate_grid_with_the_scheduled_event_shape(
    calls: list[dict[str, Any]],
) -> None:
    router = make_router(
        rule("every-minute", "fn-a", schedule="rate(1 minute)"),
        rule("every-5", "fn-b", schedule="rate(5 minutes)"),
        rule("cron", "fn-b", schedule="cron(0 12 * * ? *)"),
    )
    fired = []
    for minute in range(11):
        fired.append(sorted(i.function for i in router.tick(T0 + timedelta(minutes=minute))))
    assert fired[0] == ["fn-a", "fn-b"]
    assert all(f == ["fn-a"] for f in fired[1:5]) and fired[5] == ["fn-a", "fn-b"]
    assert fired[10] == ["fn-a", "fn-b"]
    event = calls[0]["event"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-01-01T12:00:00Z" and event["detail"] == {}
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/every-minute"]


def test_a_coarse_tick_fires_once_and_stays_on_the_grid(calls: list[dict[str, Any]]) -> None:
    router = make_router(rule("every-5", "fn-a", schedule="rate(5 minutes)"))
    router.tick(T0)
    assert len(router.tick(T0 + timedelta(minutes=17))) == 1
    assert calls[-1]["event"]["time"] == "2026-01-01T12:15:00Z"
    assert router.tick(T0 + timedelta(minutes=19)) == []
    assert len(router.tick(T0 + timedelta(minutes=20))) == 1


def test_target_input_and_input_path(calls: list[dict[str, Any]]) -> None:
    router = make_router(
        rule("const", "fn-a", pattern=JOB_PATTERN, input=json.dumps({"constant": 1})),
        rule("path", "fn-b", pattern=JOB_PATTERN, input_path="$.detail"),
    )
    router.route(job_event())
    assert [c["event"] for c in calls] == [{"constant": 1}, job_event()["detail"]]


def test_invocation_gets_environment_context_logs_and_result(calls: list[dict[str, Any]]) -> None:
    router = make_router()
    inv = router.invoke("fn-a", {"x": 1})
    assert inv.ok and inv.result == {"ok": True, "mode": "a"}
    seen = calls[0]
    assert (seen["function"], seen["arn"], seen["memory"]) == ("fn-a", ARN.format("fn-a"), 256)
    assert 0 < seen["remaining_ms"] <= 30_000
    assert seen["endpoint"] == "http://localhost:9"
    assert "echo from fn-a" in inv.logs and "mode=a" in inv.logs
    assert "FIXTURE_MODE" not in os.environ  # restored after the call


def test_a_raising_handler_is_a_recorded_failure_and_the_run_goes_on(
    calls: list[dict[str, Any]],
) -> None:
    router = make_router()
    failed = router.invoke("fn-a", {"fail": True})
    assert not failed.ok and failed.error == "ValueError: asked to fail"
    assert "Traceback" in (failed.traceback or "")
    assert router.failures == [failed]
    assert router.invoke("fn-a", {}).ok and len(router.invocations) == 2


def test_reset_dependencies_runs_when_the_environment_changes(calls: list[dict[str, Any]]) -> None:
    from tg_local_fixture import handlers

    router = make_router()
    for name in ("fn-a", "fn-a", "fn-b", "fn-a"):
        router.invoke(name, {})
    assert handlers.RESETS == ["a", "b", "a"]


def test_functions_are_found_by_name_arn_or_logical_role() -> None:
    wiring = Wiring(
        rules=[],
        functions={
            "trainguard-lifecycle": function(
                "trainguard-lifecycle", "x", "trainguard.handlers.lifecycle.handler"
            ),
            "trainguard-alert": function(
                "trainguard-alert", "x", "trainguard.handlers.alert.handler"
            ),
        },
    )
    assert wiring.function("lifecycle").name == "trainguard-lifecycle"
    assert wiring.function(ARN.format("trainguard-alert") + ":$LATEST").name == "trainguard-alert"
    with pytest.raises(WiringError):
        wiring.function("trainguard")  # ambiguous
    assert function_name_from_arn("plain-name") == "plain-name"


def test_rate_expressions() -> None:
    assert rule("r", "f", schedule="rate(1 minute)").rate == timedelta(minutes=1)
    assert rule("r", "f", schedule="rate(2 hours)").rate == timedelta(hours=2)
    assert rule("r", "f", schedule="cron(0 * * * ? *)").rate is None


def test_aws_calls_are_counted_by_service_and_operation() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub, count_aws_calls() as counted:
        stub.add_response("list_training_jobs", {"TrainingJobSummaries": []})
        stub.add_response("list_training_jobs", {"TrainingJobSummaries": []})
        client.list_training_jobs()
        client.list_training_jobs()
    assert dict(counted) == {"SageMaker.ListTrainingJobs": 2}
