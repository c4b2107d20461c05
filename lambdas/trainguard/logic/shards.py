"""Cutting a tick into shards, and the shard message the planner sends (pure: no I/O).

A shard is a list of runs judged by one invocation (:func:`.evaluator.evaluate_shard`). The
planner keeps a reference set (a group's jobs of one objective and direction) whole when it
fits in one shard, packing several small ones into a shard; a reference set larger than a
shard is split into near-equal chunks of at most ``size`` jobs. A split set is *pinned*: the
planner reads its STATS version once and every shard of the tick judges its chunk only if
the STATS it reads are still at that version (references are written by completions only,
never by a tick, so the version is what says "the same statistics").

The message is JSON, small (run ids, not job records: a shard reads its jobs' items itself,
so a redelivered shard sees what the first delivery saved): about 40 bytes a run, 20 KiB for
a shard of 500 jobs, far under SQS's 256 KiB.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field

from ..config.schema import PolicyError, parse, setting
from ..core.stored import entries, whole
from ..core.values import frozen
from ..models import JobRecord, ReferenceSet, RunId

MESSAGE_VERSION = 1


class ShardMessageError(PolicyError):
    """A shard message that cannot be read (it is dead-lettered after its retries)."""


@frozen
class Plan:
    shards: list[list[JobRecord]]
    split: set[ReferenceSet] = field(default_factory=set)  # sets cut across shards


def plan_shards(jobs: Sequence[JobRecord], size: int) -> Plan:
    """``jobs`` in shards of at most ``size`` (>= 1): whole reference sets packed first-fit
    in decreasing size, a set larger than ``size`` cut into ceil(n / size) near-equal chunks.
    Deterministic: the same jobs give the same shards (a set's jobs in run order)."""
    if size < 1:
        raise ValueError(f"a shard holds at least one job, got size {size}")
    by_set: dict[ReferenceSet, list[JobRecord]] = defaultdict(list)
    for job in jobs:
        by_set[job.reference_set].append(job)
    pieces: list[tuple[ReferenceSet, list[JobRecord]]] = []
    split: set[ReferenceSet] = set()
    for refs in sorted(by_set, key=lambda r: (r.group, r.objective, r.direction)):
        members = sorted(by_set[refs], key=lambda j: (j.name, j.created_ms))
        if len(members) <= size:
            pieces.append((refs, members))
            continue
        split.add(refs)
        parts = math.ceil(len(members) / size)
        chunk = math.ceil(len(members) / parts)
        pieces += [(refs, members[i : i + chunk]) for i in range(0, len(members), chunk)]
    pieces.sort(key=lambda p: -len(p[1]))  # stable: equal sizes keep the sets' order
    shards: list[list[JobRecord]] = []
    for _, members in pieces:
        for shard in shards:
            if len(shard) + len(members) <= size:
                shard.extend(members)
                break
        else:
            shards.append(list(members))
    return Plan(shards, split)


@frozen
class Shard:
    """One shard of the tick at ``now``: its runs, and the pinned STATS versions of the split
    reference sets it holds part of."""

    now: float
    runs: tuple[RunId, ...]
    index: int = 0
    count: int = 1
    pinned: Mapping[ReferenceSet, int] = field(default_factory=dict)

    def to_message(self) -> dict[str, object]:
        return {
            "v": MESSAGE_VERSION,
            "now": self.now,
            "shard": [self.index, self.count],
            "runs": [[run.name, run.created_ms] for run in self.runs],
            "pinned": [[r.group, r.objective, r.direction, v] for r, v in self.pinned.items()],
        }

    @classmethod
    def from_message(cls, raw: object) -> Shard:
        """Raises :class:`ShardMessageError` for anything but a message of :meth:`to_message`."""
        if not isinstance(raw, Mapping) or raw.get("v") != MESSAGE_VERSION:
            raise ShardMessageError(f"not a version-{MESSAGE_VERSION} shard message: {raw!r:.200}")
        try:
            message = parse(_Message, raw, what="shard message: ")
        except PolicyError as exc:
            raise ShardMessageError(str(exc), exc.setting) from None
        index, count = message.shard
        return cls(message.now, message.runs, index, count, message.pinned)


def _position(raw: object) -> tuple[int, int]:
    index, count = (whole(x) for x in entries(raw))
    return index, count


def _runs(raw: object) -> tuple[RunId, ...]:
    runs = tuple(RunId(str(name), whole(ms)) for name, ms in _rows(raw))
    if not runs:
        raise ValueError("a shard message needs at least one run")
    return runs


def _pinned(raw: object) -> dict[ReferenceSet, int]:
    return {ReferenceSet(str(g), str(o), str(d)): whole(v) for g, o, d, v in _rows(raw)}


def _rows(raw: object) -> Iterator[tuple[object, ...]]:
    return (tuple(entries(row)) for row in entries(raw))


@frozen
class _Message:
    """The shard message's schema (what :meth:`Shard.to_message` writes)."""

    v: int = setting(MESSAGE_VERSION, key="v", choices=(MESSAGE_VERSION,), doc="its version")
    now: float = setting(0.0, key="now", required=True, doc="the planner's now (epoch s)")
    shard: tuple[int, int] = setting(
        (0, 1), key="shard", parser=_position, doc="[index, count] of the tick's shards"
    )
    runs: tuple[RunId, ...] = setting(
        (), key="runs", required=True, parser=_runs, doc="[[name, created_ms], ...]"
    )
    pinned: Mapping[ReferenceSet, int] = setting(
        {}, key="pinned", parser=_pinned, doc="[[group, objective, direction, version], ...]"
    )
