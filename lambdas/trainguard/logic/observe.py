"""What a tick knows of each running job's metrics: its objective folded into its
:class:`~trainguard.core.progress.Progress`, and whether its instances still report.

A steady tick is one GetMetricData batch over the last ``WINDOW_MIN`` minutes (each job's new
objective datapoints, plus its instances' liveness): ceil(queries/500) calls. Jobs without a
usable progress record are read from their start in a second batch, once.

Instance metrics at a coarse cadence (GetMetricData is priced by the metric requested): a
job's liveness query and its hosts' GPU samples (the hang and straggler rules) are read every
``INSTANCE_EVERY_S`` on the job's own phase while its objective reports on its rhythm (from
the progress's :class:`~trainguard.core.cadence.ReportCadence`), and at every tick once the
objective is overdue (what the hang and stall rules judge). A host with an open idle episode
whose stop is configured is read every tick (the stop is confirmed from it). The objective
itself is read every tick: reading it only when its next report is due delayed catch-up stops
by minutes against the replay on recorded curves (docs/sharded-tick.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING

from ..config import JobSettings
from ..constants import GPU_METRIC
from ..core.progress import Progress, advance, advance_throughput
from ..core.series import floor_minute
from ..core.values import frozen
from ..models import JobRecord, MetricQuery, RunId, Series

if TYPE_CHECKING:
    from ..ports import MetricReader

LIVENESS_METRIC = "CPUUtilization"  # every instance type reports it; GPUUtilization does not
LIVENESS_LOOKBACK_MIN = 10.0
# The liveness query rides in the objective queries' calls (one time window for all, so the
# tick makes ceil(queries/500) calls), at a coarse period so that it adds few datapoints.
LIVENESS_PERIOD_S = 300
# A steady tick reads only this recent window of each job's objective and folds the new
# datapoints into the job's progress: a few datapoints per job whatever its age (no paging,
# O(1) work per job).
WINDOW_MIN = 15.0
# A progress record unchanged for half the window is saved anyway, so that it stays usable.
REFRESH_S = WINDOW_MIN * 30.0
# The instance metrics, while the objective reports on its rhythm, at most this often (each
# job on its own phase, so that the reads spread over the ticks)
INSTANCE_EVERY_S = 300.0
OVERDUE_S = 60.0  # a report later than its typical gap by this: the objective is overdue


@frozen
class Observation:
    progress: Progress | None  # as of this tick (None: the job has no objective)
    last_instance: float | None  # epoch s of the instances' last report, if recent
    save: bool  # the progress moved (or is getting old): write it back
    gpu: dict[str, Series] = field(default_factory=dict)  # host -> recent GPUUtilization
    # the instance metrics were read this tick (False: not due; what needs them waits)
    instances_read: bool = True

    @property
    def last_objective(self) -> float | None:
        """Epoch s of the objective's last datapoint."""
        return self.progress.last_point if self.progress is not None else None

    def silent_minutes(self) -> float | None:
        """Minutes the objective has been silent while the instances kept reporting (None:
        unknown, or everything is silent)."""
        if self.last_instance is None or self.last_objective is None:
            return None
        return max(0.0, (self.last_instance - self.last_objective) / 60.0)


def gpu_hosts(job: JobRecord, settings: JobSettings, gpus: int | None) -> tuple[list[str], float]:
    """The hosts whose recent GPU utilization this tick needs, and the minutes of samples:
    every host when the hang or the straggler rule watches the job (one query a host serves
    both), and those with an open idle episode when an idle stop is configured (the stop is
    confirmed from them over a whole idle window). A little more than the rules' windows."""
    policy = settings.policy
    hosts: set[str] = set()
    windows = [0.0]
    if gpus:
        if policy.hang.enabled and settings.objective is not None:
            hosts.update(job.hosts())
            windows.append(policy.hang.window_minutes)
        if policy.straggler.enabled and job.instance_count >= 2:
            hosts.update(job.hosts())
            windows.append(policy.straggler.window_minutes)
    idle_stop = policy.gpu_idle.enabled and settings.gpu_idle.stop_after_minutes is not None
    if idle_stop and job.idle_hosts:
        hosts.update(job.idle_hosts)
        windows.append(policy.gpu_idle.window_minutes)
    return sorted(hosts), (max(windows) + 5.0 if hosts else 0.0)


def observe(
    jobs: Sequence[tuple[JobRecord, JobSettings]],
    metrics: MetricReader,
    *,
    now: float,
    unit: str,
    lag_minutes: float = 0.0,
    gpus_of: Callable[[JobRecord], int | None] = lambda _: None,
) -> dict[RunId, Observation]:
    """Every job's observation as of ``now``, by run. A datapoint counts from
    ``lag_minutes`` after its timestamp on (the policy's ``ingestion_lag_minutes``, as the
    replay counts it). ``gpus_of``: GPUs per host of a job (None: unknown, or none). All of
    it rides in one GetMetricData batch (ceil(queries/500) calls), plus one batch, once, for
    the jobs read from their start."""
    if not jobs:
        return {}
    cut = now - lag_minutes * 60.0  # newest datapoint timestamp that counts
    end = floor_minute(cut) + 60.0
    wanted = {job.run: gpu_hosts(job, settings, gpus_of(job)) for job, settings in jobs}
    hosts = {run: h for run, (h, _) in wanted.items()}
    window_start = end - max([WINDOW_MIN, *(w for _, w in wanted.values())]) * 60.0
    prior: dict[RunId, Progress | None] = {}
    recent_q: list[MetricQuery] = []
    full_q: list[MetricQuery] = []
    watched: dict[RunId, bool] = {}  # instance metrics read this tick
    for i, (job, settings) in enumerate(jobs):
        rules = settings.rules
        p = job.progress
        usable = (
            bool(settings.objective)
            and p is not None
            and p.usable(
                direction=rules.direction, min_delta=rules.min_delta, unit=unit, since=window_start
            )
        )
        watch = not usable or p is None or overdue(p, cut) or instances_due(job.name, p, now)
        watched[job.run] = watch
        if not watch:  # only the hosts whose idle stop waits for confirmation
            hosts[job.run] = [h for h in hosts[job.run] if h in job.idle_hosts]
        for k, host in enumerate(hosts[job.run]):
            recent_q.append(MetricQuery(f"g{i}_{k}", GPU_METRIC, (("Host", host),)))
        if not settings.objective:
            continue
        prior[job.run] = p if usable else None
        query = MetricQuery(f"o{i}", str(settings.objective), (("TrainingJobName", job.name),))
        (recent_q if usable else full_q).append(query)
        if settings.throughput_metric and settings.policy.throughput.enabled:
            query = MetricQuery(
                f"t{i}", settings.throughput_metric, (("TrainingJobName", job.name),)
            )
            kept = usable and p is not None and p.throughput is not None
            (recent_q if kept else full_q).append(query)
        if watch and rules.divergence is not None and not _all_hosts(job, hosts[job.run]):
            # the GPU samples of every host say the instances report; else ask CPU, which
            # every instance type reports, at a coarse period
            recent_q.append(
                MetricQuery(
                    f"h{i}",
                    LIVENESS_METRIC,
                    (("Host", f"{job.name}/algo-1"),),
                    stat="SampleCount",
                    period=LIVENESS_PERIOD_S,
                )
            )
    series = metrics.get_series(recent_q, window_start, end) if recent_q else {}
    if full_q:
        starts = [j.start_time for j, s in jobs if s.objective and prior[j.run] is None]
        starts += [j.start_time for j, s in jobs if s.throughput_metric]
        oldest = floor_minute(min(starts))
        series.update(metrics.get_series(full_q, oldest, max(end, oldest + 60.0)))
    # a 5-minute bucket that starts within the lookback (plus one bucket) means the instances
    # reported lately; its start time is a lower bound of their last report (so the silence is
    # never overestimated); older buckets mean everything is silent: no verdict on silence
    recent = end - LIVENESS_LOOKBACK_MIN * 60.0 - LIVENESS_PERIOD_S
    out = {}
    for i, (job, settings) in enumerate(jobs):
        gpu = {host: series.get(f"g{i}_{k}", []) for k, host in enumerate(hosts[job.run])}
        if not settings.objective:
            if gpu:
                out[job.run] = Observation(None, None, False, gpu)
            continue
        before = prior[job.run]
        points = [(ts, v) for ts, v in series.get(f"o{i}", []) if ts <= cut]
        progress = advance(
            before,
            points,
            start_time=job.start_time,
            unit=unit,
            direction=settings.rules.direction,
            min_delta=settings.rules.min_delta,
            now=now,
        )
        if f"t{i}" in series:
            progress = advance_throughput(
                progress
                if before is not None and before.throughput is not None
                else replace(progress, throughput=None),
                [(ts, v) for ts, v in series[f"t{i}"] if ts <= cut],
                start_time=job.start_time,
                empty=settings.throughput.new_summary(),
            )
        if _all_hosts(job, hosts[job.run]):
            latest = max((pts[-1][0] for pts in gpu.values() if pts), default=None)
        else:
            liveness = series.get(f"h{i}", [])
            latest = liveness[-1][0] if liveness else None
        last_instance = latest if latest is not None and latest >= recent else None
        save = (
            before is None
            or progress.summary.count != before.summary.count
            or progress.throughput != before.throughput
            or now - before.checked >= REFRESH_S
        )
        out[job.run] = Observation(progress, last_instance, save, gpu, watched[job.run])
    return out


def overdue(progress: Progress, cut: float) -> bool:
    """The job's report is later than its own rhythm: the hang and stall rules need its
    instance metrics every tick."""
    gap = progress.cadence.typical_gap
    if gap is None or progress.last_point is None:
        return True
    return cut > progress.last_point + gap + OVERDUE_S


def instances_due(name: str, progress: Progress, now: float) -> bool:
    """A ``INSTANCE_EVERY_S`` boundary of the job's own phase passed since its last read."""
    phase = zlib.crc32(name.encode()) % int(INSTANCE_EVERY_S)
    return (now + phase) // INSTANCE_EVERY_S != (progress.checked + phase) // INSTANCE_EVERY_S


def _all_hosts(job: JobRecord, hosts: list[str]) -> bool:
    return bool(hosts) and len(hosts) == job.instance_count
