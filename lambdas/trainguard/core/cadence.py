"""How often a job reports its objective, learned one datapoint timestamp at a time.

The hang rule (:mod:`.hang`) judges a silence against the job's own rhythm: a job that
reports every minute is suspicious after five silent minutes, one that reports once an epoch
of forty minutes is not. :class:`ReportCadence` keeps exactly what that needs, in O(1) size
whatever the job's age: the last report's timestamp, the count, the most recent
:data:`RECENT_GAPS` gaps (their median is the typical gap: one slow report, a checkpoint,
does not move it) and the longest gap seen so far (a job that has paused ten minutes for a
checkpoint before may do so again).

The evaluator keeps it on the job's item next to the job's
:class:`~trainguard.core.summary.CurveSummary` and folds in the timestamps of the same new
datapoints. ``ReportCadence.of(timestamps)`` and folding ``add`` give the same cadence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .curves import median
from .stored import Record, entries, number, real, whole

RECENT_GAPS = 15  # gaps kept for the typical gap: a quarter of an hour at one report a minute


@dataclass(frozen=True, slots=True)
class ReportCadence:
    """A job's report rhythm; all times in seconds (epoch s for ``last``)."""

    count: int = 0  # timestamps folded in
    last: float | None = None  # epoch s of the latest report
    gaps: tuple[float, ...] = ()  # the most recent gaps, oldest first (at most RECENT_GAPS)
    longest: float | None = None  # the longest gap since the first report (None: under two)

    @classmethod
    def of(cls, timestamps: Iterable[float]) -> ReportCadence:
        """The cadence of a whole series of increasing timestamps (the same as folding
        :meth:`add`)."""
        cadence = cls()
        for ts in timestamps:
            cadence = cadence.add(ts)
        return cadence

    def add(self, ts: float) -> ReportCadence:
        """The cadence with the next report's timestamp folded in (it must be finite and
        later than ``last``); this one is left as it was."""
        if not math.isfinite(ts):
            raise ValueError(f"a report timestamp must be finite, got {ts}")
        if self.last is None:
            return ReportCadence(self.count + 1, ts, (), None)
        gap = ts - self.last
        if gap <= 0:
            raise ValueError(f"report timestamps must increase: {ts} after {self.last}")
        longest = gap if self.longest is None else max(self.longest, gap)
        return ReportCadence(self.count + 1, ts, (*self.gaps, gap)[-RECENT_GAPS:], longest)

    @property
    def typical_gap(self) -> float | None:
        """The median of the recent gaps, s (None before the second report)."""
        return median(self.gaps) if self.gaps else None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe (every number is finite)."""
        return {
            "count": self.count,
            "last": self.last,
            "gaps": list(self.gaps),
            "longest": self.longest,
        }

    @classmethod
    def from_dict(cls, raw: Record) -> ReportCadence:
        """Raises ValueError (or TypeError) for an unreadable record."""
        count = whole(raw.get("count", 0))
        last = _finite(raw.get("last"), "last")
        longest = _finite(raw.get("longest"), "longest")
        gaps = tuple(real(g) for g in entries(raw.get("gaps", ())))[-RECENT_GAPS:]
        if count < 0 or (last is None) != (count == 0):
            raise ValueError(f"cadence: count {count} does not match last {last}")
        if any(not math.isfinite(g) or g <= 0 for g in gaps) or (longest is None) != (not gaps):
            raise ValueError(f"cadence: unusable gaps {gaps} (longest {longest})")
        return cls(count, last, gaps, longest)


def _finite(x: object, key: str) -> float | None:
    value = number(x)
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"cadence: {key} must be finite, got {value}")
    return value
