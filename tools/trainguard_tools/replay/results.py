"""The replay's result types, and the accounting that builds them from the jobs' outcomes.

The engine (:mod:`.engine`) produces them; the text report (:mod:`.report`) and the plots
(:mod:`.plots`) read them. Those two import this module only, never the engine: the layers
are results <- engine, results <- report, results <- plots, and the command uses all of them.
See :mod:`.engine` for what the numbers mean (GPU hours, best job, regret).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trainguard.config import Policy
from trainguard.core.catchup import CatchUpModel
from trainguard.core.curves import Direction, Point, is_better, median
from trainguard.core.median import ReferenceTable

from ..curvefile import CurveRecord

EPS = 1e-9  # minutes; absorbs float error in start + s * minutes_per_step + lag


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

    record: CurveRecord
    end_with: float  # minute the job ended with the policy (its stop tick in enforce mode)
    stop: StopEvent | None = None
    gpus: int | None = None  # None: unknown instance type
    usd_per_hour: float | None = None
    # revivals (``--revive auto``): (stopped at, revived at, restart minutes, the completed
    # job that changed the evidence) each; the stop it undid last; minutes its end moved
    revivals: list[tuple[float, float, float, str]] = field(default_factory=list)
    revived_from: StopEvent | None = None
    shift: float = 0.0

    @property
    def restart_hours(self) -> float:
        """The revivals' restarts: spent, not training."""
        return sum(r[2] for r in self.revivals) / 60.0

    @property
    def stopped(self) -> bool:
        """Stopped (or would have been, in observe mode) while it ran."""
        return self.stop is not None and not self.stop.at_end

    def curve_with(self) -> tuple[Point, ...]:
        """The measurements the job produced before it ended with the policy."""
        r = self.record
        return tuple(p for p in r.curve if r.produced_at(p[0]) <= self.end_with + EPS)


@dataclass(frozen=True)
class ReplayTotals:
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
    revived_jobs: int = 0
    revived_then_stopped: int = 0
    # the best job's later end after a stop and its revival (None: its best was not stopped,
    # or not revived to its end); overall: the median over the groups that have one
    delay_to_best_minutes: float | None = None
    mean_normalized_regret: float | None = None  # overall only: over the groups that have one
    max_normalized_regret: float | None = None  # overall only

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
        if self.revived_jobs:
            out["revived_jobs"] = self.revived_jobs
            out["revived_then_stopped"] = self.revived_then_stopped
        if self.group is None:
            out["groups_best_survived"] = self.groups_best_survived
            out["groups_with_best"] = self.groups_with_best
            if self.revived_jobs:
                out["groups_best_found"] = self.groups_best_survived  # ran to its end
                out["median_delay_to_best_minutes"] = _r(self.delay_to_best_minutes)
            out["mean_normalized_regret"] = _r(self.mean_normalized_regret)
            out["max_normalized_regret"] = _r(self.max_normalized_regret)
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
    groups: dict[str, ReplayTotals]
    overall: ReplayTotals
    outcomes: dict[str, JobOutcome]
    thresholds: dict[str, ReferenceTable]  # each group's M(s) from its references at the end
    ticks: int = 0  # simulated ticks in the span
    active_ticks: int = 0  # ticks at which something changed
    decisions: int = 0
    warnings: list[str] = field(default_factory=list)
    # each group's catch-up model at the end (in the direction of its first job), as the
    # replay built it one completion at a time
    models: dict[str, CatchUpModel] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "policy": {
                "tick_minutes": self.policy.tick_minutes,
                "ingestion_lag_minutes": self.policy.ingestion_lag_minutes,
                "catchup": {
                    "enabled": self.policy.catchup.enabled,
                    "min_completed": self.policy.catchup.min_completed,
                    "noise_multiple": self.policy.catchup.noise_multiple,
                    "consecutive": self.policy.catchup.consecutive,
                },
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
    """One replay as a row of the sweep (its policy's min_completed and grace)."""
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


# ---- accounting ---------------------------------------------------------------------------------


def cost_of(o: JobOutcome, hours: float) -> tuple[float | None, float | None]:
    """GPU hours and dollars of ``hours`` of the job's instances (None: unknown type)."""
    if o.gpus is None or o.usd_per_hour is None:
        return None, None
    n = o.record.instance_count
    return o.gpus * n * hours, o.usd_per_hour * n * hours


def best_of(
    outcomes: Iterable[JobOutcome], direction: Direction
) -> tuple[str | None, float | None]:
    """The ``Completed`` job with the best final value, and that value."""
    best: tuple[str | None, float | None] = (None, None)
    for o in sorted(outcomes, key=lambda o: o.record.job):
        v = o.record.final_value
        if o.record.status != "Completed" or v is None:
            continue
        if best[1] is None or is_better(v, best[1], direction):
            best = (o.record.job, v)
    return best


def summarize_group(group: str, outcomes: list[JobOutcome]) -> ReplayTotals:
    """One group's totals, best job and regret, with and without the policy."""
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
        g, u = cost_of(o, hours)
        assert g is not None and u is not None
        avoided_g = o.stop.gpu_hours_avoided if o.stopped and o.stop else 0.0
        avoided_u = o.stop.usd_avoided if o.stopped and o.stop else 0.0
        restart_g, restart_u = cost_of(o, o.restart_hours)  # a revival's restarts are spent
        gpu_without += g
        usd_without += u
        gpu_with += g - (avoided_g or 0.0) + (restart_g or 0.0)
        usd_with += u - (avoided_u or 0.0) + (restart_u or 0.0)
    stops.sort(key=lambda s: (s.minute, s.job))
    best_job, best_without = best_of(outcomes, direction)
    best_job_with, best_with = best_of((o for o in outcomes if not o.stopped), direction)
    best = next((o for o in outcomes if o.record.job == best_job), None)
    delay = best.shift if best is not None and best.revivals and not best.stopped else None
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
    return ReplayTotals(
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
        revived_jobs=sum(1 for o in outcomes if o.revivals),
        revived_then_stopped=sum(1 for o in outcomes if o.revivals and o.stopped),
        delay_to_best_minutes=delay,
    )


def summarize_overall(groups: list[ReplayTotals]) -> ReplayTotals:
    with_best = [g for g in groups if g.best_survived is not None]
    delays = [g.delay_to_best_minutes for g in groups if g.delay_to_best_minutes is not None]
    regrets = [g.normalized_regret for g in groups if g.normalized_regret is not None]
    return ReplayTotals(
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
        mean_normalized_regret=sum(regrets) / len(regrets) if regrets else None,
        max_normalized_regret=max(regrets) if regrets else None,
        revived_jobs=sum(g.revived_jobs for g in groups),
        revived_then_stopped=sum(g.revived_then_stopped for g in groups),
        delay_to_best_minutes=median(delays) if delays else None,
    )


# ---- several launch orders ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrdersResult:
    """One policy replayed in several launch orders (``replay_orders``): the figures over
    every (group, order) replay, as the policy study counts them.

    ``saved_fraction`` = GPU hours saved / GPU hours without the policy, summed over every
    replay; ``best_kept`` = the share of (group, order) replays whose best job survived
    (``replays`` of them have a best job, ``best_lost`` lost it); the normalized regrets are
    the mean and maximum over the replays where one is defined (see the engine's docstring).
    """

    orders: int
    seed: int
    replays: int
    best_lost: int
    stops: int
    gpu_hours_without: float
    gpu_hours_saved: float
    saved_fraction: float | None
    best_kept: float | None
    mean_normalized_regret: float | None
    max_normalized_regret: float | None
    results: tuple[ReplayResult, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "seed": self.seed,
            "replays": self.replays,
            "best_lost": self.best_lost,
            "stops": self.stops,
            "gpu_hours_without": _r(self.gpu_hours_without),
            "gpu_hours_saved": _r(self.gpu_hours_saved),
            "saved_fraction": _r(self.saved_fraction),
            "best_kept": _r(self.best_kept),
            "mean_normalized_regret": _r(self.mean_normalized_regret),
            "max_normalized_regret": _r(self.max_normalized_regret),
        }


def summarize_orders(results: Iterable[ReplayResult], seed: int = 0) -> OrdersResult:
    """The figures of the replays of one policy in several orders (one result per order)."""
    kept = tuple(results)
    groups = [g for r in kept for g in r.groups.values()]
    with_best = [g for g in groups if g.best_survived is not None]
    regrets = [g.normalized_regret for g in groups if g.normalized_regret is not None]
    without = sum(g.gpu_hours_without for g in groups)
    saved = sum(g.gpu_hours_saved for g in groups)
    lost = sum(1 for g in with_best if not g.best_survived)
    return OrdersResult(
        orders=len(kept),
        seed=seed,
        replays=len(with_best),
        best_lost=lost,
        stops=sum(g.stop_count for g in groups),
        gpu_hours_without=without,
        gpu_hours_saved=saved,
        saved_fraction=saved / without if without > 0 else None,
        best_kept=(len(with_best) - lost) / len(with_best) if with_best else None,
        mean_normalized_regret=sum(regrets) / len(regrets) if regrets else None,
        max_normalized_regret=max(regrets) if regrets else None,
        results=kept,
    )
