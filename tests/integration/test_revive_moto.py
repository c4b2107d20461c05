"""A resumable stop and ``trainguard revive`` on moto, through the real adapters: the tick's stop
records ``resumable`` on the DynamoDB claim and the audit, the command (its stack found by its
outputs, the deployment's roles read from the evaluator's environment, the checkpoint prefix
listed on S3) claims the revival, and the next tick creates it with CreateTrainingJob, on the
same CheckpointConfig, tagged with what it continues."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from fakes import median_policy
from ops_world import deploy_stand_in
from runtime_support import Aws, LambdaContext, state_change
from test_runtime_flow import BAD_CURVE, GROUP_TAGS, complete_references

from trainguard.handlers import evaluator, lifecycle
from trainguard_local.moto_harness import ROLE_ARN
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration

CTX = LambdaContext()
CKPT = "s3://team-ckpt/digits/mlp-017"
NAME = "digits-mlp-017"


def stopped_resumable(aws: Aws, deps: Any) -> None:
    tags = {**GROUP_TAGS, "trainguard:mode": "enforce"}
    start = aws.now() - 13 * 60
    arn = aws.create_job(NAME, tags, start=start, checkpoint=CKPT)
    aws.put_curve(NAME, "val_loss", start, BAD_CURVE)
    lifecycle.handler(
        state_change(NAME, "InProgress", arn=arn, start=start, tags=tags), CTX, deps=deps
    )
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 1 and tick["errors"] == 0
    aws.set_status(NAME, "Stopped")
    lifecycle.handler(
        state_change(NAME, "Stopped", arn=arn, start=start, end=aws.now(), tags=tags),
        CTX,
        deps=deps,
    )


def test_a_resumable_stop_is_revived_by_the_command_and_the_next_tick(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = median_policy()
    deps = replace(aws.deps(policy), retry_roles=(ROLE_ARN,))
    complete_references(aws, deps)
    stopped_resumable(aws, deps)
    (stop,) = [e for e in aws.emails() if e["subject"].startswith("[trainguard] STOPPED")]
    assert f"trainguard revive {NAME} --reason WHY" in stop["body"]
    # the command: its stack, the evaluator's roles, the checkpoints on S3
    deploy_stand_in(aws, policy)
    functions = boto3.client("lambda", region_name=aws.region)
    env = functions.get_function_configuration(FunctionName="trainguard-evaluator")
    variables = {**env["Environment"]["Variables"], "TRAINGUARD_RETRY_ROLE_ARNS": ROLE_ARN}
    functions.update_function_configuration(
        FunctionName="trainguard-evaluator", Environment={"Variables": variables}
    )
    s3 = boto3.client("s3", region_name=aws.region)
    s3.create_bucket(Bucket="team-ckpt")
    assert main(["revive", NAME, "--reason", "my best run", "--by", "ana"]) == 1
    assert "checkpoint prefix s3://team-ckpt/digits/mlp-017 is empty" in capsys.readouterr().out
    s3.put_object(Bucket="team-ckpt", Key="digits/mlp-017/step-12.pt", Body=b"weights")
    assert main(["revive", NAME, "--reason", "my best run", "--by", "ana"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"REVIVE REQUESTED: {NAME} is created again as {NAME}-revived-1")
    # the next tick creates it
    aws.advance(300)
    evaluator.handler({}, CTX, deps=deps)
    revived = aws.sagemaker.describe_training_job(TrainingJobName=f"{NAME}-revived-1")
    assert revived["CheckpointConfig"]["S3Uri"] == CKPT
    tags = aws.sagemaker.list_tags(ResourceArn=revived["TrainingJobArn"])["Tags"]
    assert {"Key": "trainguard:revived-from", "Value": NAME} in tags
    assert [e["subject"] for e in aws.emails()] == [
        f"[trainguard] REVIVED {NAME} as {NAME}-revived-1"
    ]
    # a duplicate command says what became of the first
    assert main(["revive", NAME, "--reason", "again", "--by", "ana"]) == 0
    assert f"was revived already as {NAME}-revived-1 (by ana" in capsys.readouterr().out
