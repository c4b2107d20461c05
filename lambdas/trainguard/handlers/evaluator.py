"""Lambda entry point for the evaluator's schedule: the tick's planner (it judges a small
fleet itself, else sends the shards to the shard function: :mod:`.shard`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..constants import (
    METRIC_ALERTS,
    METRIC_CONFIG_ERRORS,
    METRIC_DECISIONS,
    METRIC_DEFERRED,
    METRIC_DOLLARS_SAVED,
    METRIC_EMAIL_DEAD_LETTERS,
    METRIC_JOB_ERRORS,
    METRIC_SHARDS,
    METRIC_STOP_FAILURES,
    METRIC_STOPS,
    METRIC_TICK_DURATION,
    METRIC_TICKS,
    METRIC_WOULD_STOPS,
)
from ..logic.dependencies import Dependencies
from ..logic.evaluator import Budget, TickResult, run_tick
from ..observability import logger, metrics
from .events import event_time
from .runtime import get_dependencies


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    # the scheduled event's time is the tick's "now" (see .events.event_time)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    result = run_tick(get_dependencies(deps), now=event_time(event), budget=Budget(remaining))
    metrics.add_metric(name=METRIC_TICKS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=METRIC_SHARDS, unit=MetricUnit.Count, value=result.shards)
    emit(result, METRIC_TICK_DURATION)
    logger.info(
        "tick done",
        extra={
            "jobs": result.jobs,
            "stops": result.stops,
            "would_stops": result.would_stops,
            "alerts": result.alerts,
            "errors": result.errors,
            "paused": result.paused,
            "shards": result.shards,
            "registered": result.registered,
            "finalized": result.finalized,
        },
    )
    return asdict(result)


def emit(result: TickResult, duration_metric: str) -> None:
    """The metrics of one tick's (or one shard's) work, in ``duration_metric`` its time."""
    count = MetricUnit.Count
    metrics.add_metric(name=METRIC_STOPS, unit=count, value=result.stops)
    metrics.add_metric(name=METRIC_WOULD_STOPS, unit=count, value=result.would_stops)
    metrics.add_metric(name=METRIC_ALERTS, unit=count, value=result.alerts)
    metrics.add_metric(name=METRIC_DECISIONS, unit=count, value=result.decisions)
    metrics.add_metric(name=METRIC_JOB_ERRORS, unit=count, value=result.errors)
    metrics.add_metric(name=METRIC_STOP_FAILURES, unit=count, value=result.stop_failures)
    metrics.add_metric(name=METRIC_EMAIL_DEAD_LETTERS, unit=count, value=result.emails_dead)
    metrics.add_metric(name=METRIC_DEFERRED, unit=count, value=result.deferred)
    metrics.add_metric(name=METRIC_DOLLARS_SAVED, unit=count, value=result.dollars_saved)
    if result.controls_error is not None:  # every stop held: logged by the tick, alarmed here
        metrics.add_metric(name=METRIC_CONFIG_ERRORS, unit=count, value=1)
    metrics.add_metric(name=duration_metric, unit=MetricUnit.Milliseconds,
                       value=result.duration_ms)  # fmt: skip
