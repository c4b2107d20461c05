"""``trainguard replay --from-cloudwatch`` against moto in-process.

moto creates training jobs already ``Completed`` with start = end = creation time and ignores
MetricDefinitions, so the test sets each job's status and times on moto's backend object and
writes the objective's history itself with ``PutMetricData`` (recent timestamps: CloudWatch
takes data up to two weeks old). moto's GetMetricData does not filter by namespace when
dimensions are given, so no decoy series with the same name and dimensions is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from trainguard.constants import TRAINING_NAMESPACE
from trainguard_tools.cli import main
from trainguard_tools.replay_cloudwatch import read_cloudwatch_records

pytestmark = pytest.mark.integration

REGION = "us-east-1"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=3)


def create_job(sm: Any, name: str, tags: dict[str, str], itype: str = "ml.g5.xlarge") -> None:
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/training",
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": itype, "InstanceCount": 2, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"lr": "0.1"},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def set_times(name: str, start_min: int, end_min: int, status: str = "Completed") -> None:
    job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].training_jobs[name]
    naive = (T0 + timedelta(minutes=start_min)).replace(tzinfo=None)  # moto stores naive UTC
    job.training_start_time = naive
    job.training_end_time = (T0 + timedelta(minutes=end_min)).replace(tzinfo=None)
    job.training_job_status = status


def put_curve(cw: Any, name: str, metric: str, start_min: int, values: list[float]) -> None:
    cw.put_metric_data(
        Namespace=TRAINING_NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "TrainingJobName", "Value": name}],
                "Timestamp": T0 + timedelta(minutes=start_min + i + 1),
                "Value": v,
            }
            for i, v in enumerate(values)
        ],
    )


@pytest.fixture
def account() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        cw = boto3.client("cloudwatch", region_name=REGION)
        opted = {"trainguard:group": "g", "trainguard:objective": "validation:loss"}
        # a: minutes 1..5 at 1.0, ends at 5; b: minutes 1..10 at 2.0, ends at 10
        create_job(sm, "job-a", opted)
        create_job(sm, "job-b", opted)
        # c failed after two minutes, started at minute 2
        create_job(sm, "job-c", opted)
        create_job(sm, "job-other-group", {**opted, "trainguard:group": "h"})
        create_job(sm, "job-untagged", {})
        create_job(sm, "job-no-objective", {"trainguard:group": "g"})
        set_times("job-a", 0, 5)
        set_times("job-b", 0, 10)
        set_times("job-c", 2, 4, "Failed")
        set_times("job-other-group", 0, 3)
        put_curve(cw, "job-a", "validation:loss", 0, [1.0] * 5)
        put_curve(cw, "job-b", "validation:loss", 0, [2.0] * 10)
        put_curve(cw, "job-c", "validation:loss", 2, [1.5, 1.4])
        put_curve(cw, "job-other-group", "validation:loss", 0, [0.1] * 3)
        yield sm, cw


def test_reads_the_groups_jobs_as_minute_curves(account: tuple[Any, Any]) -> None:
    sm, cw = account
    calls: list[int] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: calls.append(len(params["MetricDataQueries"])),
    )
    records, notes = read_cloudwatch_records(
        "g", since_days=1, sagemaker=sm, cloudwatch=cw, page_size=2, max_queries=2
    )
    by_name = {r.job: r for r in records}
    assert set(by_name) == {"job-a", "job-b", "job-c"}  # paged through all six jobs
    assert calls == [2, 1]  # three queries, at most two per call
    assert any("job-no-objective" in n and "objective" in n for n in notes)
    a = by_name["job-a"]
    assert a.curve == tuple((float(m), 1.0) for m in range(1, 6))
    assert (a.start_minute, a.minutes_per_step, a.end_minute, a.end) == (0.0, 1.0, 5.0, 5.0)
    assert (a.instance_type, a.instance_count, a.status) == ("ml.g5.xlarge", 2, "Completed")
    assert a.hyperparameters == {"lr": "0.1"} and a.tags["trainguard:group"] == "g"
    c = by_name["job-c"]
    assert (c.status, c.start_minute, c.curve) == ("Failed", 2.0, ((1.0, 1.5), (2.0, 1.4)))


def test_since_excludes_older_jobs(account: tuple[Any, Any]) -> None:
    sm, cw = account
    later = datetime.now(UTC) + timedelta(days=2)  # "since" = tomorrow: after every creation
    records, notes = read_cloudwatch_records(
        "g", since_days=1, sagemaker=sm, cloudwatch=cw, now=later
    )
    assert records == [] and notes == []


def test_cli_replays_the_account(account: tuple[Any, Any], tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"median": {"min_completed": 1}}))
    out = tmp_path / "out.json"
    argv = ["--from-cloudwatch", "--group", "g", "--since", "1", "--policy", str(policy)]
    code = main(["replay", *argv, "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    g = report["groups"]["g"]
    # a completes at minute 5; b has reported minutes 1..5 by then: 2.0 > M(5) = 1.0
    (event,) = [e for e in g["stop_events"] if e["job"] == "job-b"]
    assert (event["rule"], event["minute"], event["step"], event["threshold"]) == (
        "median",
        5.0,
        5,
        1.0,
    )
    # b ran 10 minutes on 2 x 1 GPU; stopped at 5: 10 GPU-minutes saved of 10 + 20 + 4
    assert g["gpu_hours_saved"] == pytest.approx(10 / 60, abs=1e-6)
    assert g["gpu_hours_without"] == pytest.approx(34 / 60, abs=1e-6)
    assert report["source"].startswith("CloudWatch group g")
