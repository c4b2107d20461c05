"""CloudWatch: batched metric reads (:class:`~trainguard.ports.MetricReader`) and the per-host
GPU-idle alarms (:class:`~trainguard.ports.Alarms`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..constants import GPU_METRIC, TRAINING_NAMESPACE
from ..models import MetricQuery, Series, gpu_idle_alarm_name

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

MAX_QUERIES_PER_CALL = 500  # GetMetricData hard limit
# MetricDataResult.StatusCode (API reference, MetricDataResult): Complete | PartialData (more
# with NextToken) | InternalError (retry with NextToken, if present) | Forbidden
COMPLETE = "Complete"


class MetricReadError(RuntimeError):
    """A query's data could not be read whole (its final StatusCode is not Complete): an
    error of the read, never "no new datapoints"."""


MAX_ALARMS_PER_DELETE = 100  # DeleteAlarms limit
PERIOD_S = 60


def query_to_api(query: MetricQuery, period: int) -> dict[str, Any]:
    return {
        "Id": query.id,
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in query.dimensions],
            },
            "Period": query.period or period,
            "Stat": query.stat,
        },
        "ReturnData": True,
    }


class CloudWatchMetrics:
    """GetMetricData in as few calls as the API allows."""

    def __init__(self, client: CloudWatchClient, batch_size: int = MAX_QUERIES_PER_CALL) -> None:
        self._client = client
        self._batch_size = batch_size

    def get_series(
        self, queries: Sequence[MetricQuery], start: float, end: float, period: int = PERIOD_S
    ) -> dict[str, Series]:
        """All ``queries`` over [start, end): ceil(len/500) calls, each followed through its
        pages (NextToken: the rest of a ``PartialData``, the retry of an ``InternalError``). Ids
        must be unique. A query whose last page's StatusCode is not ``Complete``
        (``InternalError`` or ``Forbidden``, or ``PartialData`` with no NextToken left) raises
        :class:`MetricReadError` naming it, so the tick counts an error and reads it again."""
        ids = [q.id for q in queries]
        if len(set(ids)) != len(ids):
            raise ValueError("metric query ids must be unique")
        out: dict[str, Series] = {q.id: [] for q in queries}
        paginator = self._client.get_paginator("get_metric_data")
        status: dict[str, str] = {}
        for i in range(0, len(queries), self._batch_size):
            chunk: list[Any] = [query_to_api(q, period) for q in queries[i : i + self._batch_size]]
            pages = paginator.paginate(
                MetricDataQueries=chunk,
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    status[result["Id"]] = result.get("StatusCode", COMPLETE)
                    points = out.setdefault(result["Id"], [])
                    points.extend(
                        (ts.timestamp(), float(value))
                        for ts, value in zip(
                            result.get("Timestamps", []), result.get("Values", []), strict=False
                        )
                    )
        failed = {k: v for k, v in status.items() if v != COMPLETE}
        if failed:
            named = ", ".join(f"{k}: {v}" for k, v in sorted(failed.items())[:10])
            raise MetricReadError(
                f"GetMetricData returned {len(failed)} queries incomplete ({named})"
            )
        for points in out.values():
            points.sort()
            # a period split across pages must not appear twice
            dedup: Series = []
            for ts, v in points:
                if dedup and dedup[-1][0] == ts:
                    dedup[-1] = (ts, v)
                else:
                    dedup.append((ts, v))
            points[:] = dedup
        return out

    def metric_names(self, dimensions: Sequence[tuple[str, str]]) -> list[str]:
        """ListMetrics of the training namespace with these dimensions, every page; only the
        metrics with exactly them (ListMetrics matches a metric that has more)."""
        wanted = sorted(dimensions)
        paginator = self._client.get_paginator("list_metrics")
        names: set[str] = set()
        pages = paginator.paginate(
            Namespace=TRAINING_NAMESPACE,
            Dimensions=[{"Name": n, "Value": v} for n, v in wanted],
        )
        for page in pages:
            for metric in page.get("Metrics", []):
                have = sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                if have == wanted and "MetricName" in metric:
                    names.add(metric["MetricName"])
        return sorted(names)


class CloudWatchAlarms:
    """The run-time GPU-idle alarms (named ``trainguard-gpu-idle-<job>-algo-<n>``)."""

    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def put_gpu_idle_alarm(
        self,
        job: str,
        host_index: int,
        gpus: int,
        threshold_pct: float,
        window_minutes: float,
        action_arn: str | None,
    ) -> str:
        """The alarm of one host: GPUUtilization / gpus < threshold for ``window`` minutes."""
        name = gpu_idle_alarm_name(job, host_index)
        host = f"{job}/algo-{host_index}"
        periods = max(1, round(window_minutes))
        actions = [action_arn] if action_arn else []
        self._client.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=(
                f"trainguard: GPU utilization per GPU of {host} below {threshold_pct:g}% "
                f"for {periods} min ({gpus} GPU(s) per host)"
            ),
            Metrics=[
                {
                    "Id": "m1",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": TRAINING_NAMESPACE,
                            "MetricName": GPU_METRIC,
                            "Dimensions": [{"Name": "Host", "Value": host}],
                        },
                        "Period": PERIOD_S,
                        "Stat": "Average",
                    },
                    "ReturnData": False,
                },
                {
                    "Id": "e1",
                    "Expression": f"m1 / {gpus}",
                    "Label": "GPU utilization per GPU (%)",
                    "ReturnData": True,
                },
            ],
            ComparisonOperator="LessThanThreshold",
            Threshold=float(threshold_pct),
            EvaluationPeriods=periods,
            DatapointsToAlarm=periods,
            TreatMissingData="missing",
            ActionsEnabled=True,
            AlarmActions=actions,
            OKActions=actions,
        )
        return name

    def delete_alarms(self, names: Iterable[str]) -> int:
        batch = list(dict.fromkeys(names))
        for i in range(0, len(batch), MAX_ALARMS_PER_DELETE):
            self._client.delete_alarms(AlarmNames=batch[i : i + MAX_ALARMS_PER_DELETE])
        return len(batch)

    def alarm_names(self, prefix: str) -> list[str]:
        """Metric alarms whose name starts with ``prefix``."""
        pages = self._client.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=prefix,
            AlarmTypes=["MetricAlarm"],
            PaginationConfig={"PageSize": 100},
        )
        return [a["AlarmName"] for page in pages for a in page.get("MetricAlarms", [])]
