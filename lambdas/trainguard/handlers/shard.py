"""Lambda entry point of the shard queue (SQS event source, batch size 1,
``ReportBatchItemFailures``): one shard of a tick a message.

A shard that raises (its jobs, statistics or metrics could not be read, or the message is
unreadable) is reported as a batch item failure: SQS delivers it again after the visibility
timeout, and after ``maxReceiveCount`` receives moves it to the dead-letter queue (alarmed).
Other shards are other messages: one shard's failure never holds them up. A shard delivered
twice acts once (claims are once-only, progress writes are conditional on the tick time).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..constants import (
    METRIC_JOB_ERRORS,
    METRIC_SHARD_DURATION,
)
from ..logic.dependencies import Dependencies
from ..logic.evaluator import Budget, evaluate_shard
from ..observability import count, emit_tick, logger, metrics
from .events import parse_shard_body
from .runtime import get_dependencies

if TYPE_CHECKING:  # the type only: Powertools' typing module is not needed at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    deps = get_dependencies(deps)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    failures: list[dict[str, str]] = []
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            shard = parse_shard_body(record.get("body"), deps.clock())
            logger.append_keys(shard=f"{shard.index + 1}/{shard.count}", tick=shard.now)
            result = evaluate_shard(
                deps, shard.runs, shard.now, Budget(remaining), pinned=shard.pinned
            )
        except Exception:
            logger.exception(
                "the shard failed: SQS delivers it again, then dead-letters it",
                extra={"message_id": message_id},
            )
            failures.append({"itemIdentifier": message_id})
            # said at once (the alarmed JobErrors), not only when it is dead-lettered
            count(METRIC_JOB_ERRORS)
            continue
        finally:
            logger.remove_keys(["shard", "tick"])
        emit_tick(result, METRIC_SHARD_DURATION)
        results.append(asdict(result))
        logger.info(
            "shard done",
            extra={
                "jobs": result.jobs,
                "evaluated": result.evaluated,
                "stops": result.stops,
                "errors": result.errors,
                "deferred": result.deferred,
            },
        )
    return {"batchItemFailures": failures, "shards": results}
