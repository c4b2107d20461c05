"""How the objective rules combine for one job: divergence first, then median, then patience.

Shared by the evaluator Lambda, the replay and ``trainguard decide`` so that all three decide
the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .curves import Curve, Direction
from .decision import Decision
from .divergence import DivergenceRule
from .median import MedianStoppingRule, ThresholdSource
from .patience import PatienceRule
from .summary import CurveSummary


@dataclass(frozen=True)
class ObjectiveRules:
    median: MedianStoppingRule | None = None
    patience: PatienceRule | None = None
    divergence: DivergenceRule | None = None

    def decide(
        self,
        job: str,
        curve: Curve,
        references: ThresholdSource | None = None,
        *,
        silent_minutes: float | None = None,
    ) -> list[Decision]:
        """Every enabled rule's decision, divergence first. A divergence stop ends the list:
        it stops the job whatever the others would say."""
        return self.decide_summary(
            job, self.summarize(curve), references, silent_minutes=silent_minutes
        )

    def summarize(self, curve: Curve) -> CurveSummary:
        """The summary these rules read (their direction, the patience rule's min_delta)."""
        return CurveSummary.of(curve, self.direction, self.min_delta)

    @property
    def direction(self) -> Direction:
        for rule in (self.median, self.patience, self.divergence):
            if rule is not None:
                return rule.direction
        return "minimize"

    @property
    def min_delta(self) -> float:
        return self.patience.min_delta if self.patience is not None else 0.0

    def decide_summary(
        self,
        job: str,
        summary: CurveSummary,
        references: ThresholdSource | None = None,
        *,
        silent_minutes: float | None = None,
    ) -> list[Decision]:
        """The same decisions from the job's :class:`CurveSummary` (see :meth:`summarize`)."""
        decisions: list[Decision] = []
        if self.divergence is not None:
            d = self.divergence.decide_summary(job, summary, silent_minutes=silent_minutes)
            if d.stop:
                return [d]
            decisions.append(d)
        if self.median is not None and references is not None:
            decisions.append(self.median.decide_summary(job, summary, references))
        if self.patience is not None:
            decisions.append(self.patience.decide_summary(job, summary))
        return decisions

    def stop_summary(
        self,
        job: str,
        summary: CurveSummary,
        references: ThresholdSource | None = None,
        *,
        silent_minutes: float | None = None,
    ) -> Decision | None:
        """The stop that acts on the job, or None when every rule continues: the first stop
        of :meth:`decide_summary`, in the same order, but a 'continue' builds no Decision and
        no reason (most jobs continue at most ticks)."""
        if self.divergence is not None and self.divergence.stops(
            summary, silent_minutes=silent_minutes
        ):
            return self.divergence.decide_summary(job, summary, silent_minutes=silent_minutes)
        if self.median is not None and references is not None:
            median = self.median.check_summary(summary, references)
            if median.stop:
                return self.median.explain(job, median)
        if self.patience is not None and self.patience.stops(summary):
            return self.patience.decide_summary(job, summary)
        return None


def verdict(decisions: Sequence[Decision]) -> Decision | None:
    """The decision that acts: the first stop; otherwise the first comparison rule's (median,
    then patience) 'continue', which carries the numbers; None when nothing was evaluated."""
    for d in decisions:
        if d.stop:
            return d
    for d in decisions:
        if d.rule != "diverged":
            return d
    return decisions[0] if decisions else None
