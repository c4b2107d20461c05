"""GPUs and on-demand prices of SageMaker training instance types.

``gpus`` counts the accelerators whose utilization SageMaker sums into ``GPUUtilization``
(NVIDIA GPUs; for Trainium, the Neuron devices, which report through the Neuron monitor and
not ``GPUUtilization``, so the GPU-idle rule skips them). Inferentia (``ml.inf*``) is an
inference family that SageMaker training does not offer, so it is not listed.

Prices are SageMaker *training* on-demand list prices, us-east-1, USD per instance-hour,
as read from the AWS SageMaker pricing page (figures dated ``PRICES_AS_OF``). They are
estimates for "dollars saved", not billing: override them with the ``prices`` section of the
policy (deploy context ``prices``) for your region, discounts or Savings Plans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .stored import Record, whole
from .values import frozen

PRICES_AS_OF = "2025-06"
PRICES_REGION = "us-east-1"


@frozen
class InstanceSpec:
    gpus: int
    usd_per_hour: float
    accelerator: str = ""

    @property
    def reports_gpu_utilization(self) -> bool:
        """Whether its hosts report ``GPUUtilization`` (NVIDIA GPUs; not CPU, not Trainium)."""
        return self.gpus > 0 and self.accelerator != "Trainium"


_DEFAULTS: dict[str, InstanceSpec] = {
    # P3: NVIDIA V100
    "ml.p3.2xlarge": InstanceSpec(1, 3.825, "V100"),
    "ml.p3.8xlarge": InstanceSpec(4, 14.688, "V100"),
    "ml.p3.16xlarge": InstanceSpec(8, 28.152, "V100"),
    "ml.p3dn.24xlarge": InstanceSpec(8, 35.894, "V100"),
    # P4: NVIDIA A100
    "ml.p4d.24xlarge": InstanceSpec(8, 37.688, "A100"),
    "ml.p4de.24xlarge": InstanceSpec(8, 47.110, "A100-80GB"),
    # P5: NVIDIA H100 / H200
    "ml.p5.4xlarge": InstanceSpec(1, 8.584, "H100"),
    "ml.p5.48xlarge": InstanceSpec(8, 113.068, "H100"),
    "ml.p5e.48xlarge": InstanceSpec(8, 127.368, "H200"),
    "ml.p5en.48xlarge": InstanceSpec(8, 131.328, "H200"),
    # G4dn: NVIDIA T4
    "ml.g4dn.xlarge": InstanceSpec(1, 0.736, "T4"),
    "ml.g4dn.2xlarge": InstanceSpec(1, 1.053, "T4"),
    "ml.g4dn.4xlarge": InstanceSpec(1, 1.686, "T4"),
    "ml.g4dn.8xlarge": InstanceSpec(1, 3.046, "T4"),
    "ml.g4dn.12xlarge": InstanceSpec(4, 5.477, "T4"),
    "ml.g4dn.16xlarge": InstanceSpec(1, 6.091, "T4"),
    # G5: NVIDIA A10G
    "ml.g5.xlarge": InstanceSpec(1, 1.408, "A10G"),
    "ml.g5.2xlarge": InstanceSpec(1, 1.515, "A10G"),
    "ml.g5.4xlarge": InstanceSpec(1, 2.030, "A10G"),
    "ml.g5.8xlarge": InstanceSpec(1, 3.060, "A10G"),
    "ml.g5.12xlarge": InstanceSpec(4, 7.090, "A10G"),
    "ml.g5.16xlarge": InstanceSpec(1, 4.100, "A10G"),
    "ml.g5.24xlarge": InstanceSpec(4, 10.180, "A10G"),
    "ml.g5.48xlarge": InstanceSpec(8, 20.360, "A10G"),
    # G6: NVIDIA L4
    "ml.g6.xlarge": InstanceSpec(1, 1.006, "L4"),
    "ml.g6.2xlarge": InstanceSpec(1, 1.222, "L4"),
    "ml.g6.4xlarge": InstanceSpec(1, 1.652, "L4"),
    "ml.g6.8xlarge": InstanceSpec(1, 2.514, "L4"),
    "ml.g6.12xlarge": InstanceSpec(4, 5.752, "L4"),
    "ml.g6.16xlarge": InstanceSpec(1, 4.237, "L4"),
    "ml.g6.24xlarge": InstanceSpec(4, 8.286, "L4"),
    "ml.g6.48xlarge": InstanceSpec(8, 16.572, "L4"),
    # G6e: NVIDIA L40S
    "ml.g6e.xlarge": InstanceSpec(1, 2.326, "L40S"),
    "ml.g6e.2xlarge": InstanceSpec(1, 2.800, "L40S"),
    "ml.g6e.4xlarge": InstanceSpec(1, 3.755, "L40S"),
    "ml.g6e.8xlarge": InstanceSpec(1, 5.663, "L40S"),
    "ml.g6e.12xlarge": InstanceSpec(4, 13.117, "L40S"),
    "ml.g6e.16xlarge": InstanceSpec(1, 9.471, "L40S"),
    "ml.g6e.24xlarge": InstanceSpec(4, 18.839, "L40S"),
    "ml.g6e.48xlarge": InstanceSpec(8, 37.678, "L40S"),
    # Trn1: AWS Trainium (Neuron devices)
    "ml.trn1.2xlarge": InstanceSpec(1, 1.677, "Trainium"),
    "ml.trn1.32xlarge": InstanceSpec(16, 26.875, "Trainium"),
    "ml.trn1n.32xlarge": InstanceSpec(16, 30.975, "Trainium"),
    # CPU types (no GPU: the GPU-idle rule does not apply; prices still count for savings)
    "ml.m5.xlarge": InstanceSpec(0, 0.230),
    "ml.m5.2xlarge": InstanceSpec(0, 0.461),
    "ml.m5.4xlarge": InstanceSpec(0, 0.922),
    "ml.c5.xlarge": InstanceSpec(0, 0.204),
    "ml.c5.2xlarge": InstanceSpec(0, 0.408),
    "ml.c5.4xlarge": InstanceSpec(0, 0.816),
}


class InstanceCatalog:
    """The default table with overrides, e.g. ``{"ml.x": {"gpus": 8, "usd_per_hour": 1.0}}``.

    ``get`` returns None for an unknown type: callers log it and skip what needs the numbers
    (GPU normalization, dollars), never crash.
    """

    def __init__(self, overrides: Mapping[str, Record] | None = None) -> None:
        self._specs = dict(_DEFAULTS)
        for name, raw in (overrides or {}).items():
            base = self._specs.get(name, InstanceSpec(0, 0.0))
            gpus = raw.get("gpus", base.gpus)
            price = raw.get("usd_per_hour", base.usd_per_hour)
            if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
                raise ValueError(f"prices.{name}.gpus must be a whole number >= 0, got {gpus!r}")
            if (
                isinstance(price, bool)
                or not isinstance(price, (int, float))
                or not math.isfinite(price)  # json.loads accepts NaN and Infinity
                or price < 0
            ):
                raise ValueError(f"prices.{name}.usd_per_hour must be a number >= 0, got {price!r}")
            self._specs[name] = InstanceSpec(gpus, float(price), base.accelerator)

    def get(self, instance_type: str) -> InstanceSpec | None:
        return self._specs.get(instance_type)

    def __contains__(self, instance_type: object) -> bool:
        return instance_type in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)


DEFAULT_CATALOG = InstanceCatalog()


# ---- a job's instances -------------------------------------------------------------------------
@frozen
class InstanceGroup:
    """One instance group of a job's cluster: ``ResourceConfig.InstanceGroups[]`` of a
    heterogeneous cluster, or the one unnamed group (``name`` "") of ``InstanceType`` x
    ``InstanceCount``."""

    name: str
    instance_type: str
    count: int

    @classmethod
    def from_dict(cls, raw: Record) -> InstanceGroup:
        return cls(str(raw.get("name", "")), str(raw.get("instance_type", "")), whole(raw["count"]))


def _whole(raw: object, key: str, least: int) -> int:
    # ASCII digits only: "²".isdigit() is True, but int() refuses it
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < least:
        raise ValueError(f"{key} must be an integer >= {least}, got {raw!r}")
    return raw


def job_instances(resources: Record, where: str = "ResourceConfig") -> tuple[InstanceGroup, ...]:
    """A job's instances from its ``ResourceConfig`` (a CreateTrainingJob request, a
    DescribeTrainingJob response, a state-change event's detail: the same names): its
    ``InstanceGroups`` (a heterogeneous cluster, the SDK's ``instance_groups=``), else one
    unnamed group of ``InstanceType`` x ``InstanceCount``. :class:`ValueError` naming the
    field (``where`` is its prefix) when a value is unusable."""
    groups = resources.get("InstanceGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
        raise ValueError(f"{where}.InstanceGroups must be a list of objects")
    if not groups:
        instance_type = resources.get("InstanceType", "")
        if not isinstance(instance_type, str):
            raise ValueError(f"{where}.InstanceType must be a string, got {instance_type!r}")
        count = _whole(resources.get("InstanceCount", 1), f"{where}.InstanceCount", 1)
        return (InstanceGroup("", instance_type, count),)
    out = []
    for i, g in enumerate(groups):
        key = f"{where}.InstanceGroups[{i}]"
        name, instance_type = g.get("InstanceGroupName", ""), g.get("InstanceType", "")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{key}.InstanceGroupName must be a non-empty string, got {name!r}")
        if not isinstance(instance_type, str):
            raise ValueError(f"{key}.InstanceType must be a string, got {instance_type!r}")
        # the API allows 0 instances in a group (CreateTrainingJob's InstanceGroup)
        out.append(InstanceGroup(name, instance_type, _whole(g.get("InstanceCount"), key, 0)))
    return tuple(out)


def instances_text(groups: Sequence[InstanceGroup]) -> str:
    """``2 x ml.p4d.24xlarge`` (a homogeneous cluster), or per group
    ``2 x ml.p4d.24xlarge (train), 1 x ml.c5.4xlarge (data)``."""
    return ", ".join(
        f"{g.count} x {g.instance_type or '(no instance type)'}"
        + (f" ({g.name})" if g.name else "")
        for g in groups
    )


def hourly_cost(groups: Sequence[InstanceGroup], catalog: InstanceCatalog) -> float | None:
    """Dollars an hour of the whole cluster: each group's price x its count (None when a
    group's type is not in the catalog: a partial sum would understate it)."""
    total = 0.0
    for g in groups:
        spec = catalog.get(g.instance_type)
        if spec is None:
            return None
        total += spec.usd_per_hour * g.count
    return total


@frozen
class GpuHosts:
    """What the GPU rules (GPU-idle, hang, straggler) can know of a job's hosts.

    SageMaker numbers a cluster's hosts ``algo-1`` … ``algo-N`` across all its instance
    groups (N: the groups' instances together), and CloudWatch's ``Host`` dimension is
    ``<job>/algo-<n>``; which numbers fall in which group is decided when the cluster is
    provisioned and only the container is told (``resourceconfig.json``; AWS's own example
    gives a 1-host group ``algo-2`` and a 2-host group ``algo-3`` and ``algo-1``). So in a
    heterogeneous cluster the GPU hosts are known by name only when every host is one, and
    otherwise once they report ``GPUUtilization`` (a CPU host never does).
    """

    gpus: int | None  # GPUs per host to normalize GPUUtilization by (None: no GPU rule)
    hosts: int  # the hosts that report GPUUtilization (the GPU groups' instances)
    named: bool  # every host of the job is a GPU host: algo-1 … algo-N, known now
    one_group: bool  # the GPU hosts are one instance group (the straggler compares them)
    mixed: bool = False  # GPU groups of different GPU counts (normalized by the smallest)
    unknown: tuple[str, ...] = ()  # instance types not in the catalog
    why: str = ""  # what the GPU rules miss, when they miss something
    usd_per_host: float | None = None  # a GPU host's price (None: groups of other prices)

    @property
    def watched(self) -> bool:
        return self.gpus is not None


def gpu_hosts(groups: Sequence[InstanceGroup], catalog: InstanceCatalog) -> GpuHosts:
    """What the GPU rules watch of a cluster of ``groups`` (see :class:`GpuHosts`).

    Choices where the cluster leaves it open: GPU groups of different GPU counts are
    normalized by the smallest count (a host below the threshold so normalized is idle
    whatever its group; a bigger host partly idle may be missed, a busy small one is never
    called idle); an unknown type in any group turns the GPU rules off for the job (its
    hosts may or may not report GPUs), and says so."""
    total = sum(g.count for g in groups)
    unknown = tuple(sorted({g.instance_type for g in groups if g.instance_type not in catalog}))
    if unknown:
        what = ", ".join(
            f"{g.instance_type!r}" + (f" (group {g.name})" if g.name else "")
            for g in groups
            if g.instance_type in unknown
        )
        return GpuHosts(None, 0, False, False, unknown=unknown, why=f"unknown instance type {what}")
    with_gpus = [
        (g, spec)
        for g in groups
        if g.count > 0 and (spec := catalog.get(g.instance_type)) and spec.reports_gpu_utilization
    ]
    if not with_gpus:
        return GpuHosts(None, 0, False, False)
    counts = sorted({spec.gpus for _, spec in with_gpus})
    prices = {spec.usd_per_hour for _, spec in with_gpus}
    hosts = sum(g.count for g, _ in with_gpus)
    return GpuHosts(
        counts[0],
        hosts,
        named=hosts == total,
        one_group=len(with_gpus) == 1,
        mixed=len(counts) > 1,
        usd_per_host=prices.pop() if len(prices) == 1 else None,
    )
