"""The fakes of :class:`~trainguard.ports.MetricReader` and :class:`~trainguard.ports.Alarms`
(CloudWatch)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from trainguard.models import MetricQuery, gpu_idle_alarm_name

from .faults import FaultInjector


class FakeMetrics(FaultInjector):
    """CloudWatch metric data: ``put`` datapoints, ``get_series`` aggregates them per period
    (Average, Sum, Minimum, Maximum, SampleCount) into buckets aligned on the period, like
    GetMetricData. Non-finite values are refused, as CloudWatch refuses them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = (
            defaultdict(list)
        )
        self.requests: list[list[MetricQuery]] = []  # one entry per get_series call

    def put(self, metric: str, dimensions: dict[str, str], ts: float, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError("CloudWatch does not store NaN or infinity")
        self.data[(metric, tuple(sorted(dimensions.items())))].append((ts, value))

    def get_series(
        self, queries: Sequence[MetricQuery], start: float, end: float, period: int = 60
    ) -> dict[str, list[tuple[float, float]]]:
        self._call("get_series")
        self.requests.append(list(queries))
        out = {}
        for q in queries:
            p = q.period or period
            buckets: dict[float, list[float]] = defaultdict(list)
            for ts, v in self.data.get((q.metric, tuple(sorted(q.dimensions))), []):
                if start <= ts < end:
                    buckets[math.floor(ts / p) * p].append(v)
            out[q.id] = [(b, _stat(q.stat, vs)) for b, vs in sorted(buckets.items())]
        return out

    def metric_names(self, dimensions: Sequence[tuple[str, str]]) -> list[str]:
        self._call("metric_names")
        wanted = tuple(sorted(dimensions))
        return sorted({name for name, dims in self.data if dims == wanted})


def _stat(stat: str, values: list[float]) -> float:
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return sum(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    return sum(values) / len(values)


class FakeAlarms(FaultInjector):
    def __init__(self) -> None:
        super().__init__()
        self.alarms: dict[str, dict[str, Any]] = {}

    def put_gpu_idle_alarm(
        self,
        job: str,
        host_index: int,
        gpus: int,
        threshold_pct: float,
        window_minutes: float,
        action_arn: str | None,
    ) -> str:
        self._call("put_gpu_idle_alarm")
        name = gpu_idle_alarm_name(job, host_index)
        self.alarms[name] = {
            "host": f"{job}/algo-{host_index}",
            "gpus": gpus,
            "threshold": threshold_pct,
            "window": window_minutes,
            "action": action_arn,
        }
        return name

    def delete_alarms(self, names: Iterable[str]) -> int:
        self._call("delete_alarms")
        batch = list(dict.fromkeys(names))
        for name in batch:
            self.alarms.pop(name, None)
        return len(batch)

    def alarm_names(self, prefix: str) -> list[str]:
        self._call("alarm_names")
        return sorted(n for n in self.alarms if n.startswith(prefix))
