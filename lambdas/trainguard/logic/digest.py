"""The weekly digest: one message with the week's summary (:mod:`.report`, the same numbers as
``trainguard report --since 7d``), the jobs that sat idle longest, the longest-running jobs,
the groups whose best job came close to being stopped, and the running opted-in jobs that are
not fully watched (:mod:`.coverage`).

Reads: seven Queries of the ``audit`` index and one BatchGetItem of the runs (the summary),
one Query per GPU-idle job (its episodes), the ``running`` index (the longest-running jobs,
the jobs not fully watched, with one BatchGetItem of their groups' statistics and policies),
and, per job that a rule wanted stopped and that completed anyway, its group's statistics and
its stored curve. Nothing is written; the message goes out through the Notifier port.

"Came close to being stopped" is read from the audit, not from the evaluator: a job that a
rule said to stop (``WOULD STOP`` in observe mode, or a stop that did not happen) and that then
completed as its reference set's best (its best value equals the set's best final value, the
catch-up model's T). In enforce mode that job, the one a group most wants to keep, would
have been stopped. A cheap and honest signal: no extra state, no change to the tick.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from ..config import Controls, Policy, PolicyError, resolve_settings
from ..core.curves import Direction, fmt
from ..core.episode import EpisodeState, IdleEpisode
from ..core.instances import InstanceCatalog, gpu_hosts, hourly_cost
from ..core.values import frozen
from ..message import Message, email_text, field, sentence
from ..models import JobRecord, JobStatus, RunId
from ..times import iso
from . import messages
from .coverage import job_coverage
from .dependencies import Dependencies
from .ledger import Tally
from .report import Summary, format_text, runs_of, summarize

if TYPE_CHECKING:
    from ..ports import IdleEpisodes, References, StateTable

DIGEST_DAYS = 7
TOP = 5  # rows of each list


@frozen
class IdleJob:
    run: RunId
    group: str
    host: str
    minutes: float  # the longest idle episode of the job that the week's alerts opened
    dollars: float | None  # what its host cost over that time


@frozen
class RunningJob:
    run: RunId
    group: str
    hours: float
    dollars: float | None  # instances x price x hours so far


@frozen
class CloseCall:
    run: RunId
    group: str
    rule: str
    action: str
    at: str
    best: float
    objective: str


@frozen
class UnwatchedJob:
    run: RunId
    group: str
    gaps: tuple[str, ...]  # "rule (why)" for each rule on that does not watch it


@frozen
class Digest:
    summary: Summary
    idle: list[IdleJob]
    running: list[RunningJob]
    close_calls: list[CloseCall]
    unwatched: list[UnwatchedJob] = dataclasses.field(default_factory=list)

    def subject(self) -> str:
        t = self.summary.total
        return (
            f"{messages.PREFIX} weekly digest: {t.stops} stops, {t.would_stops} would-be "
            f"stops, {t.alerts} alerts, ${t.dollars_saved:,.2f} saved"
        )

    def body(self) -> str:
        return email_text(self.message())

    def message(self) -> Message:
        t = self.summary.total
        header = f"trainguard weekly digest, {iso(self.summary.since)} .. {iso(self.summary.until)}"
        totals = [
            field(
                "Stops",
                f"{t.stops} ({t.gpu_hours_saved:,.1f} GPU hours, ${t.dollars_saved:,.2f} saved)",
            ),
            field(
                "Would-be stops",
                f"{t.would_stops} (observe mode or stops disabled; would "
                f"have saved {t.would_gpu_hours_saved:,.1f} GPU hours, "
                f"${t.would_dollars_saved:,.2f})",
            ),
            field(
                "Resumable stops",
                f"{t.resumable_stops} (trainguard revive JOB continues them); "
                f"{t.unresumable_stops} not resumable (no CheckpointConfig); "
                f"{t.revived} revived",
            ),
            field("Alerts", t.alerts),
            field("Stops not made", f"{t.not_stopped} (already ending, refused or called off)"),
        ]
        lines = ["Top idle jobs (GPU-idle alerts, longest idle episode):"]
        lines += [
            f"  {i.run.name} ({i.group}) {i.host}: {i.minutes:.0f} min idle"
            + ("" if i.dollars is None else f", ${i.dollars:,.2f}")
            for i in self.idle
        ] or ["  none"]
        lines.append("Longest-running jobs (still running):")
        lines += [
            f"  {r.run.name} ({r.group}): {r.hours:,.1f} h"
            + ("" if r.dollars is None else f", ${r.dollars:,.2f} so far")
            for r in self.running
        ] or ["  none"]
        lines.append("Groups whose best job came close to being stopped:")
        lines += [
            f"  {c.group}: {c.run.name} completed as the best ({c.objective} {fmt(c.best)}) "
            f"after {c.rule} said {c.action} at {c.at}"
            for c in self.close_calls
        ] or ["  none"]
        lines.append("Opted-in jobs not fully watched (running; trainguard status says more):")
        lines += [
            f"  {u.run.name} ({u.group}): not watched by {'; '.join(u.gaps)}"
            for u in self.unwatched
        ] or ["  none"]
        blocks = [
            [sentence(header)],
            totals,
            messages.lines(format_text(self.summary)),
            [sentence(line) for line in lines],
            messages.REPORT_STEPS,
        ]
        return messages.report(self.subject(), blocks, 18)


def build_digest(
    table: StateTable,
    catalog: InstanceCatalog,
    now: float,
    days: int = DIGEST_DAYS,
    idle_window_minutes: float = 0.0,
    policy: Policy | None = None,
) -> Digest:
    """The digest of the ``days`` before ``now``; ``idle_window_minutes``: the GPU-idle
    alarms' window (a host was idle that long before its episode opened); ``policy``: the
    deployed policy (the running jobs' coverage; None: not listed). It reads the table's
    audit, jobs, running jobs, idle episodes and references (nothing else)."""
    summary = summarize(table.audit, table.jobs, catalog, now - days * 86400.0, now)
    running = table.running.running_jobs()
    return Digest(
        summary,
        top_idle(table.idle_episodes, summary, catalog, now, idle_window_minutes),
        longest_running(running, catalog, now),
        close_calls(table.references, summary),
        [] if policy is None else not_watched(table.references, running, policy, catalog),
    )


def not_watched(
    references: References, running: list[JobRecord], policy: Policy, catalog: InstanceCatalog
) -> list[UnwatchedJob]:
    """The running opted-in jobs that a rule on does not watch, and why (the tick's own
    computation, :func:`.coverage.job_coverage`, under the group's policy)."""
    opted_in = [j for j in running if j.opted_in]
    stats, policies = references.batch_get_group_state({j.reference_set for j in opted_in})
    out = []
    for job in sorted(opted_in, key=lambda j: (j.group, j.run)):
        group = stats.get(job.reference_set)
        count = group.references if group is not None else 0
        try:
            settings = resolve_settings(job.tags, policy, policies.get(job.group), Controls())
        except PolicyError as exc:
            covered = job_coverage(job, None, policy, catalog, error=str(exc))
        else:
            covered = job_coverage(job, settings, policy, catalog, references=count)
        if not covered.watched:
            gaps = tuple(f"{r.rule} ({r.why})" for r in covered.gaps())
            out.append(UnwatchedJob(job.run, job.group, gaps))
    return out


def top_idle(
    episodes: IdleEpisodes,
    summary: Summary,
    catalog: InstanceCatalog,
    now: float,
    window_minutes: float = 0.0,
    top: int = TOP,
) -> list[IdleJob]:
    """The jobs with a GPU-idle alert in the period, by their longest idle episode: from the
    alarm's window before it opened (the host was idle all that window) to its close, or to
    now (or the job's end) while it is open."""
    out = []
    idle_runs = {e.run for e in summary.entries if e.kind is Tally.ALERT and e.rule == "gpu_idle"}
    for run in sorted(idle_runs):
        job = summary.jobs.get(run)
        end = now if job is None or job.end_time is None else job.end_time
        longest: tuple[float, str] | None = None
        for host, item in episodes.episodes(run).items():
            episode = IdleEpisode.from_item(host, item)
            if episode is None:
                continue
            closed = episode.closed_at if episode.state is EpisodeState.CLOSED else None
            until = closed if closed is not None else end
            minutes = max(0.0, (until - episode.opened_at) / 60.0) + window_minutes
            if longest is None or minutes > longest[0]:
                longest = (minutes, host)
        if longest is None:
            continue
        price = gpu_hosts(job.groups, catalog).usd_per_host if job is not None else None
        dollars = price * longest[0] / 60.0 if price is not None else None
        group = job.group if job is not None else "(unknown)"
        out.append(IdleJob(run, group, longest[1], longest[0], dollars))
    return sorted(out, key=lambda i: (-i.minutes, i.run))[:top]


def longest_running(
    running: list[JobRecord], catalog: InstanceCatalog, now: float, top: int = TOP
) -> list[RunningJob]:
    """The running jobs that have run longest, with what they have cost so far."""
    out = []
    for job in running:
        hours = max(0.0, (now - job.start_time) / 3600.0)
        hourly = hourly_cost(job.groups, catalog)
        dollars = hourly * hours if hourly is not None else None
        out.append(RunningJob(job.run, job.group or "(not opted in)", hours, dollars))
    return sorted(out, key=lambda r: (-r.hours, r.run))[:top]


def close_calls(references: References, summary: Summary) -> list[CloseCall]:
    """The period's jobs that a rule wanted stopped, that completed anyway and ended as their
    reference set's best (see the module docstring)."""
    out = []
    flagged = runs_of(summary.entries, (Tally.WOULD_STOP, Tally.NOT_STOPPED))
    for run in flagged:
        job = summary.jobs.get(run)
        if job is None or job.status != JobStatus.COMPLETED or not job.objective:
            continue
        stats = references.get_stats(job.reference_set)
        target = stats.catchup.best_final if stats is not None and stats.catchup else None
        curves = references.get_curves(job.reference_set, [str(run)])
        if target is None or str(run) not in curves:
            continue
        values = [v for _, v in curves[str(run)][0] if math.isfinite(v)]
        if not values:
            continue
        best = max(values) if job.direction == Direction.MAXIMIZE else min(values)
        if not math.isclose(best, target, rel_tol=1e-9, abs_tol=1e-12):
            continue
        first = next(
            e
            for e in summary.entries
            if e.run == run and e.kind in (Tally.WOULD_STOP, Tally.NOT_STOPPED)
        )
        out.append(
            CloseCall(run, job.group, first.rule, first.action, first.at, best, job.objective)
        )
    return out


def send_digest(deps: Dependencies, now: float | None = None) -> Digest:
    """Build the digest of the week before ``now`` (default: the clock) and publish it as one
    message on the alert channel."""
    moment = deps.clock() if now is None else now
    window = deps.policy.gpu_idle.window_minutes
    digest = build_digest(
        deps, deps.catalog, moment, idle_window_minutes=window, policy=deps.policy
    )
    deps.notifier.send(digest.message())
    return digest
