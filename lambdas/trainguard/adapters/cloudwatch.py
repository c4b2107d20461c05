"""CloudWatch: batched metric reads, the per-host GPU-idle alarms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..constants import GPU_IDLE_ALARM_PREFIX, GPU_METRIC, TRAINING_NAMESPACE

MAX_QUERIES_PER_CALL = 500  # GetMetricData hard limit
MAX_ALARMS_PER_DELETE = 100  # DeleteAlarms limit
PERIOD_S = 60

Series = list[tuple[float, float]]  # (epoch seconds of the period's start, value), ascending


@dataclass(frozen=True)
class MetricQuery:
    """One plain MetricStat query (no metric math: moto cannot evaluate it; not needed)."""

    id: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str = "Average"
    namespace: str = TRAINING_NAMESPACE
    period: int | None = None  # this query's own period; None: the call's

    def to_api(self, period: int) -> dict[str, Any]:
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
                },
                "Period": self.period or period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def gpu_idle_alarm_name(job: str, host_index: int) -> str:
    return f"{GPU_IDLE_ALARM_PREFIX}{job}-algo-{host_index}"


def parse_gpu_idle_alarm_name(name: str) -> tuple[str, str] | None:
    """``trainguard-gpu-idle-<job>-algo-<n>`` -> (job, ``<job>/algo-<n>``), else None."""
    if not name.startswith(GPU_IDLE_ALARM_PREFIX):
        return None
    rest = name[len(GPU_IDLE_ALARM_PREFIX) :]
    job, sep, index = rest.rpartition("-algo-")
    if not sep or not job or not index.isdigit():
        return None
    return job, f"{job}/algo-{index}"


class CloudWatchAdapter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def get_series(
        self,
        queries: Sequence[MetricQuery],
        start: float,
        end: float,
        period: int = PERIOD_S,
        batch_size: int = MAX_QUERIES_PER_CALL,
    ) -> dict[str, Series]:
        """All ``queries`` over [start, end) in as few GetMetricData calls as the API allows:
        ceil(len/500) calls, each followed through NextToken. Ids must be unique."""
        ids = [q.id for q in queries]
        if len(set(ids)) != len(ids):
            raise ValueError("metric query ids must be unique")
        out: dict[str, Series] = {q.id: [] for q in queries}
        start_dt = datetime.fromtimestamp(start, UTC)
        end_dt = datetime.fromtimestamp(end, UTC)
        for i in range(0, len(queries), batch_size):
            chunk = [q.to_api(period) for q in queries[i : i + batch_size]]
            kwargs: dict[str, Any] = {
                "MetricDataQueries": chunk,
                "StartTime": start_dt,
                "EndTime": end_dt,
                "ScanBy": "TimestampAscending",
            }
            while True:
                page = self._client.get_metric_data(**kwargs)
                for result in page.get("MetricDataResults", []):
                    points = out.setdefault(result["Id"], [])
                    for ts, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        points.append((ts.timestamp(), float(value)))
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
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
        """Metric alarms whose name starts with ``prefix`` (paged)."""
        out: list[str] = []
        kwargs: dict[str, Any] = {
            "AlarmNamePrefix": prefix,
            "AlarmTypes": ["MetricAlarm"],
            "MaxRecords": 100,
        }
        while True:
            page = self._client.describe_alarms(**kwargs)
            out.extend(a["AlarmName"] for a in page.get("MetricAlarms", []))
            token = page.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token
