"""Slack and Teams through Amazon Q Developer in chat applications: present with their context
keys, absent without; the guardrail, the channel role, the topic, the functions' chat flag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from infra_synth import CDK_JSON_CONTEXT, Synthesized, assert_cfn_lint_clean, synthesize

from infra.capabilities.chat import NOTIFICATION_ACTIONS
from trainguard import constants as c

pytestmark = pytest.mark.infra

SLACK = {"slackWorkspaceId": "T0123ABCD", "slackChannelId": "C0456EFGH"}
TEAMS = {
    "teamsTenantId": "a1b2c3d4-0000-4000-8000-0123456789ab",
    "teamsTeamId": "b1b2c3d4-0000-4000-8000-0123456789ab",
    "teamsChannelId": "19:abc123def@thread.tacv2",  # as copied from the link
}


@pytest.fixture(scope="module")
def with_chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    context = {**CDK_JSON_CONTEXT, **SLACK, **TEAMS, "chatLoggingLevel": "INFO"}
    yield synthesize(context, tmp_path_factory.mktemp("cdk.out.chat"))


def resources(s: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in s.template_json["Resources"].items() if v["Type"] == kind}


def one(s: Synthesized, kind: str) -> tuple[str, dict[str, Any]]:
    found = resources(s, kind)
    assert len(found) == 1, found
    key, value = next(iter(found.items()))
    return key, value["Properties"]


def topic_id(s: Synthesized) -> str:
    key, _ = one(s, "AWS::SNS::Topic")
    return key


def test_no_chatbot_resources_and_no_chat_flag_without_the_keys(synthesized: Synthesized) -> None:
    kinds = {r["Type"] for r in synthesized.template_json["Resources"].values()}
    assert not {k for k in kinds if k.startswith("AWS::Chatbot::")}
    assert "AWS::IAM::ManagedPolicy" not in kinds
    for fn in resources(synthesized, "AWS::Lambda::Function").values():
        assert c.ENV_CHAT not in fn["Properties"].get("Environment", {}).get("Variables", {})


def test_slack_channel_subscribed_to_the_alert_topic(with_chat: Synthesized) -> None:
    _, slack = one(with_chat, "AWS::Chatbot::SlackChannelConfiguration")
    assert slack["SlackWorkspaceId"] == SLACK["slackWorkspaceId"]
    assert slack["SlackChannelId"] == SLACK["slackChannelId"]
    assert slack["ConfigurationName"] == "trainguard-slack"
    # Chatbot subscribes itself (HTTPS) to each topic listed here
    assert slack["SnsTopicArns"] == [{"Ref": topic_id(with_chat)}]
    assert slack["LoggingLevel"] == "INFO"
    assert slack["UserRoleRequired"] is False


def test_teams_channel_with_its_ids_url_encoded(with_chat: Synthesized) -> None:
    _, teams = one(with_chat, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
    assert teams["TeamsTenantId"] == TEAMS["teamsTenantId"]
    assert teams["TeamId"] == TEAMS["teamsTeamId"]
    assert teams["TeamsChannelId"] == "19%3Aabc123def%40thread.tacv2"
    assert teams["SnsTopicArns"] == [{"Ref": topic_id(with_chat)}]
    assert teams["LoggingLevel"] == "INFO"
    assert teams["UserRoleRequired"] is False


def test_guardrail_is_the_small_read_only_policy_never_administrator(
    with_chat: Synthesized,
) -> None:
    guardrail_id, guardrail = one(with_chat, "AWS::IAM::ManagedPolicy")
    (statement,) = guardrail["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == sorted(NOTIFICATION_ACTIONS)
    assert all(a.startswith("cloudwatch:") and "*" not in a for a in statement["Action"])
    writes = ("cloudwatch:Put", "cloudwatch:Delete", "cloudwatch:Set")
    assert not any(a.startswith(writes) for a in statement["Action"])
    for kind in (
        "AWS::Chatbot::SlackChannelConfiguration",
        "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
    ):
        _, config = one(with_chat, kind)
        # without GuardrailPolicies CloudFormation applies AdministratorAccess
        assert config["GuardrailPolicies"] == [{"Ref": guardrail_id}]
    text = json.dumps(with_chat.template_json)
    assert "AdministratorAccess" not in text and "ReadOnlyAccess" not in text


def test_channel_role_assumed_by_chatbot_with_only_the_notification_reads(
    with_chat: Synthesized,
) -> None:
    roles = {
        k: v["Properties"]
        for k, v in resources(with_chat, "AWS::IAM::Role").items()
        if v["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "chatbot.amazonaws.com"
    }
    assert len(roles) == 1
    role_id, role = next(iter(roles.items()))
    assert "ManagedPolicyArns" not in role
    (inline,) = role["Policies"]
    assert [s["Action"] for s in inline["PolicyDocument"]["Statement"]] == [
        list(NOTIFICATION_ACTIONS)
    ]
    # nothing else is attached to it
    for policy in resources(with_chat, "AWS::IAM::Policy").values():
        assert {"Ref": role_id} not in policy["Properties"].get("Roles", [])
    for kind in (
        "AWS::Chatbot::SlackChannelConfiguration",
        "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
    ):
        _, config = one(with_chat, kind)
        assert config["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_functions_are_told_which_channels(with_chat: Synthesized) -> None:
    functions = resources(with_chat, "AWS::Lambda::Function")
    names = {
        fn["Properties"].get("FunctionName"): fn["Properties"]["Environment"]["Variables"]
        for fn in functions.values()
        if fn["Properties"].get("FunctionName", "").startswith("trainguard-")
    }
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        assert names[name][c.ENV_CHAT] == "slack,teams"


def test_cdk_nag_clean_with_chat(with_chat: Synthesized) -> None:
    report = json.loads((with_chat.template_path.parent / "validation-report.json").read_text())
    conclusions = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    assert conclusions == {"AwsSolutions": "success"}, report


def test_slack_alone_flags_slack(tmp_path: Any) -> None:
    s = synthesize({**CDK_JSON_CONTEXT, **SLACK}, tmp_path)
    assert not resources(s, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
    _, slack = one(s, "AWS::Chatbot::SlackChannelConfiguration")
    assert slack["LoggingLevel"] == "ERROR"  # the default
    for fn in resources(s, "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if c.ENV_TOPIC_ARN in env:
            assert env[c.ENV_CHAT] == "slack"


def test_cfn_lint_has_no_errors_with_chat(with_chat: Synthesized) -> None:
    assert_cfn_lint_clean(with_chat.template_path)
