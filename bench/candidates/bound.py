"""The optimistic convex bound: how far can a job still climb if its curve stays concave?

A candidate default (issue 24, ``docs/policy-study.md``), after Vertex Vizier's convex
stopping rule and LCCV's convexity bound, in the objective rules' vocabulary
(``trainguard.core.rule``: :meth:`ConvexBoundRule.judge` / :meth:`ConvexBoundRule.decision`, as
the catch-up rule's); replayed by ``bench/policy_study.py``, not shipped.

Write values so that larger is better. A job's best-so-far curve that is concave in the step
(it climbs ever more slowly: the usual learning curve) never climbs faster after its step s
than its average slope so far, from its first finite value ``y0`` at step ``s0`` to its best
``b`` at s. So by its horizon H (its declared budget, else the longest completed job of its
group) it can end at most at

    b + max(0, (b - y0) / (s - s0)) * (H - s)                      (the convex extrapolation)

The rule's **allowance** after s is the smaller of that extrapolated gain and the catch-up
rule's U(s) (the largest gain any completed job of the group made after s): a job is judged
worse iff ``b + min(U(s), extrapolated) + k * sigma < T`` (T the group's best final, sigma
its noise, k ``noise_multiple``), and stopped at ``consecutive`` worse reports in a row. With
``use_catchup`` False the allowance is the extrapolated gain alone (the pure convex rule).
With ``min_progress`` p > 0 the job's own climb counts only from p x H on (before it, the
catch-up allowance alone): a learning curve is concave late, not always early.
Everything it reads is already kept: the job's :class:`CurveSummary` (its first finite values
``head`` and its best) and the group's :class:`CatchUpModel`; no state is added. No decision
before the job's second finite value, nor under the catch-up rule's gates.

The sentence of a stop::

    stop: best 0.61 by step 4 + at most 0.03 (its own climb so far, 0.01 a step from 0.58 at
    step 1, over the 3 steps to step 7) + 0.072 (8 x noise 0.009) = 0.712 is worse than 0.92,
    the best final of 12 completed jobs (3 reports in a row)

A curve that is flat and then rises late (a learner stuck at the majority class on small
samples, a warm-up schedule) breaks the concavity the bound assumes: the study measures what
that costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from trainguard.core.catchup import NO_STREAK, CatchUpModel, CatchUpVerdict, WorseStreak, grid_point
from trainguard.core.curves import Direction, fmt
from trainguard.core.decision import Decision
from trainguard.core.rule import GroupState, Verdict
from trainguard.core.summary import CurveSummary

from .familygain import Allowance, CountsWorseReports, FamilyGainRule

RULE = "convex-bound"


def horizon_of(model: CatchUpModel) -> float | None:
    """The group's horizon: the last grid step its completed jobs reach (None: no reference).
    A grid point is never later than the step it stands for, so this is at most the longest
    reference's last step."""
    if not model.gain:
        return None
    return grid_point(model.offset + len(model.gain) - 1)


class Climb(NamedTuple):
    """The job's own extrapolated gain: ``gain`` = ``slope`` x (``horizon`` - step), the slope
    being its average climb from ``first`` (value) at ``first_step`` (>= 0, larger is better)."""

    gain: float
    slope: float
    first: float
    first_step: float
    horizon: float


def climb(
    first_step: float,
    first: float,
    step: float,
    best: float,
    horizon: float,
    direction: Direction,
) -> Climb | None:
    """The convex extrapolation's gain after ``step`` (None before a second step)."""
    if not step > first_step:
        return None
    sign = 1.0 if direction == "maximize" else -1.0
    slope = max(0.0, sign * (best - first) / (step - first_step))
    return Climb(slope * max(0.0, horizon - step), slope, first, first_step, horizon)


@dataclass(frozen=True)
class ConvexBoundRule(CountsWorseReports):
    """Stop a job that cannot reach the group's best final even by climbing at its own pace so
    far (and, with ``use_catchup``, as well as the group's best comeback) until its horizon."""

    direction: Direction = "minimize"
    min_completed: int = 3
    noise_multiple: float = 8.0
    consecutive: int = 3
    use_catchup: bool = True
    min_progress: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {self.direction!r}")
        for name in ("min_completed", "consecutive"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not math.isfinite(self.noise_multiple) or self.noise_multiple < 0:
            raise ValueError(f"noise_multiple must be a number >= 0, got {self.noise_multiple!r}")

    @cached_property
    def _base(self) -> FamilyGainRule:
        """The comparison and the sentence, shared with the family-gain rule."""
        return FamilyGainRule(
            direction=self.direction,
            min_completed=self.min_completed,
            noise_multiple=self.noise_multiple,
            consecutive=self.consecutive,
        )

    def allowance(
        self,
        summary: CurveSummary,
        model: CatchUpModel,
        first_step: float,
        horizon: float | None = None,
        gain: float | None = None,
    ) -> tuple[float, Climb | None] | None:
        """(the gain allowed after the job's step, its climb or None when the catch-up U(s) was
        the smaller); None when neither is defined. ``first_step``: the step of the job's first
        finite value (``summary.head[0]``); ``horizon``: its budget (None: the group's);
        ``gain``: the group's allowance to use instead of U(s) (e.g. a quantile of the gains,
        ``familygain.py``)."""
        step, best = summary.last_step, summary.best
        if step is None or best is None or not summary.head:
            return None
        h = horizon if horizon is not None else horizon_of(model)
        first = summary.head[0]
        own = None if h is None else climb(first_step, first, step, best, h, self.direction)
        if own is not None and self.use_catchup and step < self.min_progress * own.horizon:
            own = Climb(math.inf, own.slope, own.first, own.first_step, own.horizon)
        if gain is None:
            gain, _ = model.at(step)
        u = None if gain is None or not self.use_catchup else max(gain, 0.0)
        if own is None:
            return None
        if u is not None and u <= own.gain:
            return u, None
        return own.gain, own

    def judge(
        self,
        summary: CurveSummary,
        group: GroupState,
        *,
        first_step: float = 1.0,
        horizon: float | None = None,
        gain: float | None = None,
    ) -> CatchUpVerdict | None:
        """The objective rules' verb: reads ``group.catchup`` (None: no decision) and counts
        on from the job's ``group.streak``; the keywords are :meth:`check_summary`'s."""
        model = group.catchup
        if model is None:
            return None
        streak = group.streak or NO_STREAK
        return self.check_summary(
            summary, model, streak, first_step=first_step, horizon=horizon, gain=gain
        )

    def decision(
        self,
        job: str,
        summary: CurveSummary,
        verdict: Verdict,
        group: GroupState,
        *,
        first_step: float = 1.0,
        horizon: float | None = None,
        gain: float | None = None,
        source: str | None = None,
    ) -> Decision:
        """:meth:`judge`'s verdict (with the same keywords) written out (:meth:`explain`)."""
        assert isinstance(verdict, CatchUpVerdict) and group.catchup is not None
        return self.explain(
            job,
            verdict,
            group.catchup,
            summary,
            first_step=first_step,
            horizon=horizon,
            gain=gain,
            source=source,
        )

    def check_summary(
        self,
        summary: CurveSummary,
        model: CatchUpModel,
        streak: WorseStreak = NO_STREAK,
        *,
        first_step: float = 1.0,
        horizon: float | None = None,
        gain: float | None = None,
    ) -> CatchUpVerdict:
        """The verdict at the job's latest report, counting on from its ``streak``."""
        step, best, latest = summary.last_step, summary.best, summary.last_value
        if step is None:
            return CatchUpVerdict(False, False, 0, None, None, None, 0)
        if best is None or latest is None or not math.isfinite(latest):
            return CatchUpVerdict(False, False, 0, step, best, None, 0, latest)
        _, n = model.at(step)
        allowed = self.allowance(summary, model, first_step, horizon, gain)
        if allowed is None:
            return CatchUpVerdict(False, False, 0, step, best, None, n, latest)
        return self._base.check(
            model,
            step,
            best,
            latest=latest,
            streak_before=streak.start(step),
            allowance=Allowance(allowed[0], 1, n),
        )

    def explain(
        self,
        job: str,
        verdict: CatchUpVerdict,
        model: CatchUpModel,
        summary: CurveSummary,
        *,
        first_step: float = 1.0,
        horizon: float | None = None,
        gain: float | None = None,
        source: str | None = None,
    ) -> Decision:
        """The :class:`Decision` for ``verdict`` with its one-sentence reason (``source``: what
        ``gain`` is, when one was given)."""
        step, n = verdict.step, verdict.references
        allowed = self.allowance(summary, model, first_step, horizon, gain)
        if step is None or allowed is None:
            return self._base.explain(job, verdict, model, rule=RULE)
        u, own = allowed
        if own is None:
            word = "gain" if self.direction == "maximize" else "drop"
            source = source or f"the largest {word} after step {fmt(step)} among {n} completed jobs"
        else:
            source = (
                f"its own climb so far, {fmt(own.slope)} a step from {fmt(own.first)} at "
                f"step {fmt(own.first_step)}, over the {fmt(own.horizon - step)} steps to "
                f"step {fmt(own.horizon)}"
            )
        return self._base.explain(job, verdict, model, Allowance(u, 1, n), source=source, rule=RULE)
