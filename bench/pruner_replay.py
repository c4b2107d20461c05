"""The peers' stopping rules, and a hindsight oracle, replayed on ``trainguard replay``'s
simulated timeline.

The replay engine decides with trainguard's own rules; a peer decides through its own library,
so this is the small timeline loop again, with the same clock and visibility as
:func:`trainguard_tools.replay.replay` (ticks every ``policy.tick_minutes`` from the first
start; a point at step s is visible from ``start_minute + s * minutes_per_step +
ingestion_lag_minutes``; at a tick, ends first, then decisions) and the replay's own accounting
(``JobOutcome``, ``StopEvent``, ``summarize_group``, ``summarize_overall``, ``sweep_row``), so
the numbers are comparable line for line.

A :class:`Peer` is one group's stopper, told what its library would be told, trial by trial:
a job starts (``start``), each newly visible point is one report (``report``, True = stop; the
first stop wins), a stopped job is told so (``stopped``), and a job that ends unstopped reports
its remaining points and completes or fails (``finish``). None of them has a divergence rule.

- **Optuna** (:class:`OptunaPeer`): one in-memory study per group (its direction); a job is
  ``study.ask()``, a report is ``trial.report(value, step)`` then ``trial.should_prune()``; a
  stopped job is told PRUNED, a completed one COMPLETE with its final value, a failed one FAIL.
  Which trials count as references is the pruner's own choice (the median and percentile
  pruners: COMPLETE trials; successive halving and Hyperband: every trial that reached the
  rung).
- **Ray Tune** (:class:`RayPeer`): the scheduler's callbacks as the ``TuneController`` calls
  them (``on_trial_add``, ``on_trial_result`` with ``training_iteration`` = the step and
  ``time_total_s`` = the job's simulated seconds, ``on_trial_complete`` with its last result,
  ``on_trial_remove`` for a failed job); STOP is a stop. Which trials count is the scheduler's
  choice too (the median stopping rule: every trial that has reached the time, running ones
  included).
- **The hindsight oracle** (:class:`OraclePeer`): it knows the group's eventual best job (the
  ``Completed`` job with the best final value, ``best_of``) and stops every other job at its
  first report: the most a rule could save while keeping the best.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord
from trainguard_tools.replay.results import (
    EPS,
    JobOutcome,
    ReplayResult,
    StopEvent,
    best_of,
    cost_of,
    summarize_group,
    summarize_overall,
    sweep_row,
)

from .peers import _Controller, _Trial

METRIC = "objective"


class Peer(Protocol):
    """One group's stopper, on the replay's clock (see the module docstring)."""

    name: str

    def start(self, record: CurveRecord) -> None: ...

    def report(self, record: CurveRecord, index: int) -> bool:
        """The job's point ``record.curve[index]`` is now visible: stop the job?"""
        ...

    def stopped(self, record: CurveRecord) -> None: ...

    def finish(self, record: CurveRecord, shown: int) -> None:
        """The job ended unstopped; ``record.curve[shown:]`` were never reported."""
        ...


#: the group's records (in the replay's order) -> its peer
PeerFactory = Callable[[Sequence[CurveRecord]], Peer]


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _step(s: float) -> int:
    if not float(s).is_integer():
        raise ValueError(f"the peers need whole steps, got {s}")
    return int(s)


class OptunaPeer:
    """An Optuna pruner driven trial by trial through ``ask``/``report``/``should_prune``."""

    def __init__(self, pruner: Any, direction: str, name: str, study_name: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = name
        self._state = optuna.trial.TrialState
        # no parameters are sampled: the sampler only numbers the trials; Hyperband deals a
        # trial to a bracket by a checksum of the study's name and the trial's number, so the
        # study is named after the group (an unnamed study gets a random name each run)
        self.study = optuna.create_study(
            study_name=study_name,
            direction=direction,
            pruner=pruner,
            sampler=optuna.samplers.RandomSampler(seed=0),
        )
        self.trials: dict[str, Any] = {}

    def start(self, record: CurveRecord) -> None:
        self.trials[record.job] = self.study.ask()

    def report(self, record: CurveRecord, index: int) -> bool:
        step, value = record.curve[index]
        trial = self.trials[record.job]
        trial.report(float(value), _step(step))
        return bool(trial.should_prune())

    def stopped(self, record: CurveRecord) -> None:
        self.study.tell(self.trials.pop(record.job), state=self._state.PRUNED)

    def finish(self, record: CurveRecord, shown: int) -> None:
        trial = self.trials.pop(record.job)
        for step, value in record.curve[shown:]:
            trial.report(float(value), _step(step))
        final = record.final_value
        if record.status == "Completed" and final is not None and math.isfinite(final):
            self.study.tell(trial, final)
        else:
            self.study.tell(trial, state=self._state.FAIL)


class RayPeer:
    """A Ray Tune trial scheduler driven through its callbacks."""

    def __init__(self, scheduler: Any, direction: str, name: str) -> None:
        from ray.tune.schedulers import TrialScheduler

        self.name = name
        self.scheduler = scheduler
        self.scheduler.set_search_properties(METRIC, "min" if direction == "minimize" else "max")
        self._stop = TrialScheduler.STOP
        self._controller = _Controller()
        self.trials: dict[str, _Trial] = {}

    def _result(self, record: CurveRecord, index: int) -> dict[str, float]:
        step, value = record.curve[index]
        seconds = (record.produced_at(step) - record.start_minute) * 60.0
        return {"training_iteration": step, "time_total_s": seconds, METRIC: float(value)}

    def start(self, record: CurveRecord) -> None:
        trial = self.trials[record.job] = _Trial(record.job)
        self.scheduler.on_trial_add(self._controller, trial)

    def report(self, record: CurveRecord, index: int) -> bool:
        trial = self.trials[record.job]
        action = self.scheduler.on_trial_result(
            self._controller, trial, self._result(record, index)
        )
        return bool(action == self._stop)

    def stopped(self, record: CurveRecord) -> None:
        self.scheduler.on_trial_remove(self._controller, self.trials.pop(record.job))

    def finish(self, record: CurveRecord, shown: int) -> None:
        trial = self.trials.pop(record.job)
        n = len(record.curve)
        for index in range(shown, n - 1):  # the trainer reported these; the job ran to its end
            self.scheduler.on_trial_result(self._controller, trial, self._result(record, index))
        if record.status == "Completed" and n:
            self.scheduler.on_trial_complete(self._controller, trial, self._result(record, n - 1))
        else:
            self.scheduler.on_trial_remove(self._controller, trial)


class OraclePeer:
    """Hindsight: stops every job but the group's eventual best at its first report once
    ``min_completed`` of the group's jobs have completed (0: at its first report)."""

    name = "oracle"

    def __init__(self, group: Sequence[CurveRecord], min_completed: int = 0) -> None:
        direction = group[0].direction if group else "minimize"
        self.best, _ = best_of([JobOutcome(r, r.end) for r in group], direction)
        self.min_completed = min_completed
        self.completed = 0

    def start(self, record: CurveRecord) -> None:
        return None

    def report(self, record: CurveRecord, index: int) -> bool:
        return record.job != self.best and self.completed >= self.min_completed

    def stopped(self, record: CurveRecord) -> None:
        return None

    def finish(self, record: CurveRecord, shown: int) -> None:
        self.completed += record.status == "Completed"


def replay_peer(
    records: Sequence[CurveRecord], policy: Policy, make_peer: PeerFactory
) -> ReplayResult:
    """Replay ``records`` with one peer a group deciding, in enforce mode."""
    if not records:
        raise ValueError("no records to replay")
    catalog = policy.catalog()
    lag = policy.ingestion_lag_minutes
    tick = float(policy.tick_minutes)
    members: dict[str, list[CurveRecord]] = {}
    for r in records:
        members.setdefault(r.group, []).append(r)
    peers = {g: make_peer(rs) for g, rs in members.items()}
    completed = dict.fromkeys(members, 0)  # the group's jobs that completed unstopped

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
            r = by_start[next_start]
            running.append(r)
            peers[r.group].start(r)
            next_start += 1
        while next_end < len(by_end) and by_end[next_end].end <= t + EPS:
            r = by_end[next_end]
            next_end += 1
            if outcomes[r.job].stop is None:  # a stopped job was told so when it stopped
                peers[r.group].finish(r, shown[r.job])
                completed[r.group] += r.status == "Completed" and _finite(r.final_value)
        still: list[CurveRecord] = []
        for r in running:
            o = outcomes[r.job]
            if o.stop is not None or r.end <= t + EPS:
                continue
            still.append(r)
            peer = peers[r.group]
            now_shown = bisect_right(visible[r.job], t + EPS)
            for i in range(shown[r.job], now_shown):
                decisions += 1
                if peer.report(r, i):
                    step, value = r.curve[i]
                    gpu_h, usd = cost_of(o, max(r.end - t, 0.0) / 60.0)
                    o.stop = StopEvent(
                        r.job,
                        r.group,
                        peer.name,
                        t,
                        step,
                        value,
                        None,
                        completed[r.group],
                        f"stopped by {peer.name} at step {step:g}",
                        True,
                        gpu_hours_avoided=gpu_h,
                        usd_avoided=usd,
                    )
                    o.end_with = t
                    peer.stopped(r)
                    still.pop()
                    now_shown = i + 1
                    break
            shown[r.job] = now_shown
        running = still

    groups = {
        g: summarize_group(g, [o for o in outcomes.values() if o.record.group == g])
        for g in sorted(members)
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


def optuna_peer(make_pruner: Callable[[], Any], name: str) -> PeerFactory:
    """A fresh ``make_pruner()`` and study for every group."""
    return lambda group: OptunaPeer(make_pruner(), group[0].direction, name, group[0].group)


def ray_peer(make_scheduler: Callable[[], Any], name: str) -> PeerFactory:
    """A fresh ``make_scheduler()`` for every group."""
    return lambda group: RayPeer(make_scheduler(), group[0].direction, name)


def replay_pruner(
    records: Sequence[CurveRecord], policy: Policy, make_pruner: Callable[[], Any]
) -> ReplayResult:
    """Replay ``records`` with Optuna's pruner deciding, in enforce mode."""
    return replay_peer(records, policy, optuna_peer(make_pruner, "optuna_median"))


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
