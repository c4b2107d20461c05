"""Divergence rule: a diverged objective stops the job at once, whatever the other rules say.

Three shapes (CloudWatch cannot store NaN, so on live data a NaN rarely arrives as such):
  * the latest value is NaN or infinite (curve files, replays, custom publishers);
  * explosion: a minimized objective (a loss) rises above ``explode_factor`` x its scale,
    the larger of its first finite value and the median of its first five finite values. The
    median keeps a near-zero first value (an over-confident first epoch: 1e-12 on a small
    validation set, seen in the recorded wine-mlp-018) from making any later value an
    "explosion";
  * silence after a rise: the objective stopped arriving for ``silence_minutes`` while the
    job's instance metrics still arrive, and its last value was worse than its first (the
    metric regex no longer matches ``loss: nan``). Silence without a rise is a stall: the
    runtime guard alerts on it and nothing is stopped.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from .curves import Curve, Direction, fmt, is_better, median
from .decision import Decision
from .rule import GO, STOP, GroupState, Plain, RuleDefaults, Verdict
from .summary import CurveSummary
from .values import frozen

RULE = "diverged"


Shape = Literal["non-finite", "explosion", "silence"]


@frozen
class DivergenceRule(RuleDefaults):
    direction: Direction = Direction.MINIMIZE
    explode_factor: float = 10.0
    silence_minutes: float = 10.0

    def decide(self, job: str, curve: Curve, *, silent_minutes: float | None = None) -> Decision:
        """``silent_minutes``: minutes since the objective's last datapoint while the job's
        instance metrics kept arriving (None when unknown or when everything is silent)."""
        summary = CurveSummary.of(curve, self.direction)
        return self.decide_summary(job, summary, silent_minutes=silent_minutes)

    final: ClassVar[bool] = True  # a diverged job stops whatever the other rules say

    def judge(self, summary: CurveSummary, group: GroupState) -> Plain:
        """The objective rules' verb (:mod:`.rule`): reads ``group.silent_minutes``."""
        return STOP if self.stops(summary, silent_minutes=group.silent_minutes) else GO

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """:meth:`judge`'s verdict written out (:meth:`decide_summary`)."""
        return self.decide_summary(job, summary, silent_minutes=group.silent_minutes)

    def stops(self, summary: CurveSummary, *, silent_minutes: float | None = None) -> bool:
        """Whether :meth:`decide_summary` stops the job, without building its Decision."""
        return self._shape(summary, silent_minutes) is not None

    def decide_summary(
        self, job: str, summary: CurveSummary, *, silent_minutes: float | None = None
    ) -> Decision:
        """The same decision from the job's :class:`CurveSummary`."""
        step, latest = summary.last_step, summary.last_value
        if step is None or latest is None:
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
        shape = self._shape(summary, silent_minutes)
        threshold: float | None = None
        if shape is None:
            reason = "objective is finite and bounded"
        elif shape == "non-finite":
            reason = f"stop: objective is {latest} at step {fmt(step)} (diverged)"
        else:
            first = summary.head[0]  # the latest value is finite, so there is one
            if shape == "explosion":
                scale = self._scale(summary)
                threshold = self.explode_factor * scale
                reason = (
                    f"stop: objective {fmt(latest)} at step {fmt(step)} exploded past "
                    f"{fmt(self.explode_factor)} x its scale {fmt(scale)} (= {fmt(threshold)}; "
                    f"first value {fmt(first)})"
                )
            else:
                threshold = first
                reason = (
                    f"stop: objective silent for {fmt(silent_minutes)} min while the instances "
                    f"still report, after rising from {fmt(first)} to {fmt(latest)} "
                    "(diverged to NaN/inf)"
                )
        return Decision(
            job=job,
            rule=RULE,
            stop=shape is not None,
            step=step,
            value=latest,
            threshold=threshold,
            references=0,
            reason=reason,
        )

    def _shape(self, summary: CurveSummary, silent_minutes: float | None) -> Shape | None:
        """Which diverged shape the summary shows, if any (the module docstring's three)."""
        latest = summary.last_value
        if latest is None:
            return None
        if not math.isfinite(latest):
            return "non-finite"
        if self.direction == "minimize":
            scale = self._scale(summary)
            if scale > 0 and latest > self.explode_factor * scale:
                return "explosion"
        first = summary.head[0]
        if (
            silent_minutes is not None
            and silent_minutes >= self.silence_minutes
            and is_better(first, latest, self.direction)
        ):
            return "silence"
        return None

    @staticmethod
    def _scale(summary: CurveSummary) -> float:
        """The larger of the first finite value and the median of the first five."""
        return max(summary.head[0], median(summary.head))
