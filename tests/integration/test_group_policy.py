"""A group policy written by ``trainguard calibrate --apply`` (its own transaction, into the
real table on moto) is what the deployed evaluator decides that group's jobs with, with no
redeploy; other groups keep the deployed policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from runtime_support import Aws, LambdaContext, state_change

from trainguard.config import Policy
from trainguard.handlers import evaluator, lifecycle
from trainguard_tools.calibrate import apply_policy, policy_items

pytestmark = pytest.mark.integration

CTX = LambdaContext()


def tags(group: str) -> dict[str, str]:
    return {"trainguard:group": group, "trainguard:objective": "loss", "trainguard:mode": "enforce"}


def completed(aws: Aws, deps: object, name: str, group: str, start: float) -> None:
    arn = aws.create_job(name, tags(group), status="Completed", start=start)
    aws.put_curve(name, "loss", start, [1.0 - 0.03 * i for i in range(20)])
    lifecycle.handler(
        state_change(name, "Completed", arn=arn, start=start, end=start + 1260, tags=tags(group)),
        CTX,
        deps=deps,
    )


def test_the_evaluator_decides_by_the_groups_applied_policy(aws: Aws) -> None:
    deps = aws.deps(Policy(mode="enforce"))  # the default rules: catch-up, 3 reports in a row
    now = aws.now()
    for group in ("calibrated", "default"):
        for k in range(3):
            completed(aws, deps, f"{group}-ref-{k}", group, now - 3 * 3600 + k * 1800)
    # calibrate --apply for one group: stop at the first report that cannot catch up
    apply_policy(
        aws.dynamodb,
        aws.table,
        policy_items(
            "calibrated",
            {"catchup": {"enabled": True, "noise_multiple": 2.0, "consecutive": 1}},
            applied_by="arn:aws:iam::123456789012:user/ml-platform",
            applied_at=datetime.now(UTC),
            source={"test": True},
        ),
    )
    # a hopeless job in each group, one report so far
    for group in ("calibrated", "default"):
        start = now - 120
        arn = aws.create_job(f"{group}-job", tags(group), start=start)
        aws.put_curve(f"{group}-job", "loss", start, [3.0])
        lifecycle.handler(
            state_change(f"{group}-job", "InProgress", arn=arn, start=start, tags=tags(group)),
            CTX,
            deps=deps,
        )
    tick = evaluator.handler({}, CTX, deps=deps)
    assert tick["errors"] == 0
    assert aws.stopped() == ["calibrated-job"]  # the default group waits for 3 reports
    (action,) = tick["actions"]
    assert action["rule"] == "catch-up" and "(1 report in a row)" in action["reason"]
