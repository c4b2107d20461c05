"""Lambda entry point for the weekly digest's schedule (``digestSchedule``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..constants import METRIC_DIGESTS
from ..logic.dependencies import Dependencies
from ..logic.digest import send_digest
from ..observability import count, logger, metrics
from .events import event_time
from .runtime import get_dependencies

if TYPE_CHECKING:  # the type only: Powertools' typing module is not needed at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    # the scheduled event's time closes the week (see .events.event_time)
    digest = send_digest(get_dependencies(deps), now=event_time(event))
    t = digest.summary.total
    result = {
        "since": digest.summary.to_dict()["since"],
        "until": digest.summary.to_dict()["until"],
        "stops": t.stops,
        "would_stops": t.would_stops,
        "alerts": t.alerts,
        "dollars_saved": round(t.dollars_saved, 2),
        "gpu_hours_saved": round(t.gpu_hours_saved, 2),
        "idle_jobs": len(digest.idle),
        "close_calls": len(digest.close_calls),
    }
    count(METRIC_DIGESTS)
    logger.info("digest sent", extra=result)
    return result
