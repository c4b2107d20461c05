"""Lambda entry point for "SageMaker Training Job State Change" events."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..logic.dependencies import Dependencies
from ..logic.lifecycle import LifecycleResult, apply_change
from ..models import EventError
from ..observability import count, logger, metrics
from .events import account_of, foreign, parse_state_change
from .runtime import get_dependencies

if TYPE_CHECKING:  # the type only: Powertools' typing module is not needed at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, *, deps: Dependencies | None = None
) -> dict[str, Any]:
    try:
        result = handle_state_change(event, get_dependencies(deps), account=account_of(context))
    except EventError as exc:
        # raise: the event goes to the dead-letter queue; nothing was written
        logger.error("malformed state-change event", extra={"error": str(exc)})
        raise
    if result.alarms_created:
        count("AlarmsCreated", result.alarms_created)
    if result.curve_points:
        count("ReferencesAdded")
    return asdict(result)


def handle_state_change(
    event: object, deps: Dependencies, *, account: str | None = None
) -> LifecycleResult:
    """Parse (strictly: :class:`~trainguard.models.EventError` names the problem) and apply;
    an event of another region or ``account`` (the function's own: None, unknown) is ignored
    and logged."""
    why = foreign(event, deps.region, account)
    if why is not None:
        detail = event.get("detail") if isinstance(event, dict) else None
        name = str(detail.get("TrainingJobName", "")) if isinstance(detail, dict) else ""
        logger.warning(
            "event from another account or region ignored", extra={"job": name, "why": why}
        )
        return LifecycleResult(job=name, status="", action=f"ignored: {why}")
    return apply_change(parse_state_change(event), deps)
