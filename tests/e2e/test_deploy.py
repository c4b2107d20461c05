"""The real `cdk bootstrap` + `cdk deploy` (pinned CLI) into moto server on loopback, then the
deployed wiring read back through the API. Alarms, subscriptions, EventInvokeConfig and
policies are skipped by moto's CloudFormation: tests/infra asserts those on the template."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainguard import constants as c
from trainguard.config import Policy

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.skip("the pinned CDK CLI is not installed (make setup)")
    from trainguard_local import Emulator
    from trainguard_local.emulator_deploy import deploy_to_emulator

    # a fresh emulator: moto's state is process-wide, and another e2e test (the demo) may have
    # deployed the same stack in this worker process before
    with Emulator() as emulator:
        yield deploy_to_emulator(
            emulator.endpoint_url,
            tmp_path_factory.mktemp("cdk.out"),
            context={"alertEmail": "ml-platform@example.com", "minCompleted": 4},
        )


def test_functions_deployed_with_handlers_runtime_and_environment(deployed) -> None:  # type: ignore[no-untyped-def]
    assert deployed.account == "123456789012"
    expected = {
        c.LIFECYCLE_FUNCTION_NAME: c.LIFECYCLE_HANDLER,
        c.EVALUATOR_FUNCTION_NAME: c.EVALUATOR_HANDLER,
        c.ALERT_FUNCTION_NAME: c.ALERT_HANDLER,
        c.SHARD_FUNCTION_NAME: c.SHARD_HANDLER,
        c.DIGEST_FUNCTION_NAME: c.DIGEST_HANDLER,  # the weekly digest (digestSchedule)
    }
    assert set(deployed.functions) == set(expected)
    for name, handler in expected.items():
        fn = deployed.functions[name]
        assert fn.handler == handler
        assert fn.runtime == "python3.13"
        env = fn.environment
        assert env[c.ENV_TABLE_NAME] == deployed.table_name
        assert env[c.ENV_TOPIC_ARN] == deployed.topic_arn
        assert env[c.ENV_STOPS_DISABLED] == "false"
        policy = Policy.from_json(env[c.ENV_POLICY])
        assert policy.mode == "observe"
        assert policy.median.min_completed == 4  # the -c override reached the functions
    alert_arn = deployed.functions[c.ALERT_FUNCTION_NAME].arn
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME, c.SHARD_FUNCTION_NAME):
        assert deployed.functions[name].environment[c.ENV_ALERT_FUNCTION_ARN] == alert_arn
    # the planner sends its shards to the deployed shard queue
    assert c.ENV_SHARD_QUEUE_URL in deployed.functions[c.EVALUATOR_FUNCTION_NAME].environment


def test_rules_patterns_schedule_and_targets(deployed) -> None:  # type: ignore[no-untyped-def]
    fns = deployed.functions
    state = deployed.rules[c.TRAINING_STATE_RULE_NAME]
    assert state.event_pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": [c.TRAINING_STATE_CHANGE],
    }
    assert state.target_arns == [fns[c.LIFECYCLE_FUNCTION_NAME].arn]
    tick = deployed.rules[c.TICK_RULE_NAME]
    assert tick.schedule == "rate(1 minute)"
    assert tick.target_arns == [fns[c.EVALUATOR_FUNCTION_NAME].arn]
    health = deployed.rules[c.HEALTH_ALARM_RULE_NAME]
    assert health.event_pattern["detail"] == {"alarmName": [{"prefix": c.HEALTH_ALARM_PREFIX}]}
    assert health.target_arns == [fns[c.ALERT_FUNCTION_NAME].arn]
    digest = deployed.rules[c.DIGEST_RULE_NAME]
    assert digest.schedule == "cron(0 8 ? * MON *)"
    assert digest.target_arns == [fns[c.DIGEST_FUNCTION_NAME].arn]
    for rule in deployed.rules.values():
        for target in rule.targets:
            assert ":sqs:" in target["DeadLetterConfig"]["Arn"]
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 0


def test_table_and_topic_exist(deployed) -> None:  # type: ignore[no-untyped-def]
    from trainguard_local.emulator import make_client

    ddb = make_client("dynamodb", deployed.endpoint_url)
    table = ddb.describe_table(TableName=deployed.table_name)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    indexes = [i["IndexName"] for i in table["GlobalSecondaryIndexes"]]
    assert sorted(indexes) == sorted([c.RUNNING_INDEX, c.AUDIT_INDEX])
    sns = make_client("sns", deployed.endpoint_url)
    attributes = sns.get_topic_attributes(TopicArn=deployed.topic_arn)["Attributes"]
    assert attributes.get("KmsMasterKeyId")


def test_asset_is_the_lambdas_folder(deployed) -> None:  # type: ignore[no-untyped-def]
    asset = deployed.asset_dir()
    assert (asset / "trainguard" / "constants.py").is_file()
    # bytecode only for the runtime's interpreter (infra/asset.py), never this machine's cache
    tags = {p.name.split(".")[-2] for p in asset.rglob("*.pyc")}
    assert tags <= {"cpython-313"}


def test_the_stack_outputs_name_the_table_and_topic(deployed) -> None:  # type: ignore[no-untyped-def]
    # what the operator commands (trainguard pause | status | calibrate --apply) read; moto
    # needs the emulator's refresh_stack_outputs shim for a change-set deploy
    values = {k: v for k, v in deployed.outputs.items() if "TableName" in k or "TopicArn" in k}
    assert sorted(values.values()) == sorted([deployed.table_name, deployed.topic_arn])
