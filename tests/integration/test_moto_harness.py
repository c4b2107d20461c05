"""The one moto harness of the tests and the bench (trainguard_local.moto_harness): the real
adapters built by aws_dependencies, stops through the real StopTrainingJob (the SageMaker shim
under mock_aws), the functions' clients shared with the harness."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from fakes import median_policy

from trainguard import constants as c
from trainguard.adapters import SageMakerAdapter
from trainguard.config import Policy
from trainguard.handlers import evaluator, lifecycle
from trainguard_local.lambda_context import LambdaContext
from trainguard_local.moto_harness import MotoHarness, scheduled_event, state_change

pytestmark = pytest.mark.integration

TAGS = {"trainguard:group": "g", "trainguard:objective": "loss", "trainguard:mode": "enforce"}
CTX = LambdaContext()


@pytest.fixture
def harness() -> Iterator[MotoHarness]:
    with MotoHarness.running() as running:
        yield running


def test_jobs_are_in_progress_and_stop_through_the_real_api(harness: MotoHarness) -> None:
    harness.create_job("a", TAGS, instance_type="ml.g5.12xlarge", count=2)
    sm = harness.sagemaker
    job = sm.describe_training_job(TrainingJobName="a")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("InProgress", "Training")
    assert job["ResourceConfig"]["InstanceCount"] == 2
    sm.stop_training_job(TrainingJobName="a")
    assert sm.describe_training_job(TrainingJobName="a")["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as again:
        sm.stop_training_job(TrainingJobName="a")
    assert again.value.response["Error"]["Code"] == "ValidationException"
    assert harness.stopped() == ["a", "a"]
    harness.create_job("b", TAGS, status="Completed")
    assert harness.shim.status("b") == ("Completed", "Completed")


def test_deps_are_the_real_adapters_from_the_functions_environment(harness: MotoHarness) -> None:
    env = harness.environ(median_policy(mode="enforce"))
    assert env[c.ENV_TABLE_NAME] == harness.table and env[c.ENV_TOPIC_ARN] == harness.topic_arn
    assert Policy.from_json(env[c.ENV_POLICY]).mode == "enforce"
    deps = harness.deps(median_policy(mode="enforce"))
    assert type(deps.training_jobs) is SageMakerAdapter and deps.policy.mode == "enforce"
    assert deps.clock() == pytest.approx(harness.now(), abs=1)
    harness.advance(3600)
    assert deps.clock() == pytest.approx(harness.now(), abs=1)


def test_an_enforced_stop_reaches_moto_and_the_mailbox(harness: MotoHarness) -> None:
    deps = harness.deps(median_policy(mode="enforce"))
    now = harness.now()
    for k in range(3):  # references: loss 1.0 -> 0.43 over 20 minutes
        name, start = f"ref-{k}", now - 3 * 3600 + k * 1800
        arn = harness.create_job(name, TAGS, status="Completed", start=start)
        harness.put_curve(name, "loss", start, [1.0 - 0.03 * i for i in range(20)])
        change = state_change(name, "Completed", arn=arn, start=start, end=start + 1260)
        lifecycle.handler(change, CTX, deps=deps)
    start = now - 11 * 60
    arn = harness.create_job("bad", TAGS, start=start)
    harness.put_curve("bad", "loss", start, [1.5 - 0.01 * i for i in range(10)])
    lifecycle.handler(state_change("bad", "InProgress", arn=arn, start=start), CTX, deps=deps)
    harness.emails()
    # the functions' clients are the harness's: a hook on harness.cloudwatch sees their calls
    calls: list[str] = []
    harness.cloudwatch.meta.events.register(
        "before-call.cloudwatch.GetMetricData", lambda **_: calls.append("GetMetricData")
    )
    tick = evaluator.handler(scheduled_event(harness.now()), CTX, deps=deps)
    assert tick["stops"] == 1 and calls
    assert harness.stopped() == ["bad"]
    assert harness.shim.status("bad")[0] == "Stopped"
    (email,) = harness.emails()
    assert email.subject.startswith("[trainguard] STOPPED bad: median rule")
    assert any("#DECISION#" in item["sk"]["S"] for item in harness.items())


def test_clients_built_outside_the_functions_are_boto3s_own(harness: MotoHarness) -> None:
    own = boto3.client("sagemaker", region_name=harness.region)
    assert own is not harness.sagemaker


def test_event_builders_have_the_documented_shape() -> None:
    event = state_change("j", "Completed", start=1_700_000_000, end=1_700_000_600, tags={})
    assert event["detail"]["TrainingEndTime"] == "1700000600000"
    assert event["resources"] == [event["detail"]["TrainingJobArn"]]
    tick = scheduled_event(1_700_000_000)
    assert tick["time"] == "2023-11-14T22:13:20Z" and tick["detail-type"] == "Scheduled Event"
    assert json.loads(json.dumps(event)) == event
    assert CTX.invoked_function_arn.endswith(":function:trainguard-test")
    assert 0 < LambdaContext(timeout_s=3).get_remaining_time_in_millis() <= 3000
    # without a timeout, a session-long shared context never runs out of time
    assert LambdaContext().get_remaining_time_in_millis() == 900_000
