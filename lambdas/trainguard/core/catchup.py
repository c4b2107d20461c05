"""The catch-up rule: stop a job that can no longer catch up with its group's best job.

Running job X of a group, at its latest step s, with best finite value b so far. Write values
so that larger is better (negate a minimized objective):

  1. references: the group's **completed** jobs (a stopped job never becomes one), each with
     its best value by s, ``b_r(s)``, and its final value ``F_r`` (the last point of its curve);
  2. T = the best final value of all references: what X must beat to be the group's best;
  3. U(s) = the largest gain any reference that reaches s (last step >= s) made after it,
     ``max(0, max_r F_r - b_r(s))``; n(s) = how many references reach s;
  4. sigma = the group's noise: the median over the references (the most recent
     :data:`NOISE_WINDOW`) of ``median |second difference of the curve| / sqrt(6)``, the noise
     SD of a curve that is locally linear plus white noise;
  5. X is **worse** at this report iff ``b + U(s) + k * sigma < T`` (strictly: a tie is never
     worse): it would need a larger gain than any completed job ever made after step s, plus
     k times the noise, to reach the best;
  6. **stop** iff X was worse at ``consecutive`` reports in a row (:class:`WorseStreak`).
     No decision while n(s) < ``min_completed``, while b is not finite, or when the latest
     value is NaN/inf: that is the divergence rule's case, which stays on beside this rule.

One sentence explains a stop with its numbers::

    stop: best 0.61 by step 4 + at most 0.18 (the largest gain after step 4 among 7 completed
    jobs) + 0.072 (8 x noise 0.009) = 0.862 is worse than 0.92, the best final of 12 completed
    jobs (3 reports in a row)

(a minimized objective reads "- at most 0.12 (the largest drop after step 3 ..."). The
Decision's ``threshold`` is the value the job's best must reach to continue (T - U(s) - k sigma
in the objective's direction), so a stop also reads like the median rule's, best worse than
threshold; its ``references`` is n(s).

Defaults (docs/policy.md, the study behind them): min_completed 3, noise_multiple k = 8,
consecutive 3; :data:`LADDER` is what ``trainguard calibrate`` replays, from k = 2 (aggressive)
to k = 16 (safe), at 3 and at 2 reports.

The group's state, :class:`CatchUpModel`, holds T, sigma and, on a bounded step grid, U(s) and
n(s). It is built when a job completes: :meth:`CatchUpModel.add` folds one more reference in,
in O(len(curve) + grid points), whatever the group's history, and it is JSON-safe
(``to_dict``/``from_dict``). Its size is bounded: the grid holds the integer steps 0..63
exactly, then 16 points per doubling of the step (``64 * 2 ** (i / 16)``), so a 500-step
group needs at most 112 grid points, three days of minute steps 162, a week 181 and a million
steps 287 (:func:`grid_size`);
sigma keeps the :data:`NOISE_WINDOW` (200) most recent estimates. With 1,000 references of 500
steps the JSON form is about 8 KB. A step between two grid points is judged at the grid point
g below it: the references' gains after g are at least their gains after s (their best so far
can only be better at s), so the bound is never tighter than the exact one; only the gate may
count a reference that reaches g but not s. Curves whose steps are not aligned are fine:
every reference's best so far is evaluated at each grid point it reaches.

A decision is one grid-index computation and a few comparisons; :meth:`CatchUpRule.check`
returns the cheap :class:`CatchUpVerdict` (a 'continue' builds no Decision, as
:meth:`MedianStoppingRule.check` does) and :meth:`CatchUpRule.explain` the Decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import partial
from typing import ClassVar, NamedTuple

from .curves import MINUS, Curve, Direction, fmt, median, signed
from .decision import Decision
from .rule import GroupState, RuleDefaults, Verdict
from .stored import Record, entries, number, real, whole
from .summary import CurveSummary
from .values import frozen

RULE = "catch-up"
EXACT_STEPS = 64  # grid: the steps 0, 1, ..., 63 exactly ...
PER_DOUBLING = 16  # ... then 16 grid points per doubling of the step
NOISE_WINDOW = 200  # references whose noise estimates enter sigma (the most recent ones)
MODEL_VERSION = 1
_SQRT6 = math.sqrt(6.0)


# ---- the step grid --------------------------------------------------------------------------


def grid_index(step: float) -> int:
    """The index of the largest grid point <= ``step`` (a finite step >= 0)."""
    if step < EXACT_STEPS:
        return math.floor(step)
    i = EXACT_STEPS + math.floor(PER_DOUBLING * math.log2(step / EXACT_STEPS))
    while grid_point(i) > step:  # float guard: the point must not exceed the step
        i -= 1
    while grid_point(i + 1) <= step:
        i += 1
    return i


def grid_point(index: int) -> float:
    """The step of grid point ``index``."""
    if index < EXACT_STEPS:
        return float(index)
    return float(EXACT_STEPS * math.pow(2.0, (index - EXACT_STEPS) / PER_DOUBLING))


def grid_size(last_step: float) -> int:
    """The most grid points a group whose curves end by ``last_step`` can need (its bound)."""
    return grid_index(max(0.0, last_step)) + 1


def _sign(direction: str) -> float:
    if direction == "maximize":
        return 1.0
    if direction == "minimize":
        return -1.0
    raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")


def curve_noise(curve: Curve) -> float | None:
    """A curve's noise SD: the median |second difference| of its finite values / sqrt(6)
    (None with fewer than three finite values)."""
    v = [y for _, y in curve if math.isfinite(y)]
    if len(v) < 3:
        return None
    d1 = [v[i + 1] - v[i] for i in range(len(v) - 1)]
    return median([abs(d1[i + 1] - d1[i]) for i in range(len(d1) - 1)]) / _SQRT6


# ---- the group's model ----------------------------------------------------------------------


@frozen
class CatchUpModel:
    """What the rule needs of a group's completed jobs: small, JSON-safe, updated one
    completion at a time (:meth:`add`).

    ``gain[i]`` and ``count[i]`` belong to grid index ``offset + i``: the largest gain after
    that grid point (in the better direction, so >= 0 means an improvement; None where no
    reference reaches it) and the number of references that reach it. ``best_final`` is T in
    the objective's own units; ``noise`` the most recent :data:`NOISE_WINDOW` references'
    noise estimates and ``sigma`` their median. ``completed`` counts the references folded in.
    """

    direction: Direction
    completed: int = 0
    best_final: float | None = None
    offset: int = 0
    gain: tuple[float | None, ...] = ()
    count: tuple[int, ...] = ()
    noise: tuple[float, ...] = ()
    sigma: float = 0.0

    def __post_init__(self) -> None:
        _sign(self.direction)
        if len(self.gain) != len(self.count):
            raise ValueError("gain and count must have the same length")

    @classmethod
    def build(
        cls, curves: Mapping[str, Curve] | Iterable[Curve], direction: Direction
    ) -> CatchUpModel:
        """The model of the completed jobs' curves, folded in the given order: the order they
        completed in (it decides which noise estimates are the most recent)."""
        model = cls(direction)
        for curve in curves.values() if isinstance(curves, Mapping) else curves:
            model = model.add(curve)
        return model

    def add(self, curve: Curve) -> CatchUpModel:
        """This model with one more completed job; this one is left as it was.

        O(len(curve) + the grid points it spans). Steps must be finite, >= 0 and increasing
        (ValueError otherwise). A curve without a finite final value (its last point) adds
        nothing: its job is no reference (it diverged at its end).
        """
        points = [(float(s), float(v)) for s, v in curve]
        previous = -math.inf
        for s, _ in points:
            if not math.isfinite(s) or s < 0:
                raise ValueError(f"steps must be finite and >= 0, got {s!r}")
            if s <= previous:
                raise ValueError(f"steps must increase, got {s!r} after {previous!r}")
            previous = s
        if not points or not math.isfinite(points[-1][1]):
            return self
        sign = _sign(self.direction)
        final = sign * points[-1][1]
        first = next(s for s, v in points if math.isfinite(v))  # the final value is finite
        lo, hi = grid_index(first), grid_index(points[-1][0])
        if grid_point(lo) < first:
            lo += 1  # no measurement at or before that grid point yet
        end = self.offset + len(self.gain)
        new_offset = min(self.offset, lo) if self.gain else lo
        new_end = max(end, hi + 1) if self.gain else hi + 1
        gain: list[float | None] = [None] * (new_end - new_offset)
        count = [0] * (new_end - new_offset)
        shift = self.offset - new_offset
        gain[shift : shift + len(self.gain)] = self.gain
        count[shift : shift + len(self.count)] = self.count
        k = 0
        best: float | None = None
        for idx in range(lo, hi + 1):
            point = grid_point(idx)
            while k < len(points) and points[k][0] <= point:
                v = points[k][1]
                if math.isfinite(v) and (best is None or sign * v > best):
                    best = sign * v
                k += 1
            if best is None:  # unreachable: lo is at or after the first finite value
                continue
            j = idx - new_offset
            g = final - best
            old = gain[j]
            gain[j] = g if old is None or g > old else old
            count[j] += 1
        noise = self.noise
        x = curve_noise(points)
        if x is not None:
            noise = (*noise, x)[-NOISE_WINDOW:]
        best_final = points[-1][1]
        if self.best_final is not None and sign * self.best_final >= final:
            best_final = self.best_final
        return CatchUpModel(
            direction=self.direction,
            completed=self.completed + 1,
            best_final=best_final,
            offset=new_offset,
            gain=tuple(gain),
            count=tuple(count),
            noise=noise,
            sigma=median(noise) if noise else 0.0,
        )

    def at(self, step: float) -> tuple[float | None, int]:
        """(the largest gain after ``step``'s grid point or None, the references reaching it)."""
        i = grid_index(step) - self.offset
        if i < 0 or i >= len(self.gain):
            return None, 0
        return self.gain[i], self.count[i]

    def to_dict(self) -> dict[str, object]:
        """Compact, JSON-safe form for storage (None for grid points without references)."""
        return {
            "v": MODEL_VERSION,
            "direction": self.direction,
            "completed": self.completed,
            "best_final": self.best_final,
            "offset": self.offset,
            "gain": list(self.gain),
            "count": list(self.count),
            "noise": list(self.noise),
            "sigma": self.sigma,
        }

    @classmethod
    def from_dict(cls, raw: Record) -> CatchUpModel:
        """Raises ValueError (or KeyError/TypeError) for an unreadable record. Numbers may be
        any real type (DynamoDB gives Decimals)."""
        if raw.get("v") != MODEL_VERSION:
            raise ValueError(f"unknown catch-up model version {raw.get('v')!r}")
        best_final = raw.get("best_final")
        return cls(
            direction=Direction(str(raw["direction"])),
            completed=whole(raw["completed"]),
            best_final=number(best_final),
            offset=whole(raw["offset"]),
            gain=tuple(number(g) for g in entries(raw["gain"])),
            count=tuple(whole(c) for c in entries(raw["count"])),
            noise=tuple(real(x) for x in entries(raw["noise"])),
            sigma=real(raw["sigma"]),
        )


# ---- the per-job counter --------------------------------------------------------------------


@frozen
class WorseStreak:
    """A job's count of worse reports in a row: three numbers, kept between ticks (on the job's
    progress record), JSON-safe.

    ``current`` = the reports in a row, up to and including the report at ``step``, at which
    the job was worse, each as judged at its latest decision; ``before`` = the same through the
    report before it. A decision on a new report starts from ``current``; a decision on the
    same report again (the references changed, or the next tick brought no new value) starts
    from ``before``, so judging a report twice never counts it twice.
    """

    step: float | None = None
    before: int = 0
    current: int = 0

    def start(self, step: float) -> int:
        """The streak through the reports before ``step``: where a decision at it starts."""
        if self.step is None or step > self.step:
            return self.current
        return self.before

    def record(self, step: float, streak: int) -> WorseStreak:
        """The counter after a decision at ``step`` whose verdict counts ``streak``."""
        if self.step is None or step > self.step:
            before = self.current
        elif step == self.step and streak == self.current:
            return self  # the same report judged the same again (most ticks): nothing to build
        else:
            before = self.before
        return WorseStreak(step, before, streak)  # positional: this runs in every tick

    def after(self, verdict: CatchUpVerdict) -> WorseStreak:
        """The counter after ``verdict`` (unchanged when there was no report to judge)."""
        step = verdict.step
        return self if step is None else self.record(step, verdict.streak)

    def to_dict(self) -> dict[str, object]:
        step = self.step
        return {
            "step": int(step) if step is not None and step.is_integer() else step,
            "before": self.before,
            "current": self.current,
        }

    @classmethod
    def from_dict(cls, raw: Record | None) -> WorseStreak:
        """Raises ValueError (or TypeError) for an unreadable record; None is a fresh one."""
        if raw is None:
            return NO_STREAK
        step = raw.get("step")
        before, current = whole(raw.get("before", 0)), whole(raw.get("current", 0))
        if before < 0 or current < 0:
            raise ValueError(f"streak counts must be >= 0, got {before}, {current}")
        return cls(step=number(step), before=before, current=current)


NO_STREAK = WorseStreak()


# ---- the rule -------------------------------------------------------------------------------


class CatchUpVerdict(NamedTuple):
    """The rule's answer without its explanation: what a tick needs to act on.

    ``streak`` is the count of worse reports in a row through this one (what
    :meth:`WorseStreak.after` records); ``threshold`` the value the best must reach (None when
    a gate held: no comparison was made); ``value`` the job's best so far; ``references``
    n(s); ``latest`` the report's own value (the divergence rule's, when it is NaN/inf).
    :meth:`CatchUpRule.explain` turns it into the :class:`Decision` with its reason.
    """

    stop: bool
    worse: bool
    streak: int
    step: float | None
    value: float | None
    threshold: float | None
    references: int
    latest: float | None = None


NO_MEASUREMENTS = CatchUpVerdict(False, False, 0, None, None, None, 0)

# ``CatchUpVerdict(...)`` runs the NamedTuple's generated Python ``__new__``, which only binds
# its eight arguments and calls ``tuple.__new__``; :meth:`CatchUpRule.check` (once per running
# job and tick) calls ``tuple.__new__`` directly with the eight values in field order
_verdict = partial(tuple.__new__, CatchUpVerdict)


@frozen
class CatchUpRule(RuleDefaults):
    """Stop a job that could not reach the group's best final value even with the largest
    gain any completed job made after its step, plus ``noise_multiple`` x the group's noise,
    at ``consecutive`` reports in a row (see the module docstring).

    ``noise_multiple`` (k) is the calibration ladder's knob: smaller is more aggressive, larger
    safer; ``consecutive`` the second knob. ``check``/``check_summary`` return the cheap
    :class:`CatchUpVerdict`, ``explain`` the Decision; ``decide``/``decide_summary`` both.
    """

    direction: Direction = Direction.MINIMIZE
    min_completed: int = 3
    noise_multiple: float = 8.0
    consecutive: int = 3

    def __post_init__(self) -> None:
        _sign(self.direction)
        for name in ("min_completed", "consecutive"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        k = self.noise_multiple
        if isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k) or k < 0:
            raise ValueError(f"noise_multiple must be a number >= 0, got {k!r}")

    def check(
        self,
        model: CatchUpModel,
        step: float,
        best: float | None,
        *,
        latest: float | None = None,
        streak_before: int = 0,
    ) -> CatchUpVerdict:
        """The verdict at ``step`` for a job whose best finite value so far is ``best``.

        ``latest``: the report's own value (NaN/inf: left to the divergence rule);
        ``streak_before``: the job's worse reports in a row before this one
        (:meth:`WorseStreak.start`). A gate (no decision) counts 0.
        """
        if (latest is not None and not math.isfinite(latest)) or best is None:
            return _verdict((False, False, 0, step, best, None, 0, latest))
        if not math.isfinite(best) or not step >= 0 or model.direction != self.direction:
            return _verdict((False, False, 0, step, best, None, 0, latest))
        gain, n = model.at(step)
        target = model.best_final
        if n < self.min_completed or gain is None or target is None:
            return _verdict((False, False, 0, step, best, None, n, latest))
        # in the better direction (sign -1 for minimize): best + U + k sigma < T, strictly (a
        # tie is not worse), summed in this order (the replays and the sentence agree on it)
        sign = 1.0 if self.direction == "maximize" else -1.0
        u = gain if gain > 0.0 else 0.0
        margin = self.noise_multiple * model.sigma
        worse = sign * best + u + margin < sign * target
        threshold = sign * (sign * target - u - margin)
        streak = streak_before + 1 if worse else 0
        stop = worse and streak >= self.consecutive
        return _verdict((stop, worse, streak, step, best, threshold, n, latest))

    def check_summary(
        self, summary: CurveSummary, model: CatchUpModel, streak: WorseStreak = NO_STREAK
    ) -> CatchUpVerdict:
        """The verdict at the job's latest report (its :class:`CurveSummary`), counting on from
        its ``streak``; record the result with ``streak.after(verdict)``."""
        step = summary.last_step
        if step is None:
            return NO_MEASUREMENTS
        if summary.direction != self.direction:
            raise ValueError(
                f"summary is for {summary.direction}; the rule decides for {self.direction}"
            )
        return self.check(
            model,
            step,
            summary.best,
            latest=summary.last_value,
            streak_before=streak.start(step),
        )

    carries: ClassVar[bool] = True  # the job's WorseStreak

    def judge(self, summary: CurveSummary, group: GroupState) -> CatchUpVerdict | None:
        """The objective rules' verb (:mod:`.rule`): reads ``group.catchup`` and counts on
        from the job's ``group.streak`` (:meth:`carry` records the verdict on it)."""
        model = group.catchup
        if model is None:
            return None
        return self.check_summary(summary, model, group.streak or NO_STREAK)

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """:meth:`judge`'s verdict written out (:meth:`explain`)."""
        assert isinstance(verdict, CatchUpVerdict) and group.catchup is not None
        return self.explain(job, verdict, group.catchup)

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak:
        """The job's counter after ``verdict`` (:meth:`WorseStreak.after`)."""
        assert isinstance(verdict, CatchUpVerdict)
        return streak.after(verdict)

    def decide(
        self, job: str, curve: Curve, model: CatchUpModel, streak: WorseStreak = NO_STREAK
    ) -> Decision:
        """The Decision at the curve's latest step, counting on from ``streak``."""
        summary = CurveSummary.of(curve, self.direction)
        return self.explain(job, self.check_summary(summary, model, streak), model)

    def decide_summary(
        self,
        job: str,
        summary: CurveSummary,
        model: CatchUpModel,
        streak: WorseStreak = NO_STREAK,
    ) -> Decision:
        """The same Decision from the job's :class:`CurveSummary`."""
        return self.explain(job, self.check_summary(summary, model, streak), model)

    def explain(self, job: str, verdict: CatchUpVerdict, model: CatchUpModel) -> Decision:
        """The :class:`Decision` for ``verdict`` (a result of :meth:`check` on ``model``),
        with its one-sentence reason."""
        stop, worse, streak, step, best, threshold, n, latest = verdict
        if step is None:
            reason = "no measurements yet"
        elif latest is not None and not math.isfinite(latest):
            reason = f"latest value {latest} at step {fmt(step)}; left to the divergence rule"
        elif best is None or not math.isfinite(best):
            reason = f"no finite value by step {fmt(step)}; left to the divergence rule"
        elif not step >= 0:
            reason = f"step {step!r} is not a finite step >= 0; no decision"
        elif model.direction != self.direction:
            reason = (
                f"the group's catch-up model is for {model.direction} and this job "
                f"{self.direction}s; no decision"
            )
        elif threshold is None:
            reason = (
                f"continue: {n} completed job(s) reach step {fmt(step)}; "
                f"{self.min_completed} needed before deciding"
            )
        else:
            reason = self._sentence(stop, worse, streak, step, best, n, model)
        return Decision(
            job=job,
            rule=RULE,
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
        n: int,
        model: CatchUpModel,
    ) -> str:
        gain, _ = model.at(step)
        u = max(gain or 0.0, 0.0)
        margin = self.noise_multiple * model.sigma
        maximize = self.direction == "maximize"
        sign = 1.0 if maximize else -1.0
        op, word = ("+", "gain") if maximize else (MINUS, "drop")
        reach = sign * (sign * best + u + margin)
        n_ = signed
        head = (
            f"best {n_(best)} by step {n_(step)} {op} at most {n_(u)} (the largest {word} "
            f"after step {n_(step)} among {n} completed jobs) {op} {n_(margin)} "
            f"({n_(self.noise_multiple)} x noise {n_(model.sigma)}) = {n_(reach)}"
        )
        target = f"{n_(model.best_final)}, the best final of {model.completed} completed jobs"
        # the threshold the Decision carries (and the subject shows): the best that still
        # reaches the target, T - U - k sigma (a loss: T + U + k sigma)
        needed = sign * (sign * (model.best_final or 0.0) - u - margin)
        bound = "at least" if maximize else "at most"
        need = f"to continue, its best by step {n_(step)} had to be {bound} {n_(needed)}"
        if stop:
            reports = "1 report" if streak == 1 else f"{streak} reports"
            return f"stop: {head} is worse than {target}; {need} ({reports} in a row)"
        if worse:
            return (
                f"continue: {head} is worse than {target}; {need}, at {streak} report(s) in a "
                f"row; {self.consecutive} needed"
            )
        return f"continue: {head} can still reach {target}"


DEFAULT_RULE = CatchUpRule()

#: ``trainguard calibrate``'s ladder, aggressive -> safe: (noise_multiple, consecutive). The
#: study's frontier (docs/policy.md): k moves savings and the share of best jobs kept along one
#: curve at 3 reports; 2 reports is one notch more aggressive at each k.
LADDER: tuple[tuple[float, int], ...] = tuple(
    (k, c) for c in (2, 3) for k in (2.0, 4.0, 6.0, 8.0, 12.0, 16.0)
)
