"""The objective rules' one vocabulary (as Optuna's pruners share ``prune(study, trial)``).

Every objective rule (:class:`ObjectiveRule`) answers one verb::

    rule.judge(summary, group) -> Verdict | None

``summary`` is the job's :class:`~.summary.CurveSummary`; ``group`` the one
:class:`GroupState` argument: what the tick knows beside the job's own curve (its group's
reference table and catch-up model, the job's catch-up counter, how long its objective has been
silent). A rule reads the part it needs; a rule whose part is missing (None) makes no decision
and answers None. The :class:`Verdict` is a small value that says whether to stop;
``rule.decision(job, summary, verdict, group)`` writes it out as a :class:`~.decision.Decision`
with its reason, which only a stop (or a caller who wants every rule's numbers) needs: most jobs
continue at most ticks. A rule whose stop is ``final`` ends the walk (divergence); a rule that
``carries`` the job's catch-up counter returns it updated from ``carry``.

:class:`~.engine.ObjectiveRules` walks one ordered tuple of such rules (:data:`~.engine.ORDER`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NamedTuple, Protocol

if TYPE_CHECKING:
    from .catchup import CatchUpModel, WorseStreak
    from .curves import Direction
    from .decision import Decision
    from .median import ThresholdSource
    from .summary import CurveSummary


class GroupState(NamedTuple):
    """What an objective rule reads beside the job's curve summary (None: unknown or none)."""

    references: ThresholdSource | None = None  # the median rule's: the group's M(s)
    catchup: CatchUpModel | None = None  # the catch-up rule's: the group's model
    streak: WorseStreak | None = None  # the job's catch-up counter as the last tick left it
    silent_minutes: float | None = None  # the objective's silence while the instances report


NO_GROUP = GroupState()


class GroupRecord(Protocol):
    """Where a group's state is kept (``models.GroupStats``): its median tables and its
    catch-up model."""

    @property
    def catchup(self) -> CatchUpModel | None: ...

    def table(self, key: str = "all") -> ThresholdSource | None: ...


class Verdict(Protocol):
    """A rule's answer without its explanation (``MedianVerdict``, ``CatchUpVerdict``,
    :class:`Plain`)."""

    @property
    def stop(self) -> bool: ...


class Plain(NamedTuple):
    """The verdict of a rule whose decision is written out from the summary alone."""

    stop: bool


STOP, GO = Plain(True), Plain(False)


class RuleDefaults:
    """What an objective rule is unless it says otherwise (Optuna's ``BasePruner``): its
    stop does not end the walk, and it carries no counter of the job's."""

    final: ClassVar[bool] = False
    carries: ClassVar[bool] = False

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak:
        """The job's catch-up counter after ``verdict`` (read only when ``carries``)."""
        return streak


class ObjectiveRule(Protocol):
    """An objective rule: one verb, :meth:`judge`, and :meth:`decision` to write it out."""

    final: ClassVar[bool]
    carries: ClassVar[bool]

    @property
    def direction(self) -> Direction: ...

    def judge(self, summary: CurveSummary, group: GroupState) -> Verdict | None:
        """The rule's verdict from the job's ``summary`` and ``group``; None when the part of
        ``group`` it reads is missing (no decision)."""
        ...

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """``verdict`` (this rule's :meth:`judge` on the same summary and group) written
        out, with its one-sentence reason."""
        ...

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak: ...
