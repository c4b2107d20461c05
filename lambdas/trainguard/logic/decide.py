"""What the rules say about one running job at one tick: pure, no I/O.

The objective rules (divergence, median, patience) judge the job's progress against its
group's reference table; the runtime guard looks at its age and silence; the GPU-idle rule at
its open idle episodes. The evaluator hands the result to :mod:`.act`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.decision import Decision
from ..models import GroupStats, JobRecord
from ..policy import JobSettings
from .observe import Observation


@dataclass(frozen=True)
class Judgement:
    judged: bool = False  # the objective rules looked at the job's progress
    stops: list[Decision] = field(default_factory=list)  # to stop (enforce) or report
    alerts: list[Decision] = field(default_factory=list)  # to tell a person, never a stop


def judge(
    job: JobRecord,
    settings: JobSettings,
    seen: Observation | None,
    stats: GroupStats | None,
    now: float,
    gpus: int | None = None,
) -> Judgement:
    """``seen``: the job's observation this tick (None when its metrics could not be read);
    ``stats``: its group's reference statistics (None: no references); ``gpus``: GPUs per
    host of its instance type (None: unknown)."""
    policy = settings.policy
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    stops: list[Decision] = []
    alerts: list[Decision] = []
    judged = seen is not None and seen.progress is not None
    if seen is not None and seen.progress is not None:
        rules = settings.rules
        references = stats.table(rules.median.table_key) if stats and rules.median else None
        # the cheap path: a 'continue' builds no Decision (most jobs at most ticks)
        chosen = rules.stop_summary(
            job.name, seen.progress.summary, references, silent_minutes=seen.silent_minutes()
        )
        if chosen is not None:
            stops.append(chosen)
    if policy.runtime.enabled:
        guard = settings.runtime_guard
        checks = [
            guard.check_max_runtime(job.name, job.max_runtime_s),
            guard.check_overtime(
                job.name,
                elapsed,
                stats.median_duration_min if stats else None,
                stats.references if stats else 0,
            ),
        ]
        if seen is not None and seen.progress is not None:  # it has an objective to watch
            last = seen.last_objective
            since = (now - last) / 60.0 if last else elapsed
            checks.append(guard.check_stalled(job.name, elapsed, since))
        alerts = [a for a in checks if a is not None]
    if policy.gpu_idle.enabled:
        idle_stop = settings.gpu_idle.stop_decision(
            job.name, job.idle_hosts, now=now, elapsed_minutes=elapsed
        )
        if idle_stop is not None and _still_idle(job, settings, seen, gpus, idle_stop):
            stops.append(idle_stop)
    return Judgement(judged, stops, alerts)


def _still_idle(
    job: JobRecord,
    settings: JobSettings,
    seen: Observation | None,
    gpus: int | None,
    stop: Decision,
) -> bool:
    """An idle stop acts only if the host's own recent samples still say idle: its alarm's
    OK (the recovery) may have been lost, and an alarm's state alone never stops a job."""
    host = min(job.idle_hosts.items(), key=lambda kv: kv[1])[0]
    samples = seen.gpu.get(host, []) if seen is not None else []
    if not samples or not gpus:
        return False  # unknown is not idle
    start = job.start_time - job.start_time % 60.0
    status = settings.gpu_idle.host_status(host, [((ts - start) / 60.0, v) for ts, v in samples],
                                           gpus)  # fmt: skip
    return status.idle
