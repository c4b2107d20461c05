"""``trainguard replay --from-cloudwatch --group NAME --since DAYS``: past jobs of a real account.

Reads, with the caller's credentials:
  * ``ListTrainingJobs`` (``CreationTimeAfter``; every page: the API filters after paging, so a
    page can be empty and still carry a ``NextToken``);
  * ``ListTags`` per job, keeping the jobs whose ``trainguard:group`` is NAME (the opt-in);
  * ``DescribeTrainingJob`` for status, start/end, instance type and count, hyperparameters;
  * ``GetMetricData`` for every kept job's objective (its ``trainguard:objective`` tag) in the
    namespace ``/aws/sagemaker/TrainingJobs`` with the dimension ``TrainingJobName``, Period
    60, batched <= 500 queries per call and followed through ``NextToken``.

Each job becomes a :class:`JobRecord` with the live-data step unit the Lambdas use: steps are
whole minutes since the start's minute (``round((t - floor_minute(start)) / 60)``, as
``trainguard.logic.series.minute_curve`` computes them), ``minutes_per_step`` = 1, and the
job's ``TrainingEndTime`` as ``end_minute``. Minutes are counted from the earliest job's start.
Jobs still running are skipped (they are not past jobs); a job without an objective tag is
reported and skipped. 1-minute CloudWatch data is kept for 15 days, so ``--since`` beyond
that finds jobs without curves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from trainguard.constants import (
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_OBJECTIVE,
    TAG_PREFIX,
    TRAINING_NAMESPACE,
)
from trainguard.core.curves import DIRECTIONS, Direction, Point
from trainguard.policy import normalize_tags

from .curvefile import STATUSES, JobRecord

MAX_QUERIES_PER_CALL = 500  # GetMetricData limit
PERIOD_S = 60


def floor_minute(ts: float) -> float:
    return math.floor(ts / 60.0) * 60.0


def minute_curve(points: Sequence[tuple[float, float]], start_time: float) -> list[Point]:
    """``[(minutes since the start's minute, value)]``, steps strictly increasing."""
    base = floor_minute(start_time)
    out: list[Point] = []
    for ts, value in sorted(points):
        if ts < base:
            continue
        step = float(round((ts - base) / 60.0))
        if out and step <= out[-1][0]:
            continue
        out.append((step, value))
    return out


def list_training_jobs(sagemaker: Any, since: datetime, page_size: int = 100) -> Iterator[Any]:
    """Every job summary created after ``since``, all pages."""
    kwargs: dict[str, Any] = {"CreationTimeAfter": since, "MaxResults": page_size}
    while True:
        page = sagemaker.list_training_jobs(**kwargs)
        yield from page.get("TrainingJobSummaries", [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def list_tags(sagemaker: Any, arn: str) -> dict[str, str]:
    tags: list[Any] = []
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = sagemaker.list_tags(**kwargs)
        tags += page.get("Tags", [])
        token = page.get("NextToken")
        if not token:
            return normalize_tags(tags)
        kwargs["NextToken"] = token


def get_objective_series(
    cloudwatch: Any,
    jobs: Sequence[tuple[str, str]],
    start: datetime,
    end: datetime,
    max_queries: int = MAX_QUERIES_PER_CALL,
) -> dict[str, list[tuple[float, float]]]:
    """``{job: [(epoch seconds, value), ...]}`` for ``(job, objective metric)`` pairs."""
    out: dict[str, list[tuple[float, float]]] = {job: [] for job, _ in jobs}
    for first in range(0, len(jobs), max_queries):
        chunk = jobs[first : first + max_queries]
        ids = {f"m{first + i}": job for i, (job, _) in enumerate(chunk)}
        queries = [
            {
                "Id": qid,
                "MetricStat": {
                    "Metric": {
                        "Namespace": TRAINING_NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "TrainingJobName", "Value": job}],
                    },
                    "Period": PERIOD_S,
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
            for qid, (job, metric) in zip(ids, chunk, strict=True)
        ]
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = cloudwatch.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                job = ids.get(result["Id"])
                if job is None:
                    continue
                points = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                for ts, value in points:
                    out[job].append((ts.timestamp(), float(value)))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return out


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def read_cloudwatch_records(
    group: str,
    *,
    since_days: float,
    region: str | None = None,
    sagemaker: Any = None,
    cloudwatch: Any = None,
    now: datetime | None = None,
    page_size: int = 100,
    max_queries: int = MAX_QUERIES_PER_CALL,
) -> tuple[list[JobRecord], list[str]]:
    """The group's past jobs as records, and notes on the jobs that were skipped."""
    if sagemaker is None or cloudwatch is None:
        import boto3

        sagemaker = sagemaker or boto3.client("sagemaker", region_name=region)
        cloudwatch = cloudwatch or boto3.client("cloudwatch", region_name=region)
    now = now or datetime.now(UTC)
    since = now - timedelta(days=since_days)
    notes: list[str] = []
    kept: list[tuple[Mapping[str, Any], dict[str, str], float, float]] = []
    for summary in list_training_jobs(sagemaker, since, page_size):
        name = summary["TrainingJobName"]
        tags = list_tags(sagemaker, summary["TrainingJobArn"])
        if tags.get(TAG_GROUP, "").strip() != group:
            continue
        desc = sagemaker.describe_training_job(TrainingJobName=name)
        status = desc.get("TrainingJobStatus")
        if status not in STATUSES:
            notes.append(f"{name}: skipped, status {status} (not a past job)")
            continue
        if not tags.get(TAG_OBJECTIVE, "").strip():
            notes.append(f"{name}: skipped, no {TAG_OBJECTIVE} tag")
            continue
        if tags.get(TAG_DIRECTION, "minimize").strip().lower() not in DIRECTIONS:
            notes.append(f"{name}: skipped, {TAG_DIRECTION} is {tags[TAG_DIRECTION]!r}")
            continue
        start = _epoch(desc.get("TrainingStartTime"))
        end = _epoch(desc.get("TrainingEndTime")) or _epoch(desc.get("LastModifiedTime"))
        if start is None or end is None:
            notes.append(f"{name}: skipped, no TrainingStartTime/TrainingEndTime")
            continue
        kept.append((desc, tags, start, max(end, start)))
    if not kept:
        return [], notes

    origin = floor_minute(min(start for _, _, start, _ in kept))
    series = get_objective_series(
        cloudwatch,
        [(d["TrainingJobName"], t[TAG_OBJECTIVE].strip()) for d, t, _, _ in kept],
        datetime.fromtimestamp(origin, UTC),
        datetime.fromtimestamp(floor_minute(max(end for *_, end in kept)) + PERIOD_S, UTC),
        max_queries,
    )
    records = []
    for desc, tags, start, end in sorted(kept, key=lambda k: (k[2], k[0]["TrainingJobName"])):
        name = desc["TrainingJobName"]
        curve = minute_curve(series[name], start)
        if not curve:
            notes.append(f"{name}: no datapoints of {tags[TAG_OBJECTIVE]} (counted, never decided)")
        resources = desc.get("ResourceConfig", {})
        records.append(
            JobRecord(
                job=name,
                group=group,
                status=desc["TrainingJobStatus"],
                objective=tags[TAG_OBJECTIVE].strip(),
                direction=cast(Direction, tags.get(TAG_DIRECTION, "minimize").strip().lower()),
                start_minute=(floor_minute(start) - origin) / 60.0,
                minutes_per_step=1.0,
                instance_type=str(resources.get("InstanceType", "unknown")),
                instance_count=int(resources.get("InstanceCount", 1)),
                curve=tuple(curve),
                hyperparameters=dict(desc.get("HyperParameters", {})),
                end_minute=(end - origin) / 60.0,
                tags={k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)},
                extras={"start_time": datetime.fromtimestamp(start, UTC).isoformat()},
            )
        )
    return records, notes
