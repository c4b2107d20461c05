"""Template assertions for issue 21's permissions: the audit is append-only for every function
(no Update/Delete on ``AUDIT#`` partition keys), the shard queue takes messages from the
planner's role only, and the functions' alarm permissions leave the stack's health alarms
alone."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import Synthesized
from test_infra_stack import actions, arn_text, resources, role_of, statements_of_role

from trainguard import constants as c

pytestmark = pytest.mark.infra

TABLE_WRITERS = (
    c.LIFECYCLE_FUNCTION_NAME,
    c.EVALUATOR_FUNCTION_NAME,
    c.ALERT_FUNCTION_NAME,
    c.SHARD_FUNCTION_NAME,
)


def _denies(s: Synthesized, role_id: str) -> list[dict[str, Any]]:
    return [st for st in statements_of_role(s, role_id) if st["Effect"] == "Deny"]


def test_every_table_writer_is_denied_updates_and_deletes_of_audit_records(
    synthesized: Synthesized,
) -> None:
    (table,) = resources(synthesized, "AWS::DynamoDB::Table")
    for name in TABLE_WRITERS:
        denies = _denies(synthesized, role_of(synthesized, name))
        (deny,) = [st for st in denies if st.get("Sid") == "AuditAppendOnly"]
        assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= set(
            actions(deny)
        )
        assert "dynamodb:PutItem" not in actions(deny)  # appending stays allowed
        assert deny["Resource"] == {"Fn::GetAtt": [table, "Arn"]}
        # any partition key of the request that is an audit key denies it
        assert deny["Condition"] == {
            "ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [f"{c.AUDIT_PK_PREFIX}*"]}
        }


def test_the_digest_cannot_write_the_table_at_all(synthesized: Synthesized) -> None:
    digest = statements_of_role(synthesized, role_of(synthesized, c.DIGEST_FUNCTION_NAME))
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    for st in digest:
        if st["Effect"] == "Allow":
            assert not writes & set(actions(st)), st


def _shard_queue_policy(s: Synthesized) -> tuple[str, list[dict[str, Any]]]:
    (queue,) = [
        k
        for k, v in resources(s, "AWS::SQS::Queue").items()
        if k.startswith("FunctionsShardQueue") and "RedrivePolicy" in v["Properties"]
    ]
    for policy in resources(s, "AWS::SQS::QueuePolicy").values():
        if policy["Properties"]["Queues"] == [{"Ref": queue}]:
            return queue, policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError("the shard queue has no policy")


def test_the_shard_queue_accepts_messages_from_the_planner_only(synthesized: Synthesized) -> None:
    queue, statements = _shard_queue_policy(synthesized)
    (only,) = [st for st in statements if st.get("Sid") == "OnlyThePlannerSendsShards"]
    assert only["Effect"] == "Deny" and only["Principal"] == {"AWS": "*"}
    assert only["Action"] == "sqs:SendMessage"  # SendMessageBatch is authorized as SendMessage
    assert only["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    planner = role_of(synthesized, c.EVALUATOR_FUNCTION_NAME)
    assert only["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [planner, "Arn"]}}
    }
    # no Allow statement on the queue widens it, and only the planner's role may send
    assert all(st["Effect"] == "Deny" for st in statements)
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.ALERT_FUNCTION_NAME, c.SHARD_FUNCTION_NAME):
        for st in statements_of_role(synthesized, role_of(synthesized, name)):
            if "sqs:SendMessage" in actions(st):
                assert st["Resource"] != {"Fn::GetAtt": [queue, "Arn"]}, name


HEALTH_ALARMS = (
    f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{c.HEALTH_ALARM_PREFIX}*"
)


def test_alarm_permissions_never_cover_the_stacks_health_alarms(synthesized: Synthesized) -> None:
    alarm_writes = {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"}
    health_names = [
        a["Properties"]["AlarmName"]
        for a in resources(synthesized, "AWS::CloudWatch::Alarm").values()
    ]
    assert health_names and all(n.startswith(c.HEALTH_ALARM_PREFIX) for n in health_names)
    checked = 0
    for role_id in resources(synthesized, "AWS::IAM::Role"):
        statements = statements_of_role(synthesized, role_id)
        if not any(alarm_writes & set(actions(st)) for st in statements if st["Effect"] == "Allow"):
            continue
        checked += 1
        (keep,) = [st for st in statements if st.get("Sid") == "KeepHealthAlarms"]
        assert keep["Effect"] == "Deny" and alarm_writes <= set(actions(keep))
        assert arn_text(keep["Resource"]) == HEALTH_ALARMS
    assert checked == 3  # the lifecycle, the evaluator and the stack-delete cleanup
