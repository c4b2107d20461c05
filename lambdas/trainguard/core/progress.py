"""A running job's read position: its :class:`CurveSummary` and how far the evaluator has read.

The evaluator keeps a :class:`Progress` on each job's item. A steady tick reads only a recent
window of datapoints and :func:`advance` folds the new ones into the summary: O(1) work per
job whatever its age. A job whose progress is missing or unusable (new, its rules changed, or
not read for longer than the window) is read from its start once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import field, replace

from .cadence import ReportCadence
from .catchup import NO_STREAK, WorseStreak
from .curves import Direction
from .series import floor_minute, minute_curve
from .stored import Record, number, real, record
from .summary import CurveSummary
from .throughput import ThroughputSummary
from .values import frozen


@frozen
class Progress:
    summary: CurveSummary
    unit: str  # the step unit the summary counts in: "minute" or "report"
    checked: float  # epoch s of the tick that last read the objective
    last_point: float | None = None  # epoch s of the last datapoint folded in
    cadence: ReportCadence = field(default_factory=ReportCadence)  # its report rhythm
    # the throughput metric's (trainguard:throughput), folded the same way
    throughput: ThroughputSummary | None = None
    throughput_last: float | None = None
    streak: WorseStreak = NO_STREAK  # the catch-up rule's worse reports in a row

    def usable(self, *, direction: Direction, min_delta: float, unit: str, since: float) -> bool:
        """True if reading from ``since`` on brings it up to date: counted for the same
        direction, patience min_delta and step unit, and read at or after ``since``."""
        return (
            (self.summary.direction, self.summary.min_delta) == (direction, min_delta)
            and self.unit == unit
            and self.checked >= since
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "summary": self.summary.to_dict(),
            "unit": self.unit,
            "checked": self.checked,
            "last_point": self.last_point,
            "cadence": self.cadence.to_dict(),
        }
        if self.throughput is not None:
            out["throughput"] = self.throughput.to_dict()
            out["throughput_last"] = self.throughput_last
        if self.streak != NO_STREAK:
            out["streak"] = self.streak.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Record) -> Progress:
        """Raises ValueError (or KeyError/TypeError) for an unreadable record."""
        last = raw.get("last_point")
        checked = real(raw["checked"])
        if not math.isfinite(checked):
            raise ValueError(f"checked must be finite, got {checked}")
        throughput = raw.get("throughput")
        throughput_last = raw.get("throughput_last")
        cadence, streak = raw.get("cadence"), raw.get("streak")
        return cls(
            CurveSummary.from_dict(record(raw["summary"])),
            str(raw.get("unit", "minute")),
            checked,
            number(last),
            ReportCadence.from_dict(record(cadence)) if "cadence" in raw else ReportCadence(),
            None if throughput is None else ThroughputSummary.from_dict(record(throughput)),
            number(throughput_last),
            WorseStreak.from_dict(None if streak is None else record(streak)),
        )


def advance(
    before: Progress | None,
    points: Iterable[tuple[float, float]],
    *,
    start_time: float,
    unit: str,
    direction: Direction,
    min_delta: float,
    now: float,
) -> Progress:
    """``before`` (None: nothing read yet) with the datapoints ``(epoch s, value)`` newer than
    its last one folded in, checked at ``now``. Steps are minutes since the start's minute, or
    the report index for ``unit == "report"``; a datapoint before the start is ignored."""
    summary = (
        before.summary
        if before is not None
        else CurveSummary(direction=direction, min_delta=min_delta)
    )
    last_point = before.last_point if before is not None else None
    base = floor_minute(start_time)
    fresh = [(ts, v) for ts, v in points if ts >= base and (last_point is None or ts > last_point)]
    by_report = unit == "report"
    for minute, value in minute_curve(fresh, start_time):
        step = (summary.last_step or 0.0) + 1.0 if by_report else minute
        if summary.last_step is None or step > summary.last_step:
            summary = summary.add(step, value)
    cadence = before.cadence if before is not None else ReportCadence()
    for ts, _ in fresh:
        if cadence.last is None or ts > cadence.last:
            cadence = cadence.add(ts)
    if fresh:
        last_point = fresh[-1][0]
    if before is None:
        return Progress(summary, unit, now, last_point, cadence)
    return replace(before, summary=summary, checked=now, last_point=last_point, cadence=cadence)


def advance_throughput(
    progress: Progress,
    points: Iterable[tuple[float, float]],
    *,
    start_time: float,
    empty: ThroughputSummary,
) -> Progress:
    """``progress`` with the throughput datapoints newer than its last one folded into its
    throughput summary (``empty``, the rule's, when it has none or one of another warm-up);
    steps are minutes since the start's minute."""
    summary = progress.throughput
    last = progress.throughput_last
    if summary is None or summary.warmup_minutes != empty.warmup_minutes:
        summary, last = empty, None
    base = floor_minute(start_time)
    for ts, value in points:
        if ts < base or (last is not None and ts <= last):
            continue
        summary = summary.add((ts - base) / 60.0, value)
        last = ts
    return replace(progress, throughput=summary, throughput_last=last)
