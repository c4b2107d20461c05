"""The replay's timeline engine: what would the policy have stopped, saved and cost on past jobs?

:func:`replay` runs one policy over past jobs, :func:`replay_orders` the same in several
launch orders, :func:`sweep` the median rule's variants. It decides with the same rules and
configuration model as the Lambdas: ``job_settings(tags, policy)`` per job, then
``ObjectiveRules.judge`` (its rules in ``core.engine.ORDER``), the evaluator's
cheap path: the job's :class:`CurveSummary` folds in each measurement as it becomes visible;
the median rule reads the group's materialized :class:`ReferenceTable` (rebuilt whenever one
of the group's jobs completes); the catch-up rule reads the group's :class:`CatchUpModel`,
updated incrementally (``add``) as each reference completes, as the lifecycle keeps it, and
the job's :class:`WorseStreak`, carried from one decision to the next as the evaluator keeps
it on the job's progress record. A group's model is kept per direction (a group whose jobs
disagree on the direction compares each job with the references of its own direction).

Semantics (the simulated clock)
    * Ticks every ``policy.tick_minutes`` from the first job's start: ``t_k = t0 + k * tick``,
      up to the last job's end.
    * A measurement at step s is visible from ``start_minute + s * minutes_per_step +
      policy.ingestion_lag_minutes`` on.
    * At a tick, first the jobs whose end <= t finish (a ``Completed`` job that the replay did
      not stop joins its group's references from its end on), then every running job
      (start <= t < end) is decided if it has a new visible measurement or its group's
      references changed since its last decision. A decision is a pure function of (visible
      curve, references), so this equals deciding every tick, as the evaluator does, at a
      fraction of the work; ticks at which nothing changes are skipped altogether.
    * Steps are the curve's steps (epochs for recorded curves, minutes for CloudWatch data).
    * The catch-up rule counts worse reports in a row: a report judged again (the references
      changed) keeps its place in the count (:class:`WorseStreak`), so deciding only on
      changes equals deciding every tick here too.
    * Enforce: a stop truncates the job at that tick; it never becomes a reference. Observe (or
      ``stops_disabled``): nothing is truncated; the first would-be stop of each job is
      reported, and the "with the policy" numbers are what those stops would have saved,
      without their knock-on effect on the references.
    * A ``Failed`` job that ends on a NaN/inf value the divergence rule had no tick to see
      while it ran (the NaN is its last point) is reported as a ``diverged`` stop at its end,
      ``at_end``: it saves nothing, since it ends there anyway.
    * The mode comes from the policy (``--mode``); a record's own ``trainguard:mode`` tag is
      ignored, because the replay asks "what would this mode have done".

Outcome numbers
    GPU hours = the catalog's GPUs x instance count x hours (0 for CPU types); dollars =
    price x count x hours. Unknown instance types are counted, logged and left out of both.
    The **best job** of a group is the ``Completed`` job with the best *final* value (the last
    point of its curve, which for an overfitting run is not its best point) without the
    policy; it *survived* if the policy did not stop it (nor would have, in observe mode).
    **Regret** = how much worse the best final value among the surviving ``Completed`` jobs is
    than the best without the policy (>= 0; 0 when the best job survived; None when no
    candidate survived). ``normalized_regret`` divides it by the gap between the best and the
    median final value of the group's ``Completed`` jobs without the policy: 0 = the winner
    (or an equal job) survived, 1 = what survived is only as good as a typical job. It is
    unit-free and defined when the best final value is 0 (a relative-to-best regret is not),
    so the sweep can average it over groups with different objectives.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from trainguard.config import JobSettings, Policy, PolicyError, job_settings
from trainguard.constants import TAG_DIRECTION, TAG_GROUP, TAG_MODE, TAG_OBJECTIVE
from trainguard.core.catchup import NO_STREAK, CatchUpModel, WorseStreak
from trainguard.core.curves import Direction, Point
from trainguard.core.decision import Decision
from trainguard.core.engine import ObjectiveRules
from trainguard.core.instances import InstanceCatalog
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.rule import GroupState
from trainguard.core.summary import CurveSummary

from ..curvefile import CurveRecord
from .results import (
    EPS,
    JobOutcome,
    OrdersResult,
    ReplayResult,
    StopEvent,
    SweepRow,
    cost_of,
    summarize_group,
    summarize_orders,
    summarize_overall,
    sweep_row,
)

log = logging.getLogger("trainguard.replay")


def record_settings(record: CurveRecord, policy: Policy) -> JobSettings:
    """The job's settings as the Lambdas resolve them: its tags against the policy."""
    tags = {k: v for k, v in record.tags.items() if k != TAG_MODE}
    tags.update(
        {TAG_GROUP: record.group, TAG_DIRECTION: record.direction, TAG_OBJECTIVE: record.objective}
    )
    return job_settings(tags, policy)


@dataclass
class _Job:
    record: CurveRecord
    settings: JobSettings
    rules: ObjectiveRules
    visible: list[float]  # minute at which each measurement becomes visible
    summary: CurveSummary  # the visible measurements, folded in as they appear
    shown: int = 0  # measurements visible at the last decision
    seen_version: int = -1  # group reference version at the last decision
    streak: WorseStreak = NO_STREAK  # the catch-up rule's counter
    done: bool = False  # ended, stopped, or no longer worth deciding (observe: reported)
    end: float = 0.0  # the minute it ends (its record's end, later by its revivals' pauses)


@dataclass(frozen=True)
class Revival:
    """Evidence-driven revival on the simulated clock (``trainguard replay --revive auto``):
    at each completion in a group, each job the policy stopped that checkpoints (a curve
    file's job may say ``"checkpoint": false``) is judged again on its frozen curve with the
    group's new state; one the rules would no longer stop restarts ``restart_minutes`` later
    (spent, not training) and continues its curve where it stopped; at most ``per_day`` a
    group a simulated day."""

    restart_minutes: float = 10.0
    per_day: int = 1  # the dev sets: as much "best found" as 3, for half the saving lost


def job_rules(settings: JobSettings) -> ObjectiveRules:
    """The rules a job is decided with: its settings' (the Lambdas' own)."""
    return settings.rules


#: JobSettings -> the ObjectiveRules that decide the job
RulesFor = Callable[[JobSettings], ObjectiveRules]


def replay(
    records: Sequence[CurveRecord],
    policy: Policy,
    catalog: InstanceCatalog | None = None,
    *,
    rules_for: RulesFor = job_rules,
    revival: Revival | None = None,
) -> ReplayResult:
    """Replay ``records`` under ``policy`` on a simulated clock; see the module docstring.

    ``rules_for`` builds each job's rules from its settings (default :func:`job_rules`, what
    the Lambdas run); a benchmark passes another to replay a rule that is not in the policy
    schema, e.g. a variant of the median rule with its own table (``rules.median.build_table``
    is given the group's reference curves) on the same clock."""
    catalog = catalog or policy.catalog()
    lag = policy.ingestion_lag_minutes
    tick = float(policy.tick_minutes)
    warnings: list[str] = []

    jobs: list[_Job] = []
    for r in records:
        try:
            settings = record_settings(r, policy)
        except PolicyError as exc:
            raise PolicyError(f"job {r.job}: {exc}") from exc
        visible = [r.produced_at(s) + lag for s, _ in r.curve]
        rules = rules_for(settings)
        summary = CurveSummary(direction=rules.direction, min_delta=rules.min_delta)
        jobs.append(_Job(r, settings, rules, visible, summary, end=r.end))

    outcomes: dict[str, JobOutcome] = {}
    unknown: dict[str, int] = defaultdict(int)
    for j in jobs:
        spec = catalog.get(j.record.instance_type)
        if spec is None:
            unknown[j.record.instance_type] += 1
        outcomes[j.record.job] = JobOutcome(
            j.record,
            j.record.end,
            gpus=None if spec is None else spec.gpus,
            usd_per_hour=None if spec is None else spec.usd_per_hour,
        )
    for itype, n in sorted(unknown.items()):
        msg = f"unknown instance type {itype!r} ({n} job(s)): left out of GPU hours and dollars"
        log.warning(msg)
        warnings.append(msg)

    references: dict[str, dict[str, Sequence[Point]]] = defaultdict(dict)
    version: dict[str, int] = defaultdict(int)
    tables: dict[tuple[str, str], ReferenceTable] = {}
    models: dict[tuple[str, Direction], CatchUpModel] = {}
    decisions = 0

    def table(group: str, rule: MedianStoppingRule) -> ReferenceTable:
        """The group's table for ``rule``, as the lifecycle materializes it (cached until one
        of the group's jobs completes)."""
        key = (group, rule.table_key)
        if key not in tables:
            tables[key] = rule.build_table(references[group])
        return tables[key]

    def record_stop(j: _Job, d: Decision, t: float, *, at_end: bool = False) -> None:
        o = outcomes[j.record.job]
        enforced = j.settings.enforcing and not at_end
        remaining_h = max(j.end - t, 0.0) / 60.0
        gpu_h, usd = cost_of(o, remaining_h)
        o.stop = StopEvent(
            j.record.job,
            j.record.group,
            d.rule,
            t,
            d.step,
            d.value,
            d.threshold,
            d.references,
            d.reason,
            enforced,
            at_end,
            gpu_h,
            usd,
        )
        if enforced:
            o.end_with = t
        j.done = True

    if jobs:
        t0 = min(j.record.start_minute for j in jobs)
        t_last = max(j.record.end for j in jobs)
        n_ticks = math.floor((t_last - t0) / tick + EPS) + 1
    else:
        t0, n_ticks = 0.0, 0

    def tick_index(minute: float) -> int:
        """The first tick at or after ``minute``."""
        return max(0, math.ceil((minute - t0) / tick - EPS))

    # Ticks where something can change: a start, a measurement becoming visible, an end.
    active = sorted(
        {
            k
            for j in jobs
            for k in (
                tick_index(j.record.start_minute),
                tick_index(j.record.end),
                *(tick_index(v) for v in j.visible),
            )
            if k < n_ticks
        }
    )
    by_start = sorted(jobs, key=lambda j: (j.record.start_minute, j.record.job))
    # ends (and ticks) as heaps: a revival adds its later end and its measurements' ticks
    by_end = [(j.end, j.record.job, i) for i, j in enumerate(jobs)]
    heapq.heapify(by_end)
    pending = list(active)
    heapq.heapify(pending)
    queued = set(active)
    next_start = 0
    running: list[_Job] = []
    stopped: dict[str, list[_Job]] = defaultdict(list)  # a group's resumable enforced stops
    revived_on: dict[tuple[str, int], int] = defaultdict(int)  # (group, day) -> revivals

    def revive_in(group: str, t: float, trigger: str) -> None:
        """Judge the group's resumable stopped jobs again with its state now; restart each one
        the rules would no longer stop (see :class:`Revival`)."""
        assert revival is not None
        for s in list(stopped[group]):
            if revived_on[(group, int(t // 1440))] >= revival.per_day:
                return
            refs = table(group, s.rules.median) if s.rules.median is not None else None
            model = (
                models.get((group, s.rules.catchup.direction))
                if s.rules.catchup is not None
                else None
            )
            chosen, _ = s.rules.judge(s.record.job, s.summary, GroupState(refs, model, s.streak))
            if chosen is not None:
                continue
            stopped[group].remove(s)
            revived_on[(group, int(t // 1440))] += 1
            o = outcomes[s.record.job]
            resume = t + revival.restart_minutes
            pause = resume - o.end_with  # off, then restarting: its curve goes on after it
            s.end += pause
            s.visible[s.shown :] = [v + pause for v in s.visible[s.shown :]]
            o.revivals.append((o.end_with, t, revival.restart_minutes, trigger))
            o.revived_from = o.stop
            o.stop, o.end_with, o.shift = None, s.end, o.shift + pause
            s.done = False
            running.append(s)
            heapq.heappush(by_end, (s.end, s.record.job, jobs.index(s)))
            for minute in [s.end, *s.visible[s.shown :]]:
                k2 = tick_index(minute)
                if k2 not in queued:
                    queued.add(k2)
                    heapq.heappush(pending, k2)

    active_ticks = 0
    while pending:
        k = heapq.heappop(pending)
        active_ticks += 1
        t = t0 + k * tick
        while next_start < len(by_start) and by_start[next_start].record.start_minute <= t + EPS:
            running.append(by_start[next_start])
            next_start += 1
        while by_end and by_end[0][0] <= t + EPS:
            end, _, index = heapq.heappop(by_end)
            j = jobs[index]
            if end != j.end:
                continue  # an end a revival moved later
            o = outcomes[j.record.job]
            if o.stop is not None and o.stop.enforced:
                continue  # stopped earlier: never a reference
            if j.record.status == "Completed":
                group, direction = j.record.group, j.record.direction
                references[group][j.record.job] = j.record.curve
                version[group] += 1
                for key in [key for key in tables if key[0] == group]:
                    del tables[key]
                # the catch-up model takes the new reference in: O(its curve), not O(history)
                before = models.get((group, direction)) or CatchUpModel(direction)
                models[(group, direction)] = before.add(j.record.curve)
                if revival is not None and stopped[group]:
                    revive_in(group, t, j.record.job)
            elif j.record.status == "Failed" and o.stop is None and j.rules.divergence:
                d = j.rules.divergence.decide(j.record.job, j.record.curve)
                decisions += 1
                if d.stop:
                    record_stop(j, d, j.record.end, at_end=True)
            j.done = True
        still: list[_Job] = []
        for j in running:
            if j.done or j.end <= t + EPS:
                continue
            still.append(j)
            shown = bisect_right(j.visible, t + EPS)
            group_version = version[j.record.group]
            if shown == 0 or (shown == j.shown and group_version == j.seen_version):
                continue
            summary = j.summary
            for point in j.record.curve[summary.count : shown]:
                summary = summary.add(*point)
            j.summary = summary
            j.shown, j.seen_version = shown, group_version
            refs = table(j.record.group, j.rules.median) if j.rules.median is not None else None
            model = (
                models.get((j.record.group, j.rules.catchup.direction))
                if j.rules.catchup is not None
                else None
            )
            state = GroupState(refs, model, j.streak)
            chosen, j.streak = j.rules.judge(j.record.job, summary, state)
            decisions += 1
            if chosen is not None:
                record_stop(j, chosen, t)
                if j.settings.enforcing:
                    still.pop()
                    checkpointed = j.record.extras.get("checkpoint", True) is not False
                    if revival is not None and checkpointed:
                        stopped[j.record.group].append(j)
        running = still

    shown_rule = MedianStoppingRule(grace=policy.median.grace, average=policy.median.average)
    final_tables = {g: table(g, shown_rule) for g in sorted({r.group for r in records})}
    groups = {
        g: summarize_group(g, [o for o in outcomes.values() if o.record.group == g])
        for g in final_tables
    }
    overall = summarize_overall(list(groups.values()))
    return ReplayResult(
        policy=policy,
        mode="enforce" if policy.mode == "enforce" and not policy.stops_disabled else "observe",
        groups=groups,
        overall=overall,
        outcomes=outcomes,
        thresholds=final_tables,
        ticks=n_ticks,
        active_ticks=active_ticks,
        decisions=decisions,
        warnings=warnings,
        models={
            g: models[(g, s.direction)]
            for g, s in groups.items()
            if s.direction is not None and (g, s.direction) in models
        },
    )


# ---- launch orders ------------------------------------------------------------------------------


#: (seed, order, group, jobs) -> a permutation of range(jobs)
Permutation = Callable[[int, int, str, int], Sequence[int]]


def shuffled(seed: int, order: int, group: str, jobs: int) -> list[int]:
    """The default permutation: ``random.Random(f"{seed}/{order}/{group}")``'s shuffle."""
    perm = list(range(jobs))
    random.Random(f"{seed}/{order}/{group}").shuffle(perm)
    return perm


def launch_orders(
    records: Sequence[CurveRecord],
    orders: int,
    seed: int = 0,
    *,
    permutation: Permutation = shuffled,
) -> list[list[CurveRecord]]:
    """The records in ``orders`` launch orders. Order 0 is the records' own start times; in
    order o > 0 each group's sorted start slots go to a seeded permutation of its jobs (the
    group's i-th slot to its ``perm[i]``-th job, jobs in the records' order), so every group
    keeps its own rhythm of starts while the jobs that start first, and become the references,
    change. A job keeps its duration (an ``end_minute`` moves with its start).
    ``permutation`` draws the permutations (default :func:`shuffled`, the standard library's;
    the bench passes the policy study's numpy generator to reproduce its figures)."""
    if orders < 1:
        raise ValueError(f"orders must be >= 1, got {orders}")
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_group[r.group].append(i)
    out = [list(records)]
    for o in range(1, orders):
        moved = list(records)
        for group, members in by_group.items():
            slots = sorted(records[i].start_minute for i in members)
            perm = [int(k) for k in permutation(seed, o, group, len(members))]
            if sorted(perm) != list(range(len(members))):
                raise ValueError(f"not a permutation of {len(members)} jobs: {perm}")
            for slot, k in zip(slots, perm, strict=True):
                r = records[members[k]]
                shift = slot - r.start_minute
                end = None if r.end_minute is None else r.end_minute + shift
                moved[members[k]] = replace(r, start_minute=slot, end_minute=end)
        out.append(moved)
    return out


def replay_orders(
    records: Sequence[CurveRecord],
    policy: Policy,
    orders: int = 1,
    seed: int = 0,
    catalog: InstanceCatalog | None = None,
    *,
    permutation: Permutation = shuffled,
    rules_for: RulesFor = job_rules,
    revival: Revival | None = None,
) -> OrdersResult:
    """:func:`replay` in each of :func:`launch_orders`' orders; the figures over every
    (group, order) replay (:func:`summarize_orders`)."""
    return summarize_orders(
        [
            replay(order, policy, catalog, rules_for=rules_for, revival=revival)
            for order in launch_orders(records, orders, seed, permutation=permutation)
        ],
        seed,
    )


# ---- the sweep --------------------------------------------------------------------------------

SWEEP_MIN_COMPLETED: tuple[int, ...] = (1, 2, 3, 5, 8)
SWEEP_GRACE: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0)
SMALL_SWEEP_MIN_COMPLETED: tuple[int, ...] = (1, 3, 8)  # for the figure when --sweep is absent
SMALL_SWEEP_GRACE: tuple[float, ...] = (0.0, 5.0)


def sweep(
    records: Sequence[CurveRecord],
    policy: Policy,
    min_completed: Sequence[int] = SWEEP_MIN_COMPLETED,
    grace: Sequence[float] = SWEEP_GRACE,
    catalog: InstanceCatalog | None = None,
) -> list[SweepRow]:
    """Replay every (min_completed, grace) variant of the median rule; rows in that order.

    Each variant runs the median rule (on, whatever ``policy`` says) instead of the catch-up
    rule (off), with the rest of ``policy`` (divergence, patience, the clock): the median
    rule's trade-off. The catch-up rule's ladder is ``trainguard calibrate``'s."""
    rows = []
    for mc in min_completed:
        for g in grace:
            variant = replace(
                policy,
                median=replace(policy.median, enabled=True, min_completed=mc, grace=g),
                catchup=replace(policy.catchup, enabled=False),
            )
            rows.append(sweep_row(replay(records, variant, catalog)))
    return rows
