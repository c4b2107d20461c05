"""Optuna's ``MedianPruner`` replayed on ``trainguard replay``'s simulated timeline.

The replay engine has no hook for a foreign decision function, so this is the small timeline
loop again, with the same clock and visibility as :func:`trainguard_tools.replay.replay`
(ticks every ``policy.tick_minutes`` from the first start; a point at step s is visible from
``start_minute + s * minutes_per_step + ingestion_lag_minutes``; at a tick, ends first, then
decisions) and the replay's own accounting (``JobOutcome``, ``StopEvent``, ``summarize_group``,
``summarize_overall``, ``sweep_row``), so the numbers are comparable line for line.

Optuna's side, as ``Trial.should_prune`` would run it: one in-memory study per group (its
direction); a job that completes unstopped becomes a COMPLETE trial with its whole curve as
intermediate values (steps = the curve's steps); a pruned job is truncated at that tick and
never becomes a reference (Optuna's PRUNED trials are not references either); failed jobs are
FAIL trials (not references). Each newly visible point of a running job is one report followed
by ``pruner.prune(study, trial)`` with the values reported so far, in order, the first prune
wins. Unlike ours, the pruner is asked only when the job reports, not again when a reference
completes, and it has no divergence rule.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord
from trainguard_tools.replay.results import (
    EPS,
    JobOutcome,
    ReplayResult,
    StopEvent,
    cost_of,
    summarize_group,
    summarize_overall,
    sweep_row,
)


def _step(s: float) -> int:
    if not float(s).is_integer():
        raise ValueError(f"Optuna needs whole steps, got {s}")
    return int(s)


def replay_pruner(
    records: Sequence[CurveRecord], policy: Policy, make_pruner: Callable[[], Any]
) -> ReplayResult:
    """Replay ``records`` with Optuna's pruner deciding, in enforce mode."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    catalog = policy.catalog()
    lag = policy.ingestion_lag_minutes
    tick = float(policy.tick_minutes)
    studies: dict[str, Any] = {}
    pruners: dict[str, Any] = {}
    for r in records:
        if r.group not in studies:
            pruners[r.group] = make_pruner()
            studies[r.group] = optuna.create_study(direction=r.direction, pruner=pruners[r.group])

    visible = {r.job: [r.produced_at(s) + lag for s, _ in r.curve] for r in records}
    shown = dict.fromkeys(visible, 0)
    outcomes: dict[str, JobOutcome] = {}
    for r in records:
        spec = catalog.get(r.instance_type)
        outcomes[r.job] = JobOutcome(
            r,
            r.end,
            gpus=None if spec is None else spec.gpus,
            usd_per_hour=None if spec is None else spec.usd_per_hour,
        )
    if not records:
        raise ValueError("no records to replay")
    t0 = min(r.start_minute for r in records)
    n_ticks = math.floor((max(r.end for r in records) - t0) / tick + EPS) + 1

    def tick_index(minute: float) -> int:
        return max(0, math.ceil((minute - t0) / tick - EPS))

    active = sorted(
        {
            k
            for r in records
            for k in (
                tick_index(r.start_minute),
                tick_index(r.end),
                *map(tick_index, visible[r.job]),
            )
            if k < n_ticks
        }
    )
    by_start = sorted(records, key=lambda r: (r.start_minute, r.job))
    by_end = sorted(records, key=lambda r: (r.end, r.job))
    next_start = next_end = 0
    running: list[CurveRecord] = []
    decisions = 0
    for k in active:
        t = t0 + k * tick
        while next_start < len(by_start) and by_start[next_start].start_minute <= t + EPS:
            running.append(by_start[next_start])
            next_start += 1
        while next_end < len(by_end) and by_end[next_end].end <= t + EPS:
            r = by_end[next_end]
            next_end += 1
            if outcomes[r.job].stop is not None:
                continue  # pruned earlier: never a reference
            steps = {_step(s): float(v) for s, v in r.curve}
            final = r.final_value
            if r.status == "Completed" and final is not None:
                studies[r.group].add_trial(
                    create_trial(
                        value=final, intermediate_values=steps, params={}, distributions={}
                    )
                )
        still: list[CurveRecord] = []
        for r in running:
            o = outcomes[r.job]
            if o.stop is not None or r.end <= t + EPS:
                continue
            still.append(r)
            now_shown = bisect_right(visible[r.job], t + EPS)
            for i in range(shown[r.job] + 1, now_shown + 1):
                reported = {_step(s): float(v) for s, v in r.curve[:i]}
                trial = create_trial(state=TrialState.RUNNING, intermediate_values=reported)
                decisions += 1
                if pruners[r.group].prune(studies[r.group], trial):
                    step, value = r.curve[i - 1]
                    gpu_h, usd = cost_of(o, max(r.end - t, 0.0) / 60.0)
                    completed = len(studies[r.group].get_trials(states=(TrialState.COMPLETE,)))
                    o.stop = StopEvent(
                        r.job,
                        r.group,
                        "optuna_median",
                        t,
                        step,
                        value,
                        None,
                        completed,
                        f"pruned by Optuna's MedianPruner at step {step:g}",
                        True,
                        gpu_hours_avoided=gpu_h,
                        usd_avoided=usd,
                    )
                    o.end_with = t
                    still.pop()
                    break
            shown[r.job] = now_shown
        running = still

    groups = {
        g: summarize_group(g, [o for o in outcomes.values() if o.record.group == g])
        for g in sorted(studies)
    }
    return ReplayResult(
        policy=policy,
        mode="enforce",
        groups=groups,
        overall=summarize_overall(list(groups.values())),
        outcomes=outcomes,
        thresholds={},
        ticks=n_ticks,
        active_ticks=len(active),
        decisions=decisions,
    )


def pruner_row(
    records: Sequence[CurveRecord], policy: Policy, **pruner_kwargs: Any
) -> dict[str, Any]:
    """The sweep table's row for ``MedianPruner(**pruner_kwargs)`` on the replay timeline."""
    import optuna

    result = replay_pruner(records, policy, lambda: optuna.pruners.MedianPruner(**pruner_kwargs))
    row = sweep_row(result).to_dict()
    row.pop("min_completed", None)
    row.pop("grace", None)
    row["pruner"] = {"name": "MedianPruner", **pruner_kwargs}
    row["decisions"] = result.decisions
    row["best_survived_by_group"] = {g: s.best_survived for g, s in result.groups.items()}
    return row
