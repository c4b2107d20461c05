"""In-process moto for the tests and the bench: the stack's resources, the SageMaker shim, and
the runtime's dependencies built the way the functions build them.

Under ``moto.mock_aws()`` (no server, no network), :meth:`MotoHarness.running` stands up:

- the state table with its sparse ``running`` index (:mod:`.state_table`);
- the alert topic and an SQS queue subscribed to it (:class:`~.mailbox.Mailbox`): the emails;
- the SageMaker shim (:mod:`.sagemaker_shim`): a created job is ``InProgress``,
  ``StopTrainingJob`` works through the real API, and every stop request is recorded
  (:meth:`MotoHarness.stopped`); its clock is the harness's (:meth:`MotoHarness.now`);
- the environment the functions read (:meth:`MotoHarness.environ`: table, topic, alert
  function, ``TRAINGUARD_POLICY``; the names are ``trainguard.constants.ENV_*``).

:meth:`MotoHarness.deps` builds the runtime's ``Dependencies`` from that environment with
``trainguard.handlers.runtime.aws_dependencies``, the one function the deployed functions use,
so the tests and the bench run the real adapters. The functions' boto3 clients are the
harness's own, one per service (see :class:`_SharedClients`): a test's botocore hook on
``aws.cloudwatch``, or the bench's call counter, sees every call the functions make.

Usage::

    with MotoHarness.running() as aws:
        deps = aws.deps(Policy(mode="enforce"))
        arn = aws.create_job("job-a", {"trainguard:group": "g", "trainguard:objective": "loss"})
        aws.put_curve("job-a", "loss", aws.now() - 600, [1.0, 0.9, 0.8])
        lifecycle.handler(state_change("job-a", "InProgress", arn=arn, start=aws.now() - 600),
                          LambdaContext(), deps=deps)
        evaluator.handler(scheduled_event(aws.now()), LambdaContext(), deps=deps)
        aws.stopped(), aws.emails(), aws.items()
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

import boto3

from trainguard import constants as c
from trainguard.config import Policy
from trainguard.handlers import reset_dependencies
from trainguard.handlers.runtime import aws_dependencies
from trainguard.logic.dependencies import Dependencies

from .clock import iso_z
from .lambda_context import ACCOUNT_ID, REGION
from .mailbox import Email, Mailbox
from .sagemaker_shim import SageMakerShim
from .state_table import create_state_table

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import ResourceConfigTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

DEFAULT_TABLE = "trainguard-test"
DEFAULT_TOPIC = "trainguard"
ALERT_FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:alert"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/sm"
#: a fixed past moment: the default ``time`` of :func:`state_change` events
DEFAULT_EVENT_TIME = "2025-01-01T00:00:00Z"
SERVICES = ("dynamodb", "cloudwatch", "sagemaker", "sns", "sqs")
PUT_METRIC_DATA_LIMIT = 1000  # datapoints per PutMetricData call


class _SharedClients:
    """Stands in for the ``boto3`` module inside ``trainguard.adapters.aws`` (where every
    client of the functions is made) while a harness runs: ``client(service, ...)`` returns
    the harness's client for that service, anything else is boto3's."""

    def __init__(self, clients: Mapping[str, Any], real: ModuleType) -> None:
        self._clients = clients
        self._real = real

    def client(self, service: str, *args: Any, **kwargs: Any) -> Any:
        shared = self._clients.get(service)
        return shared if shared is not None else self._real.client(service, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def _sandbox(region: str) -> Iterator[None]:
    """The region set, no endpoint override or profile: nothing can leave the process. The
    harness's clock jumps minutes in a wall-clock second, so the runtime controls are not
    cached (Powertools' parameters max age 0; the stack sets 30 s)."""
    keys = (
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "POWERTOOLS_PARAMETERS_MAX_AGE",
    )
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(
        {"AWS_DEFAULT_REGION": region, "AWS_REGION": region, "POWERTOOLS_PARAMETERS_MAX_AGE": "0"}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@dataclass
class _Clock:
    """The harness's time: the wall clock plus ``offset[0]``, or ``pinned`` while set."""

    offset: list[float] = field(default_factory=lambda: [0.0])
    pinned: float | None = None

    def now(self) -> float:
        return self.pinned if self.pinned is not None else time.time() + self.offset[0]

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


@dataclass
class MotoHarness:
    """The running harness; build it with :meth:`running`."""

    dynamodb: DynamoDBClient
    cloudwatch: CloudWatchClient
    sagemaker: SageMakerClient
    sns: SNSClient
    sqs: SQSClient
    shim: SageMakerShim
    mailbox: Mailbox
    table: str
    topic_arn: str
    region: str = REGION
    _clock: _Clock = field(default_factory=_Clock)

    @classmethod
    @contextmanager
    def running(
        cls,
        *,
        table: str = DEFAULT_TABLE,
        topic: str = DEFAULT_TOPIC,
        region: str = REGION,
        stop_delay: timedelta = timedelta(0),
    ) -> Iterator[MotoHarness]:
        """Start moto in this process with the table, topic, mailbox and shim; stop it after.

        ``stop_delay``: how long a stopped job stays ``Stopping`` on the harness's clock (0:
        ``Stopped`` at once; otherwise :meth:`SageMakerShim.settle` moves it)."""
        from moto import mock_aws

        from trainguard.adapters import aws as adapters_aws

        clock = _Clock()
        reset_dependencies()
        with _sandbox(region), mock_aws():
            # the functions' own client factory: their retry policy, the sandbox's region
            clients = {service: adapters_aws.make_client(service) for service in SERVICES}
            create_state_table(clients["dynamodb"], table)
            topic_arn = clients["sns"].create_topic(Name=topic)["TopicArn"]
            shared = _SharedClients(clients, boto3)
            with (
                mock.patch.object(adapters_aws, "boto3", shared),
                SageMakerShim(clock=clock.utc, region=region, stop_delay=stop_delay) as shim,
            ):
                yield cls(
                    dynamodb=clients["dynamodb"],
                    cloudwatch=clients["cloudwatch"],
                    sagemaker=clients["sagemaker"],
                    sns=clients["sns"],
                    sqs=clients["sqs"],
                    shim=shim,
                    mailbox=Mailbox.attach(None, topic_arn, region=region),
                    table=table,
                    topic_arn=topic_arn,
                    region=region,
                    _clock=clock,
                )
        reset_dependencies()

    # --- time ------------------------------------------------------------------------------
    @property
    def clock_offset(self) -> list[float]:
        """Seconds added to the wall clock by :meth:`now` (a one-element list, to change in
        place: ``aws.clock_offset[0] += 3600``)."""
        return self._clock.offset

    def now(self) -> float:
        """The harness's "now" (epoch seconds), also the SageMaker shim's and the deps' clock."""
        return self._clock.now()

    def advance(self, seconds: float) -> float:
        """Move the harness's clock forward; returns the new now."""
        self._clock.offset[0] += seconds
        return self.now()

    @contextmanager
    def at(self, moment: float) -> Iterator[float]:
        """Pin the clock at ``moment`` for the block: jobs created, stopped or ended in it carry
        exactly that time (e.g. a past account's history)."""
        saved, self._clock.pinned = self._clock.pinned, moment
        try:
            yield moment
        finally:
            self._clock.pinned = saved

    # --- the functions' configuration ------------------------------------------------------
    def environ(self, policy: Policy | None = None) -> dict[str, str]:
        """The environment a deployed function has (the stack sets the same variables)."""
        return {
            c.ENV_TABLE_NAME: self.table,
            c.ENV_TOPIC_ARN: self.topic_arn,
            c.ENV_ALERT_FUNCTION_ARN: ALERT_FUNCTION_ARN,
            c.ENV_POLICY: json.dumps((policy or Policy()).to_dict(), sort_keys=True),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def deps(self, policy: Policy | None = None, **overrides: Any) -> Dependencies:
        """The runtime's dependencies, as ``aws_dependencies`` builds them from
        :meth:`environ`, on the harness's clock; ``overrides`` replace what they name (e.g. a
        fake adapter for a fault test)."""
        deps = aws_dependencies(self.environ(policy))
        return dataclasses.replace(deps, **{"clock": self.now, **overrides})

    # --- SageMaker -------------------------------------------------------------------------
    def create_job(
        self,
        name: str,
        tags: Mapping[str, str],
        status: str = "InProgress",
        instance_type: str = "ml.g5.2xlarge",
        count: int = 1,
        *,
        max_runtime_s: int = 86400,
        hyperparameters: Mapping[str, str] | None = None,
        start: float | None = None,
        instance_groups: Sequence[tuple[str, str, int]] = (),
        checkpoint: str | None = None,
    ) -> str:
        """``CreateTrainingJob`` (the shim makes it ``InProgress``), then ``status``; its ARN.
        ``start``: when it was created and started (epoch s; default now), which its events
        then carry as CreationTime (a run is its name and its CreationTime).
        ``instance_groups``: a heterogeneous cluster's ``(name, type, count)`` groups
        (``ResourceConfig.InstanceGroups``; ``instance_type`` and ``count`` are then unused);
        ``checkpoint``: its ``CheckpointConfig.S3Uri`` (a resumable job)."""
        if start is not None:
            with self.at(start):
                return self.create_job(
                    name,
                    tags,
                    status,
                    instance_type,
                    count,
                    max_runtime_s=max_runtime_s,
                    hyperparameters=hyperparameters,
                    instance_groups=instance_groups,
                    checkpoint=checkpoint,
                )
        response = self.sagemaker.create_training_job(
            TrainingJobName=name,
            HyperParameters=dict(hyperparameters or {}),
            AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
            RoleArn=ROLE_ARN,
            OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
            # any instance type string: moto does not check, and tests use unknown ones
            ResourceConfig=cast(
                "ResourceConfigTypeDef",
                {
                    "InstanceGroups": [
                        {"InstanceGroupName": n, "InstanceType": t, "InstanceCount": k}
                        for n, t, k in instance_groups
                    ],
                    "VolumeSizeInGB": 10,
                }
                if instance_groups
                else {"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 10},
            ),
            StoppingCondition={"MaxRuntimeInSeconds": max_runtime_s},
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            **({"CheckpointConfig": {"S3Uri": checkpoint}} if checkpoint else {}),  # type: ignore[arg-type]
        )
        self.set_status(name, status)
        return response["TrainingJobArn"]

    def set_status(self, name: str, status: str, secondary: str | None = None) -> None:
        """Put a job in ``status`` (and its event in the shim's queue), whatever it was."""
        if self.shim.status(name)[0] != status:
            self.shim.force_status(name, status, secondary)

    def stopped(self) -> list[str]:
        """Every job a ``StopTrainingJob`` named, in order (refused requests too)."""
        return list(self.shim.stop_requests)

    # --- CloudWatch ------------------------------------------------------------------------
    def alarm_payload(
        self, name: str, state: str, *, previous: str = "OK", at: float | None = None
    ) -> dict[str, Any]:
        """The payload CloudWatch gives the alarm's Lambda action for a change to ``state``,
        with the alarm's configuration as moto holds it (the alert function checks it)."""
        from .alarms import AlarmSpec

        (alarm,) = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        spec = AlarmSpec.from_api(alarm)
        moment = self.now() if at is None else at
        return {
            "source": "aws.cloudwatch",
            "alarmArn": alarm.get("AlarmArn", ""),
            "accountId": ACCOUNT_ID,
            "time": iso_z(datetime.fromtimestamp(moment, UTC)),
            "region": self.region,
            "alarmData": {
                "alarmName": name,
                "state": {"value": state, "reason": "Threshold Crossed"},
                "previousState": {"value": previous},
                "configuration": spec.configuration(),
            },
        }

    def put_datapoints(self, data: Sequence[MetricDatumTypeDef]) -> None:
        """``PutMetricData`` into the training namespace, in calls of at most 1,000."""
        for i in range(0, len(data), PUT_METRIC_DATA_LIMIT):
            self.cloudwatch.put_metric_data(
                Namespace=c.TRAINING_NAMESPACE, MetricData=list(data[i : i + PUT_METRIC_DATA_LIMIT])
            )

    def put_curve(self, job: str, metric: str, start: float, values: Sequence[float]) -> None:
        """One datapoint per minute: value i at minute i+1 after the start's minute (+5 s)."""
        self.put_datapoints(curve_datapoints(job, metric, start, values))

    def put_host_metric(
        self, host: str, metric: str, timestamps: Sequence[float], values: Sequence[float]
    ) -> None:
        """A per-host metric (dimension ``Host``, e.g. ``job/algo-1``)."""
        self.put_datapoints(
            [
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": host}],
                    "Timestamp": datetime.fromtimestamp(ts, UTC),
                    "Value": v,
                }
                for ts, v in zip(timestamps, values, strict=True)
            ]
        )

    # --- what the functions left -----------------------------------------------------------
    def emails(self) -> list[Email]:
        """Every email published to the topic since the previous call."""
        return self.mailbox.new_emails()

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (raw DynamoDB JSON), every page."""
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.table)
        return [dict(item) for page in pages for item in page.get("Items", [])]


def curve_datapoints(
    job: str, metric: str, start: float, values: Sequence[float]
) -> list[MetricDatumTypeDef]:
    """A job's objective datapoints: value i at minute i+1 after the start's minute (+5 s)."""
    base = start - start % 60
    return [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "TrainingJobName", "Value": job}],
            "Timestamp": datetime.fromtimestamp(base + (i + 1) * 60 + 5, UTC),
            "Value": v,
        }
        for i, v in enumerate(values)
    ]


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
    event_time: float | None = None,
) -> dict[str, Any]:
    """A "SageMaker Training Job State Change" event as EventBridge delivers it.

    Timestamps are epoch milliseconds, as strings (``ms_as="str"``, the documented sample) or
    numbers. ``tags=None`` leaves ``Tags`` out of the detail; ``event_time`` is the event's
    top-level ``time`` (default :data:`DEFAULT_EVENT_TIME`), which the lifecycle takes as its
    "now"."""

    def ms(t: float | None) -> Any:
        if t is None:
            return None
        return str(int(t * 1000)) if ms_as == "str" else float(int(t * 1000))

    detail: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn or f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{name}",
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
        "detail-type": c.TRAINING_STATE_CHANGE,
        "source": "aws.sagemaker",
        "account": ACCOUNT_ID,
        "time": DEFAULT_EVENT_TIME
        if event_time is None
        else iso_z(datetime.fromtimestamp(event_time, UTC)),
        "region": REGION,
        "resources": [detail["TrainingJobArn"]],
        "detail": detail,
    }


def scheduled_event(now: float, *, rule: str = c.TICK_RULE_NAME) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" of the tick rule at ``now`` (the evaluator's "now")."""
    return {
        "version": "0",
        "id": f"tick-{int(now)}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": iso_z(datetime.fromtimestamp(now, UTC)),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }
