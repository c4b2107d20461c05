"""Curves: a job's objective measurements as ``(step, value)`` pairs with increasing steps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from operator import itemgetter


class Direction(StrEnum):
    """Which way an objective improves (stored and written as these words: a ``StrEnum`` is
    the string)."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


Point = tuple[float, float]
Curve = Sequence[Point]

DIRECTIONS: tuple[Direction, ...] = tuple(Direction)


def is_better(a: float, b: float, direction: Direction) -> bool:
    """True iff ``a`` is strictly better than ``b`` in ``direction``."""
    return a < b if direction == "minimize" else a > b


def best_so_far(curve: Curve, step: float, direction: Direction) -> float | None:
    """Best finite value among measurements with step <= ``step`` (None if there is none)."""
    if curve and curve[-1][0] <= step:
        # the whole curve counts (the usual case: the job's latest step): min/max in C. A
        # finite sum means no NaN or inf among the values; otherwise (or on overflow) the loop
        # below skips the non-finite ones
        values: list[float] = list(map(itemgetter(1), curve))
        if math.isfinite(sum(values)):
            best_value: float = min(values) if direction == "minimize" else max(values)
            return best_value
    best: float | None = None
    for s, v in curve:
        if s > step:
            break
        if math.isfinite(v) and (best is None or is_better(v, best, direction)):
            best = v
    return best


def running_average(curve: Curve, step: float, since: float | None = None) -> float | None:
    """Mean of the measurements with ``step_i <= step`` (None if there are none).

    This is the median rule's running average (Vizier, SageMaker AMT, ../DESIGN.md): every
    measurement up to ``step`` counts. ``since`` restricts it to ``since <= step_i <= step``,
    Ray Tune's average from its grace period on (the median rule's ``average="since_grace"``).
    A non-finite measurement makes the average non-finite, which the median rule drops.
    """
    total = 0.0
    count = 0
    for s, v in curve:
        if s > step:
            break
        if since is None or s >= since:
            total += v
            count += 1
    return total / count if count else None


def median(values: Sequence[float]) -> float:
    """Median; the mean of the two middle values for an even count. ``values`` is non-empty."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def fmt(x: float | None) -> str:
    """Numbers in reasons: short and stable (``0.95``, ``1.2e-05``, ``nan``)."""
    if x is None:
        return "n/a"
    return f"{x:.4g}"


MINUS = "\u2212"  # a minus sign, not a hyphen


def signed(x: float | None) -> str:
    """:func:`fmt` with a real minus sign: how the messages and the rules' sentences write a
    number, so a subject, its fields and its sentence give the same digits."""
    return fmt(x).replace("-", MINUS)
