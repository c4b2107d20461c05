"""Template assertions for capacity retries: without ``retryRoleArns`` (the default) no
function may create a job or pass a role; with it, the evaluator alone may create jobs named
like retries that carry the opt-in and retry tags, and pass exactly the listed roles, to
SageMaker only. cdk-nag stays clean either way (synth fails on a finding)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_synth import CDK_JSON_CONTEXT, Synthesized, synthesize
from test_infra_stack import actions, arn_text, function, resources, role_of, statements_of_role

from infra.config import ConfigError, config_from_values
from trainguard import constants as c

pytestmark = pytest.mark.infra

ROLE = "arn:aws:iam::123456789012:role/sagemaker-training"
PATH = "arn:aws:iam::123456789012:role/teams/ml/*"
RETRY_ACTIONS = ("sagemaker:CreateTrainingJob", "sagemaker:AddTags", "iam:PassRole")


@pytest.fixture(scope="module")
def with_retries(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {**CDK_JSON_CONTEXT, "retryRoleArns": [ROLE, PATH]}
    return synthesize(context, Path(tmp_path_factory.mktemp("cdk.out.retries")))


def _all_statements(s: Synthesized) -> list[dict[str, Any]]:
    return [
        st
        for p in resources(s, "AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_no_retry_permissions_by_default(synthesized: Synthesized) -> None:
    for st in _all_statements(synthesized):
        assert not set(actions(st)) & set(RETRY_ACTIONS), st
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME):
        assert function(synthesized, name)["Environment"]["Variables"][c.ENV_RETRY_ROLE_ARNS] == ""


def test_the_evaluator_alone_creates_tagged_retries(with_retries: Synthesized) -> None:
    evaluator = statements_of_role(with_retries, role_of(with_retries, c.EVALUATOR_FUNCTION_NAME))
    creates = [st for st in evaluator if "sagemaker:CreateTrainingJob" in actions(st)]
    (create,) = [st for st in creates if "-retry-" in arn_text(st["Resource"])]
    assert sorted(actions(create)) == ["sagemaker:AddTags", "sagemaker:CreateTrainingJob"]
    assert arn_text(create["Resource"]) == (
        "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*-retry-*"
    )
    assert create["Condition"] == {
        "StringLike": {
            "aws:RequestTag/trainguard:group": "?*",
            "aws:RequestTag/trainguard:retry": "?*",
            "aws:RequestTag/trainguard:retry-of": "?*",
        }
    }
    (passing,) = [st for st in evaluator if "iam:PassRole" in actions(st)]
    assert actions(passing) == ["iam:PassRole"]
    assert passing["Resource"] == [ROLE, PATH]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        for st in statements_of_role(with_retries, role_of(with_retries, name)):
            assert not set(actions(st)) & set(RETRY_ACTIONS), (name, st)
    # nowhere on "*", and never without its condition
    for st in _all_statements(with_retries):
        if set(actions(st)) & set(RETRY_ACTIONS):
            assert st["Resource"] != "*" and "Condition" in st


def test_the_roles_reach_the_functions_that_plan_and_create(with_retries: Synthesized) -> None:
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME):
        env = function(with_retries, name)["Environment"]["Variables"]
        assert env[c.ENV_RETRY_ROLE_ARNS] == f"{ROLE},{PATH}"
    assert (
        c.ENV_RETRY_ROLE_ARNS
        not in function(with_retries, c.ALERT_FUNCTION_NAME)["Environment"]["Variables"]
    )


def test_cdk_nag_is_clean_with_retries(with_retries: Synthesized) -> None:
    import json

    report_path = with_retries.template_path.parent / "validation-report.json"
    report = json.loads(report_path.read_text())
    assert {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]} == {
        "AwsSolutions": "success"
    }


@pytest.mark.parametrize(
    "value",
    [
        ["*"],
        "arn:aws:iam::123456789012:role/*x",
        ["arn:aws:iam::123456789012:user/alice"],
        [ROLE, "not-an-arn"],
        {"role": ROLE},
    ],
)
def test_a_bad_role_list_names_the_key(value: Any) -> None:
    with pytest.raises(ConfigError, match="'retryRoleArns'"):
        config_from_values({"retryRoleArns": value})


def test_the_key_takes_a_list_or_a_comma_separated_string() -> None:
    assert config_from_values({"retryRoleArns": [ROLE]}).retry_role_arns == (ROLE,)
    assert config_from_values({"retryRoleArns": f"{ROLE},{PATH}"}).retry_role_arns == (ROLE, PATH)
    assert config_from_values({"retryRoleArns": f'["{ROLE}"]'}).retry_role_arns == (ROLE,)
    assert config_from_values({}).retry_role_arns == ()


def test_the_evaluator_creates_revivals_only_by_name_and_tags(with_retries: Synthesized) -> None:
    """Issue 23: the tick creates a revival (<stopped job>-revived-<k>) a trainguard revive
    command requested, with the opt-in and the revived-from tags, passing the same roles."""
    evaluator = statements_of_role(with_retries, role_of(with_retries, c.EVALUATOR_FUNCTION_NAME))
    (create,) = [
        st
        for st in evaluator
        if "sagemaker:CreateTrainingJob" in actions(st) and "-revived-" in arn_text(st["Resource"])
    ]
    assert sorted(actions(create)) == ["sagemaker:AddTags", "sagemaker:CreateTrainingJob"]
    assert create["Condition"] == {
        "StringLike": {
            "aws:RequestTag/trainguard:group": "?*",
            "aws:RequestTag/trainguard:revived-from": "?*",
        }
    }
