"""Hung job: alive (its instances report) but making no progress (its objective is silent),
with flat GPUs, near zero or pinned near 100 % (a job stuck in an NCCL collective spins its
GPUs at full utilization).

The silence is judged against the job's own :class:`~trainguard.core.cadence.ReportCadence`:
longer than the largest of a floor, a multiple of its typical gap, and its longest past gap
(a checkpoint pause it has already shown is not a hang). Only then are the GPU samples looked
at, so a healthy job costs one comparison a tick.

Data: the tick's one ``GPUUtilization`` query per host (1-minute period, Average, over the
last ~10-15 minutes) serves this rule and the straggler rule (:mod:`.straggler`): flatness
and level come from those samples, no extra statistics and no extra query. ``GPUUtilization``
is summed over a host's GPUs (0-800 on 8 GPUs); the rule divides by the GPU count.

Defaults and why: a 5-minute floor and 3 x the typical gap (a job reporting every minute is
judged after 5 silent minutes, one reporting every 10 minutes after 30); a 5-minute flat
window (with GPU samples arriving 2-3 minutes late, a hang of a job reporting every minute is
alerted 6-8 minutes after its last report, within 10); flat is a range of at most 5 points
per GPU, idle a mean of at most 5 %, pinned at least 90 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from .cadence import ReportCadence
from .curves import Curve, fmt
from .decision import Decision
from .episode import HUNG, EpisodeKey, Episodes, Opening
from .values import frozen

RULE = "hung"

Level = Literal["pinned", "idle"]
Pattern = Literal["pinned", "idle", "mixed"]


@frozen
class HostLevel:
    """One host's GPUs over the flat window, per GPU."""

    host: str
    per_gpu_mean: float
    per_gpu_range: float  # max - min of the window's samples
    level: Level


@frozen
class Hang:
    """A hung job's numbers: the pattern, each host's level, the silence and its limit."""

    pattern: Pattern
    hosts: tuple[HostLevel, ...]
    silent_minutes: float  # since the last report
    limit_minutes: float  # the silence it crossed
    typical_gap_minutes: float
    longest_gap_minutes: float


@frozen
class HangRule:
    floor_minutes: float = 5.0
    gap_multiple: float = 3.0
    min_gaps: int = 2  # reports before the cadence is trusted (earlier: the stall guard)
    window_minutes: float = 5.0  # the trailing window in which the GPUs must be flat
    coverage: float = 0.8  # of the window's one-minute samples, per host
    flat_range_pct: float = 5.0
    idle_pct: float = 5.0
    pinned_pct: float = 90.0
    stop_after_minutes: float | None = None  # enforce mode only; None never stops for a hang

    def silence_limit(self, cadence: ReportCadence) -> float | None:
        """Minutes of silence beyond which the job may be hung: the largest of the floor,
        ``gap_multiple`` x its typical gap and its longest gap so far. None while the job has
        fewer than ``min_gaps`` gaps (its rhythm is unknown)."""
        typical, longest = cadence.typical_gap, cadence.longest
        if typical is None or longest is None or len(cadence.gaps) < self.min_gaps:
            return None
        return max(self.floor_minutes, self.gap_multiple * typical / 60.0, longest / 60.0)

    def judge(
        self, cadence: ReportCadence, hosts: Mapping[str, Curve], gpus: int, *, now: float
    ) -> Hang | None:
        """Whether the job is hung at ``now`` (epoch s). ``hosts``: every host of the job with
        its recent ``(epoch s, summed GPUUtilization)`` samples; ``gpus`` per host.

        None (no verdict) when: the silence is within the limit (or the cadence is not known
        yet); no host has a sample newer than the last report and within a window of ``now``
        (the instances are silent too: the runtime guard's "stalled" alert is the fallback);
        a host has fewer than ``coverage`` of the window's samples (a data gap is unknown, not
        flat); or a host is not flat, or flat at a level neither idle nor pinned (busy and
        varying: an evaluation phase, a checkpoint)."""
        limit = self.silence_limit(cadence)
        if limit is None or cadence.last is None or gpus <= 0:
            return None
        silent = (now - cadence.last) / 60.0
        if silent <= limit:
            return None
        end = max((ts for samples in hosts.values() for ts, _ in samples), default=None)
        if end is None or end <= cadence.last or end < now - self.window_minutes * 60.0:
            return None
        levels = []
        for host, samples in hosts.items():
            level = self._host_level(host, samples, gpus, end)
            if level is None:
                return None
            levels.append(level)
        if not levels:
            return None
        kinds = {lv.level for lv in levels}
        pattern: Pattern = levels[0].level if len(kinds) == 1 else "mixed"
        typical = cadence.typical_gap or 0.0
        longest = cadence.longest or 0.0
        return Hang(pattern, tuple(levels), silent, limit, typical / 60.0, longest / 60.0)

    def _host_level(self, host: str, samples: Curve, gpus: int, end: float) -> HostLevel | None:
        """The host's flat level over the window ending at ``end``, or None (too few
        samples, not flat, or flat in between idle and pinned)."""
        start = end - self.window_minutes * 60.0
        window = [u / gpus for ts, u in samples if start < ts <= end]
        if len(window) < self.coverage * self.window_minutes:
            return None
        mean = sum(window) / len(window)
        spread = max(window) - min(window)
        if spread > self.flat_range_pct:
            return None
        if mean <= self.idle_pct:
            return HostLevel(host, mean, spread, "idle")
        if mean >= self.pinned_pct:
            return HostLevel(host, mean, spread, "pinned")
        return None

    def alert(self, job: str, hang: Hang, *, elapsed_minutes: float) -> Decision:
        """The alert of a hang episode, with the silence, its limit and every host's level.
        The episode is the caller's: one alert, closed when the objective reports again."""
        return Decision(
            job=job,
            rule=RULE,
            stop=False,
            step=elapsed_minutes,
            value=hang.silent_minutes,
            threshold=hang.limit_minutes,
            references=0,
            reason=f"hung ({_pattern_text(hang)}): {self._silence_text(hang)}; GPUs flat over "
            f"the last {fmt(self.window_minutes)} min on {_count(len(hang.hosts), 'host')}: "
            + ", ".join(
                f"{h.host} {fmt(h.per_gpu_mean)}% per GPU (range {fmt(h.per_gpu_range)})"
                for h in hang.hosts
            ),
            alert=True,
        )

    def check(
        self,
        job: str,
        cadence: ReportCadence,
        hosts: Mapping[str, Curve],
        gpus: int,
        *,
        now: float,
        elapsed_minutes: float,
    ) -> Decision | None:
        """:meth:`judge`, then the alert of a hang (None: not hung, or no verdict)."""
        hang = self.judge(cadence, hosts, gpus, now=now)
        return None if hang is None else self.alert(job, hang, elapsed_minutes=elapsed_minutes)

    def episodes(
        self,
        job: str,
        opened_at: float | None,
        cadence: ReportCadence,
        hosts: Mapping[str, Curve],
        gpus: int,
        *,
        now: float,
        elapsed_minutes: float,
    ) -> Episodes:
        """The job's hang episode at ``now`` (``opened_at``: when its open one opened, None:
        none open): closed once the objective reported after it opened; opened, with its
        alert naming the last report, by a hang (one alert a silence); and the stop due."""
        closed: tuple[EpisodeKey, ...] = ()
        if opened_at is not None and cadence.last is not None and cadence.last > opened_at:
            closed, opened_at = (HUNG,), None  # it reported again: that silence is over
        hang = self.judge(cadence, hosts, gpus, now=now)
        last = cadence.last
        if hang is None or last is None:  # judge needs a last report
            return Episodes(closed=closed)
        opened: tuple[Opening, ...] = ()
        if opened_at is None:
            alert = self.alert(job, hang, elapsed_minutes=elapsed_minutes)
            opened = (Opening(HUNG, alert, last, HUNG.alert(last)),)
        return Episodes(
            opened, closed, self.stop_decision(job, hang, elapsed_minutes=elapsed_minutes)
        )

    def stop_decision(self, job: str, hang: Hang, *, elapsed_minutes: float) -> Decision | None:
        """Enforce mode: stop a job judged hung now whose silence (counted from its last
        report) has reached ``stop_after_minutes``. None: no stop due."""
        limit = self.stop_after_minutes
        if limit is None or hang.silent_minutes < limit:
            return None
        return Decision(
            job=job,
            rule=RULE,
            stop=True,
            step=elapsed_minutes,
            value=hang.silent_minutes,
            threshold=limit,
            references=0,
            reason=f"stop: hung ({_pattern_text(hang)}) for {fmt(hang.silent_minutes)} min "
            f"since the last report, limit {fmt(limit)} min",
        )

    def _silence_text(self, hang: Hang) -> str:
        return (
            f"objective silent for {fmt(hang.silent_minutes)} min, over {fmt(hang.limit_minutes)}"
            f" min (the largest of {fmt(self.floor_minutes)} min, {fmt(self.gap_multiple)} x its "
            f"typical gap {fmt(hang.typical_gap_minutes)} min and its longest gap "
            f"{fmt(hang.longest_gap_minutes)} min) while its instances still report"
        )


def _pattern_text(hang: Hang) -> str:
    """``pinned``, ``idle``, or ``mixed: 3 pinned, 1 idle``."""
    if hang.pattern != "mixed":
        return hang.pattern
    pinned = sum(h.level == "pinned" for h in hang.hosts)
    return f"mixed: {pinned} pinned, {len(hang.hosts) - pinned} idle"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
