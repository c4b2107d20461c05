"""Throughput regression: a job's samples/s per instance below its group's usual level, or
fallen from its own earlier level.

A job opts in with a tag naming its throughput metric (the job's total samples/s, higher is
better, as its rank 0 logs it); the rule divides by the instance count. Data: one more query
per opted-in job in the tick's batched GetMetricData (1-minute period), folded one datapoint
at a time into a :class:`ThroughputSummary` kept on the job's item, O(1) in size.

Levels, robust by construction:

* the **recent level** is the median of the job's last :data:`WINDOW` datapoints after the
  warm-up (ten minutes at the 1-minute period): one slow minute (a checkpoint, an evaluation)
  does not move it, a regression does once it lasts about half the window;
* the **established level** is the highest recent level the job has reached after its
  warm-up. A median over ten minutes needs most of them to be fast, so a spike cannot set it;
  a slow ramp-up (compilation, cache warming) only raises it, so it never reads as a drop;
  and it is O(1) to keep, where "the median of a stable early window" would need deciding
  which window is stable and a job that speeds up later would never be judged against its
  real level;
* the **early level** is the highest median of the first window while it fills, from
  :data:`EARLY` datapoints after the warm-up (still robust: most of them must be fast). A
  drop inside the first window (minute 15 of a 10-minute warm-up) would otherwise become the
  established level itself and never be alerted; the job's own baseline is the higher of the
  two, so the level it fell to cannot be it (issue 20).

The group figure is the median over the group's completed jobs of
:func:`completed_per_instance` (the median of a job's series after its warm-up, divided by
its instance count: a median, so that evaluation and checkpoint dips do not count), kept per
group and refreshed on completion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .curves import Curve, fmt, median
from .decision import Decision
from .episode import THROUGHPUT, Episodes, Opening
from .stored import Record, entries, number, real, whole
from .values import frozen

RULE = "throughput"
WINDOW = 10  # datapoints in the recent level
EARLY = WINDOW // 2  # datapoints of the first window from which its median counts


@dataclass(frozen=True, slots=True)
class ThroughputSummary:
    """One job's throughput as the rule reads it; steps are minutes since training start."""

    warmup_minutes: float = 10.0  # datapoints before this step are counted, not judged
    count: int = 0  # datapoints folded in
    last_step: float | None = None
    recent: tuple[float, ...] = ()  # the last WINDOW finite values after the warm-up
    established: float | None = None  # the highest median of a full recent window
    established_step: float | None = None
    early: float | None = None  # the highest median of the first window while it filled
    early_step: float | None = None

    @classmethod
    def of(cls, curve: Iterable[tuple[float, float]], warmup_minutes: float) -> ThroughputSummary:
        """The summary of a whole series (the same as folding :meth:`add`)."""
        summary = cls(warmup_minutes)
        for step, value in curve:
            summary = summary.add(step, value)
        return summary

    @property
    def level(self) -> float | None:
        """The recent level: the median of a full window (None before one)."""
        return median(self.recent) if len(self.recent) == WINDOW else None

    def add(self, step: float, value: float) -> ThroughputSummary:
        """The summary with the next datapoint folded in (its step must be greater than
        ``last_step``); this one is left as it was."""
        if self.last_step is not None and step <= self.last_step:
            raise ValueError(f"steps must increase: {step} after {self.last_step}")
        recent, established, at = self.recent, self.established, self.established_step
        early, early_at = self.early, self.early_step
        if step >= self.warmup_minutes and math.isfinite(value):
            recent = (*recent, value)[-WINDOW:]
            if len(recent) == WINDOW:
                level = median(recent)
                if established is None or level > established:
                    established, at = level, step
            elif len(recent) >= EARLY and established is None:
                level = median(recent)
                if early is None or level > early:
                    early, early_at = level, step
        return ThroughputSummary(
            self.warmup_minutes, self.count + 1, step, recent, established, at, early, early_at
        )

    @property
    def best(self) -> tuple[float, float | None] | None:
        """The job's own baseline and its step: the established level, or the early one when
        that was higher (None: neither yet)."""
        if self.established is None:
            return None
        if self.early is not None and self.early > self.established:
            return self.early, self.early_step
        return self.established, self.established_step

    def to_dict(self) -> dict[str, object]:
        """JSON-safe (non-finite values are never kept)."""
        return {
            "warmup_minutes": self.warmup_minutes,
            "count": self.count,
            "last_step": self.last_step,
            "recent": list(self.recent),
            "established": self.established,
            "established_step": self.established_step,
            "early": self.early,
            "early_step": self.early_step,
        }

    @classmethod
    def from_dict(cls, raw: Record) -> ThroughputSummary:
        """Raises ValueError (or TypeError) for an unreadable record."""

        recent = tuple(real(v) for v in entries(raw.get("recent", ())))
        if len(recent) > WINDOW or not all(math.isfinite(v) for v in recent):
            raise ValueError(f"throughput summary: unusable recent values {recent}")
        return cls(
            warmup_minutes=real(raw.get("warmup_minutes", 10.0)),
            count=whole(raw.get("count", 0)),
            last_step=number(raw.get("last_step")),
            recent=recent,
            established=number(raw.get("established")),
            established_step=number(raw.get("established_step")),
            early=number(raw.get("early")),
            early_step=number(raw.get("early_step")),
        )


@frozen
class ThroughputBaseline:
    """A group's median throughput per instance over its completed jobs."""

    median_per_instance: float
    jobs: int

    @classmethod
    def of(cls, figures: Iterable[float]) -> ThroughputBaseline | None:
        """From the completed jobs' :func:`completed_per_instance` figures (None: none)."""
        values = [f for f in figures if math.isfinite(f)]
        return cls(median(values), len(values)) if values else None


def completed_per_instance(
    curve: Curve, instances: int, *, warmup_minutes: float = 10.0
) -> float | None:
    """The figure a completed job adds to its group: the median of its throughput after the
    warm-up, per instance (None: nothing after the warm-up). ``curve``: ``(minute since
    training start, samples/s)``."""
    values = [v for step, v in curve if step >= warmup_minutes and math.isfinite(v)]
    if not values or instances <= 0:
        return None
    return median(values) / instances


@frozen
class ThroughputStatus:
    """The job's recent level per instance against its group and its own earlier level."""

    instances: int
    per_instance: float
    group: ThroughputBaseline | None
    established_per_instance: float | None
    established_step: float | None
    below_group: bool
    dropped: bool

    @property
    def low(self) -> bool:
        """Worth an alert: below the group's level, or fallen from its own."""
        return self.below_group or self.dropped


@frozen
class ThroughputRule:
    fraction: float = 0.7  # of the group's median per instance
    drop: float = 0.3  # from its own established level
    warmup_minutes: float = 10.0

    def new_summary(self) -> ThroughputSummary:
        """An empty summary counting this rule's warm-up (a stored summary with another
        warm-up is read again from the job's start)."""
        return ThroughputSummary(self.warmup_minutes)

    def judge(
        self, summary: ThroughputSummary, *, instances: int, group: ThroughputBaseline | None
    ) -> ThroughputStatus | None:
        """The job's status; None before a full window after the warm-up (no verdict).
        ``group``: the group's completed jobs' baseline (None: none with throughput)."""
        level = summary.level
        if level is None or instances <= 0:
            return None
        per_instance = level / instances
        below = group is not None and per_instance < self.fraction * group.median_per_instance
        best = summary.best
        own = None if best is None else best[0] / instances
        dropped = own is not None and per_instance < (1.0 - self.drop) * own
        return ThroughputStatus(
            instances, per_instance, group, own, best[1] if best else None, below, dropped
        )

    def alert(
        self,
        job: str,
        status: ThroughputStatus,
        *,
        single: ThroughputBaseline | None = None,
        elapsed_minutes: float,
    ) -> Decision:
        """The alert of a low-throughput episode. ``single``: the group's single-instance
        completed jobs' baseline; with it, a multi-instance job's reason gives its scaling
        efficiency (its throughput per instance / that median)."""
        per, group = status.per_instance, status.group
        parts = []
        threshold: float | None = None
        if status.below_group and group is not None:
            threshold = self.fraction * group.median_per_instance
            parts.append(
                f"{fmt(per / group.median_per_instance)} of the group's median "
                f"{fmt(group.median_per_instance)} per instance "
                f"({_count(group.jobs, 'completed job')})"
            )
        own = status.established_per_instance
        if status.dropped and own is not None:
            threshold = threshold if threshold is not None else (1.0 - self.drop) * own
            parts.append(
                f"{fmt(per / own)} of its own earlier {fmt(own)} per instance (minute "
                f"{fmt(status.established_step)}), a drop of more than {fmt(self.drop)}"
            )
        reason = (
            f"{_count(status.instances, 'instance')} at {fmt(per)} samples/s per instance, "
            + " and ".join(parts or ["not low"])
        )
        if single is not None and status.instances > 1 and single.median_per_instance > 0:
            reason += (
                f"; scaling efficiency {fmt(per / single.median_per_instance)} against "
                f"{_count(single.jobs, 'single-instance job')}"
            )
        return Decision(
            job=job,
            rule=RULE,
            stop=False,
            step=elapsed_minutes,
            value=per,
            threshold=threshold,
            references=group.jobs if group is not None else 0,
            reason=reason,
            alert=True,
        )

    def episodes(
        self,
        job: str,
        is_open: bool,
        summary: ThroughputSummary,
        *,
        instances: int,
        group: ThroughputBaseline | None,
        single: ThroughputBaseline | None = None,
        now: float,
        elapsed_minutes: float,
    ) -> Episodes:
        """The job's low-throughput episode at ``now`` (``is_open``: one is open): opened,
        with its alert, when the level is low (it is the last :data:`WINDOW` minutes'
        median); closed when it no longer is; left as it is without a verdict."""
        level = self.judge(summary, instances=instances, group=group)
        if level is not None and level.low and not is_open:
            alert = self.alert(job, level, single=single, elapsed_minutes=elapsed_minutes)
            since = now - WINDOW * 60.0
            return Episodes(opened=(Opening(THROUGHPUT, alert, since, THROUGHPUT.alert(now)),))
        if level is not None and not level.low and is_open:
            return Episodes(closed=(THROUGHPUT,))
        return Episodes()

    def check(
        self,
        job: str,
        summary: ThroughputSummary,
        *,
        instances: int,
        group: ThroughputBaseline | None,
        single: ThroughputBaseline | None = None,
        elapsed_minutes: float,
    ) -> Decision | None:
        """:meth:`judge`, then the alert when the throughput is low (None: not low, or no
        verdict)."""
        status = self.judge(summary, instances=instances, group=group)
        if status is None or not status.low:
            return None
        return self.alert(job, status, single=single, elapsed_minutes=elapsed_minutes)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
