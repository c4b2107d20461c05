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
from dataclasses import dataclass

from .curves import Curve, Direction, fmt, is_better, median
from .decision import Decision
from .summary import CurveSummary

RULE = "diverged"


@dataclass(frozen=True)
class DivergenceRule:
    direction: Direction = "minimize"
    explode_factor: float = 10.0
    silence_minutes: float = 10.0

    def decide(self, job: str, curve: Curve, *, silent_minutes: float | None = None) -> Decision:
        """``silent_minutes``: minutes since the objective's last datapoint while the job's
        instance metrics kept arriving (None when unknown or when everything is silent)."""
        summary = CurveSummary.of(curve, self.direction)
        return self.decide_summary(job, summary, silent_minutes=silent_minutes)

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
        if not math.isfinite(latest):
            return Decision(
                job=job,
                rule=RULE,
                stop=True,
                step=step,
                value=latest,
                threshold=None,
                references=0,
                reason=f"stop: objective is {latest} at step {fmt(step)} (diverged)",
            )
        first = summary.head[0]  # the latest value is finite, so there is one
        scale = max(first, median(summary.head))
        if self.direction == "minimize" and scale > 0 and latest > self.explode_factor * scale:
            limit = self.explode_factor * scale
            return Decision(
                job=job,
                rule=RULE,
                stop=True,
                step=step,
                value=latest,
                threshold=limit,
                references=0,
                reason=(
                    f"stop: objective {fmt(latest)} at step {fmt(step)} exploded past "
                    f"{fmt(self.explode_factor)} x its scale {fmt(scale)} (= {fmt(limit)}; "
                    f"first value {fmt(first)})"
                ),
            )
        if (
            silent_minutes is not None
            and silent_minutes >= self.silence_minutes
            and is_better(first, latest, self.direction)
        ):
            return Decision(
                job=job,
                rule=RULE,
                stop=True,
                step=step,
                value=latest,
                threshold=first,
                references=0,
                reason=(
                    f"stop: objective silent for {fmt(silent_minutes)} min while the instances "
                    f"still report, after rising from {fmt(first)} to {fmt(latest)} "
                    "(diverged to NaN/inf)"
                ),
            )
        return Decision(
            job=job,
            rule=RULE,
            stop=False,
            step=step,
            value=latest,
            threshold=None,
            references=0,
            reason="objective is finite and bounded",
        )
