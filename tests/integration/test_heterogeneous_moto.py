"""A heterogeneous cluster (``ResourceConfig.InstanceGroups``) end to end on moto: the
CreateTrainingJob request as the SDK's ``instance_groups=`` sends it, the shim's state-change
event, the lifecycle's registration, and the tick that gives the GPU hosts their alarms once
they report (SageMaker does not say which ``algo-n`` is in which group)."""

from __future__ import annotations

import pytest
from runtime_support import Aws, LambdaContext, scheduled_event

from trainguard.adapters import table_ports
from trainguard.config import Policy
from trainguard.core.instances import InstanceGroup
from trainguard.handlers import evaluator, lifecycle
from trainguard.models import RunId

pytestmark = pytest.mark.integration

CTX = LambdaContext()
# the reconcile every tick (its default cadence, every 5 minutes, would make the tick's wall
# clock decide whether these ticks reconcile)
EVERY_TICK = Policy(reconcile_every_minutes=1)
TAGS = {"trainguard:group": "vision", "trainguard:objective": "val_loss"}
GROUPS = (("train", "ml.p4d.24xlarge", 2), ("data", "ml.c5.4xlarge", 1))


def test_a_heterogeneous_job_is_registered_and_its_gpu_hosts_get_alarms(aws: Aws) -> None:
    deps = aws.deps(EVERY_TICK)
    start = aws.now() - 120
    aws.create_job("hc", TAGS, instance_groups=GROUPS, start=start)
    (event,) = aws.shim.take_events()  # the InProgress event, with the request's groups
    out = lifecycle.handler(event, CTX, deps=deps)
    assert (out["action"], out["alarms_created"], out["warnings"]) == ("registered", 0, [])
    jobs = table_ports(aws.dynamodb, "trainguard-test").jobs
    record = jobs.latest_run("hc")
    assert record is not None
    assert record.groups == (
        InstanceGroup("train", "ml.p4d.24xlarge", 2),
        InstanceGroup("data", "ml.c5.4xlarge", 1),
    )
    assert record.instance_count == 3
    # SageMaker put the CPU host at algo-2: only algo-1 and algo-3 report GPUUtilization
    minutes = [aws.now() - 60 * k for k in (3, 2, 1)]
    for host in ("hc/algo-1", "hc/algo-3"):
        aws.put_host_metric(host, "GPUUtilization", minutes, [600.0, 610.0, 620.0])
    aws.put_host_metric("hc/algo-2", "CPUUtilization", minutes, [80.0, 81.0, 82.0])
    evaluator.handler(scheduled_event(aws.now()), CTX, deps=deps)
    alarms = aws.cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == [
        "trainguard-gpu-idle-hc-algo-1",
        "trainguard-gpu-idle-hc-algo-3",
    ]
    for alarm in alarms:
        host = alarm["AlarmName"].removeprefix("trainguard-gpu-idle-hc-").join(("hc/", ""))
        assert alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "Host", "Value": host}
        ]
        assert alarm["Metrics"][1]["Expression"] == "m1 / 8"  # the train group's 8 GPUs
    record = jobs.get_job(RunId("hc", record.created_ms))
    assert record is not None and record.alarms == frozenset(a["AlarmName"] for a in alarms)


def test_a_heterogeneous_job_whose_event_was_lost_is_registered_with_its_groups(aws: Aws) -> None:
    deps = aws.deps(EVERY_TICK)
    aws.create_job("lost", TAGS, instance_groups=GROUPS, start=aws.now() - 60)
    aws.shim.take_events()  # never delivered
    evaluator.handler(scheduled_event(aws.now()), CTX, deps=deps)
    record = table_ports(aws.dynamodb, "trainguard-test").jobs.latest_run("lost")
    assert record is not None and record.opted_in
    assert [g.name for g in record.groups] == ["train", "data"]
    assert record.instance_type == "" and record.instance_count == 3
