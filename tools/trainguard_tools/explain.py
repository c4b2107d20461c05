"""``trainguard explain JOB``: why trainguard did what it did to one job.

* the audit trail: every decision and alert recorded for the job's latest run, with its
  numbers (rule, step, value, threshold, references, mode, action, dollars saved, reason);
* its curve against its group's threshold, step by step, as the evaluator computes it (the
  job's rules, ``JobSettings.rules``, on the curve so far against the reference set's stored
  statistics): a small terminal plot always, a PNG with ``--png PATH`` (matplotlib, in the
  ``local`` dependency group);
* the references that set the threshold at the job's last step (the median's setters, the
  catch-up model's best final value and its completed jobs).

The curve is the job's stored reference curve when it completed, else its objective metric
read from CloudWatch (one GetMetricData) from its start to its end (or now).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainguard.adapters.cloudwatch import CloudWatchMetrics
from trainguard.config import Controls, JobSettings, Policy, PolicyError, resolve_settings
from trainguard.core.curves import Point, fmt
from trainguard.core.instances import instances_text
from trainguard.core.series import in_steps, minute_curve
from trainguard.core.summary import CurveSummary
from trainguard.models import GroupStats, JobRecord, MetricQuery
from trainguard.ports import AuditRecord, MetricReader, References, StateTable

from .stack import OpsError, add_stack_arguments, connect, deployed_policy, run
from .status import THRESHOLD_RULES

PLOT_WIDTH = 64
PLOT_HEIGHT = 14
MARKS = {"job": "*", "median": "m", "catch-up": "c"}


@dataclass
class Explanation:
    job: JobRecord
    trail: list[AuditRecord]
    curve: list[Point]
    thresholds: dict[str, list[Point]] = field(default_factory=dict)  # rule -> (step, value)
    references: list[str] = field(default_factory=list)  # lines about who set the threshold
    note: str = ""


def threshold_curves(
    settings: JobSettings, name: str, curve: Sequence[Point], stats: GroupStats | None
) -> dict[str, list[Point]]:
    """The median and catch-up thresholds at each step of ``curve``, from the rules' own
    decisions on the curve so far (the summary the tick keeps, folded one point at a time)."""
    out: dict[str, list[Point]] = {}
    if stats is None:
        return out
    rules = settings.rules
    group = rules.group_state(stats)
    summary = CurveSummary(rules.direction, rules.min_delta)
    for step, value in curve:
        summary = summary.add(step, value)
        decisions = rules.decisions(name, summary, group)
        for d in decisions:
            if d.rule in THRESHOLD_RULES and d.threshold is not None and d.step is not None:
                out.setdefault(d.rule, []).append((d.step, d.threshold))
    return out


def setters(settings: JobSettings, stats: GroupStats | None, step: float | None) -> list[str]:
    """Who set the threshold at ``step``: the median rule's reference(s), the catch-up model's
    target and spread."""
    if stats is None or step is None:
        return ["no completed references in the job's reference set yet"]
    lines = [
        f"reference set {stats.refs.group} / {stats.refs.key}: {stats.references} "
        f"completed job(s) in the window, {stats.completed} ever"
    ]
    rules = settings.rules
    table = stats.table(rules.median.table_key) if rules.median else None
    if rules.median is not None and table is not None:
        m, n = table.at(step)
        by = table.set_by(step)
        lines.append(
            f"median at step {fmt(step)}: {fmt(m)} over {n} reference(s)"
            + (f", set by {' and '.join(by)}" if by else "")
        )
    model = stats.catchup
    if rules.catchup is not None and model is not None:
        gain, n = model.at(step)
        lines.append(
            f"catch-up at step {fmt(step)}: the best final value T={fmt(model.best_final)} of "
            f"{model.completed} completed job(s); the largest later gain {fmt(gain)} among {n} "
            f"reaching this step; noise sigma {fmt(model.sigma)} x "
            f"k={fmt(rules.catchup.noise_multiple)}"
        )
    if stats.window:
        shown = list(stats.window[-10:])
        more = f" (and {len(stats.window) - 10} older)" if len(stats.window) > 10 else ""
        lines.append(f"window: {', '.join(shown)}{more}")
    return lines


def job_curve(
    references: References, metrics: MetricReader | None, job: JobRecord, unit: str, now: float
) -> list[Point]:
    """The job's curve: its stored completed curve, else its objective from CloudWatch."""
    if not job.objective:
        return []
    stored = references.get_curves(job.reference_set, [str(job.run)])
    if str(job.run) in stored:
        return stored[str(job.run)][0]
    if metrics is None:
        return []
    end = job.end_time if job.end_time is not None else now
    query = MetricQuery("o0", job.objective, (("TrainingJobName", job.name),))
    start = job.start_time - job.start_time % 60.0
    series = metrics.get_series([query], start, max(end, start + 60.0) + 60.0).get("o0", [])
    return in_steps(minute_curve(series, job.start_time), unit)


def explain(
    table: StateTable,
    metrics: MetricReader | None,
    name: str,
    policy: Policy,
    now: float,
    controls: Controls | None = None,
) -> Explanation:
    """Why trainguard did what it did to job ``name``: its settings resolved as the tick
    resolves them (:func:`~trainguard.config.resolve_settings`: ``policy`` is the deployed
    one, ``controls`` the runtime controls in force)."""
    job = table.jobs.latest_run(name)
    if job is None:
        raise OpsError(f"no job named {name} in the state table (not seen by trainguard)")
    trail = sorted(table.audit.decisions(job.run), key=lambda d: _at(d))
    curve = job_curve(table.references, metrics, job, policy.step_unit, now)
    out = Explanation(job, trail, curve)
    if not job.opted_in:
        out.note = "not opted in (no trainguard:group tag): alerted on, never stopped"
        return out
    stats, policies = table.references.batch_get_group_state([job.reference_set])
    try:
        group_policy = policies.get(job.group)
        settings = resolve_settings(job.tags, policy, group_policy, controls or Controls())
    except PolicyError as exc:
        out.note = f"bad tag: {exc}"
        return out
    group = stats.get(job.reference_set)
    out.thresholds = threshold_curves(settings, job.name, curve, group)
    last = curve[-1][0] if curve else (job.progress.summary.last_step if job.progress else None)
    out.references = setters(settings, group, last)
    return out


# ---- output -----------------------------------------------------------------------------------


def format_trail(trail: Sequence[Mapping[str, Any]]) -> list[str]:
    if not trail:
        return ["  (no decisions or alerts recorded)"]
    lines = []
    for d in trail:
        saved = d.get("estimated_dollars_saved")
        money = f", saves ${float(saved):,.2f}" if saved else ""
        lines.append(
            f"  {_at(d)}  {d.get('rule')}: {d.get('action')} [{d.get('mode')}] step "
            f"{fmt(d.get('step'))}, value {fmt(d.get('value'))} vs threshold "
            f"{fmt(d.get('threshold'))} over {d.get('references', 0)} reference(s){money}"
        )
        lines.append(f"      {d.get('reason')}")
        if d.get("resumable") is True:
            lines.append(
                f"      resumable: its checkpoints are in {d.get('checkpoint')}; continue it "
                f"with: trainguard revive {d.get('job')} --reason WHY"
            )
        elif d.get("resumable") is False:
            lines.append("      not resumable: the job has no CheckpointConfig")
    return lines


def ascii_plot(
    series: Mapping[str, Sequence[Point]], width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT
) -> list[str]:
    """A small terminal plot: ``*`` the job, ``m`` the median threshold, ``c`` catch-up."""
    points = [(s, v) for pts in series.values() for s, v in pts if math.isfinite(v)]
    if not points:
        return ["  (no curve to plot)"]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    xs, ys = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for label in sorted(series, key=lambda k: k == "job"):  # the job drawn last, on top
        mark = MARKS.get(label, "?")
        for s, v in series[label]:
            if not math.isfinite(v):
                continue
            col = round((s - x0) / xs * (width - 1))
            row = height - 1 - round((v - y0) / ys * (height - 1))
            grid[row][col] = mark
    label_w = max(len(fmt(y0)), len(fmt(y1)))
    lines = []
    for i, cells in enumerate(grid):
        tick = fmt(y1) if i == 0 else fmt(y0) if i == height - 1 else ""
        lines.append(f"  {tick.rjust(label_w)} |{''.join(cells).rstrip()}")
    lines.append(f"  {' ' * label_w} +{'-' * width}")
    lines.append(
        f"  {' ' * label_w}  step {fmt(x0)} .. {fmt(x1)}   "
        + "  ".join(f"{MARKS.get(k, '?')} {k}" for k in series)
    )
    return lines


def write_png(exp: Explanation, path: Path) -> str:
    """The curve and thresholds as a PNG; a note instead when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (uv sync --group local): no PNG written"
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if exp.curve:
        ax.plot(*zip(*exp.curve, strict=True), label=f"{exp.job.name} ({exp.job.objective})")
    for rule, pts in exp.thresholds.items():
        ax.step(*zip(*pts, strict=True), where="post", linestyle="--", label=f"{rule} threshold")
    for d in exp.trail:
        step, value = d.get("step"), d.get("value")
        if step is not None and value is not None and d.get("action") != "ALERT":
            ax.scatter([step], [value], marker="x", color="red", zorder=3)
    ax.set_xlabel("step")
    ax.set_ylabel(str(exp.job.objective))
    ax.set_title(f"trainguard explain {exp.job.name} (group {exp.job.group})")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"wrote {path}"


def format_text(exp: Explanation) -> str:
    j = exp.job
    lines = [
        f"Job {j.name} (run {j.run}): {j.status}, group {j.group or '-'}, "
        f"{instances_text(j.groups)}, objective {j.objective or '-'} ({j.direction})",
    ]
    if exp.note:
        lines.append(f"Note: {exp.note}")
    lines.append(f"Audit trail ({len(exp.trail)} record(s)):")
    lines += format_trail(exp.trail)
    lines.append("Curve against the group's threshold:")
    lines += ascii_plot({"job": exp.curve, **exp.thresholds})
    if exp.curve:
        step = exp.curve[-1][0]
        now = ", ".join(f"{r} {fmt(p[-1][1])}" for r, p in exp.thresholds.items() if p)
        lines.append(
            f"  at step {fmt(step)}: value {fmt(exp.curve[-1][1])}; thresholds: {now or 'none yet'}"
        )
    if exp.references:
        lines.append("References:")
        lines += [f"  {line}" for line in exp.references]
    return "\n".join(lines)


def _at(record: Mapping[str, Any]) -> str:
    at = record.get("audit_at")
    if at:
        return str(at)
    sk = str(record.get("sk", ""))  # records written before the audit index
    return sk.split("#DECISION#", 1)[1].rsplit("#", 1)[0] if "#DECISION#" in sk else ""


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        deployed = connect(args.stack, args.region)
        policy, _ = deployed_policy(deployed)
        metrics = CloudWatchMetrics(deployed.client("cloudwatch"))
        now = datetime.now(UTC).timestamp()
        exp = explain(deployed.state_table(), metrics, args.job, policy, now, deployed.controls())
        print(format_text(exp))
        if args.png:
            print(write_png(exp, Path(args.png)))
        return 0

    return run(command)


def register(sub: Any) -> None:
    """``trainguard explain JOB [--png PATH] [--stack S] [--region R]``."""
    parser = sub.add_parser(
        "explain",
        help="one job's audit trail, its curve against the threshold, its references",
        description="Why trainguard did what it did to one job: its audit trail (stops, "
        "would-be stops, alerts, with who and when), its curve against the threshold it was "
        "held to, and the completed jobs that threshold came from. --png also draws it.",
    )
    parser.add_argument("job", help="the training job's name (its latest run)")
    parser.add_argument("--png", help="also write the plot to this PNG (needs matplotlib)")
    add_stack_arguments(parser)
    parser.set_defaults(func=_run)
