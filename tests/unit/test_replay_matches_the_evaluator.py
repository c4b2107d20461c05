"""The promise of ``trainguard replay``: it decides exactly as the deployed functions do.

One recorded group is played twice on the same one-minute timeline: by the replay engine, and
by the real lifecycle and evaluator logic over in-memory fakes (the jobs start, report each
measurement when it is produced, complete; every minute the evaluator ticks). Both must stop
the same jobs, by the same rule, at the same minute.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fakes import FakeJob, Fakes, state_change

from trainguard.config import CatchUpSettings, MedianSettings, Policy
from trainguard.handlers.lifecycle import handle_state_change
from trainguard.logic.evaluator import run_tick
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay

pytestmark = pytest.mark.unit

CURVES = Path(__file__).resolve().parents[2] / "data" / "curves.jsonl"
GROUP = "digits-softmax"  # every job Completed, no NaN (CloudWatch could not carry one)


def records() -> list[CurveRecord]:
    loaded, errors = load_curves(CURVES)
    assert errors == []
    return [r for r in loaded if r.group == GROUP]


def evaluator_stops(jobs: list[CurveRecord], policy: Policy) -> dict[str, tuple[str, float]]:
    """Play ``jobs`` through the lifecycle and the evaluator; job -> (rule, minute stopped)."""
    fakes = Fakes(policy=policy)
    base = fakes.now
    tags = {"trainguard:mode": "enforce"}
    t0 = min(r.start_minute for r in jobs)
    t_last = max(r.end for r in jobs)
    started: dict[str, FakeJob] = {}
    reported = dict.fromkeys((r.job for r in jobs), 0)
    stops: dict[str, tuple[str, float]] = {}
    minute = t0
    while minute <= t_last + 1e-9:
        fakes.now = base + minute * 60.0
        deps = fakes.deps()
        for r in jobs:
            if r.job not in started and r.start_minute <= minute + 1e-9:
                started[r.job] = fakes.training_jobs.add(
                    FakeJob(
                        r.job,
                        {
                            **tags,
                            "trainguard:group": r.group,
                            "trainguard:objective": r.objective,
                            "trainguard:direction": r.direction,
                        },
                        instance_type=r.instance_type,
                        start=base + r.start_minute * 60.0,
                    )
                )
                handle_state_change(state_change(started[r.job]), deps)
            job = started.get(r.job)
            if job is None or job.status != "InProgress":
                continue
            while (
                reported[r.job] < len(r.curve)
                and r.produced_at(r.curve[reported[r.job]][0]) <= minute + 1e-9
            ):
                step, value = r.curve[reported[r.job]]
                ts = base + r.produced_at(step) * 60.0
                fakes.metrics.put(r.objective, {"TrainingJobName": r.job}, ts, value)
                reported[r.job] += 1
            if r.end <= minute + 1e-9:
                job.status = job.secondary = r.status
                job.end = base + r.end * 60.0
                handle_state_change(state_change(job), deps)
        before = set(fakes.training_jobs.stopped)
        tick = run_tick(deps, now=fakes.now)
        for name in set(fakes.training_jobs.stopped) - before:
            (action,) = [a for a in tick.actions if a["job"] == name]
            stops[name] = (action["rule"], minute)
        minute += policy.tick_minutes
    return stops


POLICIES = {
    # the project's default objective rule: the catch-up rule, with its per-group model and
    # worse-report streak kept by the lifecycle and the evaluator
    "catch-up": Policy(mode="enforce", step_unit="report"),
    # the exact median rule by name, with and without a grace period
    "median": Policy(
        mode="enforce",
        step_unit="report",
        median=MedianSettings(enabled=True),
        catchup=CatchUpSettings(enabled=False),
    ),
    "median-grace-4": Policy(
        mode="enforce",
        step_unit="report",
        median=MedianSettings(enabled=True, grace=4.0),
        catchup=CatchUpSettings(enabled=False),
    ),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_replay_and_evaluator_stop_the_same_jobs_at_the_same_minute(name: str) -> None:
    jobs = records()
    assert all(math.isfinite(v) for r in jobs for _, v in r.curve)
    # steps are the report index (epochs), as the recorded curves count them
    policy = POLICIES[name]
    result = replay(jobs, policy)
    replayed = {
        s.job: (s.rule, s.minute)
        for g in result.groups.values()
        for s in g.stops
        if s.enforced and not s.at_end
    }
    assert len(replayed) >= 5  # the comparison means something
    assert evaluator_stops(jobs, policy) == replayed
