"""Faults: duplicates, reordering, lost events, throttling, malformed events, unknown
instance types, a thousand jobs in one tick, bad tags. moto in-process; botocore event hooks
and Stubber where moto cannot produce the failure."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from fakes import median_policy
from moto.core.botocore_stubber import MockRawResponse
from runtime_support import REGION, TABLE, Aws, LambdaContext, state_change

from trainguard import constants as c
from trainguard.adapters import (
    CloudWatchMetrics,
    SageMakerAdapter,
    TablePorts,
    boto_config,
    table_ports,
)
from trainguard.handlers import alert, evaluator, lifecycle
from trainguard.handlers.runtime import aws_dependencies
from trainguard.models import (
    EventError,
    JobListing,
    JobRecord,
    JobSummary,
    ReferenceSet,
    StopRefused,
)

pytestmark = pytest.mark.integration

CTX = LambdaContext()
TAGS = {"trainguard:group": "g", "trainguard:objective": "loss", "trainguard:mode": "enforce"}
AWS_SAMPLE = {  # reference/aws_facts.md 1.1, verbatim
    "version": "0",
    "id": "844e2571-85d4-695f-b930-0153b71dcb42",
    "detail-type": "SageMaker Training Job State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2018-10-06T12:26:13Z",
    "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1"],
    "detail": {
        "TrainingJobName": "89c96cc8-dded-4739-afcc-6f1dc936701d",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "HyperParameters": {"Hyper": "Parameters"},
        "AlgorithmSpecification": {
            "TrainingImage": "TrainingImage",
            "TrainingInputMode": "TrainingInputMode",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SMRole",
        "InputDataConfig": [
            {
                "ChannelName": "Train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3DataType",
                        "S3Uri": "S3Uri",
                        "S3DataDistributionType": "S3DataDistributionType",
                    }
                },
                "ContentType": "ContentType",
                "CompressionType": "CompressionType",
                "RecordWrapperType": "RecordWrapperType",
            }
        ],
        "OutputDataConfig": {"KmsKeyId": "KmsKeyId", "S3OutputPath": "S3OutputPath"},
        "ResourceConfig": {
            "InstanceType": "InstanceType",
            "InstanceCount": 3,
            "VolumeSizeInGB": 20,
            "VolumeKmsKeyId": "VolumeKmsKeyId",
        },
        "VpcConfig": {},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "CreationTime": "1583831889050",
        "TrainingStartTime": "1583831889050",
        "TrainingEndTime": "1583831889050",
        "LastModifiedTime": "1583831889050",
        "SecondaryStatusTransitions": [],
        "Tags": {},
    },
}


def throttle_once(service_error: str = "ThrottlingException") -> Any:
    """A before-send hook: the first call gets HTTP 400 ThrottlingException, later ones pass
    (to moto, or to ``then`` when moto lacks the operation)."""
    calls: list[int] = []

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(1)
        if len(calls) == 1:
            body = json.dumps({"__type": service_error, "message": "Rate exceeded"})
            return AWSResponse(request.url, 400, {}, MockRawResponse(body))
        return None

    hook.calls = calls  # type: ignore[attr-defined]
    return hook


def seed_references(aws: Aws, state: TablePorts, deps: Any) -> None:
    """Three completed jobs of group g (loss 1.0 -> 0.43 over 20 min) through the lifecycle."""
    now = aws.now()
    for k in range(3):
        name = f"ref-{k}"
        start = now - 3 * 3600 + k * 1800
        arn = aws.create_job(name, TAGS, status="Completed", start=start)
        aws.put_curve(name, "loss", start, [1.0 - 0.03 * i for i in range(20)])
        lifecycle.handler(
            state_change(name, "Completed", arn=arn, start=start, end=start + 1260), CTX, deps=deps
        )
    assert state.references.get_stats(ReferenceSet("g", "loss", "minimize")) is not None


def start_job(aws: Aws, deps: Any, name: str, values: list[float], tags: Any = None) -> None:
    start = aws.now() - (len(values) + 1) * 60
    arn = aws.create_job(name, TAGS if tags is None else tags, start=start)
    aws.put_curve(name, "loss", start, values)
    lifecycle.handler(state_change(name, "InProgress", arn=arn, start=start), CTX, deps=deps)


def test_aws_documentation_sample_event_is_handled(aws: Aws) -> None:
    # the sample's ARN names kmeans-1 (moto answers ListTags of an unknown ARN with a 500)
    aws.create_job("kmeans-1", {}, status="Completed")
    out = lifecycle.handler(AWS_SAMPLE, CTX, deps=aws.deps(median_policy()))
    # Tags {} -> ListTags (no tags): not opted in, finalized, nothing emailed
    assert out["job"] == "89c96cc8-dded-4739-afcc-6f1dc936701d"
    assert out["action"] == "finalized" and not out["opted_in"] and out["curve_points"] == 0
    job = table_ports(aws.dynamodb, TABLE).jobs.latest_run("89c96cc8-dded-4739-afcc-6f1dc936701d")
    assert job is not None and job.status == "Completed" and job.instance_count == 3
    assert job.start_time == pytest.approx(1583831889.050)
    assert aws.emails() == []
    # numbers instead of strings (the Endpoint sample's shape) parse the same
    numeric = json.loads(json.dumps(AWS_SAMPLE))
    numeric["detail"]["TrainingJobName"] = "numeric-times"
    numeric["detail"]["TrainingStartTime"] = 1592411992203.0
    lifecycle.handler(numeric, CTX, deps=aws.deps(median_policy()))
    job = table_ports(aws.dynamodb, TABLE).jobs.latest_run("numeric-times")
    assert job is not None and job.start_time == pytest.approx(1592411992.203)


def test_same_event_twice_registers_once_and_emails_once(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    arn = aws.create_job("dup", TAGS)
    event = state_change("dup", "InProgress", arn=arn, start=aws.now() - 60)
    assert lifecycle.handler(event, CTX, deps=deps)["action"] == "registered"
    assert lifecycle.handler(event, CTX, deps=deps)["action"] == "duplicate"
    failed = state_change(
        "dup",
        "Failed",
        arn=arn,
        start=aws.now() - 60,
        end=aws.now(),
        failure="ClientError: bad input",
    )
    lifecycle.handler(failed, CTX, deps=deps)
    assert lifecycle.handler(failed, CTX, deps=deps)["action"] == "duplicate"
    (mail,) = aws.emails()
    assert "ClientError: bad input" in mail["subject"]


def test_completed_before_in_progress(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    start = aws.now() - 3600
    arn = aws.create_job("early", TAGS, status="Completed", start=start)
    aws.put_curve("early", "loss", start, [1.0, 0.8, 0.7])
    done = lifecycle.handler(
        state_change("early", "Completed", arn=arn, start=start, end=start + 240, tags=TAGS),
        CTX,
        deps=deps,
    )
    assert done["curve_points"] == 3
    late = lifecycle.handler(
        state_change("early", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    assert late["action"] == "ignored: already ended"
    state = table_ports(aws.dynamodb, TABLE)
    job = state.jobs.latest_run("early")
    assert job is not None and job.status == "Completed" and not job.running
    assert state.running.running_jobs() == []
    assert aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"] == []
    stats = state.references.get_stats(ReferenceSet("g", "loss", "minimize"))
    assert stats is not None and stats.references == 1


def test_lost_in_progress_is_found_by_the_reconcile(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    aws.create_job("lost", TAGS, count=2)  # InProgress in SageMaker, no event ever arrived
    aws.create_job("other-team", {"team": "x"})  # not opted in: registered for alerts only
    tick = evaluator.handler({}, CTX, deps=deps)
    assert sorted(tick["registered"]) == ["lost", "other-team"]
    state = table_ports(aws.dynamodb, TABLE)
    job = state.jobs.latest_run("lost")
    assert job is not None and job.running and job.opted_in and job.group == "g"
    alarms = aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-gpu-idle-lost")
    assert len(alarms["MetricAlarms"]) == 2
    # the job ends while its events are lost too: the next tick finalizes it
    aws.set_status("lost", "Stopped")
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["finalized"] == ["lost"]
    assert not state.jobs.latest_run("lost").running  # type: ignore[union-attr]
    assert (
        aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-gpu-idle-lost")["MetricAlarms"]
        == []
    )


def test_orphaned_alarms_are_deleted(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    deps.alarms.put_gpu_idle_alarm("gone-job", 1, 1, 10.0, 15.0, None)
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["orphan_alarms_deleted"] == 1
    assert aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"] == []


def test_malformed_event_is_a_clear_error_and_writes_nothing(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    bad = state_change("broken", "InProgress", start=aws.now())
    bad["detail"]["ResourceConfig"]["InstanceCount"] = "three"
    with pytest.raises(EventError, match="InstanceCount must be an integer >= 1"):
        lifecycle.handler(bad, CTX, deps=deps)
    no_status = state_change("broken", "InProgress", start=aws.now())
    del no_status["detail"]["TrainingJobStatus"]
    with pytest.raises(EventError, match="TrainingJobStatus must be one of"):
        lifecycle.handler(no_status, CTX, deps=deps)
    bad_time = state_change("broken", "InProgress", start=aws.now())
    bad_time["detail"]["TrainingStartTime"] = "yesterday"
    with pytest.raises(EventError, match="TrainingStartTime must be a timestamp"):
        lifecycle.handler(bad_time, CTX, deps=deps)
    with pytest.raises(EventError, match="detail must be an object"):
        lifecycle.handler({"detail-type": "SageMaker Training Job State Change"}, CTX, deps=deps)
    assert aws.items() == []


def test_unknown_instance_type_registers_without_alarms(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    arn = aws.create_job("odd", TAGS)
    out = lifecycle.handler(
        state_change(
            "odd", "InProgress", arn=arn, start=aws.now(), instance_type="ml.zz9.huge", count=4
        ),
        CTX,
        deps=deps,
    )
    assert out["action"] == "registered" and out["alarms_created"] == 0
    assert "unknown instance type 'ml.zz9.huge'" in out["warnings"][0]
    assert aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"] == []
    job = table_ports(aws.dynamodb, TABLE).jobs.latest_run("odd")
    assert job is not None and job.running and job.instance_count == 4


def test_get_metric_data_throttled_once_is_retried(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    state = table_ports(aws.dynamodb, TABLE)
    seed_references(aws, state, deps)
    start_job(aws, deps, "slow", [1.5 - 0.01 * i for i in range(10)])
    hook = throttle_once()
    aws.cloudwatch.meta.events.register_first("before-send.cloudwatch.GetMetricData", hook)
    tick = evaluator.handler({}, CTX, deps=deps)
    assert len(hook.calls) >= 2  # the throttled call was sent again
    assert tick["stops"] == 1 and tick["errors"] == 0
    assert aws.stopped() == ["slow"]


class BrokenMetrics(CloudWatchMetrics):
    def get_series(self, *args: Any, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "GetMetricData",
        )


def test_get_metric_data_throttled_past_retries_the_rest_of_the_tick_goes_on(aws: Aws) -> None:
    deps = aws.deps(median_policy(mode="enforce"), metrics=BrokenMetrics(aws.cloudwatch))
    aws.create_job("fresh", TAGS)  # lost event: the reconcile still registers it
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["registered"] == ["fresh"] and tick["errors"] == 1
    assert tick["stops"] == 0
    # runtime guard still runs: MaxRuntimeInSeconds 1 day is fine, so nothing to say
    assert tick["evaluated"] == 1


def test_stop_training_job_throttled_once_is_retried() -> None:
    client = boto3.client("sagemaker", region_name=REGION, config=boto_config())
    calls: list[int] = []

    def sagemaker(request: Any, **_: Any) -> AWSResponse:
        # moto has no StopTrainingJob: answer like SageMaker, throttling the first attempt
        calls.append(1)
        if len(calls) == 1:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return AWSResponse(request.url, 400, {}, MockRawResponse(body))
        return AWSResponse(request.url, 200, {}, MockRawResponse(b"{}"))

    client.meta.events.register_first("before-send.sagemaker.StopTrainingJob", sagemaker)
    assert SageMakerAdapter(client).stop("any-job") == "stopped"
    assert len(calls) == 2  # retried by botocore (adaptive mode), not by our code


def test_stop_validation_exception_for_a_stopped_job_is_success() -> None:
    client = boto3.client("sagemaker", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error(
            "stop_training_job",
            "ValidationException",
            "The request was rejected because the training job is in status Stopped.",
        )
        stub.add_client_error("stop_training_job", "ValidationException", "Bad name")
        assert SageMakerAdapter(client).stop("done") == "already ending"
        with pytest.raises(StopRefused, match="ValidationException: Bad name"):
            SageMakerAdapter(client).stop("x")


class StubbedStops(SageMakerAdapter):
    """Real adapter over a moto client for everything but StopTrainingJob, which goes to a
    Stubber client first: throttled past the retries for one job, fine for the others (then
    moto's shim stops it)."""

    def __init__(self, moto_client: Any, stop_client: Any) -> None:
        super().__init__(moto_client)
        self._stop = SageMakerAdapter(stop_client)

    def stop(self, job: str) -> str:
        outcome = self._stop.stop(job)
        return super().stop(job) and outcome


def test_stop_throttled_past_retries_does_not_block_the_other_jobs(aws: Aws) -> None:
    stop_client = boto3.client("sagemaker", region_name=REGION)
    deps = aws.deps(median_policy(), training_jobs=StubbedStops(aws.sagemaker, stop_client))
    state = table_ports(aws.dynamodb, TABLE)
    seed_references(aws, state, deps)
    for name in ("a-throttled", "b-fine"):
        start_job(aws, deps, name, [1.5 - 0.01 * i for i in range(10)])
    with Stubber(stop_client) as stub:
        stub.add_client_error(
            "stop_training_job",
            "ThrottlingException",
            "Rate exceeded",
            expected_params={"TrainingJobName": "a-throttled"},
        )
        stub.add_response("stop_training_job", {}, {"TrainingJobName": "b-fine"})
        tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["errors"] == 1 and tick["stops"] == 1
    assert aws.stopped() == ["b-fine"]
    (mail,) = aws.emails()
    assert "STOPPED b-fine" in mail["subject"]
    # the failed stop released its marker: the next tick stops the job
    with Stubber(stop_client) as stub:
        stub.add_response("stop_training_job", {}, {"TrainingJobName": "a-throttled"})
        tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 1 and aws.stopped() == ["b-fine", "a-throttled"]


class ListingSageMaker(SageMakerAdapter):
    """A fake account where ``names`` are InProgress (moto would need 1,000 create calls)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(None)
        self.names = names

    def list_in_progress(self) -> list[JobSummary]:
        return [JobSummary(n, "", "InProgress") for n in self.names]

    def list_since(self, since: float, out_of_time: Any = None) -> JobListing:
        return JobListing(tuple(self.list_in_progress()))

    def stop(self, job: str) -> str:
        raise AssertionError("nothing should be stopped")


def test_a_thousand_running_jobs_take_ceil_queries_over_500_metric_calls(aws: Aws) -> None:
    names = [f"job-{i:04d}" for i in range(1000)]
    deps = aws.deps(training_jobs=ListingSageMaker(names))
    state = table_ports(aws.dynamodb, TABLE)
    start = aws.now() - 300
    for name in names:
        state.jobs.register_job(
            JobRecord(
                name=name,
                tags=dict(TAGS),
                opted_in=True,
                group="g",
                objective="loss",
                instance_type="ml.g5.xlarge",
                max_runtime_s=3600,
                start_time=start,
                start_exact=True,
            )
        )
    calls: list[int] = []
    sizes: list[int] = []
    events = aws.cloudwatch.meta.events
    events.register("before-call.cloudwatch.GetMetricData", lambda **_: calls.append(1))
    events.register(
        "before-parameter-build.cloudwatch.GetMetricData",
        lambda params, **_: sizes.append(len(params["MetricDataQueries"])),
    )
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["jobs"] == 1000 and tick["evaluated"] == 1000 and tick["errors"] == 0
    queries = 2 * 1000  # objective curve + instance liveness, per job
    assert len(calls) == math.ceil(queries / 500) == 4
    assert sizes == [500, 500, 500, 500]


def test_bad_tag_value_is_reported_once_and_the_tick_goes_on(aws: Aws) -> None:
    deps = aws.deps(median_policy())
    seed_references(aws, table_ports(aws.dynamodb, TABLE), deps)
    start_job(aws, deps, "typo", [1.0], tags={**TAGS, "trainguard:direction": "down"})
    start_job(aws, deps, "worse", [1.5 - 0.01 * i for i in range(10)])
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["stops"] == 1 and tick["alerts"] == 1
    subjects = sorted(m["subject"] for m in aws.emails())
    assert subjects[0].startswith("[trainguard] CONFIG typo: trainguard:direction must be")
    assert "STOPPED worse" in subjects[1]
    evaluator.handler({}, CTX, deps=deps)
    assert aws.emails() == []


@pytest.mark.parametrize("switch", ["1", "yes"])
def test_a_bad_kill_switch_fails_safe_in_all_three_functions(aws: Aws, switch: str) -> None:
    """``TRAINGUARD_STOPS_DISABLED=1``: no function fails; nothing is stopped; the lifecycle
    registers, the evaluator reports, the alert function alerts."""
    env = {**aws.environ(median_policy(mode="enforce")), c.ENV_STOPS_DISABLED: switch}
    deps = dataclasses.replace(aws_dependencies(env), clock=aws.now)
    assert deps.config_error is not None and deps.policy.stops_disabled
    seed_references(aws, table_ports(aws.dynamodb, TABLE), deps)
    aws.emails()
    start_job(aws, deps, "worse", [1.5 - 0.01 * i for i in range(10)])
    tick = evaluator.handler({}, CTX, deps=deps)
    assert (tick["stops"], tick["would_stops"], tick["errors"]) == (0, 1, 0)
    assert aws.stopped() == []
    (mail,) = aws.emails()
    assert mail["subject"].startswith("[trainguard] WOULD STOP (stops disabled) worse")
    payload = aws.alarm_payload("trainguard-gpu-idle-worse-algo-1", "ALARM")
    assert alert.handler(payload, CTX, deps=deps)["action"] == "opened"
