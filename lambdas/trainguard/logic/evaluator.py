"""The scheduled tick: reconcile, observe, decide, act, for every running opted-in job,
under the runtime controls in force (:mod:`.controls`: a pause holds every stop).

Reads per tick: the ``running`` index (it carries each job's stored progress), one
BatchGetItem of the groups' ``STATS``, one GetMetricData batch (:mod:`.observe`),
ListTrainingJobs and DescribeAlarms for the reconcile (:mod:`.reconcile`). Writes: each job's
progress when it took a new datapoint; and only when something happens, an ``ACTION#`` claim,
StopTrainingJob, an audit record and one email (:mod:`.act`).

One job's failure is logged with its name and never blocks the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.progress import Progress
from ..models import GroupPolicy, JobRecord, RunId
from ..observability import logger
from ..policy import JobSettings, Policy, PolicyError, job_settings
from . import messages
from .act import STOPPED, Act
from .controls import read_controls
from .decide import judge
from .dependencies import Dependencies
from .observe import Observation, observe
from .reconcile import reconcile

RESERVE_S = 10.0  # stop starting new work this long before the function's timeout
SAVE_EVERY = 200  # progress records written as the tick goes, in chunks of this many


@dataclass
class TickResult:
    jobs: int = 0
    evaluated: int = 0
    decisions: int = 0
    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    dollars_saved: float = 0.0
    errors: int = 0
    registered: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    orphan_alarms_deleted: int = 0
    resumed: int = 0  # actions an earlier invocation left unfinished, finished now
    deferred: int = 0  # jobs left for the next tick when the time ran out
    stop_failures: int = 0  # stops SageMaker refused
    emails_failed: int = 0  # sends that failed (they stay in the outbox)
    emails_dead: int = 0  # sends that failed for the last time (dead letters)
    duration_ms: float = 0.0
    controls_error: str | None = None  # the runtime controls could not be used: stops held
    paused: bool = False  # a runtime pause held this tick's stops (all or some groups')
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Budget:
    """The invocation's time: ``remaining_ms`` (Lambda's ``get_remaining_time_in_millis``;
    None: unbounded). New work stops when less than ``reserve_s`` is left, so that the tick
    saves what it did and ends before its timeout."""

    remaining_ms: Callable[[], int] | None = None
    reserve_s: float = RESERVE_S

    def exhausted(self) -> bool:
        return self.remaining_ms is not None and self.remaining_ms() < self.reserve_s * 1000.0


def run_tick(
    deps: Dependencies, now: float | None = None, budget: Budget | None = None
) -> TickResult:
    """One tick at ``now`` (epoch seconds: the scheduled event's time; default the clock),
    within ``budget``: reconcile, finish the actions earlier invocations left open, then judge
    and act on every running opted-in job, saving progress as it goes; last, send the emails
    that failed before."""
    started = time.monotonic()
    now = deps.clock() if now is None else now
    budget = budget or Budget()
    result = TickResult()
    controls = read_controls(deps.controls)
    result.controls_error = controls.error
    result.paused = controls.global_.paused or any(c.paused for c in controls.groups.values())
    act = Act(deps, now, controls=controls)
    running = deps.store.running_jobs()
    try:
        reconciled = reconcile(deps, running, now, budget)
        running = reconciled.running
        result.registered, result.finalized = reconciled.registered, reconciled.finalized
        result.orphan_alarms_deleted = reconciled.orphan_alarms_deleted
        result.errors += reconciled.errors
    except Exception:
        result.errors += 1
        logger.exception("reconcile failed; evaluating the jobs the table knows")
    try:
        result.resumed = act.resume_open(budget)
    except Exception:
        result.errors += 1
        logger.exception("listing the open actions failed; the next tick resumes them")

    opted_in = [job for job in running if job.opted_in]
    try:
        stats, group_policies = deps.store.batch_get_group_state(
            {job.reference_set for job in opted_in}
        )
    except Exception:
        result.errors += 1
        stats, group_policies = {}, {}
        logger.exception("reading the groups' statistics failed: no references this tick")
    deployed = controls.policy(deps.policy)  # under the global runtime mode
    policies = _group_policies(deployed, group_policies)
    jobs: list[tuple[JobRecord, JobSettings]] = []
    for job in opted_in:
        try:
            policy = controls.group_policy(job.group, policies.get(job.group, deployed))
            jobs.append((job, controls.settle(job_settings(job.tags, policy))))
        except PolicyError as exc:
            _report_config_error(act, job, str(exc), result)
    result.jobs = len(jobs)
    observed: dict[RunId, Observation] | None
    try:
        observed = observe(
            jobs,
            deps.metrics,
            now=now,
            unit=deps.policy.step_unit,
            lag_minutes=deps.policy.ingestion_lag_minutes,
            gpus_of=lambda itype: gpus_of(deps, itype),
        )
    except Exception:
        result.errors += 1
        observed = None
        logger.exception("GetMetricData failed: objective rules skipped this tick")

    unsaved: list[tuple[RunId, Progress]] = []
    for job, settings in jobs:
        if budget.exhausted():
            result.deferred = len(jobs) - result.evaluated
            logger.warning("the tick's time is up: the rest waits for the next tick",
                           extra={"deferred": result.deferred})  # fmt: skip
            break
        logger.append_keys(job=job.name)
        try:
            seen = observed.get(job.run) if observed is not None else None
            group = stats.get(job.reference_set)
            judgement = judge(job, settings, seen, group, now, gpus_of(deps, job.instance_type))
            if seen is not None and seen.progress is not None:
                progress, save = seen.progress, seen.save
                if judgement.streak is not None and judgement.streak != progress.streak:
                    progress, save = replace(progress, streak=judgement.streak), True
                if save:
                    unsaved.append((job.run, progress))
            result.evaluated += 1
            if judgement.judged:
                result.decisions += 1
            stopped = False
            for decision in judgement.stops:
                if act.stop(job, settings, decision, group) == STOPPED:
                    stopped = True
                    break  # stopped: the job's other stops have nothing left to do
            for key, opened in judgement.episodes.items():
                deps.store.set_episode(job.run, key, opened)
            for alert in [] if stopped else judgement.alerts:  # nothing to say of a stopped job
                act.alert(job, settings, alert.decision, group, episode=alert.episode,
                          since=alert.since)  # fmt: skip
        except Exception:
            result.errors += 1
            logger.exception("evaluating the job failed; the tick goes on")
        finally:
            logger.remove_keys(["job"])
        if len(unsaved) >= SAVE_EVERY:
            result.errors += _save(deps, unsaved)
    result.errors += _save(deps, unsaved)
    if not budget.exhausted():
        act.mail.drain()
    result.stops, result.would_stops = act.stops, act.would_stops
    result.alerts = act.alerts
    result.stop_failures = act.stop_failures
    result.emails_failed, result.emails_dead = act.mail.failed, act.mail.dead
    result.errors += act.stop_failures + act.mail.failed  # counted in the alarmed JobErrors
    result.dollars_saved = act.dollars_saved
    result.actions = act.records
    result.duration_ms = (time.monotonic() - started) * 1000.0
    return result


def _group_policies(deployed: Policy, items: Mapping[str, GroupPolicy]) -> dict[str, Policy]:
    """Each group's policy: its ``trainguard calibrate --apply`` settings over the deployed
    policy (a job's tags still win). A group policy the schema refuses is logged and left
    out: that group keeps the deployed policy."""
    out: dict[str, Policy] = {}
    for group, item in items.items():
        try:
            out[group] = deployed.with_sections(item.settings)
        except PolicyError as exc:
            logger.error("the group's applied policy is refused: the deployed policy applies",
                         extra={"group": group, "error": str(exc),
                                "applied_by": item.applied_by})  # fmt: skip
    return out


def gpus_of(deps: Dependencies, instance_type: str) -> int | None:
    """GPUs per host that report GPUUtilization (None: unknown type, CPU or Trainium)."""
    spec = deps.catalog.get(instance_type)
    if spec is None or not spec.reports_gpu_utilization:
        return None
    return spec.gpus


def _save(deps: Dependencies, unsaved: list[tuple[RunId, Progress]]) -> int:
    """Write the progress gathered so far (and forget it); 1 if that failed (those jobs are
    read from their start again next tick), else 0."""
    if not unsaved:
        return 0
    try:
        deps.store.save_progress(list(unsaved))
    except Exception:
        logger.exception("saving the jobs' progress failed")
        return 1
    finally:
        unsaved.clear()
    return 0


def _report_config_error(act: Act, job: JobRecord, error: str, result: TickResult) -> None:
    """A bad tag value: reported once for that job, never a crash of the tick."""
    logger.warning("bad trainguard tag", extra={"job": job.name, "error": error})
    try:
        act.notice(
            job,
            "config#alert",
            f"{messages.PREFIX} CONFIG {job.name}: {error}",
            f"Job:     {job.name}\nProblem: {error}\nThe job is not evaluated until its tags "
            f"are fixed.\n\nConsole: {messages.console_link(act.deps.region, job.name)}\n",
        )
    except Exception:
        result.errors += 1
        logger.exception("reporting the bad tag failed")
