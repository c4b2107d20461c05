"""The family-gain bound: the catch-up rule with a gain allowance that depends on who the job is.

A candidate default (issue 24, ``docs/policy-study.md``) in the objective rules' vocabulary
(``trainguard.core.rule``): :meth:`FamilyGainRule.judge` reads the group's catch-up model and
the job's catch-up counter from the ``GroupState`` and answers a
:class:`~trainguard.core.catchup.CatchUpVerdict`, :meth:`FamilyGainRule.decision` writes it out,
as the catch-up rule does (``check``/``explain`` below them). Replayed by
``bench/policy_study.py``, not shipped.

The catch-up rule (``core/catchup.py``) stops a job X at step s, best b so far (larger is
better), when ``b + U(s) + k * sigma < T`` at ``consecutive`` reports in a row; U(s) is the
largest gain after s of **any** completed job of the group, so one outlier of the group sets it
for every job. This rule replaces U(s) by an **allowance** A(s) read from one of two gain
profiles (:class:`GainProfile`: per grid step, the number of completed jobs reaching it and their
:data:`TOP` largest gains after it):

1. the **family's** profile, when X declares a family (a hyperparameter or tag such as the
   learner's name, :func:`family_of`) and at least ``min_family`` completed jobs of that family,
   in any group of the deployment, reach s: A(s) = the family's r-th largest gain after s,
   r = ceil((1 - ``quantile``) * n) (1 = the largest), in units of each job's group
   **spread** (its group's best final minus the median final), times this group's spread;
2. otherwise the **group's** profile: its r-th largest gain after s for ``group_quantile``
   (1.0: the largest, the catch-up rule's U(s) exactly).

A kept rank beyond :data:`TOP` reads the TOP-th largest, which is never smaller than the
wanted one (the bound only gets safer). Everything else is the catch-up rule's: T, sigma and
the gate n(s) >= min_completed come from the group's :class:`CatchUpModel`, and the job's
:class:`WorseStreak` counts the worse reports in a row.

One sentence explains a stop with its numbers::

    stop: best 0.61 by step 4 + at most 0.08 (the 3rd largest gain after step 4 among 41
    completed jobs of family SVC_poly, 0.4 x this group's spread 0.2) + 0.072 (8 x noise
    0.009) = 0.762 is worse than 0.92, the best final of 12 completed jobs (3 reports in a row)

State: a :class:`GainProfile` is a few hundred numbers on the catch-up grid; the deployment's
:class:`FamilyGainModel` holds one per family (at most :data:`MAX_FAMILIES`), JSON-safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from trainguard.core.catchup import (
    NO_STREAK,
    CatchUpModel,
    CatchUpVerdict,
    WorseStreak,
    grid_index,
    grid_point,
)
from trainguard.core.curves import Curve, Direction, fmt, median
from trainguard.core.decision import Decision
from trainguard.core.rule import GroupState, RuleDefaults, Verdict
from trainguard.core.summary import CurveSummary

RULE = "family-gain"
TOP = 4  # largest gains kept per grid point
MAX_FAMILIES = 64  # families a deployment's model keeps (later ones fall back to the group)
FAMILY_KEYS = ("family", "learner", "model", "algorithm")  # hyperparameters naming a family
MODEL_VERSION = 1


def _sign(direction: str) -> float:
    if direction == "maximize":
        return 1.0
    if direction == "minimize":
        return -1.0
    raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")


def family_of(hyperparameters: Mapping[str, Any], keys: Iterable[str] = FAMILY_KEYS) -> str | None:
    """The job's family: the value of the first of ``keys`` it declares (None: no family)."""
    for key in keys:
        value = hyperparameters.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def spread(finals: Iterable[float], direction: Direction) -> float | None:
    """A group's spread: its best final value minus the median final (>= 0, in the better
    direction); None with fewer than 3 finite finals or a zero spread (every final tied)."""
    sign = _sign(direction)
    values = [sign * v for v in finals if math.isfinite(v)]
    if len(values) < 3:
        return None
    gap = max(values) - median(values)
    return gap if gap > 0.0 else None


def rank_for(n: int, quantile: float) -> int:
    """The rank (1 = the largest) of the ``quantile`` of n gains: ceil((1 - quantile) * n)."""
    return max(1, math.ceil((1.0 - quantile) * n - 1e-9))


def grid_gains(points: list[tuple[float, float]], sign: float) -> list[tuple[int, float]]:
    """(grid index, gain after it) for every grid point a completed curve reaches: its final
    value minus its best value by that point, in the better direction. [] when the final value
    is not finite. Steps must be finite, >= 0 and increasing (the caller's curves are)."""
    if not points or not math.isfinite(points[-1][1]):
        return []
    final = sign * points[-1][1]
    first = next(s for s, v in points if math.isfinite(v))
    lo, hi = grid_index(first), grid_index(points[-1][0])
    if grid_point(lo) < first:
        lo += 1
    out: list[tuple[int, float]] = []
    k, best = 0, -math.inf
    for idx in range(lo, hi + 1):
        point = grid_point(idx)
        while k < len(points) and points[k][0] <= point:
            v = points[k][1]
            if math.isfinite(v) and sign * v > best:
                best = sign * v
            k += 1
        out.append((idx, final - best))
    return out


@dataclass(frozen=True)
class GainProfile:
    """Completed jobs' gains after each grid step (larger is better, in the units they were
    folded in with): ``count[i]`` jobs reach grid index ``offset + i``, ``top[i]`` their
    :data:`TOP` largest gains after it, largest first."""

    offset: int = 0
    count: tuple[int, ...] = ()
    top: tuple[tuple[float, ...], ...] = ()

    def add(self, curve: Curve, direction: Direction, scale: float = 1.0) -> GainProfile:
        """This profile with one more completed curve, its gains divided by ``scale`` (> 0)."""
        if not scale > 0.0 or not math.isfinite(scale):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        gains = grid_gains([(float(s), float(v)) for s, v in curve], _sign(direction))
        if not gains:
            return self
        lo, hi = gains[0][0], gains[-1][0]
        if self.count:
            new_offset, new_end = min(self.offset, lo), max(self.offset + len(self.count), hi + 1)
        else:
            new_offset, new_end = lo, hi + 1
        count = [0] * (new_end - new_offset)
        top: list[tuple[float, ...]] = [()] * (new_end - new_offset)
        shift = self.offset - new_offset
        count[shift : shift + len(self.count)] = self.count
        top[shift : shift + len(self.top)] = self.top
        for idx, g in gains:
            j = idx - new_offset
            count[j] += 1
            top[j] = tuple(sorted((*top[j], g / scale), reverse=True)[:TOP])
        return GainProfile(new_offset, tuple(count), tuple(top))

    def at(self, step: float, quantile: float = 1.0) -> tuple[float | None, int, int]:
        """(the r-th largest gain after ``step``'s grid point, n jobs reaching it, r) for the
        ``quantile`` (None and 0 where no job reaches it); r is capped at :data:`TOP`."""
        i = grid_index(step) - self.offset
        if i < 0 or i >= len(self.count) or not self.count[i]:
            return None, 0, 0
        n, kept = self.count[i], self.top[i]
        r = min(rank_for(n, quantile), len(kept))
        return kept[r - 1], n, r

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "count": list(self.count),
            "top": [list(t) for t in self.top],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GainProfile:
        return cls(
            int(raw["offset"]),
            tuple(int(c) for c in raw["count"]),
            tuple(tuple(float(g) for g in t) for t in raw["top"]),
        )


@dataclass(frozen=True)
class FamilyGainModel:
    """A deployment's families: each family's :class:`GainProfile` in units of the group's
    spread, fed one completed job at a time (:meth:`add`), JSON-safe."""

    direction: Direction
    families: Mapping[str, GainProfile] = field(default_factory=dict)

    def add(self, family: str | None, curve: Curve, group_spread: float | None) -> FamilyGainModel:
        """This model with one more completed job of ``family`` whose group's spread (at its
        completion) is ``group_spread``; unchanged without a family or a spread, or for a new
        family beyond :data:`MAX_FAMILIES`."""
        if family is None or group_spread is None or not group_spread > 0.0:
            return self
        before = self.families.get(family)
        if before is None and len(self.families) >= MAX_FAMILIES:
            return self
        profile = (before or GainProfile()).add(curve, self.direction, group_spread)
        return FamilyGainModel(self.direction, {**self.families, family: profile})

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": MODEL_VERSION,
            "direction": self.direction,
            "families": {f: p.to_dict() for f, p in sorted(self.families.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FamilyGainModel:
        if raw.get("v") != MODEL_VERSION:
            raise ValueError(f"unknown family-gain model version {raw.get('v')!r}")
        return cls(
            raw["direction"],
            {str(f): GainProfile.from_dict(p) for f, p in raw["families"].items()},
        )


class Allowance(NamedTuple):
    """The gain a job is allowed after its step: ``gain`` (objective units, >= 0), the rank r
    it was read at, the ``jobs`` it was read from, and from where: the ``family`` (with its
    ``unit``: gain in spreads, and this group's ``spread``) or the group (family None)."""

    gain: float
    rank: int
    jobs: int
    family: str | None = None
    unit: float = 0.0
    spread: float = 0.0


class CountsWorseReports(RuleDefaults):
    """An objective rule whose verdict is a :class:`CatchUpVerdict` and which counts the
    job's worse reports in a row on its :class:`WorseStreak`, as the catch-up rule does."""

    carries: ClassVar[bool] = True

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak:
        """The job's counter after ``verdict`` (:meth:`WorseStreak.after`)."""
        assert isinstance(verdict, CatchUpVerdict)
        return streak.after(verdict)


@dataclass(frozen=True)
class FamilyGainRule(CountsWorseReports):
    """The catch-up rule with the family's (or the group's quantile) gain allowance; see the
    module docstring. ``quantile`` 1.0 and ``group_quantile`` 1.0 with no family model is the
    catch-up rule itself."""

    direction: Direction = "minimize"
    min_completed: int = 3
    noise_multiple: float = 8.0
    consecutive: int = 3
    quantile: float = 0.9
    min_family: int = 10
    group_quantile: float = 1.0

    def __post_init__(self) -> None:
        _sign(self.direction)
        for name in ("min_completed", "consecutive", "min_family"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("quantile", "group_quantile"):
            q = getattr(self, name)
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {q!r}")
        k = self.noise_multiple
        if not math.isfinite(k) or k < 0:
            raise ValueError(f"noise_multiple must be a number >= 0, got {k!r}")

    def allowance(
        self,
        model: CatchUpModel,
        step: float,
        *,
        group: GainProfile | None = None,
        families: FamilyGainModel | None = None,
        family: str | None = None,
        group_spread: float | None = None,
    ) -> Allowance | None:
        """The gain allowed after ``step`` (None: no completed job reaches it)."""
        if families is not None and family is not None and group_spread is not None:
            profile = families.families.get(family)
            if profile is not None:
                unit, n, r = profile.at(step, self.quantile)
                if unit is not None and n >= self.min_family:
                    unit = max(unit, 0.0)
                    return Allowance(unit * group_spread, r, n, family, unit, group_spread)
        if group is not None and self.group_quantile < 1.0:
            gain, n, r = group.at(step, self.group_quantile)
            if gain is not None:
                return Allowance(max(gain, 0.0), r, n)
        gain, n = model.at(step)
        return None if gain is None else Allowance(max(gain, 0.0), 1, n)

    def judge(
        self, summary: CurveSummary, group: GroupState, allowance: Allowance | None = None
    ) -> CatchUpVerdict | None:
        """The objective rules' verb: reads ``group.catchup`` (None: no decision) and counts
        on from the job's ``group.streak``; ``allowance``: the job's :meth:`allowance` (None:
        the group's largest gain, the catch-up rule's U(s))."""
        model = group.catchup
        if model is None:
            return None
        return self.check_summary(summary, model, group.streak or NO_STREAK, allowance)

    def decision(
        self,
        job: str,
        summary: CurveSummary,
        verdict: Verdict,
        group: GroupState,
        allowance: Allowance | None = None,
    ) -> Decision:
        """:meth:`judge`'s verdict (with the same ``allowance``) written out (:meth:`explain`)."""
        assert isinstance(verdict, CatchUpVerdict) and group.catchup is not None
        return self.explain(job, verdict, group.catchup, allowance)

    def check(
        self,
        model: CatchUpModel,
        step: float,
        best: float | None,
        *,
        latest: float | None = None,
        streak_before: int = 0,
        allowance: Allowance | None = None,
    ) -> CatchUpVerdict:
        """The verdict at ``step`` for a job whose best finite value so far is ``best``, given
        its :meth:`allowance` (None: the group's largest gain, the catch-up rule's U(s))."""
        if (latest is not None and not math.isfinite(latest)) or best is None:
            return CatchUpVerdict(False, False, 0, step, best, None, 0, latest)
        if not math.isfinite(best) or not step >= 0 or model.direction != self.direction:
            return CatchUpVerdict(False, False, 0, step, best, None, 0, latest)
        gain, n = model.at(step)
        target = model.best_final
        if n < self.min_completed or gain is None or target is None:
            return CatchUpVerdict(False, False, 0, step, best, None, n, latest)
        u = max(gain, 0.0) if allowance is None else allowance.gain
        sign = 1.0 if self.direction == "maximize" else -1.0
        margin = self.noise_multiple * model.sigma
        worse = sign * best + u + margin < sign * target
        threshold = sign * (sign * target - u - margin)
        streak = streak_before + 1 if worse else 0
        return CatchUpVerdict(
            worse and streak >= self.consecutive, worse, streak, step, best, threshold, n, latest
        )

    def check_summary(
        self,
        summary: CurveSummary,
        model: CatchUpModel,
        streak: WorseStreak = NO_STREAK,
        allowance: Allowance | None = None,
    ) -> CatchUpVerdict:
        """The verdict at the job's latest report, counting on from its ``streak``."""
        step = summary.last_step
        if step is None:
            return CatchUpVerdict(False, False, 0, None, None, None, 0)
        return self.check(
            model,
            step,
            summary.best,
            latest=summary.last_value,
            streak_before=streak.start(step),
            allowance=allowance,
        )

    def explain(
        self,
        job: str,
        verdict: CatchUpVerdict,
        model: CatchUpModel,
        allowance: Allowance | None = None,
        *,
        source: str | None = None,
        rule: str = RULE,
    ) -> Decision:
        """The :class:`Decision` for ``verdict`` with its one-sentence reason. ``source``: what
        the allowance is, in place of :func:`describe`'s words (another rule's, named
        ``rule``, that shares this comparison)."""
        stop, worse, streak, step, best, threshold, n, latest = verdict
        if step is None:
            reason = "no measurements yet"
        elif threshold is None or best is None:
            reason = (
                f"continue: no decision at step {fmt(step)} (best {fmt(best)}, latest "
                f"{fmt(latest)}, {n} completed job(s) reach it; {self.min_completed} needed)"
            )
        elif source is not None and allowance is not None:
            reason = self.sentence(stop, worse, streak, step, best, model, allowance.gain, source)
        else:
            reason = self._sentence(stop, worse, streak, step, best, model, allowance)
        return Decision(
            job=job,
            rule=rule,
            stop=stop,
            step=step,
            value=best,
            threshold=threshold,
            references=n,
            reason=reason,
        )

    def _sentence(
        self,
        stop: bool,
        worse: bool,
        streak: int,
        step: float,
        best: float,
        model: CatchUpModel,
        allowance: Allowance | None,
    ) -> str:
        if allowance is None:
            gain, n = model.at(step)
            allowance = Allowance(max(gain or 0.0, 0.0), 1, n)
        word = "gain" if self.direction == "maximize" else "drop"
        source = describe(allowance, word, step)
        return self.sentence(stop, worse, streak, step, best, model, allowance.gain, source)

    def sentence(
        self,
        stop: bool,
        worse: bool,
        streak: int,
        step: float,
        best: float,
        model: CatchUpModel,
        gain: float,
        source: str,
    ) -> str:
        """The verdict's sentence for an allowance of ``gain`` that ``source`` explains."""
        maximize = self.direction == "maximize"
        sign = 1.0 if maximize else -1.0
        op = "+" if maximize else "-"
        margin = self.noise_multiple * model.sigma
        reach = sign * (sign * best + gain + margin)
        head = (
            f"best {fmt(best)} by step {fmt(step)} {op} at most {fmt(gain)} ({source}) {op} "
            f"{fmt(margin)} ({fmt(self.noise_multiple)} x noise {fmt(model.sigma)}) = "
            f"{fmt(reach)}"
        )
        target = f"{fmt(model.best_final)}, the best final of {model.completed} completed jobs"
        if stop:
            reports = "1 report" if streak == 1 else f"{streak} reports"
            return f"stop: {head} is worse than {target} ({reports} in a row)"
        if worse:
            return (
                f"continue: {head} is worse than {target}, at {streak} report(s) in a row; "
                f"{self.consecutive} needed"
            )
        return f"continue: {head} can still reach {target}"


def describe(allowance: Allowance, word: str, step: float) -> str:
    """Where an allowance came from, for a stop's sentence (``word``: "gain" or "drop")."""
    which = "largest" if allowance.rank <= 1 else f"{_ordinal(allowance.rank)} largest"
    if allowance.family is not None:
        return (
            f"the {which} {word} after step {fmt(step)} among {allowance.jobs} completed "
            f"jobs of family {allowance.family}, {fmt(allowance.unit)} x this group's "
            f"spread {fmt(allowance.spread)}"
        )
    return (
        f"the {which} {word} after step {fmt(step)} among {allowance.jobs} completed jobs of "
        "the group"
    )


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"
