"""GPU idle rule: per host, utilization per GPU below a threshold for a whole window.

SageMaker's ``GPUUtilization`` is summed over a host's GPUs (0-800 on 8 GPUs); the rule
divides by the instance type's GPU count first. In a multi-node job each host is judged alone:
one idle node (the usual input-pipeline bottleneck) is the finding, and it is named.

In production the episodes are opened and closed by the per-host CloudWatch alarms (one
alarm per host, created when the job starts). This module is the rule's one home for
everything else, pure:

* :meth:`GpuIdleRule.host_status`: a host's numbers from its recent samples (the email, and
  the confirmation before an idle stop);
* :meth:`GpuIdleRule.alert`: the alert that explains an episode with those numbers;
* :meth:`GpuIdleRule.stop_decision`: the enforce-mode stop of a job idle for
  ``stop_after_minutes``;
* :meth:`GpuIdleRule.on_alarm` and :meth:`GpuIdleRule.episodes`: its answer to an alarm's
  change and to a tick, in the shape every episode rule answers in
  (:class:`~trainguard.core.episode.Episodes`, keyed by :func:`~.episode.gpu_idle_key`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .curves import Curve, fmt
from .decision import Decision
from .episode import EpisodeKey, EpisodeRule, Episodes, Opening, gpu_idle_key
from .values import frozen

RULE = "gpu_idle"


@frozen
class HostStatus:
    host: str
    gpus: int
    idle: bool
    recovered: bool  # latest sample is at or above the threshold
    per_gpu_latest: float | None
    per_gpu_window_mean: float | None
    idle_minutes: float  # length of the trailing run of samples below the threshold
    latest_minute: float | None


@frozen
class GpuIdleRule:
    threshold_pct: float = 10.0
    window_minutes: float = 15.0
    warmup_minutes: float = 10.0
    stop_after_minutes: float | None = None  # enforce mode only; None never stops for idleness

    def host_status(self, host: str, samples: Curve, gpus: int) -> HostStatus:
        """Judge one host from ``(minute since training start, summed utilization)`` samples.
        Idle iff every sample of the trailing ``window_minutes`` after the warm-up is below
        the threshold and those samples span the whole window (a gap in the data is
        'unknown', not idle)."""
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

    def alert(
        self,
        job: str,
        host: str,
        status: HostStatus | None,
        *,
        hosts_total: int,
        elapsed_minutes: float,
        alarm_per_gpu: float | None = None,
    ) -> Decision:
        """The alert of an episode that the host's alarm opened. ``status``: the host's
        recent samples judged by :meth:`host_status` (None when they could not be read);
        ``alarm_per_gpu``: the alarm's own mean of its datapoints (already per GPU), the
        fallback. The alarm fired after a whole window below the threshold, so the episode is
        at least a window long."""
        per_gpu = status.per_gpu_window_mean if status is not None else None
        if per_gpu is None:
            per_gpu = alarm_per_gpu
        minutes = self.episode_minutes(status)
        gpus = f" ({status.gpus} GPU(s))" if status is not None else ""
        share = f"; 1 of {hosts_total} hosts" if hosts_total > 1 else ""
        return Decision(
            job=job,
            rule=RULE,
            stop=False,
            step=elapsed_minutes,
            value=per_gpu,
            threshold=self.threshold_pct,
            references=0,
            reason=f"{host} idle: {fmt(per_gpu)}% per GPU{gpus} for {fmt(minutes)} min, below "
            f"{fmt(self.threshold_pct)}%{share}",
            alert=True,
        )

    def episode_minutes(self, status: HostStatus | None) -> float:
        """How long the host has been idle: its trailing run below the threshold, and at least
        a window (its alarm fired after a whole window below the threshold)."""
        return max(status.idle_minutes if status else 0.0, self.window_minutes)

    @staticmethod
    def longest(idle_hosts: Mapping[str, float]) -> str | None:
        """The host whose open episode opened first (``idle_hosts``: host -> opened at): the
        one an idle stop names, and whose samples confirm it. None: no open episode."""
        return min(idle_hosts, key=idle_hosts.__getitem__) if idle_hosts else None

    def stop_decision(
        self, job: str, idle_hosts: Mapping[str, float], *, now: float, elapsed_minutes: float
    ) -> Decision | None:
        """Stop a job one of whose hosts has been idle for ``stop_after_minutes``, counting
        from when its episode opened (epoch s in ``idle_hosts``) plus the alarm's window (the
        host was idle for a whole window before its alarm fired). None: no stop due."""
        limit = self.stop_after_minutes
        host = self.longest(idle_hosts)
        if limit is None or host is None:
            return None
        idle = (now - idle_hosts[host]) / 60.0 + self.window_minutes
        if idle < limit:
            return None
        return Decision(
            job=job,
            rule=RULE,
            stop=True,
            step=elapsed_minutes,
            value=idle,
            threshold=limit,
            references=0,
            reason=f"stop: {host} idle for {fmt(idle)} min (GPU below "
            f"{fmt(self.threshold_pct)}% per GPU), limit {fmt(limit)} min",
        )

    def on_alarm(
        self,
        job: str,
        host: str,
        idle: bool,
        open_since: float | None,
        *,
        now: float,
        started: float,
        status: HostStatus | None = None,
        hosts_total: int = 1,
        alarm_per_gpu: float | None = None,
    ) -> Episodes:
        """The host's episode when its alarm changes state at ``now`` (``idle``: to ALARM, else
        to OK; ``open_since``: when its open episode opened, None: none is open; ``started``:
        the job's start, epoch s). ALARM opens an episode with its alert (:meth:`alert`, with
        ``status`` read at the opening), or, with one open, is that opening again (a delivery
        again, or the retry of an invocation that died after opening: the same once-only key,
        so its alert is said once); OK closes the open one. An opening's ``since`` is when the
        episode opened (the alarm's change: the host was idle a whole window before it)."""
        key = gpu_idle_key(host)
        if not idle:
            return Episodes(closed=(key,)) if open_since is not None else Episodes()
        since = now if open_since is None else open_since
        alert = self.alert(
            job,
            host,
            status,
            hosts_total=hosts_total,
            elapsed_minutes=(since - started) / 60.0,
            alarm_per_gpu=alarm_per_gpu,
        )
        return Episodes(opened=(Opening(key, alert, since, key.alert(since)),))

    def episodes(
        self, job: str, open_: Mapping[EpisodeKey, float], *, now: float, elapsed_minutes: float
    ) -> Episodes:
        """The rule at a tick: the hosts' alarms open and close its episodes (:meth:`on_alarm`),
        so its answer is the stop due over the open ones (``open_``: the run's open episodes by
        key, opened at; other rules' keys are left alone), if any (:meth:`stop_decision`)."""
        idle = {
            key.host: opened
            for key, opened in open_.items()
            if key.rule is EpisodeRule.GPU_IDLE and key.host is not None
        }
        return Episodes(
            stop=self.stop_decision(job, idle, now=now, elapsed_minutes=elapsed_minutes)
        )
