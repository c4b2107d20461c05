"""The median stopping rule (Google Vizier, KDD 2017), as ../DESIGN.md defines it.

Evaluate running job X at its latest step s:
  1. references: completed jobs of the group whose curve reaches s (last step >= s);
  2. each reference's running average at s = mean of its measurements with grace <= step <= s;
     non-finite averages (and references with no measurement in that window) are dropped;
  3. M = median of those averages (mean of the two middle values for an even count);
  4. b = X's best finite value with step <= s;
  5. STOP iff b is strictly worse than M; ties continue;
  6. no decision while fewer than ``min_completed`` references remain, or s < ``grace``.

M depends only on the completed jobs, so :class:`ReferenceTable` materializes it once per
completion as a piecewise-constant function of s; each tick then costs one binary search.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Protocol

from .curves import Curve, Direction, best_so_far, fmt, is_better, median, running_average
from .decision import Decision
from .summary import CurveSummary

RULE = "median"


class ThresholdSource(Protocol):
    def at(self, step: float) -> tuple[float | None, int]:
        """(median of the references' running averages at ``step`` or None, reference count)."""
        ...


@dataclass(frozen=True)
class DirectReferences:
    """Computes M(s) from the completed curves on every call: the definition, written plainly."""

    curves: Mapping[str, Curve]
    grace: float = 0.0

    def at(self, step: float) -> tuple[float | None, int]:
        averages = []
        for curve in self.curves.values():
            if not curve or curve[-1][0] < step:
                continue
            avg = running_average(curve, step, self.grace)
            if avg is not None and math.isfinite(avg):
                averages.append(avg)
        return (median(averages) if averages else None), len(averages)


@dataclass(frozen=True)
class ReferenceTable:
    """M(s) materialized for one group and one grace.

    M(s) only changes at the references' steps: at a breakpoint b_i it takes one value, on the
    open interval (b_i, b_i+1) another (a reference whose last step is b_i has left the set,
    while the averages are still those at b_i). Before the first and after the last breakpoint
    there are no references. ``at`` is a binary search.
    """

    breakpoints: tuple[float, ...]
    at_point: tuple[tuple[float | None, int], ...]
    between: tuple[tuple[float | None, int], ...]  # between[i] covers (b_i, b_i+1)
    grace: float = 0.0
    jobs: int = 0

    @classmethod
    def build(
        cls, curves: Mapping[str, Curve] | Iterable[Curve], grace: float = 0.0
    ) -> ReferenceTable:
        """Materialize M(s) for every s from the completed jobs' curves."""
        items = list(curves.values()) if isinstance(curves, Mapping) else list(curves)
        prepared = []
        for curve in items:
            if not curve:
                continue
            steps = [s for s, _ in curve]
            # prefix sums over the measurements inside the window [grace, s], in curve order
            # so that the float results equal running_average's exactly
            window_values = [v if s >= grace else 0.0 for s, v in curve]
            window_counts = [1 if s >= grace else 0 for s, _ in curve]
            sums = list(accumulate(window_values, initial=0.0))
            counts = list(accumulate(window_counts, initial=0))
            prepared.append((steps, sums, counts))

        points = sorted({s for steps, _, _ in prepared for s in steps})

        def evaluate(step: float, *, open_interval: bool) -> tuple[float | None, int]:
            averages = []
            for steps, sums, counts in prepared:
                last = steps[-1]
                if last < step or (open_interval and last <= step):
                    continue
                k = bisect_right(steps, step)
                if counts[k] == 0:
                    continue
                avg = _window_mean(sums, counts, k)
                if math.isfinite(avg):
                    averages.append(avg)
            return (median(averages) if averages else None), len(averages)

        at_point = tuple(evaluate(b, open_interval=False) for b in points)
        between = tuple(evaluate(b, open_interval=True) for b in points[:-1])
        return cls(tuple(points), at_point, between, grace, len(prepared))

    def at(self, step: float) -> tuple[float | None, int]:
        i = bisect_left(self.breakpoints, step)
        if i < len(self.breakpoints) and self.breakpoints[i] == step:
            return self.at_point[i]
        if i == 0 or i == len(self.breakpoints):
            return None, 0
        return self.between[i - 1]

    def to_dict(self) -> dict[str, Any]:
        """Compact, JSON-safe form for storage (None stands for 'no references')."""
        return {
            "grace": self.grace,
            "jobs": self.jobs,
            "b": list(self.breakpoints),
            "p": [[m, n] for m, n in self.at_point],
            "o": [[m, n] for m, n in self.between],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ReferenceTable:
        def pairs(rows: Iterable[Any]) -> tuple[tuple[float | None, int], ...]:
            return tuple((None if m is None else float(m), int(n)) for m, n in rows)

        return cls(
            tuple(float(b) for b in raw["b"]),
            pairs(raw["p"]),
            pairs(raw["o"]),
            float(raw.get("grace", 0.0)),
            int(raw.get("jobs", 0)),
        )


def _window_mean(sums: list[float], counts: list[int], k: int) -> float:
    return sums[k] / counts[k]


@dataclass(frozen=True)
class MedianStoppingRule:
    """Stop a running job whose best value is strictly worse than the references' median."""

    direction: Direction = "minimize"
    min_completed: int = 3
    grace: float = 0.0

    def decide(
        self, job: str, curve: Curve, references: ThresholdSource | Mapping[str, Curve]
    ) -> Decision:
        """Decide for ``job`` at its latest step; ``references`` are the completed jobs' curves
        (or a materialized :class:`ReferenceTable` built with the same grace)."""
        if not curve:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=None,
                value=None,
                threshold=None,
                references=0,
                reason="no measurements yet",
            )
        step = curve[-1][0]
        return self._decide(job, step, best_so_far(curve, step, self.direction), references)

    def decide_summary(
        self, job: str, summary: CurveSummary, references: ThresholdSource | Mapping[str, Curve]
    ) -> Decision:
        """The same decision from the job's :class:`CurveSummary`."""
        if summary.last_step is None:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=None,
                value=None,
                threshold=None,
                references=0,
                reason="no measurements yet",
            )
        return self._decide(job, summary.last_step, summary.best, references)

    def _decide(
        self,
        job: str,
        step: float,
        best: float | None,
        references: ThresholdSource | Mapping[str, Curve],
    ) -> Decision:
        source = (
            DirectReferences(references, self.grace)
            if isinstance(references, Mapping)
            else references
        )
        if isinstance(source, ReferenceTable) and source.grace != self.grace:
            raise ValueError(
                f"reference table was built with grace {source.grace}, rule has {self.grace}"
            )
        threshold, count = source.at(step)
        if step < self.grace:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=step,
                value=best,
                threshold=None,
                references=count,
                reason=(
                    f"step {fmt(step)} is inside the grace period (< {fmt(self.grace)}); "
                    "no decision"
                ),
            )
        if count < self.min_completed or threshold is None:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=step,
                value=best,
                threshold=None,
                references=count,
                reason=(
                    f"{count} completed reference job(s) reach step {fmt(step)}; "
                    f"{self.min_completed} needed before deciding"
                ),
            )
        if best is None:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=step,
                value=None,
                threshold=threshold,
                references=count,
                reason=f"no finite value by step {fmt(step)}; left to the divergence rule",
            )
        stop = is_better(threshold, best, self.direction)
        word = "worse" if stop else ("equal to" if best == threshold else "better")
        verb = "stop" if stop else "continue"
        reason = (
            f"{verb}: best {fmt(best)} by step {fmt(step)} is {word}"
            f"{'' if word == 'equal to' else ' than'} the median {fmt(threshold)} of {count} "
            f"completed jobs' running averages ({self.direction})"
        )
        return Decision(
            job=job,
            rule=RULE,
            stop=stop,
            step=step,
            value=best,
            threshold=threshold,
            references=count,
            reason=reason,
        )
