"""The weekly digest in the template (its schedule, its read-only role, its dead-letter queue)
and absent with ``digestSchedule=off``; a malformed schedule fails synth naming the key; the
table's sparse audit index; the outputs the operator commands find the stack by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_synth import CDK_JSON_CONTEXT, Synthesized, synthesize
from test_infra_stack import actions, function, logical_id, resources, role_of, statements_of_role

from infra.config import ConfigError, config_from_values
from trainguard import constants as c
from trainguard_tools.stack import output

pytestmark = pytest.mark.infra
CHARACTERS = "the characters * ? , - / # L W"


def digest_statements(s: Synthesized) -> list[dict[str, Any]]:
    return statements_of_role(s, role_of(s, c.DIGEST_FUNCTION_NAME))


def test_the_digest_function_and_its_monday_schedule(synthesized: Synthesized) -> None:
    fn = function(synthesized, c.DIGEST_FUNCTION_NAME)
    assert fn["Handler"] == c.DIGEST_HANDLER
    assert fn["Layers"] == [{"Ref": "PowertoolsLayerArn"}]
    env = fn["Environment"]["Variables"]
    assert c.ENV_TABLE_NAME in env and c.ENV_TOPIC_ARN in env and c.ENV_POLICY in env
    fn_id = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=c.DIGEST_FUNCTION_NAME)
    rule = resources(synthesized, "AWS::Events::Rule")[
        logical_id(synthesized, "AWS::Events::Rule", Name=c.DIGEST_RULE_NAME)
    ]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 8 ? * MON *)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    queues = set(resources(synthesized, "AWS::SQS::Queue"))
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in queues
    alarms = {
        a["Properties"]["AlarmName"]
        for a in resources(synthesized, "AWS::CloudWatch::Alarm").values()
    }
    assert "trainguard-health-digest-dead-letters" in alarms


def test_the_digest_role_reads_the_table_and_its_indexes_and_publishes_only(
    synthesized: Synthesized,
) -> None:
    table = next(iter(resources(synthesized, "AWS::DynamoDB::Table")))
    topic = next(iter(resources(synthesized, "AWS::SNS::Topic")))
    statements = digest_statements(synthesized)
    granted = {a for s in statements for a in actions(s)}
    dynamo = {a for a in granted if a.startswith("dynamodb:")}
    assert dynamo == {"dynamodb:Query", "dynamodb:BatchGetItem"}  # reads only: no writes
    assert not any(a.startswith(("sagemaker:", "cloudwatch:")) for a in granted)
    (reads,) = [s for s in statements if "dynamodb:Query" in actions(s)]
    assert {"Fn::GetAtt": [table, "Arn"]} in reads["Resource"]
    assert any("/index/*" in str(r) for r in reads["Resource"])
    (publish,) = [s for s in statements if "sns:Publish" in actions(s)]
    assert publish["Resource"] == {"Ref": topic}


def test_the_audit_index_is_sparse_by_day(synthesized: Synthesized) -> None:
    (table,) = resources(synthesized, "AWS::DynamoDB::Table").values()
    indexes = {i["IndexName"]: i for i in table["Properties"]["GlobalSecondaryIndexes"]}
    audit = indexes[c.AUDIT_INDEX]
    assert audit["KeySchema"] == [
        {"AttributeName": c.AUDIT_DAY_ATTR, "KeyType": "HASH"},
        {"AttributeName": c.AUDIT_AT_ATTR, "KeyType": "RANGE"},
    ]
    assert audit["Projection"] == {"ProjectionType": "ALL"}
    types = {
        a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]
    }
    assert types[c.AUDIT_DAY_ATTR] == types[c.AUDIT_AT_ATTR] == "S"


def test_the_operator_commands_find_the_table_and_topic_outputs(synthesized: Synthesized) -> None:
    outputs = {k: f"value-of-{k}" for k in synthesized.template_json["Outputs"]}
    assert output(outputs, "TableName", "Trainguard").startswith("value-of-State")
    assert output(outputs, "TopicArn", "Trainguard").startswith("value-of-Notifications")


def test_digest_off_removes_the_function_and_its_rule(tmp_path: Path) -> None:
    s = synthesize({**CDK_JSON_CONTEXT, "digestSchedule": "off"}, tmp_path)
    names = {
        f["Properties"].get("FunctionName") for f in resources(s, "AWS::Lambda::Function").values()
    }
    assert c.DIGEST_FUNCTION_NAME not in names and c.EVALUATOR_FUNCTION_NAME in names
    rules = {r["Properties"].get("Name") for r in resources(s, "AWS::Events::Rule").values()}
    assert c.DIGEST_RULE_NAME not in rules and c.TICK_RULE_NAME in rules


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cron(0 8 ? * MON *)", "cron(0 8 ? * MON *)"),
        ("rate(7 days)", "rate(7 days)"),
        ("rate(1 day)", "rate(1 day)"),
        ("OFF", None),
    ],
)
def test_digest_schedules_that_synthesize(value: str, expected: str | None) -> None:
    assert config_from_values({"digestSchedule": value}).digest_schedule == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("cron(0 8 * * MON)", "a cron expression has 6 fields, this one 5"),
        ("cron(0 8 * * MON *)", "one of day-of-month and day-of-week must be '?'"),
        ("cron(0 8 ? * MON; *)", f"a cron field holds digits, names and {CHARACTERS}"),
        ("rate(1 days)", "EventBridge wants rate(1 day) and rate(N days)"),
        ("rate(0 days)", "a rate must be at least 1"),
        ("weekly", "expected cron(...), rate(...) or off"),
    ],
)
def test_a_malformed_schedule_fails_synth_naming_the_key(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_values({"digestSchedule": value})
    assert str(err.value) == f"cdk.json context 'digestSchedule': {problem}, got {value!r}"
