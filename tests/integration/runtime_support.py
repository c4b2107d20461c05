"""Helpers for the runtime tests (the fixture is in conftest.py). In-process moto: the
table (with its sparse ``running`` index), an SNS
topic whose emails land in an SQS queue, CloudWatch, SageMaker; plus the few fakes moto
needs (StopTrainingJob, jobs InProgress)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from trainguard.adapters import (
    CloudWatchAdapter,
    Notifier,
    SageMakerAdapter,
    Store,
    boto_config,
)
from trainguard.constants import TRAINING_NAMESPACE
from trainguard.handlers import reset_dependencies
from trainguard.logic.dependencies import Dependencies
from trainguard.policy import Policy
from trainguard_local.state_table import create_state_table

REGION = "us-east-1"
TABLE = "trainguard-test"
ALERT_ARN = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:alert"


@dataclass
class LambdaContext:
    function_name: str = "trainguard-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:test"
    aws_request_id: str = "req-1"


class FakeStopSageMaker(SageMakerAdapter):
    """moto has no StopTrainingJob: record the stop and move moto's job to Stopped."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.stopped: list[str] = []

    def stop(self, job: str) -> str:
        self.stopped.append(job)
        jobs = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].training_jobs
        if job in jobs:
            jobs[job].training_job_status = "Stopped"
        return "stopped"


@dataclass
class Aws:
    dynamodb: Any
    cloudwatch: Any
    sagemaker: Any
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    clock_offset: list[float] = field(default_factory=lambda: [0.0])

    def now(self) -> float:
        return time.time() + self.clock_offset[0]

    def deps(
        self, policy: Policy | None = None, sagemaker: SageMakerAdapter | None = None, **kwargs: Any
    ) -> Dependencies:
        return Dependencies(
            store=Store(self.dynamodb, TABLE),
            sagemaker=sagemaker or FakeStopSageMaker(self.sagemaker),
            cloudwatch=CloudWatchAdapter(self.cloudwatch),
            notifier=Notifier(self.sns, self.topic_arn),
            policy=policy or Policy(),
            region=REGION,
            alert_function_arn=ALERT_ARN,
            clock=self.now,
            **kwargs,
        )

    def emails(self) -> list[dict[str, str]]:
        """Every email published since the last call: [{"subject", "body"}]."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                envelope = json.loads(m["Body"])
                out.append({"subject": envelope.get("Subject", ""), "body": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    # ---- SageMaker jobs (moto creates them Completed; we move them) ------------------------
    def create_job(
        self,
        name: str,
        tags: dict[str, str],
        status: str = "InProgress",
        instance_type: str = "ml.g5.2xlarge",
        count: int = 1,
    ) -> str:
        response = self.sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
            RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sm",
            OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
            ResourceConfig={
                "InstanceType": instance_type,
                "InstanceCount": count,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        self.set_status(name, status)
        return str(response["TrainingJobArn"])

    def set_status(self, name: str, status: str) -> None:
        job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].training_jobs[name]
        job.training_job_status = status
        job.secondary_status = "Training" if status == "InProgress" else status

    def put_curve(self, job: str, metric: str, start: float, values: list[float]) -> None:
        """One datapoint per minute: value i at minute i+1 after the start's minute."""
        base = start - start % 60
        data = [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "TrainingJobName", "Value": job}],
                "Timestamp": datetime.fromtimestamp(base + (i + 1) * 60 + 5, UTC),
                "Value": v,
            }
            for i, v in enumerate(values)
        ]
        for i in range(0, len(data), 500):
            self.cloudwatch.put_metric_data(
                Namespace=TRAINING_NAMESPACE, MetricData=data[i : i + 500]
            )

    def put_host_metric(
        self, host: str, metric: str, timestamps: list[float], values: list[float]
    ) -> None:
        self.cloudwatch.put_metric_data(
            Namespace=TRAINING_NAMESPACE,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": host}],
                    "Timestamp": datetime.fromtimestamp(ts, UTC),
                    "Value": v,
                }
                for ts, v in zip(timestamps, values, strict=True)
            ],
        )

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]  # type: ignore[no-any-return]


def state_change(
    name: str,
    status: str,
    *,
    arn: str = "",
    tags: Any = None,
    start: float | None = None,
    end: float | None = None,
    instance_type: str = "ml.g5.2xlarge",
    count: int = 1,
    secondary: str | None = None,
    failure: str | None = None,
    ms_as: str = "str",
) -> dict[str, Any]:
    def ms(t: float | None) -> Any:
        if t is None:
            return None
        return str(int(t * 1000)) if ms_as == "str" else float(int(t * 1000))

    detail: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn
        or f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:training-job/{name}",
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary or ("Training" if status == "InProgress" else status),
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": count,
            "VolumeSizeInGB": 20,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": ms(start),
        "TrainingStartTime": ms(start),
        "LastModifiedTime": ms(end or start),
    }
    if end is not None:
        detail["TrainingEndTime"] = ms(end)
    if tags is not None:
        detail["Tags"] = tags
    if failure:
        detail["FailureReason"] = failure
    return {
        "version": "0",
        "id": f"{name}-{status}",
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": DEFAULT_ACCOUNT_ID,
        "time": "2025-01-01T00:00:00Z",
        "region": REGION,
        "resources": [detail["TrainingJobArn"]],
        "detail": detail,
    }


def moto_aws() -> Iterator[Aws]:
    reset_dependencies()
    with mock_aws():
        cfg = boto_config()
        ddb = boto3.client("dynamodb", region_name=REGION, config=cfg)
        create_state_table(ddb, TABLE)
        sns = boto3.client("sns", region_name=REGION, config=cfg)
        sqs = boto3.client("sqs", region_name=REGION, config=cfg)
        topic = sns.create_topic(Name="trainguard")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="emails")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield Aws(
            dynamodb=ddb,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION, config=cfg),
            sagemaker=boto3.client("sagemaker", region_name=REGION, config=cfg),
            sns=sns,
            sqs=sqs,
            topic_arn=topic,
            queue_url=queue_url,
        )
    reset_dependencies()
