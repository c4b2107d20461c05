"""The evaluator keeps each job's CurveSummary on its item and reads only the recent window.

A job running for hours costs a steady tick a few datapoints, not its whole history; the
decisions are the ones a reading of the whole curve gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from runtime_support import Aws, LambdaContext, state_change

from trainguard.adapters import Store
from trainguard.core import CurveSummary
from trainguard.handlers import evaluator, lifecycle
from trainguard.logic.evaluator import WINDOW_MIN
from trainguard.policy import Policy

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
    arn = aws.create_job("long", TAGS)
    values = [1.0 / (1 + 0.01 * m) for m in range(180)]  # minutes 1..180, improving
    aws.put_curve("long", "val_loss", start, values)
    lifecycle.handler(
        state_change("long", "InProgress", arn=arn, start=start, tags=TAGS), CTX, deps=deps
    )
    asked = windows(aws)

    evaluator.handler(scheduled(start + 180 * 60 + 30), CTX, deps=deps)
    assert max(asked) > 180  # first read: the whole history
    job = Store(aws.dynamodb, "trainguard-test").get_job("long")
    assert job is not None and job.progress is not None
    assert CurveSummary.from_dict(job.progress["summary"]).count == 180

    asked.clear()
    aws.put_curve("long", "val_loss", start, [*values, 0.4, 0.45, 0.5])  # minutes 181..183
    evaluator.handler(scheduled(start + 183 * 60 + 30), CTX, deps=deps)
    assert asked == [WINDOW_MIN]  # one call, the recent window only
    job = Store(aws.dynamodb, "trainguard-test").get_job("long")
    assert job is not None and job.progress is not None
    summary = CurveSummary.from_dict(job.progress["summary"])
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
    arn = aws.create_job("gap", TAGS)
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
    job = Store(aws.dynamodb, "trainguard-test").get_job("gap")
    assert job is not None and job.progress is not None
    assert CurveSummary.from_dict(job.progress["summary"]).count == 120
