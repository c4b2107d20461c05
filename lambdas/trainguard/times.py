"""The one way a moment is written as text: :func:`iso`."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch: float, *, zulu: bool = False) -> str:
    """``epoch`` (seconds) as ISO-8601 UTC to the second: ``2024-05-01T12:00:00+00:00``, or
    with ``zulu`` ``2024-05-01T12:00:00Z`` (the form of EventBridge's ``time`` and of the
    runtime controls' ``at``)."""
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if zulu else text
