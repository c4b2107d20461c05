"""``trainguard cleanup`` on the moto harness: it deletes the run-time alarms, nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trainguard.adapters.cloudwatch import CloudWatchAlarms
from trainguard_local.moto_harness import MotoHarness
from trainguard_tools.cleanup import cleanup_runtime_alarms
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration


def _alarm(cw: object, name: str) -> None:
    cw.put_metric_alarm(  # type: ignore[attr-defined]
        AlarmName=name,
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="GPUUtilization",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="LessThanThreshold",
    )


@pytest.fixture
def cloudwatch() -> Iterator[object]:
    with MotoHarness.running() as aws:
        cw = aws.cloudwatch  # also the client `trainguard cleanup` builds (make_client)
        # 120 run-time alarms (more than one DescribeAlarms page and one DeleteAlarms batch),
        # the stack's own health alarm, and someone else's alarm
        for i in range(120):
            _alarm(cw, f"trainguard-gpu-idle-job{i:03d}-algo-1")
        _alarm(cw, "trainguard-health-evaluator-heartbeat")
        _alarm(cw, "team-x-cpu-high")
        yield cw


def names(cw: object) -> set[str]:
    pages = cw.get_paginator("describe_alarms").paginate()  # type: ignore[attr-defined]
    return {a["AlarmName"] for page in pages for a in page["MetricAlarms"]}


def test_cleanup_deletes_only_run_time_alarms(cloudwatch: object) -> None:
    deleted = cleanup_runtime_alarms(CloudWatchAlarms(cloudwatch))
    assert len(deleted) == 120
    assert names(cloudwatch) == {"trainguard-health-evaluator-heartbeat", "team-x-cpu-high"}


def test_cleanup_dry_run_deletes_nothing(
    cloudwatch: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cleanup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 120 run-time alarm(s)" in out
    assert len(names(cloudwatch)) == 122
