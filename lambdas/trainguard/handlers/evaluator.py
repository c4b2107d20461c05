"""Lambda entry point for the evaluator's schedule: the tick's planner (it judges a small
fleet itself, else sends the shards to the shard function: :mod:`.shard`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..constants import (
    METRIC_SHARDS,
    METRIC_TICK_DURATION,
    METRIC_TICKS,
)
from ..logic.dependencies import Dependencies
from ..logic.evaluator import Budget, run_tick
from ..observability import count, emit_tick, logger, metrics
from .events import bounded_time, event_time
from .runtime import get_dependencies

if TYPE_CHECKING:  # the type only: Powertools' typing module is not needed at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    # the scheduled event's time is the tick's "now" (see .events.event_time), unless it is out
    # of bounds of the clock: then the tick is still due, at the function's own clock
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deps = get_dependencies(deps)
    now = bounded_time(event_time(event), deps.clock(), "the scheduled event")
    result = run_tick(deps, now=now, budget=Budget(remaining))
    count(METRIC_TICKS)
    count(METRIC_SHARDS, result.shards)
    emit_tick(result, METRIC_TICK_DURATION)
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
