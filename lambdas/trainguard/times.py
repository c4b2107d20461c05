"""Moments as text and back: :func:`iso` writes one, :func:`epoch_seconds` reads one."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def iso(epoch: float, *, zulu: bool = False) -> str:
    """``epoch`` (seconds) as ISO-8601 UTC to the second: ``2024-05-01T12:00:00+00:00``, or
    with ``zulu`` ``2024-05-01T12:00:00Z`` (the form of EventBridge's ``time`` and of the
    runtime controls' ``at``)."""
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if zulu else text


class TimestampError(ValueError):
    """A value that is no timestamp; the message names its key."""


def epoch_seconds(value: object, key: str) -> float | None:
    """``value`` in epoch seconds (None for None or ""): epoch ms as a string or a number (both
    occur in SageMaker's events), epoch seconds, ISO-8601, or a datetime (boto3's). Raises
    :class:`TimestampError` naming ``key`` for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    number: float | None = None
    if isinstance(value, bool):
        raise TimestampError(f"{key} must be a timestamp, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise TimestampError(f"{key} must be a timestamp, got {value!r}") from None
    else:
        raise TimestampError(f"{key} must be a timestamp, got {type(value).__name__}")
    if not math.isfinite(number) or number < 0:
        raise TimestampError(f"{key} must be a timestamp, got {value!r}")
    # epoch ms (what SageMaker events carry) vs epoch seconds: 1e11 s is year 5138
    return number / 1000.0 if number > 1e11 else number
