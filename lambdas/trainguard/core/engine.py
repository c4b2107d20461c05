"""How the objective rules combine for one job: one ordered walk over the enabled rules.

Shared by the evaluator Lambda, the replay and ``trainguard decide`` so that all three decide
the same way. Every rule answers the one verb of :mod:`.rule`, ``judge(job, summary, group)``;
:data:`ORDER` is the one place that says in which order they are walked (divergence first: its
stop is final; then median, catch-up and patience: the first stop acts). The catch-up rule
carries the job's :class:`WorseStreak`, which :meth:`ObjectiveRules.judge` returns updated for
the caller to keep until the next tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from .catchup import NO_STREAK, CatchUpModel, CatchUpRule, WorseStreak
from .curves import Curve, Direction
from .decision import Decision
from .divergence import DivergenceRule
from .median import MedianStoppingRule, ThresholdSource
from .patience import PatienceRule
from .rule import GroupRecord, GroupState, ObjectiveRule, Verdict
from .summary import CurveSummary

#: the order the rules are walked in, by their field on :class:`ObjectiveRules`
ORDER = ("divergence", "median", "catchup", "patience")


class StopCheck(NamedTuple):
    """:meth:`ObjectiveRules.judge`'s answer: the stop that acts on the job (None when every
    rule continues) and the job's catch-up counter to keep until the next tick."""

    stop: Decision | None
    streak: WorseStreak


@dataclass(frozen=True, slots=True)
class ObjectiveRules:
    """The enabled objective rules of one job (None: off), walked in :data:`ORDER`
    (``ordered``). Each rule reads what it needs of the :class:`GroupState`: the median rule
    the group's ``references`` table, the catch-up rule the group's ``catchup`` model and the
    job's ``streak``; a rule whose group state is not given (None) makes no decision."""

    median: MedianStoppingRule | None = None
    patience: PatienceRule | None = None
    divergence: DivergenceRule | None = None
    catchup: CatchUpRule | None = None
    ordered: tuple[ObjectiveRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        enabled = tuple(r for r in (getattr(self, name) for name in ORDER) if r is not None)
        object.__setattr__(self, "ordered", enabled)

    def judge(self, job: str, summary: CurveSummary, group: GroupState) -> StopCheck:
        """The stop that acts on the job (None when every rule continues) and its catch-up
        counter after this tick. A 'continue' builds no Decision and no reason (most jobs
        continue at most ticks).

        The counter is updated whenever the catch-up rule judges the job, also when an earlier
        rule (the median) stops it first (observe mode keeps judging a reported job), and left
        as it was when a final stop (divergence) ends the walk or the catch-up rule is off.
        """
        streak = group.streak or NO_STREAK
        chosen: ObjectiveRule | None = None
        stop: Verdict | None = None
        for rule in self.ordered:
            if chosen is not None and not (rule.final or rule.carries):
                continue  # after the first stop only a final stop or the counter can change
            verdict = rule.judge(summary, group)
            if verdict is None:
                continue
            if verdict.stop:
                if rule.final:
                    return _stop_check((rule.decision(job, summary, verdict, group), streak))
                if chosen is None:
                    chosen, stop = rule, verdict
            if rule.carries:
                streak = rule.carry(streak, verdict)
        if chosen is None or stop is None:
            return _stop_check((None, streak))
        return _stop_check((chosen.decision(job, summary, stop, group), streak))

    def decisions(self, job: str, summary: CurveSummary, group: GroupState) -> list[Decision]:
        """Every enabled rule's decision, in :data:`ORDER`. A final stop (divergence) ends the
        list: it stops the job whatever the others would say."""
        out: list[Decision] = []
        for rule in self.ordered:
            verdict = rule.judge(summary, group)
            if verdict is None:
                continue
            decision = rule.decision(job, summary, verdict, group)
            if decision.stop and rule.final:
                return [decision]
            out.append(decision)
        return out

    def group_state(
        self,
        group: GroupRecord | None,
        *,
        streak: WorseStreak | None = None,
        silent_minutes: float | None = None,
    ) -> GroupState:
        """The :class:`GroupState` these rules read from the group's record (None: the group
        has no completed references yet) and what the tick carried for the job."""
        references = catchup = None
        if group is not None:
            references = group.table(self.median.table_key) if self.median else None
            catchup = group.catchup if self.catchup else None
        return _group_state((references, catchup, streak, silent_minutes))

    def summarize(self, curve: Curve) -> CurveSummary:
        """The summary these rules read (their direction, the patience rule's min_delta)."""
        return CurveSummary.of(curve, self.direction, self.min_delta)

    @property
    def direction(self) -> Direction:
        """The comparison rules' direction (the divergence rule's only when it is alone)."""
        for rule in (self.median, self.catchup, self.patience, self.divergence):
            if rule is not None:
                return rule.direction
        return Direction.MINIMIZE

    @property
    def min_delta(self) -> float:
        return self.patience.min_delta if self.patience is not None else 0.0

    # ---- the same walks with the group state as loose arguments -------------------------
    # (keywords, not a ``**`` of a TypedDict: the tick's walks would build a dict per job, and
    # the GroupState would read it back key by key)

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
        """:meth:`decisions` from the job's curve."""
        group = _group_state((references, catchup_model, streak, silent_minutes))
        return self.decisions(job, self.summarize(curve), group)

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
        """:meth:`decisions` (see :meth:`summarize`)."""
        return self.decisions(
            job, summary, _group_state((references, catchup_model, streak, silent_minutes))
        )

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
        """:meth:`judge`'s stop: the first stop of :meth:`decisions`, in the same order."""
        group = _group_state((references, catchup_model, streak, silent_minutes))
        # :meth:`judge`'s walk without the counter, which nobody keeps here (a tick's hot
        # path: no call level and no StopCheck more than the stop needs)
        chosen: ObjectiveRule | None = None
        stop: Verdict | None = None
        for rule in self.ordered:
            if chosen is not None and not rule.final:
                continue  # after the first stop only a final stop can change the answer
            verdict = rule.judge(summary, group)
            if verdict is None or not verdict.stop:
                continue
            if rule.final:
                return rule.decision(job, summary, verdict, group)
            if chosen is None:
                chosen, stop = rule, verdict
        if chosen is None or stop is None:
            return None
        return chosen.decision(job, summary, stop, group)

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
        """:meth:`judge`: its stop and the job's catch-up counter after this tick."""
        return self.judge(
            job, summary, _group_state((references, catchup_model, streak, silent_minutes))
        )


# ``GroupState(...)`` and ``StopCheck(...)`` run the NamedTuple's generated Python ``__new__``,
# which only binds its arguments and calls ``tuple.__new__``; the walks (once per job and tick)
# call ``tuple.__new__`` directly with the values in field order
_group_state = partial(tuple.__new__, GroupState)
_stop_check = partial(tuple.__new__, StopCheck)


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
