"""Lambda entry point for alarm notifications (GPU-idle alarms, the stack's health alarms)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..constants import METRIC_ALERTS
from ..logic.alert import handle_alarm
from ..logic.dependencies import Dependencies
from ..models import EventError
from ..observability import count, logger, metrics
from .events import parse_alarm_event
from .runtime import get_dependencies

if TYPE_CHECKING:  # the type only: Powertools' typing module is not needed at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    try:
        result = handle_alarm(parse_alarm_event(event), get_dependencies(deps))
    except EventError as exc:
        logger.error("malformed alarm notification", extra={"error": str(exc)})
        raise
    if result.notified:
        count(METRIC_ALERTS)
    return asdict(result)
