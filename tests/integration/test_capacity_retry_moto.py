"""Capacity retries on moto: the request built from moto's own DescribeTrainingJob answer is
one moto's CreateTrainingJob takes; the handlers carry a retry from the failure event to the
created job once; the adapter's errors (botocore Stubber where moto cannot produce them)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from runtime_support import REGION, Aws, LambdaContext

from trainguard.adapters import SageMakerAdapter
from trainguard.handlers import evaluator, lifecycle
from trainguard.logic import retry
from trainguard.models import CreateRefused
from trainguard_local.moto_harness import ROLE_ARN

pytestmark = pytest.mark.integration

CTX = LambdaContext()
TAGS = {"trainguard:group": "g", "trainguard:objective": "loss", "trainguard:retry": "1"}
CAPACITY = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a "
    "different ML instance type."
)


def deliver(aws: Aws, deps: object) -> None:
    for event in aws.shim.take_events():
        lifecycle.handler(event, CTX, deps=deps)


def test_moto_takes_the_request_built_from_its_own_description(aws: Aws) -> None:
    aws.create_job("src", TAGS, hyperparameters={"lr": "0.1"})
    description = aws.sagemaker.describe_training_job(TrainingJobName="src")
    tags = retry.retry_tags(TAGS, "src", 1)
    request = retry.create_request(dict(description), "src-retry-1", tags)
    adapter = SageMakerAdapter(aws.sagemaker)
    assert adapter.create(request) == "created"
    assert adapter.create(request) == "exists"  # ResourceInUse, as SageMaker (the shim)
    made = aws.sagemaker.describe_training_job(TrainingJobName="src-retry-1")
    assert made["TrainingJobStatus"] == "InProgress"
    assert made["HyperParameters"] == {"lr": "0.1"} and made["RoleArn"] == ROLE_ARN
    assert made["ResourceConfig"] == description["ResourceConfig"]
    listed = aws.sagemaker.list_tags(ResourceArn=made["TrainingJobArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == {
        **TAGS,
        "trainguard:retry-attempt": "1",
        "trainguard:retry-of": "src",
    }


def test_a_capacity_failure_is_retried_once_through_the_handlers(aws: Aws) -> None:
    deps = aws.deps(retry_roles=(ROLE_ARN,))
    aws.create_job("cap", TAGS)
    deliver(aws, deps)
    aws.advance(60)
    aws.shim.fail("cap", CAPACITY)
    deliver(aws, deps)
    (failed,) = aws.emails()
    assert "Retry:   attempt 1 of 1 (SageMaker.CAPACITY_ERROR)" in failed["body"]
    aws.advance(60)
    evaluator.handler({}, CTX, deps=deps)  # not due yet
    names = [
        j["TrainingJobName"] for j in aws.sagemaker.list_training_jobs()["TrainingJobSummaries"]
    ]
    assert "cap-retry-1" not in names
    aws.advance(61)
    evaluator.handler({}, CTX, deps=deps)
    evaluator.handler({}, CTX, deps=deps)
    made = aws.sagemaker.describe_training_job(TrainingJobName="cap-retry-1")
    assert made["TrainingJobStatus"] == "InProgress"
    (announced,) = aws.emails()
    assert announced["subject"] == "[trainguard] RETRIED cap as cap-retry-1 (attempt 1 of 1)"
    deliver(aws, deps)  # the retry's own InProgress: registered, opted in
    aws.advance(60)
    aws.shim.fail("cap-retry-1", CAPACITY)  # fails again: the tag's one retry is used
    deliver(aws, deps)
    (again,) = aws.emails()
    assert "Retry:   not retried: all 1 retries of the chain are used" in again["body"]
    aws.advance(3600)
    evaluator.handler({}, CTX, deps=deps)
    names = [
        j["TrainingJobName"] for j in aws.sagemaker.list_training_jobs()["TrainingJobSummaries"]
    ]
    assert sorted(names) == ["cap", "cap-retry-1"]


def test_create_errors_are_sorted_into_refusals_and_passing_ones() -> None:
    client = boto3.client("sagemaker", region_name=REGION)
    adapter = SageMakerAdapter(client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_training_job",
            "AccessDeniedException",
            "not authorized to perform: iam:PassRole",
        )
        stub.add_client_error("create_training_job", "ValidationException", "Bad VpcConfig")
        stub.add_client_error("create_training_job", "ResourceLimitExceeded", "limit")
        stub.add_client_error("create_training_job", "ResourceInUse", "exists")
        request = {
            "TrainingJobName": "x",
            "RoleArn": ROLE_ARN,
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        }
        with pytest.raises(CreateRefused, match="AccessDeniedException: not authorized"):
            adapter.create(request)
        with pytest.raises(CreateRefused, match="ValidationException: Bad VpcConfig"):
            adapter.create(request)
        with pytest.raises(ClientError, match="ResourceLimitExceeded"):
            adapter.create(request)  # worth asking again later: the logic backs off
        assert adapter.create(request) == "exists"
