"""The fake of :class:`~trainguard.ports.References`: a group's curves, its reference sets'
statistics (written only at the version they were read at) and its policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from trainguard.constants import GROUP_POLICY_SK
from trainguard.core.curves import Point
from trainguard.models import GroupPolicy, GroupStats, ReferenceSet

from .faults import FaultInjector
from .table import FakeTable


class FakeReferences(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def put_curve(
        self, refs: ReferenceSet, job: str, curve: Sequence[Point], duration_min: float
    ) -> None:
        self._call("put_curve")
        self.table.items[(f"GROUP#{refs.group}", f"CURVE#{refs.key}#{job}")] = {
            "curve": list(curve),
            "duration_min": duration_min,
        }

    def get_curves(
        self, refs: ReferenceSet, jobs: Sequence[str]
    ) -> dict[str, tuple[list[Point], float]]:
        self._call("get_curves")
        out = {}
        for job in jobs:
            item = self.table.items.get((f"GROUP#{refs.group}", f"CURVE#{refs.key}#{job}"))
            if item is not None:
                out[job] = (list(item["curve"]), float(item["duration_min"]))
        return out

    def put_stats(self, stats: GroupStats, expected_version: int | None) -> bool:
        self._call("put_stats")
        key = (f"GROUP#{stats.refs.group}", f"STATS#{stats.refs.key}")
        current = self.table.items.get(key)
        if (current is None) != (expected_version is None):
            return False
        if current is not None and current["stats"].version != expected_version:
            return False
        self.table.items[key] = {"stats": stats}
        return True

    def get_stats(self, refs: ReferenceSet) -> GroupStats | None:
        self._call("get_stats")
        return self._stats([refs]).get(refs)

    def batch_get_stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]:
        self._call("batch_get_stats")
        return self._stats(sets)

    def batch_get_group_state(
        self, sets: Iterable[ReferenceSet]
    ) -> tuple[dict[ReferenceSet, GroupStats], dict[str, GroupPolicy]]:
        self._call("batch_get_group_state")
        wanted = set(sets)
        policies = {}
        for group in sorted({r.group for r in wanted}):
            item = self.table.items.get((f"GROUP#{group}", GROUP_POLICY_SK))
            if item is not None:
                policies[group] = GroupPolicy(
                    group, item["settings"], item["applied_by"], item["applied_at"]
                )
        return self._stats(wanted), policies

    def _stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]:
        out = {}
        for refs in sorted(set(sets)):
            item = self.table.items.get((f"GROUP#{refs.group}", f"STATS#{refs.key}"))
            if item is not None:
                out[refs] = item["stats"]
        return out

    # for tests
    def put_group_policy(
        self,
        group: str,
        settings: dict[str, dict[str, Any]],
        applied_by: str = "arn:aws:iam::123456789012:user/ml-platform",
        applied_at: str = "2026-01-01T00:00:00.000Z",
    ) -> None:
        """What ``trainguard calibrate --apply`` writes."""
        self.table.items[(f"GROUP#{group}", GROUP_POLICY_SK)] = {
            "settings": settings,
            "applied_by": applied_by,
            "applied_at": applied_at,
        }

    def group_curves(self, refs: ReferenceSet) -> dict[str, tuple[list[Point], float]]:
        """Every curve stored for the reference set."""
        prefix = f"CURVE#{refs.key}#"
        return {
            sk.removeprefix(prefix): (list(item["curve"]), float(item["duration_min"]))
            for sk, item in self.table.under(f"GROUP#{refs.group}", prefix)
        }
