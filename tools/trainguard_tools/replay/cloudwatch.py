"""``trainguard replay --from-cloudwatch --group NAME --since 7d``: past jobs of a real account.

Reads, with the caller's credentials:
  * ``ListTrainingJobs`` (``CreationTimeAfter``; every page: the API filters after paging, so a
    page can be empty and still carry a ``NextToken``);
  * ``ListTags`` per job, keeping the jobs whose ``trainguard:group`` is NAME (the opt-in);
  * ``DescribeTrainingJob`` for status, start/end, instance type and count, hyperparameters;
  * ``GetMetricData`` for every kept job's objective (its ``trainguard:objective`` tag) in the
    namespace ``/aws/sagemaker/TrainingJobs`` with the dimension ``TrainingJobName``, Period
    60, batched <= 500 queries per call and followed through ``NextToken``.

Each job becomes a :class:`CurveRecord` with the live-data step unit the Lambdas use: steps are
whole minutes since the start's minute (``round((t - floor_minute(start)) / 60)``, as
``trainguard.core.series.minute_curve`` computes them), ``minutes_per_step`` = 1, and the
job's ``TrainingEndTime`` as ``end_minute``. Minutes are counted from the earliest job's start.
Jobs still running are skipped (they are not past jobs); a job without an objective tag is
reported and skipped. 1-minute CloudWatch data is kept for 15 days, so ``--since`` beyond
that finds jobs without curves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3

from trainguard.adapters.cloudwatch import MAX_QUERIES_PER_CALL, CloudWatchMetrics
from trainguard.adapters.sagemaker import SageMakerAdapter
from trainguard.constants import TAG_DIRECTION, TAG_GROUP, TAG_OBJECTIVE, TAG_PREFIX
from trainguard.core.curves import DIRECTIONS, Direction
from trainguard.core.series import floor_minute, minute_curve
from trainguard.models import MetricQuery

from ..curvefile import STATUSES, CurveRecord

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sagemaker import SageMakerClient

PERIOD_S = 60


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def read_cloudwatch_records(
    group: str,
    *,
    since_days: float,
    region: str | None = None,
    sagemaker: SageMakerClient | None = None,
    cloudwatch: CloudWatchClient | None = None,
    now: datetime | None = None,
    page_size: int = 100,
    max_queries: int = MAX_QUERIES_PER_CALL,
) -> tuple[list[CurveRecord], list[str]]:
    """The group's past jobs as records, and notes on the jobs that were skipped."""
    if sagemaker is None:
        sagemaker = boto3.client("sagemaker", region_name=region)
    if cloudwatch is None:
        cloudwatch = boto3.client("cloudwatch", region_name=region)
    now = now or datetime.now(UTC)
    since = now - timedelta(days=since_days)
    notes: list[str] = []
    kept: list[tuple[Mapping[str, Any], dict[str, str], float, float]] = []
    jobs = SageMakerAdapter(sagemaker)
    for summary in jobs.list_jobs(created_after=since, page_size=page_size):
        name = summary.name
        tags = jobs.tags(summary.arn)
        if tags.get(TAG_GROUP, "").strip() != group:
            continue
        desc = jobs.describe(name)
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
    queries = [
        MetricQuery(f"m{i}", t[TAG_OBJECTIVE].strip(), (("TrainingJobName", d["TrainingJobName"]),))
        for i, (d, t, _, _) in enumerate(kept)
    ]
    by_id = CloudWatchMetrics(cloudwatch, batch_size=max_queries).get_series(
        queries,
        origin,
        floor_minute(max(end for *_, end in kept)) + PERIOD_S,
    )
    series = {d["TrainingJobName"]: by_id[q.id] for q, (d, *_) in zip(queries, kept, strict=True)}
    records = []
    for described, tags, start, end in sorted(kept, key=lambda k: (k[2], k[0]["TrainingJobName"])):
        name = described["TrainingJobName"]
        curve = minute_curve(series[name], start)
        if not curve:
            notes.append(f"{name}: no datapoints of {tags[TAG_OBJECTIVE]} (counted, never decided)")
        resources = described.get("ResourceConfig", {})
        records.append(
            CurveRecord(
                job=name,
                group=group,
                status=described["TrainingJobStatus"],
                objective=tags[TAG_OBJECTIVE].strip(),
                direction=cast(Direction, tags.get(TAG_DIRECTION, "minimize").strip().lower()),
                start_minute=(floor_minute(start) - origin) / 60.0,
                minutes_per_step=1.0,
                instance_type=str(resources.get("InstanceType", "unknown")),
                instance_count=int(resources.get("InstanceCount", 1)),
                curve=tuple(curve),
                hyperparameters=dict(described.get("HyperParameters", {})),
                end_minute=(end - origin) / 60.0,
                tags={k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)},
                extras={"start_time": datetime.fromtimestamp(start, UTC).isoformat()},
            )
        )
    return records, notes
