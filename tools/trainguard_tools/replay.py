"""``trainguard replay``: what would the policy have stopped, saved and cost on past jobs?

The timeline engine (:func:`replay`) is shared with the local run. It decides with the same
rules and configuration model as the Lambdas: ``job_settings(tags, policy)`` per job, then
``ObjectiveRules(median, patience, divergence)`` + ``verdict`` against the group's
materialized :class:`ReferenceTable`, rebuilt whenever one of the group's jobs completes.

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

import argparse
import json
import logging
import math
import sys
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trainguard.constants import TAG_DIRECTION, TAG_GROUP, TAG_MODE, TAG_OBJECTIVE
from trainguard.core import (
    Decision,
    InstanceCatalog,
    ObjectiveRules,
    ReferenceTable,
    verdict,
)
from trainguard.core.curves import Direction, Point, is_better, median
from trainguard.policy import JobSettings, Policy, PolicyError, job_settings

from .curvefile import JobRecord, load_curves
from .local_group import PLOT_MODULES, missing_message
from .replay_report import format_result, format_sweep

log = logging.getLogger("trainguard.replay")

_EPS = 1e-9  # minutes; absorbs float error in start + s * minutes_per_step + lag


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopEvent:
    """A stop the policy made (enforce) or would have made (observe)."""

    job: str
    group: str
    rule: str
    minute: float
    step: float | None
    value: float | None
    threshold: float | None
    references: int
    reason: str
    enforced: bool
    at_end: bool = False
    gpu_hours_avoided: float | None = None
    usd_avoided: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "group": self.group,
            "rule": self.rule,
            "minute": _r(self.minute),
            "step": _step(self.step),
            "value": _finite(self.value),
            "threshold": _finite(self.threshold),
            "references": self.references,
            "reason": self.reason,
            "enforced": self.enforced,
            "at_end": self.at_end,
            "gpu_hours_avoided": _r(self.gpu_hours_avoided),
            "usd_avoided": _r(self.usd_avoided),
        }


@dataclass
class JobOutcome:
    """One job with and without the policy."""

    record: JobRecord
    end_with: float  # minute the job ended with the policy (its stop tick in enforce mode)
    stop: StopEvent | None = None
    gpus: int | None = None  # None: unknown instance type
    usd_per_hour: float | None = None

    @property
    def stopped(self) -> bool:
        """Stopped (or would have been, in observe mode) while it ran."""
        return self.stop is not None and not self.stop.at_end

    def curve_with(self) -> tuple[Point, ...]:
        """The measurements the job produced before it ended with the policy."""
        r = self.record
        return tuple(p for p in r.curve if r.produced_at(p[0]) <= self.end_with + _EPS)


@dataclass(frozen=True)
class Summary:
    """Totals for one group (or all groups, ``group`` = None)."""

    group: str | None
    jobs: int
    stops: list[StopEvent]
    diverged_at_end: int
    unknown_instance_jobs: int
    gpu_hours_without: float
    gpu_hours_with: float
    usd_without: float
    usd_with: float
    direction: Direction | None = None
    objective: str | None = None
    best_job: str | None = None
    best_value_without: float | None = None
    best_job_with: str | None = None
    best_value_with: float | None = None
    best_survived: bool | None = None
    regret: float | None = None
    normalized_regret: float | None = None
    groups_best_survived: int | None = None  # overall only
    groups_with_best: int | None = None  # overall only

    @property
    def stop_count(self) -> int:
        return sum(1 for s in self.stops if not s.at_end)

    @property
    def gpu_hours_saved(self) -> float:
        return self.gpu_hours_without - self.gpu_hours_with

    @property
    def usd_saved(self) -> float:
        return self.usd_without - self.usd_with

    @property
    def saved_fraction(self) -> float | None:
        """Share of GPU hours saved (None without GPU hours)."""
        if self.gpu_hours_without <= 0:
            return None
        return self.gpu_hours_saved / self.gpu_hours_without

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jobs": self.jobs,
            "stops": self.stop_count,
            "diverged_at_end": self.diverged_at_end,
            "unknown_instance_jobs": self.unknown_instance_jobs,
            "gpu_hours_without": _r(self.gpu_hours_without),
            "gpu_hours_with": _r(self.gpu_hours_with),
            "gpu_hours_saved": _r(self.gpu_hours_saved),
            "saved_fraction": _r(self.saved_fraction),
            "usd_without": _r(self.usd_without),
            "usd_with": _r(self.usd_with),
            "usd_saved": _r(self.usd_saved),
        }
        if self.group is None:
            out["groups_best_survived"] = self.groups_best_survived
            out["groups_with_best"] = self.groups_with_best
        else:
            out.update(
                {
                    "group": self.group,
                    "objective": self.objective,
                    "direction": self.direction,
                    "best_job": self.best_job,
                    "best_value_without": _finite(self.best_value_without),
                    "best_job_with": self.best_job_with,
                    "best_value_with": _finite(self.best_value_with),
                    "best_survived": self.best_survived,
                    "regret": _finite(self.regret),
                    "normalized_regret": _finite(self.normalized_regret),
                    "stop_events": [s.to_dict() for s in self.stops],
                }
            )
        return out


@dataclass
class ReplayResult:
    policy: Policy
    mode: str
    groups: dict[str, Summary]
    overall: Summary
    outcomes: dict[str, JobOutcome]
    thresholds: dict[str, ReferenceTable]  # each group's M(s) from its references at the end
    ticks: int = 0  # simulated ticks in the span
    active_ticks: int = 0  # ticks at which something changed
    decisions: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "policy": {
                "tick_minutes": self.policy.tick_minutes,
                "ingestion_lag_minutes": self.policy.ingestion_lag_minutes,
                "median": {
                    "enabled": self.policy.median.enabled,
                    "min_completed": self.policy.median.min_completed,
                    "grace": self.policy.median.grace,
                },
                "patience": {
                    "enabled": self.policy.patience.enabled,
                    "patience": self.policy.patience.patience,
                    "min_delta": self.policy.patience.min_delta,
                },
                "divergence": {"enabled": self.policy.divergence.enabled},
            },
            "overall": self.overall.to_dict(),
            "groups": {g: s.to_dict() for g, s in sorted(self.groups.items())},
            "ticks": self.ticks,
            "active_ticks": self.active_ticks,
            "decisions": self.decisions,
            "warnings": list(self.warnings),
        }


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _step(x: float | None) -> float | int | None:
    if x is None or not math.isfinite(x):
        return None
    return int(x) if x.is_integer() else x


# ---- the engine -------------------------------------------------------------------------------


def settings_for(record: JobRecord, policy: Policy) -> JobSettings:
    """The job's settings as the Lambdas resolve them: its tags against the policy."""
    tags = {k: v for k, v in record.tags.items() if k != TAG_MODE}
    tags.update(
        {TAG_GROUP: record.group, TAG_DIRECTION: record.direction, TAG_OBJECTIVE: record.objective}
    )
    return job_settings(tags, policy)


def rules_for(settings: JobSettings) -> ObjectiveRules:
    p = settings.policy
    return ObjectiveRules(
        median=settings.median_rule() if p.median.enabled else None,
        patience=settings.patience_rule() if p.patience.enabled else None,
        divergence=settings.divergence_rule() if p.divergence.enabled else None,
    )


@dataclass
class _Job:
    record: JobRecord
    settings: JobSettings
    rules: ObjectiveRules
    visible: list[float]  # minute at which each measurement becomes visible
    shown: int = 0  # measurements visible at the last decision
    seen_version: int = -1  # group reference version at the last decision
    done: bool = False  # ended, stopped, or no longer worth deciding (observe: reported)


def replay(
    records: Sequence[JobRecord], policy: Policy, catalog: InstanceCatalog | None = None
) -> ReplayResult:
    """Replay ``records`` under ``policy`` on a simulated clock; see the module docstring."""
    catalog = catalog or policy.catalog()
    lag = policy.ingestion_lag_minutes
    tick = float(policy.tick_minutes)
    warnings: list[str] = []

    jobs: list[_Job] = []
    for r in records:
        try:
            settings = settings_for(r, policy)
        except PolicyError as exc:
            raise PolicyError(f"job {r.job}: {exc}") from exc
        visible = [r.produced_at(s) + lag for s, _ in r.curve]
        jobs.append(_Job(r, settings, rules_for(settings), visible))

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
    tables: dict[tuple[str, float], ReferenceTable] = {}
    decisions = 0

    def table(group: str, grace: float) -> ReferenceTable:
        key = (group, grace)
        if key not in tables:
            tables[key] = ReferenceTable.build(references[group], grace)
        return tables[key]

    def record_stop(j: _Job, d: Decision, t: float, *, at_end: bool = False) -> None:
        o = outcomes[j.record.job]
        enforced = j.settings.enforcing and not at_end
        remaining_h = max(j.record.end - t, 0.0) / 60.0
        gpu_h, usd = _cost(o, remaining_h)
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
        n_ticks = math.floor((t_last - t0) / tick + _EPS) + 1
    else:
        t0, n_ticks = 0.0, 0

    def tick_index(minute: float) -> int:
        """The first tick at or after ``minute``."""
        return max(0, math.ceil((minute - t0) / tick - _EPS))

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
    by_end = sorted(jobs, key=lambda j: (j.record.end, j.record.job))
    next_start = next_end = 0
    running: list[_Job] = []

    for k in active:
        t = t0 + k * tick
        while next_start < len(by_start) and by_start[next_start].record.start_minute <= t + _EPS:
            running.append(by_start[next_start])
            next_start += 1
        while next_end < len(by_end) and by_end[next_end].record.end <= t + _EPS:
            j = by_end[next_end]
            next_end += 1
            o = outcomes[j.record.job]
            if o.stop is not None and o.stop.enforced:
                continue  # stopped earlier: never a reference
            if j.record.status == "Completed":
                references[j.record.group][j.record.job] = j.record.curve
                version[j.record.group] += 1
                for key in [key for key in tables if key[0] == j.record.group]:
                    del tables[key]
            elif j.record.status == "Failed" and o.stop is None and j.rules.divergence:
                d = j.rules.divergence.decide(j.record.job, j.record.curve)
                decisions += 1
                if d.stop:
                    record_stop(j, d, j.record.end, at_end=True)
            j.done = True
        still: list[_Job] = []
        for j in running:
            if j.done or j.record.end <= t + _EPS:
                continue
            still.append(j)
            shown = bisect_right(j.visible, t + _EPS)
            group_version = version[j.record.group]
            if shown == 0 or (shown == j.shown and group_version == j.seen_version):
                continue
            j.shown, j.seen_version = shown, group_version
            grace = j.settings.policy.median.grace
            refs = table(j.record.group, grace) if j.rules.median is not None else None
            chosen = verdict(j.rules.decide(j.record.job, j.record.curve[:shown], refs))
            decisions += 1
            if chosen is not None and chosen.stop:
                record_stop(j, chosen, t)
                if j.settings.enforcing:
                    still.pop()
        running = still

    final_tables = {g: table(g, policy.median.grace) for g in sorted({r.group for r in records})}
    groups = {
        g: _summarize(g, [o for o in outcomes.values() if o.record.group == g])
        for g in final_tables
    }
    overall = _overall(list(groups.values()))
    return ReplayResult(
        policy=policy,
        mode="enforce" if policy.mode == "enforce" and not policy.stops_disabled else "observe",
        groups=groups,
        overall=overall,
        outcomes=outcomes,
        thresholds=final_tables,
        ticks=n_ticks,
        active_ticks=len(active),
        decisions=decisions,
        warnings=warnings,
    )


def _cost(o: JobOutcome, hours: float) -> tuple[float | None, float | None]:
    if o.gpus is None or o.usd_per_hour is None:
        return None, None
    n = o.record.instance_count
    return o.gpus * n * hours, o.usd_per_hour * n * hours


def _best(outcomes: Iterable[JobOutcome], direction: Direction) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for o in sorted(outcomes, key=lambda o: o.record.job):
        v = o.record.final_value
        if o.record.status != "Completed" or v is None:
            continue
        if best[1] is None or is_better(v, best[1], direction):
            best = (o.record.job, v)
    return best


def _summarize(group: str, outcomes: list[JobOutcome]) -> Summary:
    direction: Direction = outcomes[0].record.direction
    gpu_without = gpu_with = usd_without = usd_with = 0.0
    stops: list[StopEvent] = []
    unknown = 0
    for o in outcomes:
        r = o.record
        if o.stop is not None:
            stops.append(o.stop)
        if o.gpus is None:
            unknown += 1
            continue
        hours = (r.end - r.start_minute) / 60.0
        g, u = _cost(o, hours)
        assert g is not None and u is not None
        avoided_g = o.stop.gpu_hours_avoided if o.stopped and o.stop else 0.0
        avoided_u = o.stop.usd_avoided if o.stopped and o.stop else 0.0
        gpu_without += g
        usd_without += u
        gpu_with += g - (avoided_g or 0.0)
        usd_with += u - (avoided_u or 0.0)
    stops.sort(key=lambda s: (s.minute, s.job))
    best_job, best_without = _best(outcomes, direction)
    best_job_with, best_with = _best((o for o in outcomes if not o.stopped), direction)
    regret = relative = None
    if best_without is not None and best_with is not None:
        regret = best_with - best_without if direction == "minimize" else best_without - best_with
        finals = [
            v
            for o in outcomes
            if o.record.status == "Completed" and (v := o.record.final_value) is not None
        ]
        gap = abs(median(finals) - best_without)
        relative = regret / gap if gap > 0 else (0.0 if regret == 0 else None)
    return Summary(
        group=group,
        jobs=len(outcomes),
        stops=stops,
        diverged_at_end=sum(1 for s in stops if s.at_end),
        unknown_instance_jobs=unknown,
        gpu_hours_without=gpu_without,
        gpu_hours_with=gpu_with,
        usd_without=usd_without,
        usd_with=usd_with,
        direction=direction,
        objective=outcomes[0].record.objective,
        best_job=best_job,
        best_value_without=best_without,
        best_job_with=best_job_with,
        best_value_with=best_with,
        best_survived=None
        if best_job is None
        else not any(o.stopped for o in outcomes if o.record.job == best_job),
        regret=regret,
        normalized_regret=relative,
    )


def _overall(groups: list[Summary]) -> Summary:
    with_best = [g for g in groups if g.best_survived is not None]
    return Summary(
        group=None,
        jobs=sum(g.jobs for g in groups),
        stops=[s for g in groups for s in g.stops],
        diverged_at_end=sum(g.diverged_at_end for g in groups),
        unknown_instance_jobs=sum(g.unknown_instance_jobs for g in groups),
        gpu_hours_without=sum(g.gpu_hours_without for g in groups),
        gpu_hours_with=sum(g.gpu_hours_with for g in groups),
        usd_without=sum(g.usd_without for g in groups),
        usd_with=sum(g.usd_with for g in groups),
        groups_best_survived=sum(1 for g in with_best if g.best_survived),
        groups_with_best=len(with_best),
    )


# ---- the sweep --------------------------------------------------------------------------------

SWEEP_MIN_COMPLETED: tuple[int, ...] = (1, 2, 3, 5, 8)
SWEEP_GRACE: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0)
SMALL_SWEEP_MIN_COMPLETED: tuple[int, ...] = (1, 3, 8)  # for the figure when --sweep is absent
SMALL_SWEEP_GRACE: tuple[float, ...] = (0.0, 5.0)


@dataclass(frozen=True)
class SweepRow:
    """One policy variant's savings and regret over all groups.

    Normalized regrets are averaged over the groups that have a best job and a survivor
    (regret in each group's own units would not add up across losses and accuracies).
    """

    min_completed: int
    grace: float
    stops: int
    gpu_hours_saved: float
    saved_fraction: float | None
    usd_saved: float
    groups_best_survived: int
    groups_with_best: int
    mean_normalized_regret: float | None
    max_normalized_regret: float | None
    groups_without_survivor: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_completed": self.min_completed,
            "grace": self.grace,
            "stops": self.stops,
            "gpu_hours_saved": _r(self.gpu_hours_saved),
            "saved_fraction": _r(self.saved_fraction),
            "usd_saved": _r(self.usd_saved),
            "groups_best_survived": self.groups_best_survived,
            "groups_with_best": self.groups_with_best,
            "mean_normalized_regret": _r(self.mean_normalized_regret),
            "max_normalized_regret": _r(self.max_normalized_regret),
            "groups_without_survivor": self.groups_without_survivor,
        }


def sweep_row(result: ReplayResult) -> SweepRow:
    o = result.overall
    rel = [g.normalized_regret for g in result.groups.values() if g.normalized_regret is not None]
    return SweepRow(
        min_completed=result.policy.median.min_completed,
        grace=result.policy.median.grace,
        stops=o.stop_count,
        gpu_hours_saved=o.gpu_hours_saved,
        saved_fraction=o.saved_fraction,
        usd_saved=o.usd_saved,
        groups_best_survived=o.groups_best_survived or 0,
        groups_with_best=o.groups_with_best or 0,
        mean_normalized_regret=sum(rel) / len(rel) if rel else None,
        max_normalized_regret=max(rel) if rel else None,
        groups_without_survivor=sum(
            1
            for g in result.groups.values()
            if g.best_value_without is not None and g.best_value_with is None
        ),
    )


def sweep(
    records: Sequence[JobRecord],
    policy: Policy,
    min_completed: Sequence[int] = SWEEP_MIN_COMPLETED,
    grace: Sequence[float] = SWEEP_GRACE,
    catalog: InstanceCatalog | None = None,
) -> list[SweepRow]:
    """Replay every (min_completed, grace) variant of ``policy``; rows in that order."""
    rows = []
    for mc in min_completed:
        for g in grace:
            variant = replace(policy, median=replace(policy.median, min_completed=mc, grace=g))
            rows.append(sweep_row(replay(records, variant, catalog)))
    return rows


# ---- the command ------------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"trainguard replay: {message}", file=sys.stderr)
    return 2


def _load_policy(path: str | None, mode: str) -> Policy:
    """The policy file (default: the Lambdas' defaults) with the replay's mode."""
    text = "{}"
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(raw, dict):
        raw["mode"] = mode  # validated by Policy like any other key
    return Policy.from_mapping(raw)


def _run(args: argparse.Namespace) -> int:
    try:
        policy = _load_policy(args.policy, args.mode)
    except OSError as exc:
        return _fail(f"cannot read {args.policy}: {exc.strerror}")
    except PolicyError as exc:
        return _fail(str(exc))
    if args.plots is not None and (missing := missing_message("replay --plots", PLOT_MODULES)):
        return _fail(missing.removeprefix("trainguard replay --plots: "))
    errors: list[str] = []
    if args.from_cloudwatch:
        if args.curves is not None:
            return _fail("give either CURVES.jsonl or --from-cloudwatch, not both")
        if not args.group:
            return _fail("--from-cloudwatch needs --group NAME")
        from .replay_cloudwatch import read_cloudwatch_records

        try:
            records, errors = read_cloudwatch_records(
                args.group, since_days=args.since, region=args.region
            )
        except Exception as exc:  # botocore errors (credentials, access): say what and stop
            return _fail(f"reading CloudWatch/SageMaker failed: {exc}")
        source = f"CloudWatch group {args.group}, last {args.since:g} day(s)"
    else:
        if args.curves is None:
            return _fail("give CURVES.jsonl or --from-cloudwatch --group NAME")
        try:
            records, errors = load_curves(args.curves)
        except OSError as exc:
            return _fail(f"cannot read {args.curves}: {exc.strerror}")
        source = str(args.curves)
    for e in errors:
        print(f"trainguard replay: {source}: {e}", file=sys.stderr)
    if not records:
        return _fail(f"{source}: no jobs to replay")

    started = time.perf_counter()
    try:
        result = replay(records, policy)
    except PolicyError as exc:
        return _fail(str(exc))
    elapsed = time.perf_counter() - started
    print(format_result(result))
    print(
        f"\nreplayed {len(records)} jobs from {source} in {elapsed:.2f} s "
        f"({result.decisions} decisions, {result.active_ticks} of {result.ticks} ticks active)"
    )

    rows: list[SweepRow] | None = None
    if args.sweep:
        rows = sweep(records, policy)
        print()
        print(format_sweep(rows))
    if args.plots is not None:
        from .replay_plots import write_plots

        if rows is None:
            rows = sweep(records, policy, SMALL_SWEEP_MIN_COMPLETED, SMALL_SWEEP_GRACE)
        written = write_plots(result, rows, Path(args.plots))
        print(f"\nwrote {len(written)} plot(s) to {args.plots}")
    if args.json is not None:
        out = result.to_dict()
        out["source"] = source
        out["errors"] = errors
        out["seconds"] = round(elapsed, 3)
        if args.sweep and rows is not None:
            out["sweep"] = [r.to_dict() for r in rows]
        Path(args.json).write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")
    return 0


def register(sub: Any) -> None:
    """``trainguard replay CURVES.jsonl [--policy P] [--mode M] [--json OUT] [--plots DIR]
    [--sweep] [--from-cloudwatch --group NAME --since DAYS]``."""
    parser = sub.add_parser(
        "replay",
        help="what a policy would have stopped, saved and cost on past jobs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("curves", nargs="?", help="curve file (JSON Lines, one job a line)")
    parser.add_argument("--policy", help="policy JSON (the same schema the Lambdas read)")
    parser.add_argument(
        "--mode",
        choices=("observe", "enforce"),
        default="enforce",
        help="enforce (default: what it would have stopped) or observe (report, truncate nothing)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the report as JSON")
    parser.add_argument("--plots", metavar="DIR", help="write one PNG per group and a trade-off")
    parser.add_argument(
        "--sweep", action="store_true", help="vary median.min_completed and median.grace"
    )
    parser.add_argument(
        "--from-cloudwatch",
        action="store_true",
        help="read past jobs of the current AWS account instead of a file",
    )
    parser.add_argument("--group", help="with --from-cloudwatch: the trainguard:group to read")
    parser.add_argument(
        "--since", type=float, default=7.0, help="with --from-cloudwatch: days back (default 7)"
    )
    parser.add_argument("--region", help="with --from-cloudwatch: AWS region")
    parser.set_defaults(func=_run)
