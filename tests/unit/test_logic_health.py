"""Distributed-training health in the evaluator's tick (over in-memory fakes): hung jobs,
straggler hosts and throughput regressions, one alert per episode, riding in the tick's one
GetMetricData batch."""

from __future__ import annotations

import pytest
from fakes import Email, FakeJob, iso
from world import OBJECTIVE, TAGS, World

from trainguard.config import HangSettings, Policy
from trainguard.core.instances import DEFAULT_CATALOG

pytestmark = pytest.mark.unit

P4D = "ml.p4d.24xlarge"  # 8 GPUs a host: GPUUtilization sums to 800
P4D_USD_PER_HOUR = DEFAULT_CATALOG.get(P4D).usd_per_hour  # type: ignore[union-attr]


def gpu(world: World, job: FakeJob, per_gpu: dict[int, float], minutes: int = 1) -> None:
    """``minutes`` more minutes: each host's GPUUtilization (per GPU, 8 GPUs) and the clock."""
    for _ in range(minutes):
        world.fakes.advance(1)
        for host, level in per_gpu.items():
            world.fakes.metrics.put(
                "GPUUtilization", {"Host": f"{job.name}/algo-{host}"}, world.fakes.now, level * 8
            )


def objective(world: World, job: FakeJob, value: float) -> None:
    world.fakes.metrics.put(OBJECTIVE, {"TrainingJobName": job.name}, world.fakes.now, value)


def run_minutes(
    world: World,
    job: FakeJob,
    minutes: int,
    per_gpu: dict[int, float],
    *,
    report: bool = True,
    varying: bool = False,
) -> list[Email]:
    """Minute by minute: the GPUs, a report of the objective (if ``report``), a tick; the
    emails sent."""
    sent: list[Email] = []
    for m in range(minutes):
        levels = {h: v + (7.0 * (m % 3) if varying else 0.3 * (m % 2)) for h, v in per_gpu.items()}
        gpu(world, job, levels)
        if report:
            objective(world, job, 1.0 / (1 + len(world.fakes.metrics.data)))
        world.tick()
        sent += world.fakes.notifier.take()
    return sent


def about(emails: list[Email], word: str) -> list[Email]:
    return [e for e in emails if word in e.subject]


def four_nodes(world: World, name: str, tags: dict[str, str] | None = None) -> FakeJob:
    job = world.start(name, tags, instance_type=P4D, count=4)
    world.emails()
    return job


def test_a_4_node_job_hung_with_its_gpus_pinned_is_alerted_within_10_minutes_once() -> None:
    world = World()
    job = four_nodes(world, "hangs")
    busy = {h: 95.0 for h in range(1, 5)}
    assert not about(run_minutes(world, job, 20, busy, varying=True), "hung")
    last_report = world.fakes.now
    pinned = {h: 99.5 for h in range(1, 5)}  # stuck in a collective: 100 % and flat
    (email,) = about(run_minutes(world, job, 15, pinned, report=False), "hung")  # once
    (audit,) = [d for d in world.decisions("hangs") if d["rule"] == "hung"]
    assert 5 < audit["value"] <= 10  # minutes since the last report when it was alerted
    assert email.subject == "[trainguard] ALERT hangs: hung (pinned), objective silent 6 min > 5"
    assert audit["action"] == "ALERT"
    assert "pinned" in audit["reason"] and "hangs/algo-4 99.68% per GPU" in audit["reason"]
    assert "Logs:" in email.body and "logsV2" in email.body
    # since the last report, and the hourly cost of the 4 hosts it holds
    assert f"Since:      {iso(last_report).replace('Z', '+00:00')} (6 min ago)" in email.body
    assert f"Costs:      ${4 * P4D_USD_PER_HOUR:,.2f} an hour" in email.body
    assert "hung" in world.record("hangs").episodes
    # it resumes: the episode closes; a later hang is a new episode (judged against the
    # job's gaps so far, the first silence among them: 15 min)
    run_minutes(world, job, 3, busy, varying=True)
    assert "hung" not in world.record("hangs").episodes
    assert len(about(run_minutes(world, job, 25, pinned, report=False), "hung")) == 1


def test_a_long_evaluation_with_busy_varying_gpus_is_not_a_hang() -> None:
    world = World()
    job = four_nodes(world, "evaluates")
    run_minutes(world, job, 20, {h: 90.0 for h in range(1, 5)}, varying=True)
    sent = run_minutes(world, job, 25, {h: 80.0 for h in range(1, 5)}, report=False, varying=True)
    assert not about(sent, "hung")


def test_a_checkpoint_pause_within_the_jobs_own_past_gaps_is_not_a_hang() -> None:
    world = World()
    job = four_nodes(world, "checkpoints")
    flat = {h: 99.0 for h in range(1, 5)}
    # a 12-minute pause earlier in the run (a checkpoint), flat GPUs, then reports again
    run_minutes(world, job, 5, flat)
    run_minutes(world, job, 12, flat, report=False)
    run_minutes(world, job, 5, flat)
    # the same pause again: no longer than its own longest gap
    assert not about(run_minutes(world, job, 11, flat, report=False), "hung")


def test_an_enforce_mode_hang_stop_after_the_configured_time() -> None:
    world = World()
    world.fakes.policy = Policy(mode="enforce", hang=HangSettings(stop_after_minutes=12.0))
    job = four_nodes(world, "stuck")
    run_minutes(world, job, 20, {h: 95.0 for h in range(1, 5)}, varying=True)
    run_minutes(world, job, 20, {h: 99.5 for h in range(1, 5)}, report=False)
    assert world.fakes.training_jobs.stopped == ["stuck"]
    (stop,) = [d for d in world.decisions("stuck") if d["action"] == "STOPPED"]
    assert stop["rule"] == "hung" and stop["value"] >= 12


def test_one_host_well_below_the_others_is_named_once_as_a_straggler() -> None:
    world = World()
    job = four_nodes(world, "lagging")
    levels = {1: 95.0, 2: 95.0, 3: 45.0, 4: 95.0}
    (email,) = about(run_minutes(world, job, 30, levels), "straggler")
    assert email.subject == (
        "[trainguard] ALERT lagging: straggler host algo-3, 45.15% vs 95.15% per GPU"
    )
    (audit,) = [d for d in world.decisions("lagging") if d["rule"] == "straggler"]
    assert audit["reason"].startswith("lagging/algo-3 at 45")
    assert "median of the other 3 hosts for 10 min" in audit["reason"]
    # it catches up: the episode closes
    run_minutes(world, job, 3, {h: 95.0 for h in range(1, 5)})
    assert not [k for k in world.record("lagging").episodes if k.startswith("straggler")]


def test_healthy_jobs_single_or_multi_node_get_no_health_alert() -> None:
    world = World()
    one = world.start("single", instance_type=P4D)
    many = four_nodes(world, "many")
    for _ in range(30):
        gpu(world, one, {1: 30.0})  # one host: a straggler needs others to compare with
        for h in range(1, 5):
            world.fakes.metrics.put(
                "GPUUtilization",
                {"Host": f"many/algo-{h}"},
                world.fakes.now,
                (90.0 + 3 * ((h + _) % 3)) * 8,
            )
        for job in (one, many):
            objective(world, job, 1.0 / (_ + 2))
        world.tick()
    health = [s for s in world.emails() if any(k in s for k in ("hung", "straggler", "throughput"))]
    assert health == []


def test_a_throughput_that_halves_mid_run_is_alerted_once_with_its_numbers() -> None:
    world = World()
    tags = {**TAGS, "trainguard:throughput": "train:samples_per_sec"}
    job = world.start("slows", tags, instance_type=P4D, count=2)
    world.emails()
    sent: list[Email] = []
    for minute in range(1, 61):
        rate = 2000.0 if minute <= 30 else 1000.0  # a slow node, a throttled data source
        gpu(world, job, {1: 95.0, 2: 95.0})
        objective(world, job, 1.0 / minute)
        world.fakes.metrics.put(
            "train:samples_per_sec", {"TrainingJobName": "slows"}, world.fakes.now, rate
        )
        world.tick()
        sent += world.fakes.notifier.take()
    (email,) = about(sent, "throughput")
    (audit,) = [d for d in world.decisions("slows") if d["rule"] == "throughput"]
    assert audit["reason"].startswith("2 instances at 500 samples/s per instance")
    assert "0.5 of its own earlier 1000 per instance" in audit["reason"]
    assert audit["reason"] in email.body
    assert email.subject.endswith("throughput 500 samples/s per instance < 700")


def throughput_job(world: World, name: str, count: int, rate: float, minutes: int) -> FakeJob:
    """A job of ``count`` instances reporting ``rate`` samples/s (total) for ``minutes``."""
    tags = {**TAGS, "trainguard:throughput": "train:samples_per_sec"}
    job = world.start(name, tags, instance_type=P4D, count=count)
    for minute in range(1, minutes + 1):
        ts = job.start + minute * 60.0
        world.fakes.metrics.put("train:samples_per_sec", {"TrainingJobName": name}, ts, rate)
        world.fakes.metrics.put(OBJECTIVE, {"TrainingJobName": name}, ts, 1.0 / minute)
    return job


def test_below_the_groups_median_per_instance_with_the_scaling_efficiency() -> None:
    world = World()
    # the group's completed jobs: one instance at 1000 samples/s, two at 1800 (900 each)
    for name, count, rate in (("solo", 1, 1000.0), ("pair", 2, 1800.0)):
        job = throughput_job(world, name, count, rate, 40)
        world.fakes.advance(41)
        world.end(job)
    stats = world.fakes.references.get_stats(world.record("pair").reference_set)
    assert stats is not None and stats.throughput == (1000.0, 900.0)
    assert stats.instances == (1, 2)
    # a 4-instance job at 1600 samples/s: 400 per instance, well under 0.7 x 950
    job = throughput_job(world, "slow", 4, 1600.0, 0)
    world.emails()
    sent: list[Email] = []
    for minute in range(1, 31):
        world.fakes.advance(1)
        ts = world.fakes.now
        world.fakes.metrics.put("train:samples_per_sec", {"TrainingJobName": "slow"}, ts, 1600.0)
        objective(world, job, 1.0 / minute)
        world.tick()
        sent += world.fakes.notifier.take()
    (email,) = about(sent, "throughput")
    (audit,) = [d for d in world.decisions("slow") if d["rule"] == "throughput"]
    assert audit["reason"] == (
        "4 instances at 400 samples/s per instance, 0.4211 of the group's median 950 per "
        "instance (2 completed jobs); scaling efficiency 0.4 against 1 single-instance job"
    )
    assert audit["threshold"] == pytest.approx(0.7 * 950) and audit["references"] == 2
    assert audit["reason"] in email.body
    assert email.subject.endswith("throughput 400 samples/s per instance < 665")


def test_a_job_without_instance_metrics_keeps_the_stall_alert_as_the_fallback() -> None:
    world = World()
    cpu = world.start("on-cpu", instance_type="ml.m5.xlarge")  # no GPUUtilization
    world.fakes.metrics.put(OBJECTIVE, {"TrainingJobName": "on-cpu"}, cpu.start + 60, 1.0)
    subjects: list[str] = []
    for _ in range(40):
        world.fakes.advance(1)
        world.fakes.metrics.put("CPUUtilization", {"Host": "on-cpu/algo-1"}, world.fakes.now, 50)
        world.tick()
        subjects += world.emails()
    assert [s for s in subjects if "stalled" in s] and not [s for s in subjects if "hung" in s]


def test_a_watched_gpu_job_is_judged_by_the_hang_rule_not_the_stall_alert() -> None:
    world = World()
    job = four_nodes(world, "watched")
    run_minutes(world, job, 10, {h: 90.0 for h in range(1, 5)}, varying=True)
    # a 40-minute evaluation: silent objective, busy and varying GPUs (not a hang)
    sent = run_minutes(world, job, 40, {h: 80.0 for h in range(1, 5)}, report=False, varying=True)
    assert not about(sent, "stalled") and not about(sent, "hung")


def test_one_host_of_eight_is_named_and_the_margin_tag_overrides_the_default() -> None:
    world = World()
    levels = {h: 95.0 for h in range(1, 9)} | {6: 60.0}  # 35 points below the others
    job = world.start("eight", instance_type=P4D, count=8)
    tolerant = world.start(
        "tolerant", {**TAGS, "trainguard:straggler-margin": "40"}, instance_type=P4D, count=8
    )
    world.emails()
    subjects: list[str] = []
    for minute in range(30):
        world.fakes.advance(1)
        for j in (job, tolerant):
            for host, level in levels.items():
                world.fakes.metrics.put(
                    "GPUUtilization",
                    {"Host": f"{j.name}/algo-{host}"},
                    world.fakes.now,
                    (level + minute % 2) * 8,
                )
            objective(world, j, 1.0 / (minute + 1))
        world.tick()
        subjects += world.emails()
    (straggler,) = [s for s in subjects if "straggler" in s]
    assert "eight" in straggler and "tolerant" not in straggler
    (audit,) = [d for d in world.decisions("eight") if d["rule"] == "straggler"]
    assert audit["reason"].startswith("eight/algo-6 at 60")
    assert "median of the other 7 hosts" in audit["reason"]


def test_every_rule_rides_in_the_ticks_one_get_metric_data_batch() -> None:
    world = World()
    tags = {**TAGS, "trainguard:throughput": "train:samples_per_sec"}
    job = world.start("all-rules", tags, instance_type=P4D, count=4)
    run_minutes(world, job, 20, {h: 95.0 for h in range(1, 5)})  # read from its start first
    world.fakes.metrics.requests.clear()
    run_minutes(world, job, 5, {h: 95.0 for h in range(1, 5)})
    batches = world.fakes.metrics.requests  # one call a tick (ceil(queries/500))
    assert len(batches) == 5
    for batch in batches:  # the objective and the throughput every tick
        assert {"train:samples_per_sec", OBJECTIVE} <= {q.metric for q in batch}
    # the instance metrics at a coarse cadence while the job reports on its rhythm: one GPU
    # query per host once in the 5 minutes (which also says the instances report: no CPU)
    metrics = sorted(q.metric for batch in batches for q in batch)
    assert metrics == sorted(["GPUUtilization"] * 4 + ["train:samples_per_sec", OBJECTIVE] * 5)


def test_an_idle_host_is_left_to_the_gpu_idle_rule_not_named_a_straggler() -> None:
    world = World()
    job = four_nodes(world, "one-idle")
    sent = run_minutes(world, job, 30, {1: 95.0, 2: 2.0, 3: 95.0, 4: 95.0})
    assert not about(sent, "straggler")
    # without the GPU-idle rule, the straggler rule names it
    world = World()
    world.fakes.policy = Policy.from_mapping({"gpu_idle": {"enabled": False}})
    job = four_nodes(world, "one-idle")
    (email,) = about(run_minutes(world, job, 30, {1: 95.0, 2: 2.0, 3: 95.0, 4: 95.0}), "straggler")
    assert "one-idle" in email.subject


def test_a_throughput_drop_at_minute_15_of_a_10_minute_warm_up_is_alerted() -> None:
    """Issue 20: the drop lands inside the first window after the warm-up; the level the job
    fell to must not become its own baseline."""
    world = World()
    tags = {**TAGS, "trainguard:throughput": "train:samples_per_sec"}
    job = world.start("early-drop", tags, instance_type=P4D, count=1)
    world.emails()
    sent: list[Email] = []
    for minute in range(1, 61):
        rate = 1000.0 if minute < 15 else 600.0  # 40% slower from minute 15
        gpu(world, job, {1: 95.0})
        objective(world, job, 1.0 / minute)
        world.fakes.metrics.put(
            "train:samples_per_sec", {"TrainingJobName": "early-drop"}, world.fakes.now, rate
        )
        world.tick()
        sent += world.fakes.notifier.take()
    (email,) = about(sent, "throughput")
    (audit,) = [d for d in world.decisions("early-drop") if d["rule"] == "throughput"]
    assert "0.6 of its own earlier 1000 per instance" in audit["reason"]
    assert email.subject.endswith("throughput 600 samples/s per instance < 700")
