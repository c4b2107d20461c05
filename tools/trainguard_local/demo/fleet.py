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
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from trainguard.core.curves import Point
from trainguard_tools.curvefile import JobRecord

BUSY_PER_GPU = (70.0, 95.0)  # a busy GPU's utilization band, percent
IDLE_PER_GPU = (0.5, 3.5)  # an idle GPU (waiting on data), percent
NO_LIMIT_RUNTIME_S = 28 * 24 * 3600  # SageMaker's maximum MaxRuntimeInSeconds
DEFAULT_RUNTIME_S = 24 * 3600


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
    role: str = ""  # "diverging", "multi-node, idle host", "not opted in", "no max runtime"
    failure_reason: str = "AlgorithmError: training loss is NaN"

    @property
    def end_minute(self) -> int:
        """The minute it ends if nothing stops it."""
        return self.start_minute + math.ceil(self.epochs * self.minutes_per_epoch - 1e-9)

    @property
    def tags(self) -> dict[str, str]:
        if not self.tagged:
            return {"team": "research", "purpose": "notebook experiment"}
        return {
            "trainguard:group": self.group,
            "trainguard:objective": self.objective,
            "trainguard:direction": self.direction,
        }

    def epoch_minute(self, epoch: float) -> int:
        """The simulated minute its measurement at ``epoch`` is published."""
        return self.start_minute + math.floor(epoch * self.minutes_per_epoch + 1e-9)

    def values_at(self, minute: int) -> list[float]:
        """The finite objective values it publishes at ``minute`` (oldest first)."""
        return [v for e, v in self.curve if math.isfinite(v) and self.epoch_minute(e) == minute]

    def hosts(self) -> list[str]:
        return [f"{self.name}/algo-{i}" for i in range(1, self.instance_count + 1)]

    def gpu_utilization(self, host_index: int, minute: int, gpus: int) -> float:
        """``GPUUtilization`` of one host at ``minute`` (summed over its GPUs, 0..100 x gpus):
        busy 70-95 % per GPU with noise around a per-host level, or ~2 % on an idle host."""
        level = _rng(self.name, host_index).uniform(78.0, 88.0)
        noise = _rng(self.name, host_index, minute)
        if host_index in self.idle_hosts:
            per_gpu = noise.uniform(*IDLE_PER_GPU)
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
    # short curves: a shorter GPU-idle window so the idle host is alerted within the run
    context={"gpuIdleWindowMinutes": 5, "gpuIdleWarmupMinutes": 2},
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


def plan_fleet(records: Sequence[JobRecord], scenario: Scenario = FULL) -> list[FleetJob]:
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

        def final(r: JobRecord) -> float:
            cut = _cut(r.curve, scenario.epochs)
            v = cut[-1][1] if cut else math.inf
            return v if math.isfinite(v) else math.inf

        ranked = sorted(completed, key=lambda r: (final(r), r.job))
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
    return sorted(fleet, key=lambda j: (j.start_minute, j.name))


def _special_jobs(
    fleet: list[FleetJob], by_name: dict[str, JobRecord], scenario: Scenario
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
