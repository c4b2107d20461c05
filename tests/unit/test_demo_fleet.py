"""The demo's fleet plan and summary: pure functions over the committed curves."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trainguard.config import Policy
from trainguard_local.demo.fleet import FULL, QUICK, best_jobs, plan_fleet, retry_replay
from trainguard_local.demo.summary import alert_host, build_summary
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay

pytestmark = pytest.mark.unit

CURVES = Path(__file__).resolve().parents[2] / "data" / "curves.jsonl"


@pytest.fixture(scope="module")
def records() -> Any:
    loaded, problems = load_curves(CURVES)
    assert problems == []
    return loaded


def test_full_fleet_has_the_shapes_issue_6_asks_for(records: Any) -> None:
    fleet = plan_fleet(records, FULL)
    assert fleet == plan_fleet(records, FULL)  # deterministic
    tagged = [j for j in fleet if j.tagged]
    assert len(fleet) >= 30 and len({j.group for j in tagged}) >= 3
    assert len({j.start_minute for j in fleet}) > 10  # staggered
    roles = {j.role: j for j in fleet if j.role}
    assert set(roles) == {
        "diverging",
        "multi-node, idle host",
        "not opted in",
        "no max runtime",
        "distributed, healthy",
        "single node, healthy",
        "hung",
        "straggler host",
        "throughput halves",
        "capacity failure",
        # issue 20's coverage jobs (trainguard_local.demo.coverage)
        "mistyped objective",
        "no objective tag",
        "bad tag fixed mid-run",
        "tagged into a group mid-run",
        "heterogeneous, idle GPU host",
        # issue 23's revive group (trainguard_local.demo.revive)
        "checkpointed reference",
        "resumable stop, revived",
    }
    multi = roles["multi-node, idle host"]
    assert multi.instance_count >= 2 and multi.idle_hosts == frozenset({2})
    assert not roles["not opted in"].tagged and "trainguard:group" not in roles["not opted in"].tags
    assert roles["no max runtime"].max_runtime_s > 72 * 3600
    diverging = roles["diverging"]
    assert diverging.end_status == "Failed" and max(v for _, v in diverging.curve) > 1e6
    # every group's best recorded job is in the fleet, and each group shares one speed
    for group in FULL.groups:
        members = [j for j in tagged if j.group == group]
        assert len({j.minutes_per_epoch for j in members}) == 1
        completed = [r for r in records if r.group == group and r.status == "Completed"]
        best = min(completed, key=lambda r: r.curve[-1][1]).job
        assert best_jobs(fleet)[group] == best
    assert max(j.end_minute for j in fleet) <= 4 * 60  # a few simulated hours


def test_jobs_publish_their_finite_values_at_their_epoch_minute_and_gpu_traces(
    records: Any,
) -> None:
    fleet = plan_fleet(records, QUICK)
    job = next(j for j in fleet if j.role == "multi-node, idle host")
    published = [v for m in range(job.start_minute, job.end_minute + 1) for v in job.values_at(m)]
    assert published == [v for _, v in job.curve]
    busy = [job.gpu_utilization(1, m, 1) for m in range(20)]
    idle = [job.gpu_utilization(2, m, 1) for m in range(20)]
    assert all(70 <= b <= 95 for b in busy) and len(set(busy)) > 5
    assert all(0 <= i <= 4 for i in idle)
    assert job.gpu_utilization(1, 3, 8) == pytest.approx(8 * job.gpu_utilization(1, 3, 1), 0.01)


def test_the_heterogeneous_job_numbers_its_cpu_host_between_its_gpu_hosts(records: Any) -> None:
    job = next(j for j in plan_fleet(records, QUICK) if j.role == "heterogeneous, idle GPU host")
    assert [job.host_type(i) for i in (1, 2, 3)] == [
        "ml.g5.12xlarge",
        "ml.c5.4xlarge",
        "ml.g5.12xlarge",
    ]
    assert job.instance_type == "" and job.instance_count == 3 and job.tagged
    assert job.idle_hosts == frozenset({3})
    assert all(job.gpu_utilization(3, m, 4) <= 4 * 4 for m in range(20))  # idle, 4 GPUs
    assert all(job.gpu_utilization(1, m, 4) >= 4 * 70 for m in range(20))  # busy


def test_the_distributed_jobs_hang_straggle_and_slow_down_as_planned(records: Any) -> None:
    fleet = plan_fleet(records, FULL)
    ddp = {j.role: j for j in fleet if j.group == "breast-cancer-ddp"}
    hung, slow, straggler = ddp["hung"], ddp["throughput halves"], ddp["straggler host"]
    assert {j.instance_count for j in (hung, slow, straggler)} == {4}
    assert all(j.tags["trainguard:throughput"] == "train:samples_per_sec" for j in ddp.values())
    # the special jobs start once the references (their throughput baselines) have ended
    refs = [j for j in fleet if j.group == "breast-cancer-ddp" and "healthy" in j.role]
    assert min(j.start_minute for j in ddp.values() if "healthy" not in j.role) > max(
        j.end_minute for j in refs
    )
    # the hang: reports until its hang minute, then silence with pinned GPUs, then it fails
    assert hung.hang_minute is not None and hung.end_status == "Failed"
    at = hung.start_minute + hung.hang_minute
    assert any(hung.values_at(m) for m in range(at - 3, at))
    assert not any(hung.values_at(m) for m in range(at, hung.end_minute + 1))
    assert hung.end_minute == at + 30  # PyTorch's default NCCL timeout
    pinned = [hung.gpu_utilization(h, m, 4) / 4 for h in range(1, 5) for m in range(at, at + 10)]
    assert all(99.0 <= p <= 100.0 for p in pinned)
    assert hung.throughput_at(at) is None and hung.throughput_at(at - 1) is not None
    # the straggler: host 3 at about 45 %, the others at about 95 %
    low = [straggler.gpu_utilization(3, m, 4) / 4 for m in range(20)]
    high = [straggler.gpu_utilization(h, m, 4) / 4 for h in (1, 2, 4) for m in range(20)]
    assert 40 < sum(low) / 20 < 50 and 93 < sum(high) / 60 <= 100
    # the slowdown: throughput halves at its mid-run
    assert slow.throughput_halves_at is not None
    half = slow.start_minute + slow.throughput_halves_at
    before, after = slow.throughput_at(half - 1), slow.throughput_at(half)
    assert before is not None and after is not None and 0.45 < after / before < 0.55


def test_summary_counts_what_the_audit_says(records: Any) -> None:
    planned = plan_fleet(records, QUICK)
    capacity = next(j for j in planned if j.role == "capacity failure")
    fleet = [*planned, retry_replay(capacity, "capacity-job-retry-1", 5)]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def described(job: Any, minutes: float, status: str) -> dict[str, Any]:
        start = t0 + timedelta(minutes=job.start_minute)
        return {
            "TrainingJobStatus": status,
            "TrainingStartTime": start,
            "TrainingEndTime": start + timedelta(minutes=minutes),
        }

    by_role = {j.role: j for j in fleet}
    diverging, multi = by_role["diverging"], by_role["multi-node, idle host"]
    stopped = next(j for j in fleet if j.tagged and j.name not in best_jobs(fleet).values())
    descriptions = {j.name: described(j, j.end_minute - j.start_minute, "Completed") for j in fleet}
    descriptions[diverging.name] = described(diverging, 4, "Stopped")
    descriptions[stopped.name] = described(stopped, 2, "Stopped")
    decisions = [
        {
            "job": diverging.name,
            "rule": "diverged",
            "step": 3,
            "value": 614.0,
            "threshold": 220.0,
            "references": 0,
            "action": "STOPPED",
        },
        {
            "job": stopped.name,
            "rule": "catch-up",
            "step": 3,
            "value": 2.0,
            "threshold": 0.4,
            "references": 3,
            "action": "STOPPED",
        },
        {
            "job": multi.name,
            "rule": "gpu_idle",
            "step": 9,
            "value": 2.0,
            "threshold": 10.0,
            "references": 0,
            "action": "ALERT",
            "reason": f"{multi.name}/algo-2 idle: 2%",
        },
        {
            "job": "ddp-hang",
            "rule": "hung",
            "step": 14,
            "value": 6.0,
            "threshold": 5.0,
            "action": "ALERT",
            "reason": "hung (pinned): ...",
        },
        {
            "job": "ddp-straggler",
            "rule": "straggler",
            "step": 12,
            "value": 45.0,
            "threshold": 95.0,
            "action": "ALERT",
            "reason": "ddp-straggler/algo-3 at 45% ...",
        },
        {
            "job": "ddp-slowdown",
            "rule": "throughput",
            "step": 17,
            "value": 480.0,
            "threshold": 665.0,
            "action": "ALERT",
            "reason": "4 instances at 480 ...",
        },
        {
            "job": "hetero-idle",
            "rule": "gpu_idle",
            "step": 8,
            "value": 2.0,
            "threshold": 10.0,
            "action": "ALERT",
            "reason": "hetero-idle/algo-3 idle: 2%",
        },
        {
            "job": "capacity-job",
            "rule": "capacity_retry",
            "step": None,
            "value": 1.0,
            "threshold": 1.0,
            "action": "RETRIED",
            "reason": "as capacity-job-retry-1",
        },
    ]
    descriptions[capacity.name] = described(capacity, 1, "Failed")
    hetero = by_role["heterogeneous, idle GPU host"]
    descriptions[hetero.name]["ResourceConfig"] = {
        "InstanceGroups": [
            {"InstanceGroupName": g.name, "InstanceType": g.instance_type, "InstanceCount": g.count}
            for g in hetero.instance_groups
        ]
    }
    summary = build_summary(
        fleet, decisions, descriptions, ["a", "b", "c"], Policy().catalog(), extra={"mode": "x"}
    )
    assert summary["jobs"] == len(fleet) and summary["emails"] == 3
    assert summary["stops_by_rule"] == {"catch-up": 1, "diverged": 1}
    assert summary["alerts"][0]["host"] == f"{multi.name}/algo-2"
    assert summary["gpu_hours_saved"] > 0 and summary["usd_saved"] > 0
    assert summary["not_opted_in_stopped"] == 0 and all(summary["best_job_survived"].values())
    assert summary["ok"], summary["checks"]
    assert summary["retries"]["attempted"] == summary["retries"]["succeeded"] == 1
    # not retried, or a second job created: the self-check fails
    for audit, made in ((decisions[:-1], None), (decisions, ["capacity-job-retry-1", "x"])):
        extra = {} if made is None else {"created_by_trainguard": made}
        checks = build_summary(fleet, audit, descriptions, [], Policy().catalog(), extra=extra)
        assert [c["check"] for c in checks["checks"] if not c["ok"]] == [
            "a capacity failure retried once"
        ]
    health = summary["health"]
    assert health["hang_detection_minutes"] == 6.0 and health["false_alerts"] == []
    assert health["straggler_host"] == "ddp-straggler/algo-3"
    # a health alert on a healthy job, or a hang alerted late: the self-check fails
    false = {**decisions[3], "job": multi.name}
    late = [*decisions[:3], {**decisions[3], "value": 12.0}, *decisions[4:]]
    for audit in ([*decisions, false], late):
        checks = build_summary(fleet, audit, descriptions, [], Policy().catalog())["checks"]
        assert [c["check"] for c in checks if not c["ok"]] in (
            ["no health alert on a healthy job"],
            ["the hung job alerted within 10 minutes of its last report"],
        )
    # a median stop alone no longer passes: the default objective rule is the catch-up rule
    as_median = [{**d, "rule": "median"} if d["rule"] == "catch-up" else d for d in decisions]
    median_only = build_summary(fleet, as_median, descriptions, [], Policy().catalog())
    assert [c["check"] for c in median_only["checks"] if not c["ok"]] == [
        "a job stopped by the catch-up rule"
    ]
    # the heterogeneous cluster: its idle GPU host alerted, its CPU host not
    assert summary["heterogeneous"]["host_groups"] == {
        "hetero-idle/algo-1": "train",
        "hetero-idle/algo-2": "data",
        "hetero-idle/algo-3": "train",
    }
    (details,) = [j for j in summary["job_details"] if j["job"] == hetero.name]
    assert details["instance"] == "2 x ml.g5.12xlarge (train), 1 x ml.c5.4xlarge (data)"
    cpu_alert = {**decisions[-2], "reason": "hetero-idle/algo-2 idle: 0%"}
    for audit in (
        [d for d in decisions if d["job"] != hetero.name],
        [*decisions[:-2], cpu_alert, decisions[-1]],
    ):
        checks = build_summary(fleet, audit, descriptions, [], Policy().catalog())["checks"]
        assert "heterogeneous" in [c["check"] for c in checks if not c["ok"]]
    # the untagged job stopped, or a best job stopped: the self-check fails
    untagged = by_role["not opted in"]
    descriptions[untagged.name] = described(untagged, 3, "Stopped")
    failing = build_summary(fleet, decisions, descriptions, [], Policy().catalog())
    assert failing["not_opted_in_stopped"] == 1 and not failing["ok"]


def test_alert_host_reads_the_host_from_the_reason() -> None:
    assert alert_host({"rule": "gpu_idle", "reason": "j/algo-2 idle: 2% per GPU"}) == "j/algo-2"
    assert alert_host({"rule": "max_runtime", "reason": "x"}) is None
    assert alert_host({"rule": "straggler", "reason": "j/algo-3 at 45% per GPU"}) == "j/algo-3"


def test_alert_spans_close_on_ok_or_when_the_job_ended() -> None:
    from types import SimpleNamespace

    from trainguard_local.demo.report import alert_spans

    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def change(host: int, state: str, minute: int) -> SimpleNamespace:
        name = f"trainguard-gpu-idle-job-a-algo-{host}"
        return SimpleNamespace(alarm_name=name, state=state, at=t0 + timedelta(minutes=minute))

    spans = alert_spans(
        [change(2, "ALARM", 20), change(1, "ALARM", 5), change(1, "OK", 9)],
        t0,
        100,
        {"job-a/algo-2": 60.0},
    )
    assert spans == {"job-a/algo-1": [(5.0, 9.0)], "job-a/algo-2": [(20.0, 60.0)]}


@pytest.mark.parametrize("scenario", [QUICK, FULL], ids=["quick", "full"])
def test_the_default_policy_stops_a_job_and_keeps_every_best_one(
    records: Any, scenario: Any
) -> None:
    """What the deployed functions will do with the fleet once the evaluator runs the catch-up
    rule: the fleet replayed as live data (steps = minutes since each job's start, as the
    evaluator and the lifecycle count them) under the default policy."""
    fleet = plan_fleet(records, scenario)
    replayed = []
    for j in fleet:
        if not j.tagged or not j.publishes:  # the capacity failure never ran
            continue
        minutes = {j.epoch_minute(e) - j.start_minute: v for e, v in j.curve if math.isfinite(v)}
        replayed.append(
            CurveRecord(
                job=j.name,
                group=j.group,
                status=j.end_status,  # type: ignore[arg-type]
                objective=j.objective,
                direction=j.direction,  # type: ignore[arg-type]
                start_minute=float(j.start_minute),
                minutes_per_step=1.0,
                instance_type=j.instance_type,
                instance_count=j.instance_count,
                curve=tuple(sorted((float(m), v) for m, v in minutes.items())),
                end_minute=float(j.end_minute),
            )
        )
    result = replay(replayed, Policy(mode="enforce"))
    rules = [s.rule for g in result.groups.values() for s in g.stops if not s.at_end]
    assert "catch-up" in rules and "median" not in rules
    assert all(g.best_survived for g in result.groups.values())
