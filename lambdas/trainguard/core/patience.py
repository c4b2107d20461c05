"""Patience rule: stop when the best value has not improved by more than ``min_delta`` for
``patience`` consecutive measurements (Keras ``EarlyStopping``; Optuna ``PatientPruner``)."""

from __future__ import annotations

from .curves import Curve, Direction, fmt
from .decision import Decision
from .rule import GO, STOP, GroupState, Plain, RuleDefaults, Verdict
from .summary import CurveSummary
from .values import frozen

RULE = "patience"


@frozen
class PatienceRule(RuleDefaults):
    direction: Direction = Direction.MINIMIZE
    patience: int = 5
    min_delta: float = 0.0

    def decide(self, job: str, curve: Curve) -> Decision:
        """Count the finite measurements since the last improvement larger than ``min_delta``."""
        return self.decide_summary(job, CurveSummary.of(curve, self.direction, self.min_delta))

    def judge(self, summary: CurveSummary, group: GroupState) -> Plain:
        """The objective rules' verb (:mod:`.rule`): reads nothing of ``group``."""
        return STOP if self.stops(summary) else GO

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """:meth:`judge`'s verdict written out (:meth:`decide_summary`)."""
        return self.decide_summary(job, summary)

    def stops(self, summary: CurveSummary) -> bool:
        """Whether :meth:`decide_summary` stops the job, without building its Decision."""
        self._check(summary)
        return summary.bar is not None and summary.waited >= self.patience

    def decide_summary(self, job: str, summary: CurveSummary) -> Decision:
        """The same decision from the job's :class:`CurveSummary` (built with this min_delta)."""
        self._check(summary)
        best, step, waited = summary.bar, summary.last_step, summary.waited
        if best is None:
            return Decision(
                job=job,
                rule=RULE,
                stop=False,
                step=step,
                value=None,
                threshold=None,
                references=0,
                reason="no finite measurements yet",
            )
        bar = best - self.min_delta if self.direction == "minimize" else best + self.min_delta
        stop = waited >= self.patience
        reason = (
            f"{'stop' if stop else 'continue'}: best {fmt(best)} at step {fmt(summary.bar_step)}; "
            f"{waited} measurement(s) since without an improvement beyond {fmt(self.min_delta)} "
            f"(patience {self.patience})"
        )
        return Decision(
            job=job,
            rule=RULE,
            stop=stop,
            step=step,
            value=best,
            threshold=bar,
            references=0,
            reason=reason,
        )

    def _check(self, summary: CurveSummary) -> None:
        if (summary.direction, summary.min_delta) != (self.direction, self.min_delta):
            raise ValueError(
                f"summary counts improvements for {summary.direction} beyond "
                f"{summary.min_delta}; the rule needs {self.direction} beyond {self.min_delta}"
            )
