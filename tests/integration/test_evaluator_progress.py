"""The evaluator keeps each job's CurveSummary on its item and reads only the recent window.

A job running for hours costs a steady tick a few datapoints, not its whole history; the
decisions are the ones a reading of the whole curve gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from runtime_support import Aws, LambdaContext, state_change

from trainguard.adapters import table_ports
from trainguard.config import Policy
from trainguard.core.summary import CurveSummary
from trainguard.handlers import evaluator, lifecycle
from trainguard.logic.observe import WINDOW_MIN

pytestmark = pytest.mark.integration

CTX = LambdaContext()
TAGS = {"trainguard:group": "g", "trainguard:objective": "val_loss"}


def scheduled(ts: float) -> dict[str, Any]:
    return {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {},
    }


def windows(aws: Aws) -> list[float]:
    """Minutes of every GetMetricData window the cloudwatch client is asked for from now on."""
    seen: list[float] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append((params["EndTime"] - params["StartTime"]).total_seconds() / 60.0)

    aws.cloudwatch.meta.events.register("provide-client-params.cloudwatch.GetMetricData", record)
    return seen


def test_a_long_job_is_read_from_its_start_once_then_only_in_the_recent_window(aws: Aws) -> None:
    deps = aws.deps(Policy.from_mapping({"patience": {"enabled": True, "patience": 50}}))
    start = aws.now() - 4 * 3600
    start -= start % 60
    arn = aws.create_job("long", TAGS, start=start)
    values = [1.0 / (1 + 0.01 * m) for m in range(180)]  # minutes 1..180, improving
    aws.put_curve("long", "val_loss", start, values)
    lifecycle.handler(
        state_change("long", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    asked = windows(aws)

    evaluator.handler(scheduled(start + 180 * 60 + 30), CTX, deps=deps)
    assert max(asked) > 180  # first read: the whole history
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("long")
    assert job is not None and job.progress is not None
    assert job.progress.summary.count == 180

    asked.clear()
    aws.put_curve("long", "val_loss", start, [*values, 0.4, 0.45, 0.5])  # minutes 181..183
    evaluator.handler(scheduled(start + 183 * 60 + 30), CTX, deps=deps)
    assert asked == [WINDOW_MIN]  # one call, the recent window only
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("long")
    assert job is not None and job.progress is not None
    summary = job.progress.summary
    # the same summary a reading of the whole curve gives (min_delta of the patience rule)
    whole = CurveSummary.of(
        [(float(m), v) for m, v in enumerate([*values, 0.4, 0.45, 0.5], start=1)],
        "minimize",
        summary.min_delta,
    )
    assert summary == whole and summary.waited == 3 and summary.best == values[-1]


def test_progress_older_than_the_window_is_rebuilt_from_the_start(aws: Aws) -> None:
    deps = aws.deps()
    start = aws.now() - 3 * 3600
    start -= start % 60
    arn = aws.create_job("gap", TAGS, start=start)
    aws.put_curve("gap", "val_loss", start, [1.0] * 60)
    lifecycle.handler(
        state_change("gap", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    evaluator.handler(scheduled(start + 60 * 60 + 30), CTX, deps=deps)
    asked = windows(aws)
    # the evaluator was down for an hour: the window no longer covers what it missed
    aws.put_curve("gap", "val_loss", start, [1.0] * 120)
    evaluator.handler(scheduled(start + 120 * 60 + 30), CTX, deps=deps)
    assert max(asked) > 120
    job = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("gap")
    assert job is not None and job.progress is not None
    assert job.progress.summary.count == 120


def test_report_step_unit_counts_reports_not_minutes(aws: Aws) -> None:
    """``step_unit: report``: the n-th value a job reported is step n (its epoch), for the
    running job's summary and for the group's references alike."""
    from trainguard.logic.lifecycle import update_stats
    from trainguard.models import ReferenceSet

    deps = aws.deps(
        Policy.from_mapping(
            {
                "step_unit": "report",
                "median": {"enabled": True, "min_completed": 1},
                "catchup": {"enabled": False},
            }
        )
    )
    state = table_ports(aws.dynamodb, "trainguard-test")
    # a completed reference that reported at minutes 10, 20, 30 (one epoch every 10 minutes)
    refs = ReferenceSet("g", TAGS["trainguard:objective"], "minimize")
    state.references.put_curve(refs, "ref@1", [(10.0, 0.5), (20.0, 0.4), (30.0, 0.3)], 30.0)
    update_stats(refs, deps, add=[("ref@1", 30.0)])
    stats = state.references.get_stats(refs)
    assert stats is not None and stats.table("all").breakpoints == (1.0, 2.0, 3.0)  # type: ignore[union-attr]

    start = aws.now() - 3600
    start -= start % 60
    arn = aws.create_job("epochs", TAGS, start=start)
    # one value every 3 minutes: minutes 3 and 6 since the start
    aws.cloudwatch.put_metric_data(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricData=[
            {
                "MetricName": "val_loss",
                "Dimensions": [{"Name": "TrainingJobName", "Value": "epochs"}],
                "Timestamp": datetime.fromtimestamp(start + minute * 60 + 5, UTC),
                "Value": value,
            }
            for minute, value in ((3, 0.9), (6, 0.8))
        ],
    )
    lifecycle.handler(
        state_change("epochs", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    tick = evaluator.handler(scheduled(start + 6 * 60 + 30), CTX, deps=deps)
    job = state.jobs.latest_run("epochs")
    assert job is not None and job.progress is not None and job.progress.unit == "report"
    summary = job.progress.summary
    assert (summary.count, summary.last_step, summary.best) == (2, 2.0, 0.8)
    # at report 2 the reference's running average is (0.5 + 0.4) / 2 = 0.45: 0.8 is worse
    assert tick["would_stops"] == 1
