"""The runtime tests' names for the one moto harness (``trainguard_local.moto_harness``): the
``aws`` fixture (conftest.py) is an :class:`Aws`, a harness whose ``emails()`` are dicts."""

from __future__ import annotations

from collections.abc import Iterator

from trainguard_local.lambda_context import LambdaContext
from trainguard_local.moto_harness import (
    ALERT_FUNCTION_ARN,
    DEFAULT_TABLE,
    REGION,
    MotoHarness,
    scheduled_event,
    state_change,
)

TABLE = DEFAULT_TABLE
ALERT_ARN = ALERT_FUNCTION_ARN

__all__ = [
    "ALERT_ARN",
    "REGION",
    "TABLE",
    "Aws",
    "LambdaContext",
    "moto_aws",
    "scheduled_event",
    "state_change",
]


class Aws(MotoHarness):
    def emails(self) -> list[dict[str, str]]:  # type: ignore[override]
        """Every email published since the last call: [{"subject", "body"}]."""
        return [{"subject": e.subject, "body": e.body} for e in super().emails()]


def moto_aws() -> Iterator[Aws]:
    with Aws.running(table=TABLE) as aws:
        yield aws  # type: ignore[misc]
