"""The demo's fleet: simulated training jobs built from the committed real curves.

Pure (no AWS, no clock): :func:`plan_fleet` picks the jobs and their timeline, and each
:class:`FleetJob` says what it publishes at a given simulated minute.

Choices (documented in ``trainguard demo --help`` too):

- **Jobs**: per group, the recorded Completed jobs sorted by their final value; the picks are
  evenly spaced over that order, so each group's best and worst jobs are in and the rest
  spread between (several poor ones among them). Deterministic: same file, same fleet.
- **Time**: steps on live data are minutes since the training start (the runtime converts
  timestamps to minutes), so every job of a group gets the **same minutes per epoch**: the
  median rule then compares jobs at the same epoch, as the recorded sweeps were comparable.
  The recorded per-job speeds (1-6 min/epoch, a 9-hour fleet) are compressed into this.
- **Waves**: the group's middle-ranked picks start first (they become the references once
  they complete: ``minCompleted`` of them), the rest start in later waves and are judged
  against them. A few minutes of jitter between jobs of a wave.
- **Special jobs**: the diverging job is a recorded Failed job whose loss explodes (its finite
  values are published, then nothing while its instances keep reporting; left alone it would
  run its full epochs and fail on NaN); one multi-node job has an idle second host; one job has
  no opt-in tag and an idle GPU (a notebook-style experiment: alerted on, never stopped); one
  job has a max runtime far above the cap (28 days, SageMaker's maximum).
- **Distributed training** (group ``breast-cancer-ddp``, 4 x ml.g5.12xlarge, the best-ranked
  recorded curves of the multi-node group, every job reporting ``train:samples_per_sec``):
  three healthy references first (two on 4 nodes, one on a single node: the group's
  throughput and its scaling baseline), then a job that hangs mid-run (objective silent, all
  16 GPUs pinned at 99-100 %, until an NCCL watchdog timeout fails it), a job with one host
  at about 45 % while the others run at about 95 %, and a job whose throughput halves mid-run.
- **A capacity failure** (group ``capacity-demo``, tagged ``trainguard:retry=1``): a job that
  fails a minute after it was created with SageMaker's ``CapacityError`` (no instances, so no
  metrics). trainguard recreates it as ``<name>-retry-1`` after its back-off; the run then
  plays that retry (:func:`retry_replay`) on the original's curve to completion. Alone in its
  group, nothing else judges it.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trainguard.core.curves import Point
from trainguard.core.instances import InstanceGroup
from trainguard_tools.curvefile import CurveRecord

BUSY_PER_GPU = (70.0, 95.0)  # a busy GPU's utilization band, percent
IDLE_PER_GPU = (0.5, 3.5)  # an idle GPU (waiting on data), percent
HUNG_PER_GPU = (99.0, 100.0)  # spinning in a collective that never completes
STRAGGLER_PER_GPU = 45.0  # a straggling host (a slow disk, a throttled GPU), about
FAST_PER_GPU = 95.0  # the other hosts of the straggler's job, about
THROUGHPUT_METRIC = "train:samples_per_sec"
SAMPLES_PER_SEC = 950.0  # per instance, a healthy job of the distributed group
NCCL_TIMEOUT = "AlgorithmError: NCCL watchdog: collective operation timed out"
NO_LIMIT_RUNTIME_S = 28 * 24 * 3600  # SageMaker's maximum MaxRuntimeInSeconds
DEFAULT_RUNTIME_S = 24 * 3600
# SageMaker's FailureReason when it cannot get the instances (trainguard.logic.retry)
CAPACITY_ERROR = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a "
    "different ML instance type."
)
CAPACITY_GROUP = "capacity-demo"
CAPACITY_ROLE = "capacity failure"
RETRY_ROLE = "capacity retry"


@dataclass(frozen=True)
class FleetJob:
    """One simulated training job: what it is, when it runs, what it publishes."""

    name: str
    group: str  # the group its curve comes from (a tagged job's trainguard:group)
    source: str  # the recorded job whose curve it replays
    objective: str
    direction: str
    instance_type: str
    instance_count: int
    start_minute: int
    minutes_per_epoch: float
    curve: tuple[Point, ...]  # (epoch, value): only finite values are published
    epochs: int  # how many epochs it runs if nothing stops it
    end_status: str  # "Completed" or "Failed" (at its natural end)
    tagged: bool = True
    max_runtime_s: int = DEFAULT_RUNTIME_S
    idle_hosts: frozenset[int] = frozenset()  # 1-based host indexes with an idle GPU
    role: str = ""  # "diverging", "multi-node, idle host", "not opted in", "hung", ...
    failure_reason: str = "AlgorithmError: training loss is NaN"
    # distributed-training health: it hangs this many minutes after its start (then fails
    # ``hang_timeout`` minutes later); 1-based hosts that straggle; its other hosts' level
    hang_minute: int | None = None
    hang_timeout: int = 30
    straggler_hosts: frozenset[int] = frozenset()
    busy_per_gpu: float | None = None  # None: 78-88 % per host with noise
    samples_per_sec: float = 0.0  # per instance (0: it reports no throughput metric)
    throughput_halves_at: int | None = None  # minutes after its start
    retries: int = 0  # its trainguard:retry tag (0: none)
    # its tags at creation differ from a tagged job's: key -> value (None: left out); and the
    # tag changes made while it runs: (minutes after its start, key -> value, None: deleted)
    # (:mod:`.coverage`)
    tag_overrides: tuple[tuple[str, str | None], ...] = ()
    tag_changes: tuple[tuple[int, tuple[tuple[str, str | None], ...]], ...] = ()
    # a heterogeneous cluster (ResourceConfig.InstanceGroups; then instance_type is "" and
    # instance_count all its hosts), and the group of each host from algo-1 on
    instance_groups: tuple[InstanceGroup, ...] = ()
    host_groups: tuple[str, ...] = ()
    checkpoint: str = ""  # its CheckpointConfig.S3Uri ("": none; :mod:`.revive`)

    @property
    def end_minute(self) -> int:
        """The minute it ends if nothing stops it."""
        if self.role == CAPACITY_ROLE:  # no instances: it fails a minute after its creation
            return self.start_minute + 1
        if self.hang_minute is not None:
            return self.start_minute + self.hang_minute + self.hang_timeout
        return self.start_minute + math.ceil(self.epochs * self.minutes_per_epoch - 1e-9)

    @property
    def tags(self) -> dict[str, str]:
        if not self.tagged:
            return {"team": "research", "purpose": "notebook experiment"}
        tags = {
            "trainguard:group": self.group,
            "trainguard:objective": self.objective,
            "trainguard:direction": self.direction,
        }
        if self.samples_per_sec:
            tags["trainguard:throughput"] = THROUGHPUT_METRIC
        if self.retries:
            tags["trainguard:retry"] = str(self.retries)
        for key, value in self.tag_overrides:
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value
        return tags

    @property
    def publishes(self) -> bool:
        """Whether it ever runs (a capacity failure never got its instances)."""
        return self.role != CAPACITY_ROLE

    def hung_at(self, minute: int) -> bool:
        return self.hang_minute is not None and minute - self.start_minute >= self.hang_minute

    def epoch_minute(self, epoch: float) -> int:
        """The simulated minute its measurement at ``epoch`` is published."""
        return self.start_minute + math.floor(epoch * self.minutes_per_epoch + 1e-9)

    def values_at(self, minute: int) -> list[float]:
        """The finite objective values it publishes at ``minute`` (oldest first); none once
        it hangs."""
        if self.hung_at(minute):
            return []
        return [v for e, v in self.curve if math.isfinite(v) and self.epoch_minute(e) == minute]

    def throughput_at(self, minute: int) -> float | None:
        """Its samples/s (all instances) at ``minute``, a few percent of noise; None when it
        reports none (no metric, or hung)."""
        if not self.samples_per_sec or self.hung_at(minute):
            return None
        rate = self.samples_per_sec * self.instance_count
        halves = self.throughput_halves_at
        if halves is not None and minute - self.start_minute >= halves:
            rate /= 2.0
        return round(rate * _rng(self.name, minute, "samples").uniform(0.97, 1.03), 1)

    def hosts(self) -> list[str]:
        return [f"{self.name}/algo-{i}" for i in range(1, self.instance_count + 1)]

    def host_type(self, host_index: int) -> str:
        """The instance type of host ``algo-<host_index>`` (its group's, in a heterogeneous
        cluster)."""
        if not self.host_groups:
            return self.instance_type
        group = self.host_groups[host_index - 1]
        return next(g.instance_type for g in self.instance_groups if g.name == group)

    def gpu_utilization(self, host_index: int, minute: int, gpus: int) -> float:
        """``GPUUtilization`` of one host at ``minute`` (summed over its GPUs, 0..100 x gpus):
        busy 70-95 % per GPU with noise around a per-host level, ~2 % on an idle host, about
        45 % on a straggling one, 99-100 % on every host of a hung job."""
        level = _rng(self.name, host_index).uniform(78.0, 88.0)
        noise = _rng(self.name, host_index, minute)
        if self.hung_at(minute):
            per_gpu = noise.uniform(*HUNG_PER_GPU)
        elif host_index in self.idle_hosts:
            per_gpu = noise.uniform(*IDLE_PER_GPU)
        elif host_index in self.straggler_hosts:
            per_gpu = noise.gauss(STRAGGLER_PER_GPU, 3.0)
        elif self.busy_per_gpu is not None:
            per_gpu = min(100.0, noise.gauss(self.busy_per_gpu, 1.5))
        else:
            per_gpu = min(BUSY_PER_GPU[1], max(BUSY_PER_GPU[0], noise.gauss(level, 4.0)))
        return round(per_gpu * max(gpus, 1), 2)

    def cpu_utilization(self, host_index: int, minute: int) -> float:
        return round(_rng(self.name, host_index, minute, "cpu").uniform(35.0, 60.0), 2)

    def best_value(self) -> float | None:
        """Its final value if it completes (what 'the group's best job' is judged on)."""
        if self.end_status != "Completed" or not self.curve:
            return None
        v = self.curve[-1][1]
        return v if math.isfinite(v) else None


def _rng(*parts: object) -> random.Random:
    return random.Random(zlib.crc32("/".join(map(str, parts)).encode()))


@dataclass(frozen=True)
class Scenario:
    """The knobs of a fleet; :data:`FULL` is ``make demo``, :data:`QUICK` the CI test's."""

    groups: tuple[str, ...]
    per_group: int
    epochs: int  # curves are cut to this many epochs (the recorded ones have 40)
    minutes_per_epoch: dict[str, float]
    wave_gap: int  # minutes between waves
    jitter: int  # minutes between jobs of a wave
    references: int  # jobs of the first wave per group (>= minCompleted)
    diverging: str  # the recorded Failed job that diverges
    multi_node_group: str  # its idle-host job comes from this (multi-node) group
    untagged_from: str  # a recorded job whose curve the untagged job replays
    no_limit_group: str  # the job without a sane max runtime comes from this group
    ddp_from: str  # the distributed group replays this (multi-node) group's curves
    ddp_epochs: int  # its jobs' epochs (long enough for the health rules' windows)
    ddp_start: int  # the minute its references start (its special jobs: once they complete)
    hang_timeout: int  # minutes a hung job waits in the collective before it fails
    context: dict[str, object] = field(default_factory=dict)  # cdk context for this scenario


FULL = Scenario(
    groups=("digits-mlp", "wine-mlp", "breast-cancer-mlp"),
    per_group=11,
    epochs=40,
    minutes_per_epoch={"digits-mlp": 1.5, "wine-mlp": 1.25, "breast-cancer-mlp": 1.5},
    wave_gap=30,
    jitter=2,
    references=4,
    diverging="digits-mlp-030",
    multi_node_group="breast-cancer-mlp",
    untagged_from="digits-softmax-001",
    no_limit_group="wine-mlp",
    ddp_from="breast-cancer-mlp",
    ddp_epochs=40,
    ddp_start=3,
    hang_timeout=30,  # PyTorch's default NCCL timeout
)

QUICK = Scenario(
    groups=("digits-mlp", "breast-cancer-mlp"),
    per_group=5,
    epochs=12,
    minutes_per_epoch={"digits-mlp": 1.0, "breast-cancer-mlp": 1.0},
    wave_gap=8,
    jitter=1,
    references=3,
    diverging="digits-mlp-030",
    multi_node_group="breast-cancer-mlp",
    untagged_from="digits-softmax-001",
    no_limit_group="digits-mlp",
    ddp_from="breast-cancer-mlp",
    ddp_epochs=24,
    ddp_start=2,
    hang_timeout=15,
    # short curves: shorter GPU-idle, straggler and throughput warm-up windows so that each
    # is seen within the run
    context={
        "gpuIdleWindowMinutes": 5,
        "gpuIdleWarmupMinutes": 2,
        "stragglerWindowMinutes": 5,
        "throughputWarmupMinutes": 2,
        "objectiveGraceMinutes": 5,  # the coverage jobs' notice within their short run
    },
)


def _cut(curve: Sequence[Point], epochs: int) -> tuple[Point, ...]:
    return tuple((s, v) for s, v in curve if s <= epochs)


def _spread(n_items: int, k: int) -> list[int]:
    """``k`` indexes evenly spaced over ``range(n_items)``, first and last included."""
    if k >= n_items:
        return list(range(n_items))
    return sorted({round(i * (n_items - 1) / (k - 1)) for i in range(k)})


def _wave_order(k: int, references: int) -> list[int]:
    """Positions (0 = best) in start order: middle-ranked ones first (the references), then
    the rest alternating from the best and the worst ends."""
    middle = sorted(range(k), key=lambda i: (abs(i - (k - 1) / 2), i))[:references]
    rest = [i for i in range(k) if i not in middle]
    ordered: list[int] = []
    while rest:
        ordered.append(rest.pop(0))
        if rest:
            ordered.append(rest.pop())
    return sorted(middle) + ordered


def plan_fleet(records: Sequence[CurveRecord], scenario: Scenario = FULL) -> list[FleetJob]:
    """The fleet for ``scenario`` from the recorded jobs (deterministic); sorted by start."""
    by_name = {r.job: r for r in records}
    fleet: list[FleetJob] = []
    for g_index, group in enumerate(scenario.groups):
        mpe = scenario.minutes_per_epoch[group]
        completed = [
            r
            for r in records
            if r.group == group and r.status == "Completed" and r.job != scenario.untagged_from
        ]

        ranked = sorted(completed, key=lambda r: (_final(r, scenario.epochs), r.job))
        picks = [ranked[i] for i in _spread(len(ranked), scenario.per_group)]
        k = len(picks)
        for order, position in enumerate(_wave_order(k, scenario.references)):
            r = picks[position]
            if order < scenario.references:
                wave, slot = 0, order
            else:
                rest = order - scenario.references
                per_wave = max(1, math.ceil((k - scenario.references) / 2))
                wave, slot = 1 + rest // per_wave, rest % per_wave
            start = wave * scenario.wave_gap + slot * scenario.jitter + g_index
            fleet.append(
                FleetJob(
                    name=r.job,
                    group=group,
                    source=r.job,
                    objective=r.objective,
                    direction=r.direction,
                    instance_type=r.instance_type,
                    instance_count=r.instance_count,
                    start_minute=start,
                    minutes_per_epoch=mpe,
                    curve=_cut(r.curve, scenario.epochs),
                    epochs=scenario.epochs,
                    end_status="Completed",
                )
            )
    fleet = _special_jobs(fleet, by_name, scenario)
    fleet += _distributed_jobs(records, scenario)
    fleet.append(_capacity_job(records, scenario))
    fleet.append(_heterogeneous_job(records, scenario))
    from .coverage import coverage_jobs  # its jobs are FleetJobs: imported here, not above

    fleet += coverage_jobs(records, scenario)
    from .revive import revive_jobs

    fleet += revive_jobs(records, scenario)
    return sorted(fleet, key=lambda j: (j.start_minute, j.name))


def _special_jobs(
    fleet: list[FleetJob], by_name: dict[str, CurveRecord], scenario: Scenario
) -> list[FleetJob]:
    groups = {j.group for j in fleet}
    # multi-node, one idle host: a reference of the multi-node group (it runs to its end,
    # so the idle host is alerted on while it runs); the first wave's last job
    multi = [j for j in fleet if j.group == scenario.multi_node_group and j.instance_count > 1]
    if not multi:
        raise ValueError(f"group {scenario.multi_node_group} has no multi-node job")
    first_wave = sorted(multi, key=lambda j: (j.start_minute, j.name))[: scenario.references]
    chosen = first_wave[-1]
    fleet[fleet.index(chosen)] = replace(
        chosen, idle_hosts=frozenset({2}), role="multi-node, idle host"
    )
    # no sane max runtime: a first-wave job of that group
    nolimit = sorted(
        (j for j in fleet if j.group == scenario.no_limit_group and not j.role),
        key=lambda j: (j.start_minute, j.name),
    )[0]
    fleet[fleet.index(nolimit)] = replace(
        nolimit, max_runtime_s=NO_LIMIT_RUNTIME_S, role="no max runtime"
    )
    # the diverging job: starts with the second wave, once references exist or not: the
    # divergence rule needs none
    d = by_name[scenario.diverging]
    if d.group not in groups:
        raise ValueError(f"diverging job {d.job} is not in a demo group")
    mpe = scenario.minutes_per_epoch[d.group]
    fleet.append(
        FleetJob(
            name=d.job,
            group=d.group,
            source=d.job,
            objective=d.objective,
            direction=d.direction,
            instance_type=d.instance_type,
            instance_count=d.instance_count,
            start_minute=scenario.wave_gap + 1,
            minutes_per_epoch=mpe,
            curve=tuple((s, v) for s, v in _cut(d.curve, scenario.epochs) if math.isfinite(v)),
            epochs=scenario.epochs,
            end_status="Failed",
            role="diverging",
        )
    )
    # not opted in, idle GPU: a notebook-style experiment on a recorded curve
    u = by_name[scenario.untagged_from]
    fleet.append(
        FleetJob(
            name="notebook-experiment-1",
            group=u.group,
            source=u.job,
            objective=u.objective,
            direction=u.direction,
            instance_type=u.instance_type,
            instance_count=u.instance_count,
            start_minute=2,
            minutes_per_epoch=1.0,
            curve=_cut(u.curve, scenario.epochs),
            epochs=scenario.epochs,
            end_status="Completed",
            tagged=False,
            idle_hosts=frozenset({1}),
            role="not opted in",
        )
    )
    return fleet


def _capacity_job(records: Sequence[CurveRecord], scenario: Scenario) -> FleetJob:
    """The job SageMaker has no capacity for: the first group's middle-ranked curve (what its
    retry replays), alone in its own group."""
    group = scenario.groups[0]
    r = _middle_ranked(records, group, scenario.epochs)
    return FleetJob(
        name="capacity-job",
        group=CAPACITY_GROUP,
        source=r.job,
        objective=r.objective,
        direction=r.direction,
        instance_type=r.instance_type,
        instance_count=r.instance_count,
        start_minute=2,
        minutes_per_epoch=scenario.minutes_per_epoch[group],
        curve=_cut(r.curve, scenario.epochs),
        epochs=scenario.epochs,
        end_status="Failed",
        role=CAPACITY_ROLE,
        failure_reason=CAPACITY_ERROR,
        retries=1,
    )


def _middle_ranked(records: Sequence[CurveRecord], group: str, epochs: int) -> CurveRecord:
    """The completed job of ``group`` in the middle of its ranking at ``epochs``."""
    ranked = sorted(
        (r for r in records if r.group == group and r.status == "Completed"),
        key=lambda r: (_final(r, epochs), r.job),
    )
    return ranked[len(ranked) // 2]


def retry_replay(job: FleetJob, name: str, start_minute: int) -> FleetJob:
    """The retry trainguard created of ``job`` (named ``name``), played from ``start_minute``:
    the original's curve run to completion (this time the capacity is there)."""
    return replace(
        job, name=name, start_minute=start_minute, end_status="Completed", role=RETRY_ROLE
    )


DDP_GROUP = "breast-cancer-ddp"
DDP_INSTANCE = "ml.g5.12xlarge"  # 4 A10G GPUs a host


def _distributed_jobs(records: Sequence[CurveRecord], scenario: Scenario) -> list[FleetJob]:
    """The distributed group: healthy references, then a hang, a straggler, a slowdown.

    The references replay the source group's three middle-ranked curves; the special jobs replay
    the best-ranked curves that stay at or better than the references' median at every epoch,
    so the median rule (which judges these jobs too) lets them run: each is caught by its own
    rule. Every job reports its throughput, so the group's throughput and scaling baselines
    exist by the time the special jobs start."""
    epochs = scenario.ddp_epochs
    ranked = sorted(
        (r for r in records if r.group == scenario.ddp_from and r.status == "Completed"),
        key=lambda r: (_final(r, epochs), r.job),
    )
    middle = len(ranked) // 2 - 1
    refs = ranked[middle : middle + 3]
    specials = [r for r in ranked if r not in refs and _never_above(r, refs, epochs)][:3]
    if len(refs) < 3 or len(specials) < 3:
        raise ValueError(f"group {scenario.ddp_from} has too few completed jobs for the ddp group")
    curves = [*specials, *refs]  # ranks 0-2: the special jobs, 3-5: the references
    refs_end = scenario.ddp_start + epochs + 2  # one epoch a minute
    # (name, index in curves, start minute, instances, role, what is wrong with it)
    plan: list[tuple[str, int, int, int, str, dict[str, Any]]] = [
        ("ddp-ref-1", 3, scenario.ddp_start, 4, "distributed, healthy", {}),
        ("ddp-ref-2", 4, scenario.ddp_start + 1, 4, "distributed, healthy", {}),
        ("ddp-single", 5, scenario.ddp_start, 1, "single node, healthy", {}),
        (
            "ddp-hang",
            0,
            refs_end,
            4,
            "hung",
            {
                "hang_minute": epochs * 2 // 5,
                "hang_timeout": scenario.hang_timeout,
                "end_status": "Failed",
                "failure_reason": NCCL_TIMEOUT,
            },
        ),
        (
            "ddp-straggler",
            1,
            refs_end + 1,
            4,
            "straggler host",
            {"straggler_hosts": frozenset({3}), "busy_per_gpu": FAST_PER_GPU},
        ),
        (
            "ddp-slowdown",
            2,
            refs_end + 2,
            4,
            "throughput halves",
            {"throughput_halves_at": epochs // 2},
        ),
    ]
    jobs = []
    for name, rank, start, count, role, wrong in plan:
        r = curves[rank]
        job = FleetJob(
            name=name,
            group=DDP_GROUP,
            source=r.job,
            objective=r.objective,
            direction=r.direction,
            instance_type=DDP_INSTANCE,
            instance_count=count,
            start_minute=start,
            minutes_per_epoch=1.0,
            curve=_cut(r.curve, epochs),
            epochs=epochs,
            end_status="Completed",
            role=role,
            samples_per_sec=SAMPLES_PER_SEC,
        )
        jobs.append(replace(job, **wrong))
    return jobs


def _never_above(r: CurveRecord, refs: Sequence[CurveRecord], epochs: int) -> bool:
    """Whether ``r`` is at or better than the median of ``refs`` at every epoch they share."""
    sign = 1.0 if r.direction == "minimize" else -1.0
    theirs = [dict(_cut(ref.curve, epochs)) for ref in refs]
    for epoch, value in _cut(r.curve, epochs):
        values = sorted(sign * t[epoch] for t in theirs if epoch in t)
        if len(values) == len(refs) and sign * value > values[len(values) // 2]:
            return False
    return True


def _final(r: CurveRecord, epochs: int) -> float:
    cut = _cut(r.curve, epochs)
    v = cut[-1][1] if cut else math.inf
    return v if math.isfinite(v) else math.inf


def best_jobs(fleet: Sequence[FleetJob]) -> dict[str, str]:
    """Each opted-in group's best job: the best final value among the jobs that complete."""
    best: dict[str, tuple[float, str]] = {}
    for j in fleet:
        v = j.best_value()
        if not j.tagged or v is None:
            continue
        key = v if j.direction == "minimize" else -v
        if j.group not in best or (key, j.name) < best[j.group]:
            best[j.group] = (key, j.name)
    return {g: name for g, (_, name) in sorted(best.items())}


HETERO_GROUP = "breast-cancer-hetero"
HETERO_ROLE = "heterogeneous, idle GPU host"
# 2 GPU hosts (4 A10G each) train, a CPU host loads the data. SageMaker numbers the hosts
# across the groups, not in their order (AWS's example gives a 1-host group algo-2): here
# the CPU host is algo-2, and the second GPU host, algo-3, idles.
HETERO_GROUPS = (InstanceGroup("train", DDP_INSTANCE, 2), InstanceGroup("data", "ml.c5.4xlarge", 1))
HETERO_HOSTS = ("train", "data", "train")


def _heterogeneous_job(records: Sequence[CurveRecord], scenario: Scenario) -> FleetJob:
    """A heterogeneous cluster whose second GPU host is idle: the distributed group's source
    curve in the middle of its ranking, alone in its own group (no rule but GPU-idle's)."""
    epochs = scenario.ddp_epochs
    r = _middle_ranked(records, scenario.ddp_from, epochs)
    return FleetJob(
        name="hetero-idle",
        group=HETERO_GROUP,
        source=r.job,
        objective=r.objective,
        direction=r.direction,
        instance_type="",
        instance_count=len(HETERO_HOSTS),
        start_minute=scenario.ddp_start,
        minutes_per_epoch=1.0,
        curve=_cut(r.curve, epochs),
        epochs=epochs,
        end_status="Completed",
        idle_hosts=frozenset({3}),
        role=HETERO_ROLE,
        instance_groups=HETERO_GROUPS,
        host_groups=HETERO_HOSTS,
    )
