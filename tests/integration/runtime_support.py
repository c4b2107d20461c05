"""The runtime tests' names for the one moto harness (``trainguard_local.moto_harness``): the
``aws`` fixture (conftest.py) is an :class:`Aws`, a harness whose ``emails()`` are dicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trainguard.adapters import SageMakerAdapter
from trainguard.logic.dependencies import Dependencies
from trainguard.policy import Policy
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
    "FakeStopSageMaker",
    "LambdaContext",
    "moto_aws",
    "scheduled_event",
    "state_change",
]


class FakeStopSageMaker(SageMakerAdapter):
    """Deprecated: the real adapter plus ``stopped``, the jobs it was asked to stop.
    ``StopTrainingJob`` itself goes to moto (the harness's SageMaker shim answers it); new
    tests read ``aws.stopped()`` instead."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.stopped: list[str] = []

    def stop(self, job: str) -> str:
        self.stopped.append(job)
        return super().stop(job)


class Aws(MotoHarness):
    def deps(self, policy: Policy | None = None, **overrides: Any) -> Dependencies:
        # the recording adapter by default, for the tests that read deps.sagemaker.stopped
        overrides.setdefault("sagemaker", FakeStopSageMaker(self.sagemaker))
        return super().deps(policy, **overrides)

    def emails(self) -> list[dict[str, str]]:  # type: ignore[override]
        """Every email published since the last call: [{"subject", "body"}]."""
        return [{"subject": e.subject, "body": e.body} for e in super().emails()]


def moto_aws() -> Iterator[Aws]:
    with Aws.running(table=TABLE) as aws:
        yield aws  # type: ignore[misc]
