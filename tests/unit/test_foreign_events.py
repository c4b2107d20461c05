"""Events from another account or region (a cross-account event bus, a crafted invoke) are
ignored and logged (issue 21): a job running elsewhere is never registered as opted in here."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import ACCOUNT, FakeJob, state_change
from world import TAGS, World

from trainguard.handlers import lifecycle

pytestmark = pytest.mark.unit

OTHER = "210987654321"


class Context:
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:trainguard-lifecycle"
    function_name = "trainguard-lifecycle"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "req"


def crafted(world: World, **changes: Any) -> dict[str, Any]:
    job = FakeJob("elsewhere", dict(TAGS), start=world.fakes.now)  # not in this account
    event = state_change(job, time=world.fakes.now)
    arn = event["detail"]["TrainingJobArn"]
    for key, value in changes.items():
        if key == "arn":
            event["detail"]["TrainingJobArn"] = arn.replace(*value)
        else:
            event[key] = value
    return event


@pytest.mark.parametrize(
    "changes",
    [
        {"region": "eu-west-1"},
        {"arn": (":us-east-1:", ":eu-west-1:")},
        {"account": OTHER},
        {"arn": (f":{ACCOUNT}:", f":{OTHER}:")},
    ],
    ids=["event-region", "arn-region", "event-account", "arn-account"],
)
def test_an_event_from_another_account_or_region_registers_nothing(
    changes: dict[str, Any],
) -> None:
    world = World()
    out = lifecycle.handler(crafted(world, **changes), Context(), deps=world.deps())  # type: ignore[arg-type]
    assert out["action"].startswith("ignored: ")
    assert world.fakes.jobs.latest_run("elsewhere") is None
    assert world.fakes.alarms.alarms == {} and world.fakes.notifier.take() == []


def test_an_event_of_this_account_and_region_is_applied() -> None:
    world = World()
    out = lifecycle.handler(crafted(world), Context(), deps=world.deps())  # type: ignore[arg-type]
    assert not out["action"].startswith("ignored")
    assert world.fakes.jobs.latest_run("elsewhere") is not None
