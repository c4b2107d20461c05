"""A curve summarized for the rules, updatable one measurement at a time.

Every rule needs only a few numbers of a job's curve: its latest step and value, its best
finite value, its first finite values (the divergence rule's scale) and the patience counter.
:class:`CurveSummary` holds exactly those, so the evaluator can keep it on the job's item and
read only the new datapoints of each tick (a few per job, whatever the job's age) instead of
the whole history. ``CurveSummary.of(curve)`` and folding ``add`` over the same points give the
same summary; the rules decide the same from either.

A summary is a value: nothing changes one after it is built, ``add`` returns a new one. The
class is not a frozen dataclass only because a frozen dataclass sets each of its eleven fields
through ``object.__setattr__`` when built, which made ``add`` (run for every job and datapoint
of every tick) three times slower; treat its fields as read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from math import isfinite

from .curves import Direction
from .stored import Record, entries, number, real, whole

HEAD = 5  # finite values kept from the start of the curve (the divergence rule's scale)


@dataclass(slots=True)  # a value, not frozen: see the module docstring
class CurveSummary:
    """One job's curve as the rules read it. Not frozen, so mutable in principle; a value in
    practice: never assign to its fields (``add`` returns a new summary)."""

    direction: Direction = Direction.MINIMIZE
    min_delta: float = 0.0  # the patience rule's improvement threshold
    count: int = 0  # measurements folded in, finite or not
    last_step: float | None = None
    last_value: float | None = None  # may be NaN/inf: the divergence rule looks at it
    head: tuple[float, ...] = ()  # the first HEAD finite values
    best: float | None = None  # best finite value
    best_step: float | None = None
    bar: float | None = None  # patience: best value at the last improvement beyond min_delta
    bar_step: float | None = None
    waited: int = 0  # patience: finite measurements since that improvement

    @classmethod
    def of(
        cls,
        curve: Iterable[tuple[float, float]],
        direction: Direction = Direction.MINIMIZE,
        min_delta: float = 0.0,
    ) -> CurveSummary:
        """The summary of a whole curve (steps increasing): the same as folding ``add`` over
        it, in one pass without the intermediate objects."""
        minimize = direction == "minimize"
        count, last_step, last_value = 0, None, None
        head: list[float] = []
        best = best_step = bar = bar_step = None
        waited = 0
        for step, value in curve:
            if last_step is not None and step <= last_step:
                raise ValueError(f"steps must increase: {step} after {last_step}")
            count, last_step, last_value = count + 1, step, value
            if not isfinite(value):
                continue
            if len(head) < HEAD:
                head.append(value)
            if best is None or (value < best if minimize else value > best):
                best, best_step = value, step
            if bar is None or (value < bar - min_delta if minimize else value > bar + min_delta):
                bar, bar_step, waited = value, step, 0
            else:
                waited += 1
        return cls(
            direction,
            min_delta,
            count,
            last_step,
            last_value,
            tuple(head),
            best,
            best_step,
            bar,
            bar_step,
            waited,
        )

    @property
    def first(self) -> float | None:
        """The first finite value."""
        return self.head[0] if self.head else None

    def add(self, step: float, value: float) -> CurveSummary:
        """The summary with the next measurement folded in (its step must be greater than
        ``last_step``); this one is left as it was."""
        if self.last_step is not None and step <= self.last_step:
            raise ValueError(f"steps must increase: {step} after {self.last_step}")
        head, best, best_step = self.head, self.best, self.best_step
        bar, bar_step, waited = self.bar, self.bar_step, self.waited
        if isfinite(value):
            minimize = self.direction == "minimize"
            if len(head) < HEAD:
                head = (*head, value)
            if best is None or (value < best if minimize else value > best):
                best, best_step = value, step
            if bar is None or (
                value < bar - self.min_delta if minimize else value > bar + self.min_delta
            ):
                bar, bar_step, waited = value, step, 0
            else:
                waited += 1
        # one positional construction: this runs once per job and datapoint in every tick
        return CurveSummary(
            self.direction,
            self.min_delta,
            self.count + 1,
            step,
            value,
            head,
            best,
            best_step,
            bar,
            bar_step,
            waited,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-safe (non-finite numbers as strings: JSON has no NaN)."""
        out = asdict(self)
        out["head"] = list(self.head)
        for key, value in out.items():
            if isinstance(value, float) and not isfinite(value):
                out[key] = str(value)
        return out

    @classmethod
    def from_dict(cls, raw: Record) -> CurveSummary:
        return cls(
            direction=Direction(str(raw.get("direction", "minimize"))),
            min_delta=real(raw.get("min_delta", 0.0)),
            count=whole(raw.get("count", 0)),
            last_step=number(raw.get("last_step")),
            last_value=number(raw.get("last_value")),
            head=tuple(real(v) for v in entries(raw.get("head", ()))),
            best=number(raw.get("best")),
            best_step=number(raw.get("best_step")),
            bar=number(raw.get("bar")),
            bar_step=number(raw.get("bar_step")),
            waited=whole(raw.get("waited", 0)),
        )
