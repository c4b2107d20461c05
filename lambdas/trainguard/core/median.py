"""The median stopping rule (Google Vizier, KDD 2017), as ../DESIGN.md defines it.

Evaluate running job X at its latest step s:
  1. references: completed jobs of the group whose curve reaches s (last step >= s);
  2. each reference's running average at s = mean of ALL its measurements with step <= s;
     non-finite averages (and references with no measurement by s) are dropped;
  3. M = median of those averages (mean of the two middle values for an even count);
  4. b = X's best finite value with step <= s;
  5. STOP iff b is strictly worse than M; ties continue;
  6. no decision while fewer than ``min_completed`` references remain, or s < ``grace``.

``grace`` is a gate only (Vizier, SageMaker AMT): it never changes M. Ray Tune's rule also
drops the measurements before its grace period from the references' averages (mean over
grace <= step <= s); that is a different rule, offered only as the explicit option
``average="since_grace"`` (:data:`AVERAGES`), never through ``grace`` alone.

M depends only on the completed jobs, so :class:`ReferenceTable` materializes it once per
completion as a piecewise-constant function of s; each tick then costs one binary search. With
the default averaging the table does not depend on grace: one table per group serves every
grace.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import field
from functools import partial
from itertools import accumulate
from typing import Literal, NamedTuple, Protocol

from .curves import Curve, Direction, best_so_far, fmt, median, running_average
from .decision import Decision
from .rule import GroupState, RuleDefaults, Verdict
from .stored import Record, entries, number, real, whole
from .summary import CurveSummary
from .values import frozen

RULE = "median"

Average = Literal["all", "since_grace"]
# "all": the spec's running average, every measurement with step <= s;
# "since_grace": Ray Tune's, only those with grace <= step <= s
AVERAGES: tuple[Average, ...] = ("all", "since_grace")


def _as_average(value: object) -> Average:
    """``value`` as an :data:`Average`, or a ValueError that names the choices."""
    if value == "all":
        return "all"
    if value == "since_grace":
        return "since_grace"
    raise ValueError(f"average must be one of {', '.join(AVERAGES)}; got {value!r}")


MAX_BREAKPOINTS = 2000  # a stored table's steps at most (its item stays far from 400 KB)


class ThresholdSource(Protocol):
    def at(self, step: float) -> tuple[float | None, int]:
        """(median of the references' running averages at ``step`` or None, reference count)."""
        ...


@frozen
class DirectReferences:
    """Computes M(s) from the completed curves on every call: the definition, written plainly.

    ``grace`` is read only with ``average="since_grace"`` (the start of Ray's window).
    """

    curves: Mapping[str, Curve]
    grace: float = 0.0
    average: Average = "all"

    def __post_init__(self) -> None:
        _as_average(self.average)

    def at(self, step: float) -> tuple[float | None, int]:
        since = self.grace if self.average == "since_grace" else None
        averages = []
        for curve in self.curves.values():
            if not curve or curve[-1][0] < step:
                continue
            avg = running_average(curve, step, since)
            if avg is not None and math.isfinite(avg):
                averages.append(avg)
        return (median(averages) if averages else None), len(averages)


@frozen
class ReferenceTable:
    """M(s) materialized for one group (and, with ``average="since_grace"``, one grace).

    M(s) only changes at the references' steps: at a breakpoint b_i it takes one value, on the
    open interval (b_i, b_i+1) another (a reference whose last step is b_i has left the set,
    while the averages are still those at b_i). Before the first and after the last breakpoint
    there are no references. ``at`` is a binary search.

    ``average`` says how the table was built; a rule with another averaging refuses it.
    ``grace`` is the start of the averaging window for ``"since_grace"`` and 0.0 on an
    ``"all"`` table, which serves a rule of any grace.
    """

    breakpoints: tuple[float, ...]
    at_point: tuple[tuple[float | None, int], ...]
    between: tuple[tuple[float | None, int], ...]  # between[i] covers (b_i, b_i+1)
    grace: float = 0.0
    jobs: int = 0
    average: Average = "all"
    # who set M: the reference(s) whose running average is the median, as indices into names
    names: tuple[str, ...] = ()
    at_point_by: tuple[tuple[int, ...], ...] = ()
    between_by: tuple[tuple[int, ...], ...] = ()
    exact: bool = True  # False: more distinct steps than MAX_BREAKPOINTS, M on a coarser grid

    def __post_init__(self) -> None:
        _as_average(self.average)

    @classmethod
    def build(
        cls,
        curves: Mapping[str, Curve] | Iterable[Curve],
        grace: float = 0.0,
        *,
        average: Average = "all",
        max_breakpoints: int | None = None,
    ) -> ReferenceTable:
        """Materialize M(s) for every s from the completed jobs' curves (a mapping names
        them, so the table can say which reference set M).

        ``grace`` matters only with ``average="since_grace"``; the default table is the same
        whatever grace is passed (and records 0.0). With more distinct steps than
        ``max_breakpoints`` (default :data:`MAX_BREAKPOINTS`), M is evaluated on that many
        steps spread over them (``exact`` False): the stored table stays small whatever the
        references' length, and a step between two grid steps reads the value just after
        the lower one.
        """
        _as_average(average)
        limit = MAX_BREAKPOINTS if max_breakpoints is None else max_breakpoints
        windowed = average == "since_grace"
        start = float(grace) if windowed else 0.0
        named = (
            list(curves.items())
            if isinstance(curves, Mapping)
            else list((str(i), c) for i, c in enumerate(curves))
        )
        prepared = []
        names: list[str] = []
        for name, curve in named:
            if not curve:
                continue
            steps = [s for s, _ in curve]
            # prefix sums over the measurements that count (all, or those inside Ray's window
            # [grace, s]), in curve order so that the floats equal running_average's exactly
            counted = [(v, 1) if not windowed or s >= start else (0.0, 0) for s, v in curve]
            sums = list(accumulate((v for v, _ in counted), initial=0.0))
            counts = list(accumulate((n for _, n in counted), initial=0))
            prepared.append((steps, sums, counts))
            names.append(name)

        points = sorted({s for steps, _, _ in prepared for s in steps})
        exact = len(points) <= limit
        if not exact:
            last = len(points) - 1
            points = sorted({points[round(i * last / (limit - 1))] for i in range(limit)})

        def evaluate(
            step: float, *, open_interval: bool
        ) -> tuple[tuple[float | None, int], tuple[int, ...]]:
            averages: list[tuple[float, int]] = []
            for index, (steps, sums, counts) in enumerate(prepared):
                last = steps[-1]
                if last < step or (open_interval and last <= step):
                    continue
                k = bisect_right(steps, step)
                if counts[k] == 0:  # no measurement that counts by this step
                    continue
                avg = sums[k] / counts[k]
                if math.isfinite(avg):
                    averages.append((avg, index))
            if not averages:
                return (None, 0), ()
            values = [a for a, _ in averages]
            order = sorted(averages)
            mid = len(order) // 2
            setters = (order[mid][1],) if len(order) % 2 else (order[mid - 1][1], order[mid][1])
            return (median(values), len(values)), setters

        at = [evaluate(b, open_interval=False) for b in points]
        between = [evaluate(b, open_interval=True) for b in points[:-1]]
        return cls(
            tuple(points),
            tuple(v for v, _ in at),
            tuple(v for v, _ in between),
            start,
            len(prepared),
            average,
            tuple(names),
            tuple(by for _, by in at),
            tuple(by for _, by in between),
            exact,
        )

    def at(self, step: float) -> tuple[float | None, int]:
        breakpoints = self.breakpoints  # read once: every tick asks for every running job
        i = bisect_left(breakpoints, step)
        try:
            if breakpoints[i] == step:
                return self.at_point[i]
        except IndexError:  # after the last breakpoint: no references
            return None, 0
        return self.between[i - 1] if i else (None, 0)  # i == 0: before the first one

    def set_by(self, step: float) -> tuple[str, ...]:
        """The reference(s) whose running average is M at ``step`` (one, or the two middle
        ones of an even count); () when unknown."""
        i = bisect_left(self.breakpoints, step)
        if i < len(self.breakpoints) and self.breakpoints[i] == step:
            by = self.at_point_by[i] if i < len(self.at_point_by) else ()
        elif 0 < i < len(self.breakpoints) and i - 1 < len(self.between_by):
            by = self.between_by[i - 1]
        else:
            by = ()
        return tuple(self.names[k] for k in by if k < len(self.names))

    def to_dict(self) -> dict[str, object]:
        """Compact, JSON-safe form for storage (None stands for 'no references')."""
        return {
            "average": self.average,
            "grace": self.grace,
            "jobs": self.jobs,
            "b": list(self.breakpoints),
            "p": [[m, n] for m, n in self.at_point],
            "o": [[m, n] for m, n in self.between],
            "names": list(self.names),
            "pb": [list(by) for by in self.at_point_by],
            "ob": [list(by) for by in self.between_by],
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, raw: Record) -> ReferenceTable:
        def pairs(rows: object) -> tuple[tuple[float | None, int], ...]:
            rows_ = (tuple(entries(row)) for row in entries(rows))
            return tuple((number(m), whole(n)) for m, n in rows_)

        def indices(rows: object) -> tuple[tuple[int, ...], ...]:
            return tuple(tuple(whole(k) for k in entries(by)) for by in entries(rows))

        breakpoints = tuple(real(b) for b in entries(raw["b"]))
        grace = real(raw.get("grace", 0.0))
        average: Average
        if raw.get("average") is not None:
            average = _as_average(raw["average"])
        else:
            # stored before the averaging was recorded: built with Ray's window [grace, s].
            # When no step lies before grace, that window holds every measurement: the table
            # is exactly the spec's ("all") one
            average = "all" if all(b >= grace for b in breakpoints) else "since_grace"
        if average == "all":
            grace = 0.0
        return cls(
            breakpoints,
            pairs(raw["p"]),
            pairs(raw["o"]),
            grace,
            whole(raw.get("jobs", 0)),
            average,
            tuple(str(n) for n in entries(raw.get("names", ()))),
            indices(raw.get("pb", ())),
            indices(raw.get("ob", ())),
            bool(raw.get("exact", True)),
        )


class MedianVerdict(NamedTuple):
    """The median rule's answer without its explanation: what a tick needs to act on.

    ``threshold`` is M, or None when a gate held (no comparison was made); ``value`` the job's
    best so far. :meth:`MedianStoppingRule.explain` turns it into the :class:`Decision` with
    its reason, which only a stop (or a caller who wants the numbers written out) needs.
    """

    stop: bool
    step: float | None
    value: float | None
    threshold: float | None
    references: int


NO_MEASUREMENTS = MedianVerdict(False, None, None, None, 0)

# ``MedianVerdict(...)`` runs the NamedTuple's generated Python ``__new__``, which only binds
# its five arguments and calls ``tuple.__new__``; :meth:`MedianStoppingRule.check` (once per
# running job and tick) calls ``tuple.__new__`` directly with the five values in field order
_verdict = partial(tuple.__new__, MedianVerdict)


@frozen
class MedianStoppingRule(RuleDefaults):
    """Stop a running job whose best value is strictly worse than the references' median.

    ``grace``: no decision while the job's step is below it (a gate; it never changes M).
    ``average``: the references' running average at s, ``"all"`` (the spec: every
    measurement with step <= s) or ``"since_grace"`` (Ray Tune's: only those with
    grace <= step <= s). A :class:`ReferenceTable` must be built with the same averaging.

    ``decide``/``decide_summary`` return the :class:`Decision`; ``check``/``check_summary``
    the same verdict without building it (:class:`MedianVerdict`), and ``explain`` builds it.
    """

    direction: Direction = Direction.MINIMIZE
    min_completed: int = 3
    grace: float = 0.0
    average: Average = "all"
    # the direction as the hot path reads it (a str enum compares slower than a str)
    _minimize: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _as_average(self.average)
        object.__setattr__(self, "_minimize", self.direction == Direction.MINIMIZE)

    @property
    def table_key(self) -> str:
        """Which materialized table this rule reads: one per group for the spec's average
        (``"all"``, whatever the grace), one per grace for Ray's windowed average."""
        return "all" if self.average == "all" else f"since_grace:{self.grace:g}"

    def build_table(self, curves: Mapping[str, Curve] | Iterable[Curve]) -> ReferenceTable:
        """The :class:`ReferenceTable` this rule reads, from the completed curves."""
        return ReferenceTable.build(curves, self.grace, average=self.average)

    def decide(
        self, job: str, curve: Curve, references: ThresholdSource | Mapping[str, Curve]
    ) -> Decision:
        """Decide for ``job`` at its latest step; ``references`` are the completed jobs' curves
        (or a materialized :class:`ReferenceTable` built with the same averaging)."""
        if not curve:
            return self.explain(job, NO_MEASUREMENTS)
        step = curve[-1][0]
        verdict = self.check(step, best_so_far(curve, step, self.direction), references)
        return self.explain(job, verdict)

    def judge(self, summary: CurveSummary, group: GroupState) -> MedianVerdict | None:
        """The objective rules' verb (:mod:`.rule`): reads ``group.references``."""
        references = group.references
        if references is None:
            return None
        # check_summary's body: the tick's hot path makes one call less
        step = summary.last_step
        return NO_MEASUREMENTS if step is None else self.check(step, summary.best, references)

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """:meth:`judge`'s verdict written out (:meth:`explain`)."""
        assert isinstance(verdict, MedianVerdict)
        return self.explain(job, verdict)

    def decide_summary(
        self, job: str, summary: CurveSummary, references: ThresholdSource | Mapping[str, Curve]
    ) -> Decision:
        """The same decision from the job's :class:`CurveSummary`."""
        return self.explain(job, self.check_summary(summary, references))

    def check_summary(
        self, summary: CurveSummary, references: ThresholdSource | Mapping[str, Curve]
    ) -> MedianVerdict:
        """:meth:`decide_summary`'s verdict, without its Decision (a tick's hot path)."""
        if summary.last_step is None:
            return NO_MEASUREMENTS
        return self.check(summary.last_step, summary.best, references)

    def check(
        self,
        step: float,
        best: float | None,
        references: ThresholdSource | Mapping[str, Curve],
    ) -> MedianVerdict:
        """The verdict at ``step`` for a job whose best finite value so far is ``best``."""
        # the tick's case, a table of the spec's average for a rule of the spec's average, is
        # read as it is; anything else goes through _source (which also refuses a mismatch)
        if type(references) is ReferenceTable and references.average == self.average == "all":
            threshold, count = references.at(step)
        else:
            threshold, count = self._source(references).at(step)
        if step < self.grace or count < self.min_completed or threshold is None:
            return _verdict((False, step, best, None, count))  # a gate: no comparison
        if best is None:
            return _verdict((False, step, None, threshold, count))
        # strictly worse stops; a tie continues
        stop = best > threshold if self._minimize else best < threshold
        return _verdict((stop, step, best, threshold, count))

    def explain(self, job: str, verdict: MedianVerdict) -> Decision:
        """The :class:`Decision` for ``verdict`` (a result of :meth:`check`), with its reason."""
        stop, step, best, threshold, count = verdict
        if step is None:
            reason = "no measurements yet"
        elif step < self.grace:
            reason = (
                f"step {fmt(step)} is inside the grace period (< {fmt(self.grace)}); no decision"
            )
        elif threshold is None:
            reason = (
                f"{count} completed reference job(s) reach step {fmt(step)}; "
                f"{self.min_completed} needed before deciding"
            )
        elif best is None:
            reason = f"no finite value by step {fmt(step)}; left to the divergence rule"
        else:
            word = "worse" if stop else ("equal to" if best == threshold else "better")
            reason = (
                f"{'stop' if stop else 'continue'}: best {fmt(best)} by step {fmt(step)} is "
                f"{word}{'' if word == 'equal to' else ' than'} the median {fmt(threshold)} of "
                f"{count} completed jobs' running averages ({self.direction})"
            )
        return Decision(
            job=job,
            rule=RULE,
            stop=stop,
            step=step,
            value=best,
            threshold=threshold,
            references=count,
            reason=reason,
        )

    def _source(self, references: ThresholdSource | Mapping[str, Curve]) -> ThresholdSource:
        """The references as a threshold source; refuses one built for another averaging."""
        # the materialized table first: a concrete class is a cheaper isinstance than Mapping
        if isinstance(references, ReferenceTable | DirectReferences):
            if references.average != self.average:
                raise ValueError(
                    f"references average {references.average!r}; the rule averages {self.average!r}"
                )
            if self.average == "since_grace" and references.grace != self.grace:
                raise ValueError(
                    f"references average since grace {fmt(references.grace)}; the rule's "
                    f"grace is {fmt(self.grace)}"
                )
            return references
        if isinstance(references, Mapping):
            return DirectReferences(references, self.grace, self.average)
        return references
