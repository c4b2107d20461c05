"""``trainguard pause | resume | mode`` on moto: the deployed stack found by its outputs, the
control written with its history, announced on the topic, read by the next tick through
Powertools' cache, and clear errors when there is no stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import median_policy
from runtime_support import Aws, LambdaContext
from test_runtime_flow import BAD_CURVE, GROUP_TAGS, complete_references, start_bad_job

from trainguard.adapters.controls import TableControls
from trainguard.handlers import evaluator
from trainguard.logic.controls import read_controls
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration

CTX = LambdaContext()


def deploy_outputs(aws: Aws, stack: str = "Trainguard") -> None:
    """A stack with the two outputs the operator commands read (as infra/ names them)."""
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "StateTableNameF1E2": {"Value": aws.table},
            "NotificationsTopicArnA1B2": {"Value": aws.topic_arn},
        },
    }
    cfn: Any = __import__("boto3").client("cloudformation", region_name=aws.region)
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))


def control(aws: Aws, name: str = "GLOBAL") -> dict[str, Any]:
    item = aws.dynamodb.get_item(
        TableName=aws.table, Key={"pk": {"S": "CONTROL"}, "sk": {"S": name}}
    )["Item"]
    return json.loads(item["value"]["S"])  # type: ignore[no-any-return]


def test_pause_holds_the_next_ticks_stop_and_resume_releases_it(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(aws)
    deps = aws.deps(median_policy())
    complete_references(aws, deps)
    aws.emails()
    assert main(["pause", "--reason", "GPU quota review", "--by", "ana"]) == 0
    assert "PAUSED every group" in capsys.readouterr().out
    assert control(aws) | {"at": "-"} == {
        "paused": True,
        "mode": None,
        "by": "ana",
        "reason": "GPU quota review",
        "at": "-",
    }
    (announced,) = aws.emails()
    assert announced["subject"] == "[trainguard] PAUSED every group: every stop is a report"
    assert "Reason:  GPU quota review" in announced["body"]

    start = aws.now() - 13 * 60
    start_bad_job(aws, deps, "digits-bad", {**GROUP_TAGS, "trainguard:mode": "enforce"})
    out = evaluator.handler({"time": _iso(aws.now())}, CTX, deps=deps)
    assert (out["stops"], out["would_stops"], out["paused"]) == (0, 1, True)
    assert aws.stopped() == []
    (held,) = aws.emails()
    assert held["subject"].startswith("[trainguard] WOULD STOP (paused) digits-bad")
    assert "enforce (paused by ana: GPU quota review)" in held["body"]

    assert main(["resume", "--reason", "review done", "--by", "ana"]) == 0
    aws.emails()
    aws.advance(60)  # the job reports again: judged again, and stopped now
    aws.put_curve("digits-bad", "val_loss", start, [*BAD_CURVE, 1.18])
    out = evaluator.handler({"time": _iso(aws.now())}, CTX, deps=deps)
    assert out["stops"] == 1 and aws.stopped() == ["digits-bad"]
    history = aws.dynamodb.query(
        TableName=aws.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONTROL_HISTORY"}},
    )["Items"]
    assert [h["reason"]["S"] for h in history] == ["GPU quota review", "review done"]
    assert all(h["by"]["S"] == "ana" for h in history)


def test_a_group_mode_is_written_for_that_group_only(aws: Aws) -> None:
    deploy_outputs(aws)
    assert main(["mode", "observe", "--group", "digits", "--by", "bo"]) == 0
    assert control(aws, "GROUP#digits")["mode"] == "observe"
    assert main(["mode", "default", "--group", "digits", "--by", "bo"]) == 0
    assert control(aws, "GROUP#digits")["mode"] is None


def test_revival_on_new_evidence_is_switched_at_run_time(aws: Aws) -> None:
    deploy_outputs(aws)
    assert main(["revive-auto", "on", "--group", "digits", "--by", "bo"]) == 0
    assert control(aws, "GROUP#digits")["revive_auto"] is True
    assert main(["revive-auto", "default", "--group", "digits", "--by", "bo"]) == 0
    assert "revive_auto" not in control(aws, "GROUP#digits")  # the policy's reviveAuto


def test_the_cache_reads_the_table_once_within_its_max_age(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "30")
    queries: list[str] = []
    aws.dynamodb.meta.events.register(
        "before-call.dynamodb.Query", lambda **kw: queries.append("q")
    )
    controls = TableControls(aws.dynamodb, aws.table)
    assert controls.read() == {}
    controls.write(
        "GLOBAL", '{"paused": true}', {"at": "2026-01-01T00:00:00Z", "by": "x"}, previous=None
    )
    assert controls.read() == {"GLOBAL": '{"paused": true}'}  # a write clears the cache
    assert controls.read() == {"GLOBAL": '{"paused": true}'}
    assert len(queries) == 2


def test_a_control_value_that_is_not_a_string_is_named_and_holds_every_stop(aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item={"pk": {"S": "CONTROL"}, "sk": {"S": "GLOBAL"}, "value": {"N": "1"}},
    )
    with pytest.raises(Exception, match="control GLOBAL: value is not a string"):
        TableControls(aws.dynamodb, aws.table).read()
    held = read_controls(TableControls(aws.dynamodb, aws.table))
    assert held.global_.paused and "value is not a string" in str(held.error)


def test_no_stack_is_one_clear_line(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pause", "--reason", "x", "--stack", "Nope"]) == 2
    assert capsys.readouterr().err == (
        "trainguard: stack Nope not found in us-east-1: deploy trainguard there "
        "(make deploy), or pass --stack NAME / --region REGION\n"
    )


def test_no_credentials_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr("boto3.DEFAULT_SESSION", None)  # no credentials cached by earlier tests
    assert main(["resume"]) == 2
    assert capsys.readouterr().err.startswith("trainguard: no AWS credentials found")


def _iso(now: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _interleave(monkeypatch: pytest.MonkeyPatch, aws: Aws, times: int) -> None:
    """Between the command's read of the control and its write, someone else's
    ``trainguard mode enforce`` lands (the first ``times`` writes)."""
    from trainguard_tools import controls as commands

    real = TableControls.write
    left = [times]
    other = TableControls(aws.dynamodb, aws.table)

    def write(self: TableControls, *args: Any, **kwargs: Any) -> None:
        if self is not other and left[0] > 0:
            left[0] -= 1
            why = f"change {left[0]}"  # each one a new value
            commands.change(other, group=None, by="bo", reason=why, now=1.0e9, mode="enforce")
        real(self, *args, **kwargs)

    monkeypatch.setattr(TableControls, "write", write)


def test_a_pause_racing_a_mode_change_keeps_both(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(aws)
    _interleave(monkeypatch, aws, times=1)
    assert main(["pause", "--reason", "GPU quota review", "--by", "ana"]) == 0
    assert "PAUSED every group" in capsys.readouterr().out
    assert control(aws) | {"at": "-"} == {
        "paused": True,
        "mode": "enforce",
        "by": "ana",
        "reason": "GPU quota review",
        "at": "-",
    }
    (announced,) = aws.emails()  # the interleaved change is a direct write, not announced
    assert "PAUSED every group" in announced["subject"]
    history = TableControls(aws.dynamodb, aws.table).history()
    assert [h["by"] for h in history] == ["ana", "bo"]


def test_a_pause_that_loses_every_race_is_said_and_not_announced(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainguard_tools.controls import CHANGE_ATTEMPTS

    deploy_outputs(aws)
    _interleave(monkeypatch, aws, times=CHANGE_ATTEMPTS)
    assert main(["pause", "--reason", "GPU quota review", "--by", "ana"]) == 1
    out = capsys.readouterr()
    assert "PAUSED" not in out.out
    assert "lost a race" in out.err and "not announced" in out.err
    assert control(aws)["paused"] is False and control(aws)["mode"] == "enforce"
    assert aws.emails() == []  # the interleaved changes are direct writes: nothing announced
