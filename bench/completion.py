"""Part: a completion's cost as a group's history grows (issue 11: "growing groups").

For N = 100, 1,000 and 5,000 completed references of 500 one-minute steps in one reference
set, and for a 28-day job (40,320 one-minute datapoints) completing into a group of 100: the
real lifecycle handler handles the "Completed" event of one more job on in-process moto (it
reads the job's curve from CloudWatch, stores it, and updates the reference set's statistics
from the window of the most recent references). Timed with ``time.perf_counter``; peak memory
with ``tracemalloc`` around the same call; the largest item of the table is measured as
DynamoDB sizes items (attribute names plus values; binary as its bytes).

The references are written straight to the table, as earlier completions leave them (their
curve items, then one statistics update over them all), so that building a fleet of 5,000
does not take 5,000 completions. The completing job's curve is read through the real
CloudWatch adapter's port but answered from memory (:class:`CurveReader`): moto's
GetMetricData is quadratic in the number of periods (104 s of a 40,320-period read here),
where CloudWatch answers up to 100,800 datapoints a call; the figures are trainguard's work.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import random
import time
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

STEPS = 500
SIZES = (100, 1_000, 5_000)
QUICK_SIZES = (100, 1_000)
LONG_STEPS = 40_320  # 28 days of one-minute datapoints
OBJECTIVE = "validation:loss"
GROUP = "growing"


def _curve(rng: random.Random, steps: int) -> list[tuple[float, float]]:
    floor, rate = rng.uniform(0.1, 0.4), rng.uniform(0.005, 0.05)
    return [
        (float(s), floor + (1.0 - floor) * math.exp(-rate * s) + rng.gauss(0, 0.005))
        for s in range(1, steps + 1)
    ]


def item_bytes(value: Any) -> int:
    """DynamoDB's size of a wire-format attribute value (serialize's output)."""
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return len(str(inner).encode())
    if kind == "B":
        return len(bytes(inner))
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind in ("SS", "NS"):
        return sum(len(str(v).encode()) for v in inner)
    if kind == "L":
        return 3 + sum(1 + item_bytes(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k) + 1 + item_bytes(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def largest_item_kib(items: list[Mapping[str, Any]]) -> float:
    return max(sum(len(k) + item_bytes(v) for k, v in item.items()) for item in items) / 1024


class CurveReader:
    """A MetricReader over one job's datapoints, answering GetMetricData's question (the
    datapoints of [start, end), one a period) without moto's quadratic scan."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        self._points = points

    def get_series(
        self, queries: Any, start: float, end: float, period: int = 60
    ) -> dict[str, list[tuple[float, float]]]:
        return {q.id: [(t, v) for t, v in self._points if start <= t < end] for q in queries}


def measure(references: int, steps: int, log: Callable[[str], None]) -> dict[str, Any]:
    from trainguard.config import Policy
    from trainguard.handlers import lifecycle
    from trainguard.logic.lifecycle import update_stats
    from trainguard.models import ReferenceSet
    from trainguard_local.lambda_context import LambdaContext
    from trainguard_local.moto_harness import MotoHarness, state_change

    rng = random.Random(f"trainguard-bench-completion/{references}/{steps}")
    tags = {"trainguard:group": GROUP, "trainguard:objective": OBJECTIVE}
    refs = ReferenceSet(GROUP, OBJECTIVE, "minimize")
    with MotoHarness.running(table="trainguard-bench-completion") as aws:
        deps = aws.deps(Policy())
        log(f"completion: writing {references} references of {STEPS} steps")
        done = []
        for i in range(references):
            job = f"ref-{i:05d}@{1_700_000_000_000 + i}"
            deps.references.put_curve(refs, job, _curve(rng, STEPS), float(STEPS))
            done.append((job, float(STEPS)))
        update_stats(refs, deps, add=done)
        # the job that completes now: InProgress, its curve in CloudWatch, then Completed
        start = aws.now() - (steps + 2) * 60.0
        start -= start % 60
        arn = aws.create_job("completing", tags, start=start)
        values = [v for _, v in _curve(rng, steps)]
        points = [(start + (i + 1) * 60.0, v) for i, v in enumerate(values)]
        deps = dataclasses.replace(deps, metrics=CurveReader(points))
        ctx = LambdaContext(function_name="trainguard-bench-lifecycle")
        lifecycle.handler(
            state_change("completing", "InProgress", arn=arn, start=start), ctx, deps=deps
        )
        end = start + (steps + 1) * 60.0
        event = state_change("completing", "Completed", arn=arn, start=start, end=end)
        gc.collect()
        tracemalloc.start()
        began = time.perf_counter()
        out = lifecycle.handler(event, ctx, deps=deps)
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert out["curve_points"] > 0, out
        stats = deps.references.get_stats(refs)
        assert stats is not None
        return {
            "references": references,
            "steps": steps,
            "seconds": seconds,
            "peak_mib": peak / 2**20,
            "largest_item_kib": largest_item_kib(aws.dynamodb.scan(TableName=aws.table)["Items"]),
            "window": stats.references,
            "completed": stats.completed,
            "curve_points_stored": out["curve_points"],
        }


def run(quick: bool = False, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """The ``completion`` rows: one per group size, and the 28-day job."""
    rows = [measure(n, STEPS, log) for n in (QUICK_SIZES if quick else SIZES)]
    log("completion: a 28-day job completing into a group of 100")
    rows.append(measure(100, LONG_STEPS, log))
    return rows
