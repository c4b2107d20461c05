"""One Logger and one Metrics for every function (Powertools), and the metrics they emit.

No Powertools Tracer: it rests on the AWS X-Ray SDK, in maintenance since 2026-02-25 and at
end of support on 2027-02-25, and it was the largest part of each handler's import
(bench/RESULTS.md, `cold_start`). The
functions keep Lambda's active tracing (the stack turns it on), which needs no SDK.
"""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from .constants import (
    METRIC_ALERTS,
    METRIC_CONFIG_ERRORS,
    METRIC_DECISIONS,
    METRIC_DEFERRED,
    METRIC_DOLLARS_SAVED,
    METRIC_EMAIL_DEAD_LETTERS,
    METRIC_JOB_ERRORS,
    METRIC_STOP_FAILURES,
    METRIC_STOPS,
    METRIC_UNWATCHED,
    METRIC_WOULD_STOPS,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


class TickFigures(Protocol):
    """What one tick's (or one shard's) result reports (``logic.evaluator.TickResult``)."""

    stops: int
    would_stops: int
    alerts: int
    decisions: int
    errors: int
    stop_failures: int
    emails_dead: int
    deferred: int
    dollars_saved: float
    controls_error: str | None
    duration_ms: float
    unwatched: int


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count metric ``name`` (flushed by the handler's ``log_metrics``)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def emit_tick(result: TickFigures, duration_metric: str) -> None:
    """The metrics of one tick's (or one shard's) work, in ``duration_metric`` its time."""
    count(METRIC_STOPS, result.stops)
    count(METRIC_WOULD_STOPS, result.would_stops)
    count(METRIC_ALERTS, result.alerts)
    count(METRIC_DECISIONS, result.decisions)
    count(METRIC_JOB_ERRORS, result.errors)
    count(METRIC_STOP_FAILURES, result.stop_failures)
    count(METRIC_EMAIL_DEAD_LETTERS, result.emails_dead)
    count(METRIC_DEFERRED, result.deferred)
    count(METRIC_DOLLARS_SAVED, result.dollars_saved)
    # opted-in jobs a rule on does not watch (issue 20): the planner's and the shards' add up
    count(METRIC_UNWATCHED, result.unwatched)
    if result.controls_error is not None:  # every stop held: logged by the tick, alarmed here
        count(METRIC_CONFIG_ERRORS)
    metrics.add_metric(name=duration_metric, unit=MetricUnit.Milliseconds, value=result.duration_ms)
