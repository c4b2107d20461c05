"""The events' edge: every event a function receives is parsed here, into the values the
logic takes (:class:`~trainguard.models.StateChange`, :class:`~trainguard.models.AlarmChange`)
or its ``time``; :class:`~trainguard.models.EventError` names the first problem found."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..constants import ALARM_STATE_CHANGE, TRAINING_STATE_CHANGE
from ..models import AlarmChange, EventError, StateChange, field_seconds, parse_job_description
from ..observability import logger

if TYPE_CHECKING:
    from ..logic.shards import Shard

# How far an event's time may run ahead of the function's own clock: EventBridge delivers a
# scheduled event within seconds of its time and Lambda hosts keep NTP time, so minutes ahead
# is no skew but a forged or broken time (one days ahead froze a job's saved progress and sent
# a bogus overtime alert).
MAX_CLOCK_SKEW_S = 300.0
# How far behind: EventBridge retries a delivery for at most 24 hours (MaximumEventAgeInSeconds
# is at most 86,400) and the local run's simulated timeline starts hours in the past; an
# older time is no late delivery.
MAX_EVENT_AGE_S = 86400.0


def event_time(event: object) -> float | None:
    """The event's own ``time`` in epoch seconds, or None when it has none (or an unreadable one).

    "Now" for a handler is the moment its event describes: the due time of an EventBridge
    scheduled event, the time of a state change, the ``time`` of an alarm payload. On AWS that
    is within seconds of the clock (and stays right when an invocation is retried late); in the
    local run, on a simulated timeline, it is the only right answer. Callers fall back to their
    clock when this is None.
    """
    if not isinstance(event, Mapping):
        return None
    try:
        return field_seconds(event.get("time"), "time")
    except EventError:
        return None


def bounded_time(claimed: float | None, clock: float, what: str) -> float | None:
    """``claimed`` (an event's time) when it lies within :data:`MAX_CLOCK_SKEW_S` ahead of and
    :data:`MAX_EVENT_AGE_S` behind ``clock`` (the function's own clock), else None, logged with
    both times (the caller then uses its clock, or refuses the event)."""
    if claimed is None or clock - MAX_EVENT_AGE_S <= claimed <= clock + MAX_CLOCK_SKEW_S:
        return claimed
    logger.warning(
        f"{what}: its time is {claimed - clock:+.0f} s from the clock; refused",
        extra={"claimed_time": claimed, "clock": clock},
    )
    return None


def parse_state_change(event: object) -> StateChange:
    """Strictly parse a "SageMaker Training Job State Change" event; :class:`EventError`
    names the first problem found."""
    if not isinstance(event, Mapping):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    detail_type = event.get("detail-type")
    if detail_type != TRAINING_STATE_CHANGE:
        raise EventError(f"detail-type must be {TRAINING_STATE_CHANGE!r}, got {detail_type!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("detail must be an object")
    return parse_job_description(detail, event_time=field_seconds(event.get("time"), "time"))


def foreign(event: object, region: str, account: str | None) -> str | None:
    """Why ``event`` is not this deployment's (None: it is): the event's own ``region`` or
    ``account``, or its job's ARN, names another region than ``region`` or another account than
    ``account`` (None: unknown, the region alone is checked). A cross-account event bus or a
    crafted invoke must not register a job running elsewhere."""
    if not isinstance(event, Mapping):
        return None
    detail = event.get("detail")
    arn = detail.get("TrainingJobArn") if isinstance(detail, Mapping) else None
    places = [("event", event.get("region"), event.get("account"))]
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) >= 5 and parts[0] == "arn":
        places.append(("job's ARN", parts[3], parts[4]))
    for what, its_region, its_account in places:
        if its_region not in (None, "") and str(its_region) != region:
            return f"its {what} is in region {its_region}, this deployment's is {region}"
        if account and its_account not in (None, "") and str(its_account) != account:
            return f"its {what} is in account {its_account}, this deployment's is {account}"
    return None


def account_of(context: object) -> str | None:
    """The function's own account, from its ARN in the Lambda context (None: unknown)."""
    arn = getattr(context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[4] if len(parts) >= 5 and parts[0] == "arn" and parts[4] else None


def parse_alarm_event(event: object) -> AlarmChange:
    """The alarm Lambda-action payload (``alarmData``) or an EventBridge alarm event."""
    if not isinstance(event, Mapping):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    if isinstance(event.get("alarmData"), Mapping):
        data = event["alarmData"]
    elif event.get("detail-type") == ALARM_STATE_CHANGE and isinstance(
        event.get("detail"), Mapping
    ):
        data = event["detail"]
    else:
        raise EventError(
            "not an alarm notification: expected alarmData (alarm Lambda action) or a "
            f"{ALARM_STATE_CHANGE!r} event"
        )
    name = data.get("alarmName")
    if not isinstance(name, str) or not name:
        raise EventError("alarmName must be a non-empty string")
    state = data.get("state")
    if not isinstance(state, Mapping) or not isinstance(state.get("value"), str):
        raise EventError("state.value must be a string")
    previous = data.get("previousState") or {}
    reason_data: Mapping[str, Any] = {}
    raw = state.get("reasonData")
    if isinstance(raw, str):
        try:
            loaded = json.loads(raw)
            reason_data = loaded if isinstance(loaded, Mapping) else {}
        except json.JSONDecodeError:
            reason_data = {}
    configuration = data.get("configuration")
    metrics = configuration.get("metrics") if isinstance(configuration, Mapping) else None
    return AlarmChange(
        name,
        str(state["value"]),
        str(previous.get("value", "")) if isinstance(previous, Mapping) else "",
        str(state.get("reason", "")),
        reason_data,
        event_time(event),
        tuple(m for m in metrics or () if isinstance(m, Mapping)),
    )


def parse_shard_body(body: str | bytes | None, clock: float) -> Shard:
    """One SQS record's body: a shard message (:meth:`~trainguard.logic.shards.Shard.to_message`
    as JSON) whose ``now`` is within the bounds of :func:`bounded_time` around ``clock``.
    Raises :class:`~trainguard.logic.shards.ShardMessageError` (or a JSON error) for anything
    else: a shard's ``now`` is refused rather than replaced by the clock, since it is the
    planner's moment its pinned statistics belong to (the message is dead-lettered, alarmed)."""
    # only the shard function reads shards: the other handlers' imports leave the module out
    from ..logic.shards import Shard, ShardMessageError

    shard = Shard.from_message(json.loads(body or "null"))
    if bounded_time(shard.now, clock, "a shard message") is None:
        raise ShardMessageError(f"now {shard.now} is out of bounds of the clock {clock}")
    return shard
