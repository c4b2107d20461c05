"""What the rules say about one running job at one tick: pure, no I/O.

The objective rules (walked in ``core.engine.ORDER``) judge the job's progress against
its reference set; the runtime guard looks at its age and silence; the episode rules, each
answering in one shape (:class:`~trainguard.core.episode.Episodes`, taken in by one path), at
the job's episodes: the GPU-idle rule at its open idle episodes (its hosts' alarms open and
close them), the health rules (hung job, straggler host, throughput) at its hosts' GPU samples
and its throughput, one alert per episode. The evaluator hands the result to :mod:`.act`.
"""

from __future__ import annotations

from dataclasses import field, replace

from ..config import JobSettings
from ..core.catchup import WorseStreak
from ..core.decision import Decision
from ..core.episode import (
    HUNG,
    THROUGHPUT,
    EpisodeKey,
    EpisodeRule,
    Episodes,
    idle_episodes,
    open_episodes,
)
from ..core.instances import GpuHosts
from ..core.values import frozen
from ..models import GroupStats, JobRecord
from .observe import Observation


@frozen
class Alert:
    decision: Decision
    episode: str = ""  # "": once per run; else the episode it opens (one alert per episode)
    since: float | None = None  # epoch s: when what it saw began (the email says)


@frozen
class Judgement:
    judged: bool = False  # the objective rules looked at the job's progress
    stops: list[Decision] = field(default_factory=list)  # to stop (enforce) or report
    alerts: list[Alert] = field(default_factory=list)  # to tell a person, never a stop
    # health episodes to open (key -> opened at) or close (key -> None) on the run
    episodes: dict[EpisodeKey, float | None] = field(default_factory=dict)
    streak: WorseStreak | None = None  # the catch-up rule's counter after this tick (None: kept)


def judge(
    job: JobRecord,
    settings: JobSettings,
    seen: Observation | None,
    stats: GroupStats | None,
    now: float,
    gpus: int | None = None,
    *,
    hosts: GpuHosts | None = None,
) -> Judgement:
    """``seen``: the job's observation this tick (None when its metrics could not be read);
    ``stats``: its group's reference statistics (None: no references); ``gpus``: GPUs per
    host of its instance type (None: unknown); ``hosts``: what the GPU rules know of its
    hosts (None: a homogeneous cluster's, every host a GPU host of one group). In a
    heterogeneous cluster whose hosts are not all GPU hosts, the hosts that report GPUs are
    its GPU hosts (a CPU host never does, and which ``algo-n`` is in which group is not said);
    the straggler compares hosts only when they are one instance group."""
    if hosts is not None and not hosts.named and seen is not None:
        seen = replace(seen, gpu={h: samples for h, samples in seen.gpu.items() if samples})
    one_group = hosts is None or hosts.one_group
    policy = settings.policy
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    stops: list[Decision] = []
    alerts: list[Alert] = []
    episodes: dict[EpisodeKey, float | None] = {}
    judged = seen is not None and seen.progress is not None
    streak = None
    if seen is not None and seen.progress is not None:
        rules = settings.rules
        group = rules.group_state(
            stats, streak=seen.progress.streak, silent_minutes=seen.silent_minutes()
        )
        # the cheap path: a 'continue' builds no Decision (most jobs at most ticks)
        chosen, streak = rules.judge(job.name, seen.progress.summary, group)
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
        watched = seen is not None and seen.progress is not None  # an objective to watch
        # the hung-job rule watches a job whose instances report; the 30-minute stall alert
        # is its fallback for jobs without instance metrics
        hang_watches = policy.hang.enabled and gpus is not None and bool(seen and seen.gpu)
        if watched and not hang_watches and seen is not None and seen.instances_read:
            last = seen.last_objective
            since = (now - last) / 60.0 if last else elapsed
            checks.append(guard.check_stalled(job.name, elapsed, since))
        alerts += [Alert(a) for a in checks if a is not None]
    if policy.gpu_idle.enabled and job.idle_hosts:  # no open idle episode: nothing to answer
        idle = settings.gpu_idle.episodes(
            job.name, idle_episodes(job.idle_hosts), now=now, elapsed_minutes=elapsed
        )
        if idle.stop is not None and not _still_idle(job, settings, seen, gpus, idle.stop):
            idle = replace(idle, stop=None)
        _take(idle, now, stops, alerts, episodes)
    if seen is not None and gpus is not None and seen.gpu:
        _health(job, settings, seen, stats, now, gpus, elapsed, stops, alerts, episodes, one_group)
    return Judgement(judged, stops, alerts, episodes, streak)


def _health(
    job: JobRecord,
    settings: JobSettings,
    seen: Observation,
    stats: GroupStats | None,
    now: float,
    gpus: int,
    elapsed: float,
    stops: list[Decision],
    alerts: list[Alert],
    episodes: dict[EpisodeKey, float | None],
    one_group: bool = True,
) -> None:
    """The hung-job, straggler and throughput rules, each an episode on the run; each
    answers in one shape (:class:`~trainguard.core.episode.Episodes`)."""
    policy, open_ = settings.policy, open_episodes(job.episodes)
    progress = seen.progress
    found: list[Episodes] = []
    if policy.hang.enabled and progress is not None and seen.instances_read:
        found.append(
            settings.hang.episodes(
                job.name,
                open_.get(HUNG),
                progress.cadence,
                seen.gpu,
                gpus,
                now=now,
                elapsed_minutes=elapsed,
            )
        )
    straggler = policy.straggler.enabled and job.instance_count >= 2 and one_group
    if straggler and seen.instances_read:
        statuses = settings.straggler.statuses(seen.gpu, gpus)
        if policy.gpu_idle.enabled:  # an idle host is the GPU-idle rule's: one alert a problem
            idle = policy.gpu_idle.threshold_pct
            statuses = tuple(s for s in statuses if s.per_gpu_mean >= idle)
        open_hosts = {
            k.host for k in open_ if k.rule == EpisodeRule.STRAGGLER and k.host is not None
        }
        found.append(
            settings.straggler.episodes(
                job.name, open_hosts, statuses, now=now, elapsed_minutes=elapsed
            )
        )
    if policy.throughput.enabled and progress is not None and progress.throughput is not None:
        found.append(
            settings.throughput.episodes(
                job.name,
                THROUGHPUT in open_,
                progress.throughput,
                instances=job.instance_count,
                group=stats.throughput_baseline() if stats else None,
                single=stats.throughput_baseline(single=True) if stats else None,
                now=now,
                elapsed_minutes=elapsed,
            )
        )
    for change in found:
        _take(change, now, stops, alerts, episodes)


def _take(
    change: Episodes,
    now: float,
    stops: list[Decision],
    alerts: list[Alert],
    episodes: dict[EpisodeKey, float | None],
) -> None:
    """An episode rule's answer into the judgement: the episodes it closes and opens (at
    ``now``, each with its alert, said once per episode), and its stop."""
    for key in change.closed:
        episodes[key] = None
    for opening in change.opened:
        episodes[opening.key] = now
        alerts.append(Alert(opening.alert, opening.once, opening.since))
    if change.stop is not None:
        stops.append(change.stop)


def _still_idle(
    job: JobRecord,
    settings: JobSettings,
    seen: Observation | None,
    gpus: int | None,
    stop: Decision,
) -> bool:
    """An idle stop acts only if the host's own recent samples still say idle: its alarm's
    OK (the recovery) may have been lost, and an alarm's state alone never stops a job."""
    host = settings.gpu_idle.longest(job.idle_hosts)
    samples = seen.gpu.get(host, []) if seen is not None and host is not None else []
    if host is None or not samples or not gpus:
        return False  # unknown is not idle
    start = job.start_time - job.start_time % 60.0
    status = settings.gpu_idle.host_status(
        host, [((ts - start) / 60.0, v) for ts, v in samples], gpus
    )
    return status.idle
