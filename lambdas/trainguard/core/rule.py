"""The objective rules' one vocabulary (as Optuna's pruners share ``prune(study, trial)``).

Every objective rule answers one verb::

    rule.judge(job, summary, group) -> Verdict | None

``summary`` is the job's :class:`~.summary.CurveSummary`; ``group`` the one
:class:`GroupState` argument: what the tick knows beside the job's own curve (its group's
reference table and catch-up model, the job's catch-up counter, how long its objective has been
silent). A rule reads the part it needs; a rule whose part is missing (None) makes no decision
and answers None. The :class:`Verdict` says whether to stop and builds its
:class:`~.decision.Decision` (with its reason) only when asked: most jobs continue at most ticks.

:class:`~.engine.ObjectiveRules` walks one ordered tuple of such rules (:data:`~.engine.ORDER`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

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


class Verdict(NamedTuple):
    """One rule's answer for one job at one tick."""

    stop: bool
    explain: Callable[[], Decision]  # the Decision with its one-sentence reason
    final: bool = False  # a stop that ends the walk: no later rule is judged (divergence)
    streak: WorseStreak | None = None  # the job's catch-up counter after it (None: untouched)


class ObjectiveRule(Protocol):
    """An objective rule: one verb, :meth:`judge`."""

    @property
    def direction(self) -> Direction: ...

    def judge(self, job: str, summary: CurveSummary, group: GroupState) -> Verdict | None:
        """The rule's verdict on ``job`` from its ``summary`` and ``group``; None when the
        part of ``group`` it reads is missing (no decision)."""
        ...
