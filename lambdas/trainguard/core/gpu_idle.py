"""GPU idle rule: per host, utilization per GPU below a threshold for a whole window.

SageMaker's ``GPUUtilization`` is summed over a host's GPUs (0-800 on 8 GPUs); the rule
divides by the instance type's GPU count first. Samples are ``(minute since training start,
summed utilization)`` for one host. In a multi-node job each host is judged alone: one idle
node (the usual input-pipeline bottleneck) is the finding, and it is named.

Episodes: a host opens an episode when it becomes idle (one alert) and closes it when a
sample comes back at or above the threshold (one recovery note); while it stays idle nothing
more is said. :func:`episode_transitions` is that state machine, pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .curves import Curve, fmt
from .decision import Decision

RULE = "gpu_idle"


@dataclass(frozen=True)
class HostStatus:
    host: str
    gpus: int
    idle: bool
    recovered: bool  # latest sample is at or above the threshold
    per_gpu_latest: float | None
    per_gpu_window_mean: float | None
    idle_minutes: float  # length of the trailing run of samples below the threshold
    latest_minute: float | None


@dataclass(frozen=True)
class GpuIdleRule:
    threshold_pct: float = 10.0
    window_minutes: float = 15.0
    warmup_minutes: float = 10.0

    def host_status(self, host: str, samples: Curve, gpus: int) -> HostStatus:
        """Judge one host. Idle iff every sample of the trailing ``window_minutes`` after the
        warm-up is below the threshold and those samples span the whole window (a gap in the
        data is 'unknown', not idle)."""
        if gpus <= 0:
            raise ValueError(f"{host}: GPU idle rule needs a GPU count > 0, got {gpus}")
        usable = [(m, u / gpus) for m, u in samples if m >= self.warmup_minutes]
        if not usable:
            return HostStatus(host, gpus, False, False, None, None, 0.0, None)
        latest_minute, latest = usable[-1]
        run_start = None
        for minute, per_gpu in reversed(usable):
            if per_gpu >= self.threshold_pct:
                break
            run_start = minute
        # a run of n one-minute samples covers n minutes: from (first - 1 period) to last
        idle_minutes = 0.0 if run_start is None else latest_minute - run_start + 1.0
        window = [u for m, u in usable if m > latest_minute - self.window_minutes]
        mean = sum(window) / len(window) if window else None
        idle = idle_minutes >= self.window_minutes and len(window) >= 0.8 * self.window_minutes
        return HostStatus(
            host,
            gpus,
            idle,
            latest >= self.threshold_pct,
            latest,
            mean,
            idle_minutes,
            latest_minute,
        )

    def evaluate(self, job: str, hosts: Mapping[str, Curve], gpus: int) -> list[HostStatus]:
        """Judge every host of a job (``hosts`` maps ``<job>/algo-<n>`` to its samples)."""
        return [self.host_status(host, samples, gpus) for host, samples in sorted(hosts.items())]


Transition = Literal["open", "close"]


@dataclass(frozen=True)
class EpisodeEvent:
    host: str
    transition: Transition
    status: HostStatus


def episode_transitions(
    open_hosts: Iterable[str], statuses: Iterable[HostStatus]
) -> list[EpisodeEvent]:
    """One 'open' when a host becomes idle, one 'close' when an open host recovers."""
    opened = set(open_hosts)
    events = []
    for status in statuses:
        if status.idle and status.host not in opened:
            events.append(EpisodeEvent(status.host, "open", status))
        elif status.host in opened and status.recovered:
            events.append(EpisodeEvent(status.host, "close", status))
    return events


def idle_decision(job: str, event: EpisodeEvent, rule: GpuIdleRule, hosts_total: int) -> Decision:
    """The decision (an alert) that explains an episode event with its numbers."""
    s = event.status
    if event.transition == "open":
        reason = (
            f"{s.host} idle: {fmt(s.per_gpu_window_mean)}% per GPU ({s.gpus} GPU(s)) over the last "
            f"{fmt(s.idle_minutes)} min, below {fmt(rule.threshold_pct)}%"
            + (f"; 1 of {hosts_total} hosts" if hosts_total > 1 else "")
        )
    else:
        reason = f"{s.host} recovered: {fmt(s.per_gpu_latest)}% per GPU after an idle episode"
    return Decision(
        job=job,
        rule=RULE,
        stop=False,
        step=s.latest_minute,
        value=s.per_gpu_window_mean if event.transition == "open" else s.per_gpu_latest,
        threshold=rule.threshold_pct,
        references=0,
        reason=reason,
        alert=True,
    )
