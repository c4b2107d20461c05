"""``trainguard status``: the running opted-in jobs per group, each with its latest value, the
threshold it is held to, the references behind it, its effective mode, its open alerts and
which rules watch it (and, for each that does not, why: ``trainguard.logic.coverage``, the
tick's own computation); and the runtime controls in force.

The threshold is the evaluator's own: the job's stored progress (its ``CurveSummary`` and
catch-up streak) judged by the job's rules (``JobSettings.rules``, resolved by the tick's own
``trainguard.config.resolve_settings``) against its reference set's stored statistics (the
median table, the catch-up model). Nothing is re-derived here.

Reads: the stack's outputs, the evaluator's configuration (the deployed policy), the
``running`` index, one BatchGetItem of the groups' statistics and policies, the controls item.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from trainguard.config import Control, Controls, JobSettings, Policy, PolicyError, resolve_settings
from trainguard.constants import TAG_MODE
from trainguard.core.curves import fmt
from trainguard.core.decision import Decision
from trainguard.core.episode import idle_episodes, open_episodes
from trainguard.logic.coverage import job_coverage
from trainguard.models import GroupPolicy, GroupStats, JobRecord, ReferenceSet

from .stack import Deployed, add_stack_arguments, connect, deployed_policy, run

THRESHOLD_RULES = ("median", "catch-up")


@dataclass
class JobStatus:
    job: str
    group: str
    objective: str | None
    direction: str
    step: float | None
    latest: float | None
    best: float | None
    thresholds: dict[str, float] = field(default_factory=dict)  # rule -> value to beat
    references: int = 0
    note: str = ""  # why there is no threshold (the rule's own words)
    mode: str = "observe"
    mode_source: str = "deploy-time"
    alerts: list[str] = field(default_factory=list)
    minutes: float = 0.0
    # each rule its settings turn on -> "watched", "n/a: why" or "not watched: why" (the
    # tick's own computation: trainguard.logic.coverage)
    coverage: dict[str, str] = field(default_factory=dict)

    @property
    def fully_watched(self) -> bool:
        return not any(v.startswith("not watched") for v in self.coverage.values())


def mode_of(job: JobRecord, settings: JobSettings, controls: Controls) -> tuple[str, str]:
    """(effective mode, where it comes from: tag, group or global control, deploy-time)."""
    source = "tag" if TAG_MODE in job.tags else controls.mode_source(job.group)
    mode: str = settings.mode
    if settings.mode == "enforce" and settings.hold is not None:
        mode = f"enforce ({settings.hold}: reports only)"
    return mode, source


def judged(settings: JobSettings, job: JobRecord, stats: GroupStats | None) -> list[Decision]:
    """The objective rules' decisions on the job's stored progress, as the tick makes them."""
    progress = job.progress
    if progress is None or stats is None:
        return []
    rules = settings.rules
    group = rules.group_state(stats, streak=progress.streak)
    return rules.decisions(job.name, progress.summary, group)


def open_alerts(job: JobRecord, now: float) -> list[str]:
    """The run's open episodes by typed key: idle hosts (its ``idle_hosts``), hung,
    stragglers, throughput (its ``episodes``; a coverage cause there is no episode key: the
    coverage lines say it)."""
    idle = sorted(idle_episodes(job.idle_hosts).items())
    out = [f"gpu idle {key.host} since {_hhmm(t)}" for key, t in idle]
    for key, opened in sorted(open_episodes(job.episodes).items()):
        out.append(f"{' '.join(key.parts())} since {_hhmm(opened)}")
    return out


def describe_controls(controls: Controls) -> str:
    """One line: what is in force and who set it."""
    if controls.error is not None:
        return f"UNREADABLE ({controls.error})"
    parts = []
    for scope, control in (("global", controls.global_), *sorted(controls.groups.items())):
        if control == Control():
            continue
        state = "PAUSED: every stop is a report" if control.paused else "running"
        mode = f"mode {control.mode}" if control.mode else "mode: deploy-time"
        who = f" by {control.by}" if control.by else ""
        when = f" at {control.at}" if control.at else ""
        why = f" ({control.reason})" if control.reason else ""
        name = "global" if scope == "global" else f"group {scope}"
        parts.append(f"{name}: {state}; {mode}; set{who}{when}{why}")
    return "; ".join(parts) or "none set (deploy-time defaults)"


def _hhmm(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")


def job_status(
    job: JobRecord,
    policy: Policy,
    controls: Controls,
    stats: Mapping[ReferenceSet, GroupStats],
    now: float,
    group_policy: GroupPolicy | None = None,
) -> JobStatus:
    """One job's row, its settings resolved as the tick resolves them
    (:func:`~trainguard.config.resolve_settings`: ``policy`` is the deployed one)."""
    summary = job.progress.summary if job.progress is not None else None
    out = JobStatus(
        job=job.name,
        group=job.group,
        objective=job.objective,
        direction=job.direction,
        step=summary.last_step if summary else None,
        latest=summary.last_value if summary else None,
        best=summary.best if summary else None,
        alerts=open_alerts(job, now),
        minutes=max(0.0, (now - job.start_time) / 60.0),
    )
    group = stats.get(job.reference_set)
    references = group.references if group is not None else 0
    try:
        settings = resolve_settings(job.tags, policy, group_policy, controls)
    except PolicyError as exc:
        out.note, out.mode, out.mode_source = f"bad tag: {exc}", "not evaluated", "tag"
        covered = job_coverage(job, None, policy, policy.catalog(), error=str(exc))
        out.coverage = covered.by_rule()
        return out
    out.mode, out.mode_source = mode_of(job, settings, controls)
    covered = job_coverage(job, settings, policy, policy.catalog(), references=references)
    out.coverage = covered.by_rule()
    decisions = judged(settings, job, group)
    for d in decisions:
        if d.rule in THRESHOLD_RULES and d.threshold is not None:
            out.thresholds[d.rule] = d.threshold
        if d.rule in THRESHOLD_RULES:
            out.references = max(out.references, d.references)
    if not out.thresholds:
        first = next((d for d in decisions if d.rule in THRESHOLD_RULES), None)
        if job.progress is None:
            out.note = "no datapoints read yet"
        elif group is None:
            out.note = "no completed references yet"
        elif first is not None:
            out.note = first.reason
    return out


def collect(deployed: Deployed, now: float) -> tuple[Controls, Policy, str | None, list[JobStatus]]:
    state = deployed.state_table()
    controls = deployed.controls()
    policy, switch = deployed_policy(deployed)
    running = [j for j in state.running.running_jobs() if j.opted_in]
    stats, policies = state.references.batch_get_group_state({j.reference_set for j in running})
    rows = []
    for job in sorted(running, key=lambda j: (j.group, j.name)):
        rows.append(job_status(job, policy, controls, stats, now, policies.get(job.group)))
    return controls, policy, switch, rows


def format_text(
    controls: Controls, policy: Policy, switch: str | None, rows: list[JobStatus]
) -> str:
    lines = [
        f"Controls: {describe_controls(controls)}",
        f"Deploy-time: mode {policy.mode}, stopsDisabled "
        f"{switch if switch is not None else 'unknown (evaluator not readable)'}",
    ]
    if not rows:
        lines.append("No running opted-in jobs.")
        return "\n".join(lines)
    header = (
        "job",
        "age-min",
        "step",
        "latest",
        "best",
        "threshold",
        "refs",
        "mode",
        "open alerts",
    )
    groups: dict[str, list[JobStatus]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    for group, members in groups.items():
        lines.append("")
        lines.append(f"Group {group} ({len(members)} running)")
        table = [header]
        for r in members:
            threshold = ", ".join(f"{rule} {fmt(v)}" for rule, v in r.thresholds.items())
            table.append(
                (
                    r.job,
                    f"{r.minutes:.0f}",
                    fmt(r.step),
                    fmt(r.latest),
                    fmt(r.best),
                    threshold or "-",
                    str(r.references),
                    f"{r.mode} [{r.mode_source}]",
                    "; ".join(r.alerts) or "-",
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        for r in members:
            if r.note:
                lines.append(f"  {r.job}: {r.note}")
        for r in members:
            lines.append(f"  {r.job}: {coverage_line(r)}")
    return "\n".join(line.rstrip() for line in lines)


def coverage_line(row: JobStatus) -> str:
    """``watched by catch-up, runtime, ...``, then each rule that does not watch it and why."""
    watched = [rule for rule, state in row.coverage.items() if state == "watched"]
    gaps = [
        f"{rule} ({state.removeprefix('not watched: ')})"
        for rule, state in row.coverage.items()
        if state.startswith("not watched")
    ]
    text = "watched by " + (", ".join(watched) or "no rule")
    return text + (f"; NOT watched by {'; '.join(gaps)}" if gaps else "")


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        deployed = connect(args.stack, args.region)
        now = datetime.now(UTC).timestamp()
        controls, policy, switch, rows = collect(deployed, now)
        if args.format == "json":
            doc = {
                "controls": controls.summary(),
                "deploy_time": {"mode": policy.mode, "stops_disabled": switch},
                "jobs": [asdict(r) for r in rows],
            }
            print(json.dumps(doc, indent=2, sort_keys=True, default=str))
        else:
            print(format_text(controls, policy, switch, rows))
        return 0

    return run(command)


def register(sub: Any) -> None:
    """``trainguard status [--stack S] [--region R] [--format text|json]``."""
    parser = sub.add_parser(
        "status",
        help="running opted-in jobs, their thresholds, modes and open alerts",
        description="The opted-in jobs running now, per group: each job's latest and best "
        "value, the value it must beat to keep running (the rule's threshold, as the "
        "evaluator computes it), the references behind it, the mode it runs in and its open "
        "alerts (idle GPU, hung, straggler, throughput); then the runtime controls in force "
        "(pause, modes). Reads the deployed stack with your AWS credentials.",
    )
    add_stack_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=_run)
