"""The local run's one time base: simulated time, mapped onto real wall-clock datetimes.

Every timestamp the run produces (job start/end times, metric datapoints, scheduled events,
alarm evaluations) is a timezone-aware UTC ``datetime`` read from one :class:`SimClock`.
The clock starts in the recent past (``SimClock.ending_now(span)``) so a run of ``span`` never
writes a datapoint in the future: real CloudWatch rejects data too far in the past or future,
moto does not check, and keeping to real recent times keeps the demo honest about that.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def floor_minute(moment: datetime) -> datetime:
    """``moment`` truncated to the whole minute (metric periods are minute-aligned)."""
    return moment.replace(second=0, microsecond=0)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class SimClock:
    """A manually advanced clock. ``now()`` is what every part of the local run calls "now".

    Thread-safe to read: the moto server thread reads it when a job changes state through the
    API (e.g. ``StopTrainingJob``), while the run's thread advances it.
    """

    def __init__(self, start: datetime) -> None:
        self.start = as_utc(start)
        self._now = self.start
        self._lock = threading.Lock()

    @classmethod
    def ending_now(cls, span: timedelta, *, real_now: datetime | None = None) -> SimClock:
        """A clock that starts ``span`` before the real present (minute-aligned), so a run of
        at most ``span`` ends no later than now."""
        present = as_utc(real_now) if real_now is not None else datetime.now(UTC)
        return cls(floor_minute(present - span))

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backward) and return the new now."""
        if delta < timedelta(0):
            raise ValueError("the clock never goes backward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (not earlier than now) and return it."""
        moment = as_utc(moment)
        with self._lock:
            if moment < self._now:
                raise ValueError(f"the clock never goes backward: {moment} < {self._now}")
            self._now = moment
            return moment

    def elapsed(self, moment: datetime | None = None) -> timedelta:
        """Simulated time since the start (of ``moment``, default now)."""
        return (as_utc(moment) if moment is not None else self.now()) - self.start

    def at(self, offset: timedelta) -> datetime:
        """The datetime ``offset`` after the start."""
        return self.start + offset


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds, the unit of timestamps in SageMaker state-change event details."""
    return round(as_utc(moment).timestamp() * 1000)


def iso_z(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: the top-level ``time`` of EventBridge events."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
