"""The :class:`~trainguard.ports.References` on the state table: a group's partition holds its
reference sets' completed curves (``CURVE``), their statistics (``STATS``, versioned) and the
group's policy (``POLICY``, written by ``trainguard calibrate --apply``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...core.catchup import CatchUpModel
from ...core.curves import Point
from ...core.median import ReferenceTable
from ...models import GroupPolicy, GroupStats, ReferenceSet
from .keys import (
    GROUP_POLICY_SK,
    applied,
    curve_sk,
    group_of,
    group_pk,
    pack,
    serialize,
    stats_sk,
    unpack,
)
from .table import TableAdapter


class DynamoDBReferences(TableAdapter):
    def put_curve(
        self, refs: ReferenceSet, job: str, curve: Sequence[Point], duration_min: float
    ) -> None:
        """A completed job's curve (at most ``MAX_CURVE_POINTS`` points: see
        :func:`~trainguard.core.series.downsample`) under its reference set."""
        self._client.put_item(
            TableName=self._table,
            Item=serialize(
                {
                    "pk": group_pk(refs.group),
                    "sk": curve_sk(refs, job),
                    "job": job,
                    "points": len(curve),
                    "duration_min": duration_min,
                    "curve_z": pack([[s, v] for s, v in curve]),
                }
            ),
        )

    def get_curves(
        self, refs: ReferenceSet, jobs: Sequence[str]
    ) -> dict[str, tuple[list[Point], float]]:
        """The curves of ``jobs`` in the reference set: job -> (curve, duration in minutes)."""
        keys = [{"pk": group_pk(refs.group), "sk": curve_sk(refs, j)} for j in jobs]
        out = {}
        for item in self._batch_get(keys, "completed curves"):
            curve = [(float(s), float(v)) for s, v in unpack(item["curve_z"])]
            out[str(item["job"])] = (curve, float(item.get("duration_min", 0.0)))
        return out

    def put_stats(self, stats: GroupStats, expected_version: int | None) -> bool:
        """Write the reference set's statistics if nobody wrote them since version
        ``expected_version`` was read (None: they did not exist); False otherwise (the
        caller reads them again and retries)."""
        kwargs: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version is not None:
            kwargs = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": serialize({":v": expected_version}),
            }
        item = serialize(stats_item(stats))
        return applied(lambda: self._client.put_item(TableName=self._table, Item=item, **kwargs))

    def get_stats(self, refs: ReferenceSet) -> GroupStats | None:
        return self.batch_get_stats([refs]).get(refs)

    def batch_get_stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]:
        """The reference sets' STATS items (BatchGetItem, 100 keys a call)."""
        wanted = sorted(set(sets))
        keys = [{"pk": group_pk(r.group), "sk": stats_sk(r)} for r in wanted]
        out = {}
        for item in self._batch_get(keys, "group statistics"):
            stats = stats_from_item(item)
            out[stats.refs] = stats
        return out

    def batch_get_group_state(
        self, sets: Iterable[ReferenceSet]
    ) -> tuple[dict[ReferenceSet, GroupStats], dict[str, GroupPolicy]]:
        """The reference sets' STATS items and their groups' POLICY items (written by
        ``trainguard calibrate --apply``), in one BatchGetItem (100 keys a call)."""
        wanted = sorted(set(sets))
        groups = sorted({r.group for r in wanted})
        keys = [{"pk": group_pk(r.group), "sk": stats_sk(r)} for r in wanted]
        keys += [{"pk": group_pk(g), "sk": GROUP_POLICY_SK} for g in groups]
        stats: dict[ReferenceSet, GroupStats] = {}
        policies: dict[str, GroupPolicy] = {}
        for item in self._batch_get(keys, "group statistics and policies"):
            if item.get("sk") == GROUP_POLICY_SK:
                group = group_of(str(item["pk"]))
                settings = item.get("settings") or {}
                policies[group] = GroupPolicy(
                    group,
                    {str(s): dict(v) for s, v in settings.items()},
                    str(item.get("applied_by", "")),
                    str(item.get("applied_at", "")),
                )
            else:
                s = stats_from_item(item)
                stats[s.refs] = s
        return stats, policies


def stats_item(stats: GroupStats) -> dict[str, Any]:
    """The STATS item of a reference set's statistics (before serialization)."""
    return {
        "pk": group_pk(stats.refs.group),
        "sk": stats_sk(stats.refs),
        "group": stats.refs.group,
        "objective": stats.refs.objective,
        "direction": stats.refs.direction,
        "references": stats.references,
        "completed": stats.completed,
        "version": stats.version,
        "median_duration_min": stats.median_duration_min,
        "tables": sorted(stats.tables),
        "window_z": pack(
            {
                "jobs": list(stats.window),
                "durations": list(stats.durations),
                "throughput": list(stats.throughput),
                "instances": list(stats.instances),
            }
        ),
        "tables_z": pack({k: t.to_dict() for k, t in sorted(stats.tables.items())}),
        **({"catchup_z": pack(stats.catchup.to_dict())} if stats.catchup else {}),
        **({"role": stats.role} if stats.role else {}),
    }


def stats_from_item(item: Mapping[str, Any]) -> GroupStats:
    """The statistics of a STATS item (deserialized)."""
    tables = {k: ReferenceTable.from_dict(t) for k, t in unpack(item["tables_z"]).items()}
    window = unpack(item["window_z"]) if "window_z" in item else {}
    duration = item.get("median_duration_min")
    return GroupStats(
        refs=ReferenceSet(str(item["group"]), str(item["objective"]), str(item["direction"])),
        tables=tables,
        median_duration_min=None if duration is None else float(duration),
        references=int(item.get("references", 0)),
        window=tuple(str(j) for j in window.get("jobs", ())),
        durations=tuple(float(d) for d in window.get("durations", ())),
        completed=int(item.get("completed", 0)),
        version=int(item.get("version", 0)),
        throughput=tuple(None if t is None else float(t) for t in window.get("throughput", ())),
        instances=tuple(int(n) for n in window.get("instances", ())),
        catchup=CatchUpModel.from_dict(unpack(item["catchup_z"])) if "catchup_z" in item else None,
        role=str(item.get("role", "")),
    )
