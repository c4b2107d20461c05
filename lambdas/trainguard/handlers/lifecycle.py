"""Lambda entry point for "SageMaker Training Job State Change" events."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..logic.dependencies import Dependencies
from ..logic.lifecycle import LifecycleResult, apply_change
from ..models import EventError
from ..observability import count, logger, metrics
from .events import parse_state_change
from .runtime import get_dependencies


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    try:
        result = handle_state_change(event, get_dependencies(deps))
    except EventError as exc:
        # raise: the event goes to the dead-letter queue; nothing was written
        logger.error("malformed state-change event", extra={"error": str(exc)})
        raise
    if result.alarms_created:
        count("AlarmsCreated", result.alarms_created)
    if result.curve_points:
        count("ReferencesAdded")
    return asdict(result)


def handle_state_change(event: object, deps: Dependencies) -> LifecycleResult:
    """Parse (strictly: :class:`~trainguard.models.EventError` names the problem) and apply."""
    return apply_change(parse_state_change(event), deps)
