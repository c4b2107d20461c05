"""From metric datapoints to curves: steps are whole minutes since TrainingStartTime (the
metric period), or the report index where a group counts reports (its epochs)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .curves import Point


def floor_minute(ts: float) -> float:
    return math.floor(ts / 60.0) * 60.0


def minute_curve(points: Iterable[tuple[float, float]], start_time: float) -> list[Point]:
    """``[(minute since the start's minute, value)]`` from ``(epoch s, value)`` datapoints,
    steps strictly increasing (a datapoint before the start, or on a minute already taken, is
    skipped)."""
    base = floor_minute(start_time)
    out: list[Point] = []
    for ts, value in points:
        if ts < base:
            continue
        step = float(round((ts - base) / 60.0))
        if out and step <= out[-1][0]:
            continue
        out.append((step, value))
    return out


MAX_CURVE_POINTS = 2000  # a stored reference curve's points at most


def downsample(curve: list[Point], max_points: int) -> list[Point]:
    """``curve`` if it has at most ``max_points`` points, else that many points: consecutive
    equal-size buckets (the last may be shorter) each stored as its last step and its mean,
    the curve's own last point kept as it is. The references' running averages at the
    buckets' ends are the raw curve's (equal-size buckets); in between, and the best so far
    inside a bucket, are resolved to the bucket (a 28-day curve of one point a minute keeps
    one point per 21 minutes)."""
    if len(curve) <= max_points:
        return curve
    body, last = curve[:-1], curve[-1]
    size = -(-len(body) // (max_points - 1))  # ceil: at most max_points - 1 buckets
    out = []
    for i in range(0, len(body), size):
        bucket = body[i : i + size]
        out.append((bucket[-1][0], sum(v for _, v in bucket) / len(bucket)))
    out.append(last)
    return out


def in_steps(curve: list[Point], unit: str) -> list[Point]:
    """A minute curve in the policy's step unit: as is for ``minute``, re-indexed 1, 2, ...
    for ``report`` (the n-th value the job reported, e.g. its epoch)."""
    if unit == "report":
        return [(float(i), v) for i, (_, v) in enumerate(curve, start=1)]
    return curve
