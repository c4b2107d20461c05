"""How the objective rules combine for one job: divergence first, then median, catch-up and
patience.

Shared by the evaluator Lambda, the replay and ``trainguard decide`` so that all three decide
the same way. The median rule reads the group's :class:`ReferenceTable` (``references``); the
catch-up rule the group's :class:`CatchUpModel` (``catchup_model``) and the job's own
:class:`WorseStreak` (``streak``), which :meth:`ObjectiveRules.stop_and_streak` returns updated
for the caller to keep until the next tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .catchup import NO_STREAK, CatchUpModel, CatchUpRule, WorseStreak
from .curves import Curve, Direction
from .decision import Decision
from .divergence import DivergenceRule
from .median import MedianStoppingRule, ThresholdSource
from .patience import PatienceRule
from .summary import CurveSummary


class StopCheck(NamedTuple):
    """:meth:`ObjectiveRules.stop_and_streak`'s answer: the stop that acts on the job (None
    when every rule continues) and the job's catch-up counter to keep until the next tick."""

    stop: Decision | None
    streak: WorseStreak


@dataclass(frozen=True)
class ObjectiveRules:
    """The enabled objective rules of one job (None: off). Each rule reads what it needs: the
    median rule the group's ``references`` table, the catch-up rule the group's
    ``catchup_model`` and the job's ``streak``; a rule whose group state is not given (None)
    makes no decision."""

    median: MedianStoppingRule | None = None
    patience: PatienceRule | None = None
    divergence: DivergenceRule | None = None
    catchup: CatchUpRule | None = None

    def decide(
        self,
        job: str,
        curve: Curve,
        references: ThresholdSource | None = None,
        *,
        silent_minutes: float | None = None,
        catchup_model: CatchUpModel | None = None,
        streak: WorseStreak | None = None,
    ) -> list[Decision]:
        """Every enabled rule's decision, divergence first. A divergence stop ends the list:
        it stops the job whatever the others would say."""
        return self.decide_summary(
            job,
            self.summarize(curve),
            references,
            silent_minutes=silent_minutes,
            catchup_model=catchup_model,
            streak=streak,
        )

    def summarize(self, curve: Curve) -> CurveSummary:
        """The summary these rules read (their direction, the patience rule's min_delta)."""
        return CurveSummary.of(curve, self.direction, self.min_delta)

    @property
    def direction(self) -> Direction:
        for rule in (self.median, self.catchup, self.patience, self.divergence):
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
        catchup_model: CatchUpModel | None = None,
        streak: WorseStreak | None = None,
    ) -> list[Decision]:
        """The same decisions from the job's :class:`CurveSummary` (see :meth:`summarize`),
        in the order divergence, median, catch-up, patience."""
        decisions: list[Decision] = []
        if self.divergence is not None:
            d = self.divergence.decide_summary(job, summary, silent_minutes=silent_minutes)
            if d.stop:
                return [d]
            decisions.append(d)
        if self.median is not None and references is not None:
            decisions.append(self.median.decide_summary(job, summary, references))
        if self.catchup is not None and catchup_model is not None:
            decisions.append(
                self.catchup.decide_summary(job, summary, catchup_model, streak or NO_STREAK)
            )
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
        catchup_model: CatchUpModel | None = None,
        streak: WorseStreak | None = None,
    ) -> Decision | None:
        """The stop that acts on the job, or None when every rule continues: the first stop
        of :meth:`decide_summary`, in the same order, but a 'continue' builds no Decision and
        no reason (most jobs continue at most ticks). With the catch-up rule on, use
        :meth:`stop_and_streak` to keep the job's counter too."""
        if self.catchup is not None and catchup_model is not None:
            return self.stop_and_streak(
                job,
                summary,
                references,
                silent_minutes=silent_minutes,
                catchup_model=catchup_model,
                streak=streak,
            ).stop
        # without the catch-up rule: the same order, without a counter to carry (this is the
        # median rule's hot path; it stays as cheap as it was)
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

    def stop_and_streak(
        self,
        job: str,
        summary: CurveSummary,
        references: ThresholdSource | None = None,
        *,
        silent_minutes: float | None = None,
        catchup_model: CatchUpModel | None = None,
        streak: WorseStreak | None = None,
    ) -> StopCheck:
        """:meth:`stop_summary`'s stop and the job's catch-up counter after this tick.

        ``catchup_model``: the group's :class:`CatchUpModel` (None: the catch-up rule makes no
        decision); ``streak``: the job's counter as the previous tick left it (None: a fresh
        one). The counter is updated whenever the catch-up rule judges the job, also when the
        median rule stops it first (observe mode keeps judging a reported job), and left as
        it was when the divergence rule stops it or the catch-up rule is off.
        """
        kept = streak or NO_STREAK
        if self.divergence is not None and self.divergence.stops(
            summary, silent_minutes=silent_minutes
        ):
            return StopCheck(
                self.divergence.decide_summary(job, summary, silent_minutes=silent_minutes), kept
            )
        catchup = None
        if self.catchup is not None and catchup_model is not None:
            catchup = self.catchup.check_summary(summary, catchup_model, kept)
            kept = kept.after(catchup)
        if self.median is not None and references is not None:
            median = self.median.check_summary(summary, references)
            if median.stop:
                return StopCheck(self.median.explain(job, median), kept)
        if catchup is not None and catchup.stop:
            assert self.catchup is not None and catchup_model is not None
            return StopCheck(self.catchup.explain(job, catchup, catchup_model), kept)
        if self.patience is not None and self.patience.stops(summary):
            return StopCheck(self.patience.decide_summary(job, summary), kept)
        return StopCheck(None, kept)


def verdict(decisions: Sequence[Decision]) -> Decision | None:
    """The decision that acts: the first stop; otherwise the first comparison rule's (median,
    catch-up, then patience) 'continue', which carries the numbers; None when nothing was
    evaluated."""
    for d in decisions:
        if d.stop:
            return d
    for d in decisions:
        if d.rule != "diverged":
            return d
    return decisions[0] if decisions else None
