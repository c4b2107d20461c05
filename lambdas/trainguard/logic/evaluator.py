"""The scheduled tick: reconcile, observe, decide, act, for every running opted-in job.

Reads per tick: the ``running`` index (it carries each job's stored progress), one
BatchGetItem of the groups' ``STATS``, one GetMetricData batch (:mod:`.observe`),
ListTrainingJobs and DescribeAlarms for the reconcile (:mod:`.reconcile`). Writes: each job's
progress when it took a new datapoint; and only when something happens, an ``ACTION#`` claim,
StopTrainingJob, an audit record and one email (:mod:`.act`).

One job's failure is logged with its name and never blocks the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..models import JobRecord, RunId
from ..observability import logger
from ..policy import JobSettings, PolicyError, job_settings
from . import messages
from .act import STOPPED, Act
from .decide import judge
from .dependencies import Dependencies
from .observe import Observation, observe
from .reconcile import reconcile


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
    duration_ms: float = 0.0
    actions: list[dict[str, Any]] = field(default_factory=list)


def run_tick(deps: Dependencies, now: float | None = None) -> TickResult:
    """One tick at ``now`` (epoch seconds: the scheduled event's time; default the clock)."""
    started = time.monotonic()
    now = deps.clock() if now is None else now
    result = TickResult()
    act = Act(deps, now)
    running = deps.store.running_jobs()
    try:
        reconciled = reconcile(deps, running, now)
        running = reconciled.running
        result.registered, result.finalized = reconciled.registered, reconciled.finalized
        result.orphan_alarms_deleted = reconciled.orphan_alarms_deleted
        result.errors += reconciled.errors
    except Exception:
        result.errors += 1
        logger.exception("reconcile failed; evaluating the jobs the table knows")

    jobs: list[tuple[JobRecord, JobSettings]] = []
    for job in running:
        if not job.opted_in:
            continue
        try:
            jobs.append((job, job_settings(job.tags, deps.policy)))
        except PolicyError as exc:
            _report_config_error(act, job, str(exc), result)
    result.jobs = len(jobs)
    stats = deps.store.batch_get_stats({job.group for job, _ in jobs})
    observed: dict[RunId, Observation] | None
    try:
        observed = observe(
            jobs,
            deps.metrics,
            now=now,
            unit=deps.policy.step_unit,
            lag_minutes=deps.policy.ingestion_lag_minutes,
        )
    except Exception:
        result.errors += 1
        observed = None
        logger.exception("GetMetricData failed: objective rules skipped this tick")

    for job, settings in jobs:
        logger.append_keys(job=job.name)
        try:
            seen = observed.get(job.run) if observed is not None else None
            judgement = judge(job, settings, seen, stats.get(job.group), now)
            result.evaluated += 1
            if judgement.judged:
                result.decisions += 1
            for decision in judgement.stops:
                if act.stop(job, settings, decision, stats.get(job.group)) == STOPPED:
                    break  # stopped: the job's other stops have nothing left to do
            for alert in judgement.alerts:
                act.alert(job, settings, alert, stats.get(job.group))
        except Exception:
            result.errors += 1
            logger.exception("evaluating the job failed; the tick goes on")
        finally:
            logger.remove_keys(["job"])

    if observed:
        try:
            deps.store.save_progress(
                [(run, seen.progress) for run, seen in observed.items() if seen.save]
            )
        except Exception:
            result.errors += 1  # the next tick reads those jobs again from their start
            logger.exception("saving the jobs' progress failed")
    result.stops, result.would_stops = act.stops, act.would_stops
    result.alerts = act.alerts
    result.dollars_saved = act.dollars_saved
    result.actions = act.records
    result.duration_ms = (time.monotonic() - started) * 1000.0
    return result


def _report_config_error(act: Act, job: JobRecord, error: str, result: TickResult) -> None:
    """A bad tag value: reported once for that job, never a crash of the tick."""
    logger.warning("bad trainguard tag", extra={"job": job.name, "error": error})
    try:
        act.notice(
            job,
            "config#alert",
            {"error": error},
            f"{messages.PREFIX} CONFIG {job.name}: {error}",
            f"Job:     {job.name}\nProblem: {error}\nThe job is not evaluated until its tags "
            f"are fixed.\n\nConsole: {messages.console_link(act.deps.region, job.name)}\n",
        )
    except Exception:
        result.errors += 1
        logger.exception("reporting the bad tag failed")
