"""Straggler host: in a multi-node job, one host whose per-GPU utilization stays well below
the other hosts' while they are busy (in data parallelism every step waits for the slowest
rank, so one slow host, a bad disk or a throttled GPU, slows the whole job).

A host straggles when, at every one-minute sample of the trailing window in which it and the
others report, its per-GPU utilization is more than ``margin_pct`` points below the median of
the OTHER hosts at that minute and that median is at least ``busy_pct``; and its comparable
samples cover at least ``coverage`` of the window (a data gap is unknown, not low). Each
minute compares hosts at the same moment, so a job-wide phase (evaluation, a checkpoint) that
slows every host moves the median with them and names no straggler. Never for a single host.

Data: the tick's one ``GPUUtilization`` query per host (1-minute period) serves this rule and
the hang rule (:mod:`.hang`); nothing else is read. Cost: one sort of the hosts' values per
minute of the window, and a binary search per host and minute (each host's "median of the
others" from the one sorted list).

Defaults and why: a 30-point margin (data-loading or throttling stragglers sit tens of points
below; run-to-run noise between healthy hosts is a few points); busy at 50 % (below that the
whole job is in some other phase and a comparison says little); a 10-minute window covered by
80 % of its samples, as the GPU-idle rule.

Episodes are the caller's: :func:`straggler_episodes` says which hosts open an episode (one
alert each, :meth:`StragglerRule.alert`) and which close (the host is no longer below the
margin on its latest sample).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence, Set

from .curves import Curve, fmt
from .decision import Decision
from .episode import Episodes, Opening, straggler_key
from .values import frozen

RULE = "straggler"


@frozen
class StragglerStatus:
    """One host against the others over the window, per GPU (means of the compared minutes)."""

    host: str
    straggling: bool  # below the others by the margin at every sample of a covered window
    below_now: bool | None  # below by the margin at its latest compared minute (None: unknown)
    per_gpu_mean: float
    others_median: float  # the mean over the compared minutes of the others' median
    others: int  # how many other hosts reported in the window
    samples: int  # the minutes compared

    @property
    def gap(self) -> float:
        """Points per GPU between the others' median and this host."""
        return self.others_median - self.per_gpu_mean


@frozen
class EpisodeChanges:
    opened: tuple[StragglerStatus, ...]  # alert once for each
    closed: tuple[str, ...]  # hosts whose episode ends


@frozen
class StragglerRule:
    margin_pct: float = 30.0
    window_minutes: float = 10.0
    coverage: float = 0.8
    busy_pct: float = 50.0

    def statuses(self, hosts: Mapping[str, Curve], gpus: int) -> tuple[StragglerStatus, ...]:
        """Every host's status over the window ending at the newest sample of any host.
        ``hosts``: the job's hosts with their recent ``(epoch s, summed GPUUtilization)``
        samples; ``gpus`` per host. Empty for a single host (or one that alone reports), and
        a host with no minute to compare has no status."""
        by_minute = self._window(hosts, gpus)
        reporting = {h for values in by_minute.values() for h in values}
        if len(reporting) < 2:
            return ()
        # the minutes in order, each with its values by host and those values sorted: one sort
        # per minute serves every host's "median of the others"
        rows = [(by_minute[m], sorted(by_minute[m].values())) for m in sorted(by_minute)]
        out = []
        for host in sorted(reporting):
            status = self._status(host, rows, len(reporting) - 1)
            if status is not None:
                out.append(status)
        return tuple(out)

    def stragglers(self, hosts: Mapping[str, Curve], gpus: int) -> tuple[StragglerStatus, ...]:
        """The straggling hosts' statuses (see :meth:`statuses`)."""
        return tuple(s for s in self.statuses(hosts, gpus) if s.straggling)

    def _window(self, hosts: Mapping[str, Curve], gpus: int) -> dict[int, dict[str, float]]:
        """Per-GPU values by minute (epoch s // 60) and host, over the trailing window."""
        end = max((ts for samples in hosts.values() for ts, _ in samples), default=None)
        if end is None or gpus <= 0:
            return {}
        start = end - self.window_minutes * 60.0
        by_minute: dict[int, dict[str, float]] = {}
        for host, samples in hosts.items():
            for ts, summed in samples:
                if start < ts <= end and math.isfinite(summed):
                    by_minute.setdefault(int(ts // 60), {})[host] = summed / gpus
        return by_minute

    def _status(
        self, host: str, rows: Sequence[tuple[Mapping[str, float], Sequence[float]]], others: int
    ) -> StragglerStatus | None:
        """``host`` against the others at each minute of the window (``rows``, oldest first)."""
        total = others_total = 0.0
        samples = 0
        low = True
        below_now: bool | None = None
        for values, ordered in rows:
            mine = values.get(host)
            if mine is None or len(ordered) < 2:
                continue
            med = _median_without(ordered, mine)
            below = mine < med - self.margin_pct
            low = low and below and med >= self.busy_pct
            below_now = below
            total, others_total, samples = total + mine, others_total + med, samples + 1
        if samples == 0:
            return None
        straggling = low and samples >= self.coverage * self.window_minutes
        return StragglerStatus(
            host, straggling, below_now, total / samples, others_total / samples, others, samples
        )

    def episodes(
        self,
        job: str,
        open_hosts: Set[str],
        statuses: Iterable[StragglerStatus],
        *,
        now: float,
        elapsed_minutes: float,
    ) -> Episodes:
        """The job's straggler episodes at ``now`` (:func:`straggler_episodes`), each opened
        one with its alert (what it saw began a window ago)."""
        changes = straggler_episodes(open_hosts, statuses)
        since = now - self.window_minutes * 60.0
        opened = []
        for status in changes.opened:
            key = straggler_key(status.host)
            alert = self.alert(job, status, elapsed_minutes=elapsed_minutes)
            opened.append(Opening(key, alert, since, key.alert(now)))
        return Episodes(tuple(opened), tuple(straggler_key(host) for host in changes.closed))

    def alert(self, job: str, status: StragglerStatus, *, elapsed_minutes: float) -> Decision:
        """The alert of one straggling host's episode, with its numbers."""
        return Decision(
            job=job,
            rule=RULE,
            stop=False,
            step=elapsed_minutes,
            value=status.per_gpu_mean,
            threshold=status.others_median,
            references=0,
            reason=f"{status.host} at {fmt(status.per_gpu_mean)}% per GPU vs "
            f"{fmt(status.others_median)}% median of the other {_hosts(status.others)} for "
            f"{fmt(self.window_minutes)} min ({fmt(status.gap)} points below, margin "
            f"{fmt(self.margin_pct)})",
            alert=True,
        )


def straggler_episodes(open_hosts: Set[str], statuses: Iterable[StragglerStatus]) -> EpisodeChanges:
    """Which straggler episodes open and close this tick. ``open_hosts``: the hosts of the job
    with an open episode. A straggling host without one opens one; a host with one closes it
    when it is no longer below the margin on its latest sample. A host without a status (no
    data this tick) keeps its episode: unknown is not recovered."""
    opened, closed = [], []
    for status in statuses:
        if status.host in open_hosts:
            if status.below_now is False:
                closed.append(status.host)
        elif status.straggling:
            opened.append(status)
    return EpisodeChanges(tuple(opened), tuple(closed))


def _median_without(ordered: Sequence[float], value: float) -> float:
    """The median of ``ordered`` (sorted, containing ``value``) with one ``value`` removed:
    the element at rank k of what remains is ``ordered[k]`` below ``value``'s index, else
    ``ordered[k + 1]``."""
    i = bisect_left(ordered, value)
    mid = (len(ordered) - 1) // 2
    upper = ordered[mid] if mid < i else ordered[mid + 1]
    if len(ordered) % 2 == 0:  # an odd count remains
        return upper
    lower = ordered[mid - 1] if mid - 1 < i else ordered[mid]
    return (lower + upper) / 2.0


def _hosts(n: int) -> str:
    return "host" if n == 1 else f"{n} hosts"
