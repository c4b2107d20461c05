"""Heterogeneous clusters (``ResourceConfig.InstanceGroups``) over in-memory fakes: the GPU
hosts get their GPU-idle alarms (by each group's GPU count; none for a CPU group), the
straggler compares the hosts of one instance group, the hang rule watches the GPU hosts, and
every message gives the instances and the cost per group.

SageMaker numbers the hosts across the whole cluster (``algo-1`` ... ``algo-N``) and does not
say which number is in which group (AWS's example: a 1-host group gets ``algo-2``, a 2-host
group ``algo-3`` and ``algo-1``), so the jobs here put their CPU host in the middle."""

from __future__ import annotations

import pytest
from fakes import FakeJob, state_change
from test_logic_health import about, gpu, run_minutes
from world import World

from trainguard.adapters.dynamodb.jobs import job_from_item
from trainguard.config import GpuIdleSettings, Policy
from trainguard.core.instances import (
    DEFAULT_CATALOG,
    InstanceCatalog,
    InstanceGroup,
    gpu_hosts,
    hourly_cost,
    instances_text,
    job_instances,
)
from trainguard.handlers.lifecycle import handle_state_change
from trainguard.models import EventError

pytestmark = pytest.mark.unit

P4D, C5, G5 = "ml.p4d.24xlarge", "ml.c5.4xlarge", "ml.g5.xlarge"
P4D_USD = DEFAULT_CATALOG.get(P4D).usd_per_hour  # type: ignore[union-attr]
C5_USD = DEFAULT_CATALOG.get(C5).usd_per_hour  # type: ignore[union-attr]
# 3 GPU hosts of 8 GPUs (train) and 1 CPU host (data): which algo-n is which is SageMaker's
TRAIN_AND_DATA = (("train", P4D, 3), ("data", C5, 1))
GPU_HOSTS = (1, 3, 4)  # the hosts that report GPUUtilization in these stories (algo-2: CPU)


def hetero(world: World, name: str, groups: tuple[tuple[str, str, int], ...]) -> FakeJob:
    job = world.start(name, groups=groups, instance_type="", count=0)
    world.emails()
    return job


# ---- a job's instances -------------------------------------------------------------------------
def test_a_jobs_instances_are_its_groups_or_its_one_type() -> None:
    groups = job_instances(
        {
            "InstanceGroups": [
                {"InstanceGroupName": "train", "InstanceType": P4D, "InstanceCount": 2},
                {"InstanceGroupName": "data", "InstanceType": C5, "InstanceCount": 1},
            ]
        }
    )
    assert groups == (InstanceGroup("train", P4D, 2), InstanceGroup("data", C5, 1))
    assert instances_text(groups) == "2 x ml.p4d.24xlarge (train), 1 x ml.c5.4xlarge (data)"
    assert hourly_cost(groups, DEFAULT_CATALOG) == pytest.approx(2 * P4D_USD + C5_USD)
    (one,) = job_instances({"InstanceType": G5, "InstanceCount": "2"})
    assert one == InstanceGroup("", G5, 2) and instances_text([one]) == "2 x ml.g5.xlarge"
    # a partial sum would understate the cost: unknown is unknown
    assert hourly_cost([*groups, InstanceGroup("x", "ml.zz.huge", 1)], DEFAULT_CATALOG) is None


@pytest.mark.parametrize(
    ("resources", "why"),
    [
        ({"InstanceGroups": {"a": 1}}, "ResourceConfig.InstanceGroups must be a list of objects"),
        (
            {"InstanceGroups": [{"InstanceType": P4D, "InstanceCount": 1}]},
            r"InstanceGroups\[0\].InstanceGroupName must be a non-empty string",
        ),
        (
            {"InstanceGroups": [{"InstanceGroupName": "a", "InstanceType": P4D}]},
            r"InstanceGroups\[0\] must be an integer >= 0, got None",
        ),
        ({"InstanceCount": 0}, "ResourceConfig.InstanceCount must be an integer >= 1"),
    ],
)
def test_an_unusable_cluster_shape_names_the_field(resources: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        job_instances(resources)


def test_what_the_gpu_rules_can_know_of_a_clusters_hosts() -> None:
    # every host a GPU host: named now (algo-1 ... algo-4), one group's count
    all_gpu = gpu_hosts([InstanceGroup("", P4D, 4)], DEFAULT_CATALOG)
    assert (all_gpu.gpus, all_gpu.hosts, all_gpu.named, all_gpu.one_group) == (8, 4, True, True)
    # a CPU group: the 3 GPU hosts are known once they report
    mixed_cpu = gpu_hosts([InstanceGroup(*g) for g in TRAIN_AND_DATA], DEFAULT_CATALOG)
    assert (mixed_cpu.gpus, mixed_cpu.hosts, mixed_cpu.named) == (8, 3, False)
    assert mixed_cpu.usd_per_host == P4D_USD
    # two GPU groups of 8 and 1 GPUs: normalized by the smallest; not one group
    two = gpu_hosts([InstanceGroup("big", P4D, 2), InstanceGroup("small", G5, 2)], DEFAULT_CATALOG)
    assert (two.gpus, two.hosts, two.named, two.one_group, two.mixed) == (1, 4, True, False, True)
    assert two.usd_per_host is None  # which price a host has is not known
    # no GPU group, or an unknown type: no GPU rule (and why)
    assert gpu_hosts([InstanceGroup("data", C5, 2)], DEFAULT_CATALOG).gpus is None
    unknown = gpu_hosts(
        [InstanceGroup("train", "ml.zz.huge", 2), InstanceGroup("data", C5, 1)], DEFAULT_CATALOG
    )
    assert (
        unknown.gpus is None and unknown.why == "unknown instance type 'ml.zz.huge' (group train)"
    )
    priced = InstanceCatalog({"ml.zz.huge": {"gpus": 4, "usd_per_hour": 9.0}})
    known = gpu_hosts([InstanceGroup("train", "ml.zz.huge", 2)], priced)
    assert known.gpus == 4


# ---- registration and alarms ---------------------------------------------------------------
def test_a_heterogeneous_job_is_registered_with_its_groups_and_old_items_stay_readable() -> None:
    world = World()
    job = world.start("hc", groups=TRAIN_AND_DATA, deliver=False)
    result = world.event(job)
    assert result.action == "registered" and result.warnings == []
    record = world.record("hc")
    assert record.groups == (InstanceGroup("train", P4D, 3), InstanceGroup("data", C5, 1))
    assert (record.instance_type, record.instance_count) == ("", 4)
    assert record.hosts() == [f"hc/algo-{i}" for i in (1, 2, 3, 4)]
    # an item written before groups were read: one group of its type and count
    old = job_from_item({"name": "old", "instance_type": G5, "instance_count": 2})
    assert old.groups == (InstanceGroup("", G5, 2),) and old.instance_groups == ()


def test_a_bad_instance_group_in_an_event_is_a_clear_error_and_writes_nothing() -> None:
    world = World()
    job = world.start("bad", groups=(("train", P4D, 2),), deliver=False)
    assert job.instance_groups is not None
    job.instance_groups[0]["InstanceCount"] = -1
    with pytest.raises(EventError, match=r"detail.ResourceConfig.InstanceGroups\[0\]"):
        handle_state_change(state_change(job), world.deps())
    assert world.fakes.table.items == {}


def test_an_all_gpu_cluster_gets_an_alarm_per_host_by_the_smallest_gpu_count() -> None:
    world = World()
    job = world.start("allgpu", groups=(("big", P4D, 2), ("small", G5, 1)), deliver=False)
    assert world.event(job).alarms_created == 3
    alarms = world.fakes.alarms.alarms
    assert sorted(alarms) == [f"trainguard-gpu-idle-allgpu-algo-{i}" for i in (1, 2, 3)]
    assert {a["gpus"] for a in alarms.values()} == {1}


def test_the_gpu_hosts_get_their_alarms_once_they_report_and_the_cpu_host_none() -> None:
    world = World()
    job = world.start("hc", groups=TRAIN_AND_DATA, deliver=False)
    assert world.event(job).alarms_created == 0  # which algo-n are GPU hosts: not said yet
    world.tick()
    assert world.fakes.alarms.alarms == {}  # nothing reported yet: nothing guessed
    gpu(world, job, {1: 90.0, 3: 90.0})  # algo-4 is slower to start
    world.tick()
    assert sorted(world.fakes.alarms.alarms) == [
        "trainguard-gpu-idle-hc-algo-1",
        "trainguard-gpu-idle-hc-algo-3",
    ]
    assert {a["gpus"] for a in world.fakes.alarms.alarms.values()} == {8}
    gpu(world, job, {1: 90.0, 3: 90.0, 4: 90.0})
    world.tick()
    assert sorted(world.fakes.alarms.alarms) == [
        f"trainguard-gpu-idle-hc-algo-{i}" for i in GPU_HOSTS
    ]
    assert world.record("hc").alarms == frozenset(world.fakes.alarms.alarms)
    # complete: the 3 GPU hosts got theirs, so the hosts are no longer read for it
    reads = len(world.fakes.metrics.requests)
    world.tick()
    asked = [q.id for call in world.fakes.metrics.requests[reads:] for q in call]
    assert not [q for q in asked if q.startswith("r")]
    # the job ends: its alarms go
    world.fakes.advance(2)
    world.end(job, "Stopped")
    assert world.fakes.alarms.alarms == {}


def test_with_the_gpu_idle_rule_off_the_hosts_are_not_read_for_alarms() -> None:
    world = World()
    world.fakes.policy = Policy(gpu_idle=GpuIdleSettings(enabled=False))
    job = hetero(world, "hc", TRAIN_AND_DATA)
    reads = len(world.fakes.metrics.requests)
    gpu(world, job, {h: 90.0 for h in GPU_HOSTS})
    world.tick()
    asked = [q.id for call in world.fakes.metrics.requests[reads:] for q in call]
    assert not [q for q in asked if q.startswith("r")] and world.fakes.alarms.alarms == {}


def test_an_idle_gpu_host_is_alerted_with_the_instances_and_its_price_per_group() -> None:
    world = World()
    job = hetero(world, "hc", TRAIN_AND_DATA)
    gpu(world, job, {h: 90.0 for h in GPU_HOSTS}, minutes=2)
    world.tick()
    result = world.alarm("trainguard-gpu-idle-hc-algo-3", "ALARM")
    assert result.action == "opened"
    (email,) = world.fakes.notifier.take()
    assert "hc/algo-3" in email.subject
    assert "Instances:  3 x ml.p4d.24xlarge (train), 1 x ml.c5.4xlarge (data)" in email.body
    assert f"Wasting:    ${P4D_USD:,.2f}/hour on this host" in email.body
    assert "1 of 3 hosts" in email.body  # of the GPU hosts


# ---- the health rules ------------------------------------------------------------------------
def test_a_straggler_is_judged_among_the_hosts_of_its_group() -> None:
    world = World()
    job = hetero(world, "hc", TRAIN_AND_DATA)
    levels = {1: 95.0, 3: 45.0, 4: 95.0}  # algo-2 is the CPU host: no GPUUtilization
    (email,) = about(run_minutes(world, job, 30, levels), "straggler")
    assert email.subject == "[trainguard] ALERT hc: straggler host algo-3, 45.15% vs 95.15% per GPU"
    (audit,) = [d for d in world.decisions("hc") if d["rule"] == "straggler"]
    assert "median of the other 2 hosts for 10 min" in audit["reason"]
    assert "Instances:  3 x ml.p4d.24xlarge (train), 1 x ml.c5.4xlarge (data)" in email.body
    assert f"Costs:      ${3 * P4D_USD + C5_USD:,.2f} an hour" in email.body


def test_hosts_of_two_gpu_groups_are_never_compared_with_each_other() -> None:
    world = World()
    # a training group and an evaluation group: one runs at 45 %, by design
    job = hetero(world, "two", (("train", P4D, 2), ("eval", P4D, 2)))
    sent = run_minutes(world, job, 30, {1: 95.0, 2: 95.0, 3: 45.0, 4: 95.0})
    assert not about(sent, "straggler")


def test_a_hung_job_is_alerted_although_its_cpu_host_reports_no_gpus() -> None:
    world = World()
    job = hetero(world, "stuck", TRAIN_AND_DATA)
    run_minutes(world, job, 20, {h: 95.0 for h in GPU_HOSTS}, varying=True)
    pinned = {h: 99.5 for h in GPU_HOSTS}
    (email,) = about(run_minutes(world, job, 15, pinned, report=False), "hung")
    assert email.subject.startswith("[trainguard] ALERT stuck: hung (pinned)")
    (audit,) = [d for d in world.decisions("stuck") if d["rule"] == "hung"]
    assert "on 3 hosts" in audit["reason"] and "stuck/algo-2" not in audit["reason"]


# ---- savings -------------------------------------------------------------------------------
def test_a_stopped_heterogeneous_job_saves_every_groups_price() -> None:
    world = World()
    for i in range(3):
        world.complete_with(f"ref-{i}", [1.0 - 0.02 * k + 0.01 * i for k in range(10)])
    job = world.start("worse", groups=TRAIN_AND_DATA)
    world.report(job, [1.5 - 0.01 * i for i in range(5)])
    world.fakes.advance(6)
    world.tick()
    assert world.fakes.training_jobs.stopped == ["worse"]
    (stop,) = [d for d in world.decisions("worse") if d["action"] == "STOPPED"]
    remaining_h = (11.0 - 6.0) / 60.0  # the references' median duration less its 6 minutes
    assert stop["estimated_dollars_saved"] == pytest.approx(
        (3 * P4D_USD + C5_USD) * remaining_h, rel=1e-3
    )
    email = next(e for e in world.fakes.notifier.take() if "STOPPED" in e.subject)
    assert "Instances:  3 x ml.p4d.24xlarge (train), 1 x ml.c5.4xlarge (data)" in email.body


# ---- coverage ------------------------------------------------------------------------------
def test_an_unknown_type_in_a_group_is_said_once_with_the_fix() -> None:
    world = World()
    job = world.start("exotic", groups=(("train", "ml.zz.huge", 2), ("data", C5, 1)), deliver=False)
    (warning,) = world.event(job).warnings  # the registration's (the Lambda's result)
    assert warning.startswith("unknown instance type 'ml.zz.huge' (group train): no GPU-idle")
    world.emails()
    world.fakes.advance(1)
    world.tick()
    (email,) = world.fakes.notifier.take()
    assert email.subject == (
        "[trainguard] NOT WATCHED exotic: unknown instance type 'ml.zz.huge' (group train)"
    )
    assert "Not watched: gpu-idle, hang, straggler; no cost or savings" in email.body
    assert """-c prices='{"ml.zz.huge": {"gpus": N, "usd_per_hour": P}}'""" in email.body
    world.fakes.advance(1)
    world.tick()
    assert world.emails() == []  # once a run
    # known types: no notice
    world.start("known", groups=TRAIN_AND_DATA)
    world.emails()
    world.fakes.advance(1)
    world.tick()
    assert not [s for s in world.emails() if "NOT WATCHED" in s]
