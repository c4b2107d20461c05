"""``report.html``: one self-contained page (PNGs embedded as base64) with the summary, the
per-group curves (what each job published, what a stopped job would have done, where it was
stopped, the running-median threshold the deployed functions materialized when the median rule
is on), GPU utilization
per host with the alert spans, and the emails."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on a server or in CI

import matplotlib.pyplot as plt

from trainguard.config import Policy
from trainguard_tools.replay.plots import draw_threshold_and_scale

from .fleet import FleetJob, best_jobs
from .run import RunRecord


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def group_plot(
    group: str,
    fleet: Sequence[FleetJob],
    summary: Mapping[str, Any],
    stats: Any,
    policy: Policy,
) -> str:
    """Curves in minutes since each job's start (the runtime's steps), base64 PNG."""
    stops = {s["job"]: s for s in summary["stopped"]}
    best = best_jobs(fleet).get(group)
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=90)
    scale: list[float] = []  # the y-axis: curves that ran to the end and the threshold
    labels = {"stopped", "ran", "threshold"}
    for job in sorted((j for j in fleet if j.tagged and j.group == group), key=lambda j: j.name):
        pts = [
            (float(job.epoch_minute(e) - job.start_minute), v)
            for e, v in job.curve
            if math.isfinite(v)
        ]
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        stop = stops.get(job.name)
        if stop is not None and stop["step"] is not None:
            cut = stop["step"]
            ax.plot(xs, ys, color="tab:red", alpha=0.2, lw=0.8, ls="--")
            kept = [(x, y) for x, y in pts if x <= cut]
            ax.plot(
                [x for x, _ in kept],
                [y for _, y in kept],
                color="tab:red",
                lw=1.1,
                label="stopped (dashed: what it would have done)" if "stopped" in labels else None,
            )
            labels.discard("stopped")
            at = kept[-1][1] if kept else math.nan
            ax.plot([cut], [at], marker="x", color="black", ms=8, mew=1.8, ls="none")
            ax.annotate(
                f"{job.name} ({stop['rule']})",
                (cut, at),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
        else:
            is_best = job.name == best
            scale += ys
            ax.plot(
                xs,
                ys,
                color="tab:green" if is_best else "tab:blue",
                lw=2.2 if is_best else 0.9,
                alpha=1.0 if is_best else 0.5,
                label=(
                    f"best job {job.name}"
                    if is_best
                    else ("ran to the end" if "ran" in labels else None)
                ),
            )
            if not is_best:
                labels.discard("ran")
    # the running-median threshold only where the median rule decides (it is off by default:
    # the catch-up rule's bound is per job, its numbers are in each stop's reason)
    table = (
        stats.table(float(policy.median.grace))
        if stats is not None and policy.median.enabled
        else None
    )
    draw_threshold_and_scale(
        ax,
        table,
        policy.median.min_completed,
        f"running-median threshold M(s) ({table.jobs if table else 0} references, end of run)",
        scale,
    )
    ax.set_title(f"{group}: objective per job (minutes since its start)")
    ax.set_xlabel("minutes since the training start")
    ax.set_ylabel("validation loss (minimize)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def alert_spans(
    transitions: Sequence[Any],
    start: datetime,
    end_minute: int,
    ends: Mapping[str, float] | None = None,
) -> dict[str, list[tuple[float, float]]]:
    """host -> [(from minute, to minute)] of its GPU-idle alarm in ALARM; an alarm still in
    ALARM when it was deleted (the job ended) closes at the host's ``ends`` minute."""
    ends = ends or {}
    prefix = "trainguard-gpu-idle-"
    spans: dict[str, list[tuple[float, float]]] = {}
    opened: dict[str, float] = {}
    for t in transitions:
        if not t.alarm_name.startswith(prefix):
            continue
        job, _, index = t.alarm_name[len(prefix) :].rpartition("-algo-")
        host = f"{job}/algo-{index}"
        minute = (t.at - start).total_seconds() / 60.0
        if t.state == "ALARM":
            opened[host] = minute
        elif host in opened:
            spans.setdefault(host, []).append((opened.pop(host), minute))
    for host, since in opened.items():  # alarm deleted when the job ended: no OK
        spans.setdefault(host, []).append((since, float(ends.get(host, end_minute))))
    return spans


def gpu_plot(record: RunRecord, transitions: Sequence[Any], threshold: float) -> str:
    last = {host: float(samples[-1].minute) for host, samples in record.gpu.items() if samples}
    spans = alert_spans(transitions, record.clock_start, record.minutes, last)
    fig, ax = plt.subplots(figsize=(10, 5), dpi=90)
    colors = iter(["tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive"])
    busy_label = True
    for host, samples in sorted(record.gpu.items()):
        xs = [s.minute for s in samples]
        ys = [s.per_gpu for s in samples]
        if host in spans:
            color = next(colors, "tab:red")
            ax.plot(xs, ys, color=color, lw=1.6, label=f"{host} (alerted)")
            for a, b in spans[host]:
                ax.axvspan(a, b, color=color, alpha=0.15)
        else:
            ax.plot(
                xs,
                ys,
                color="tab:blue",
                lw=0.6,
                alpha=0.3,
                label="busy hosts" if busy_label else None,
            )
            busy_label = False
    ax.axhline(threshold, color="black", ls=":", lw=1.2, label=f"idle threshold {threshold:g}%")
    ax.set_ylim(-2, 100)
    ax.set_xlabel("simulated minute of the run")
    ax.set_ylabel("GPU utilization per GPU (%)")
    ax.set_title("GPU utilization per host; shaded: the host's GPU-idle alarm in ALARM")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    return _png(fig)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;font-size:.9em;text-align:left}
th{background:#f3f3f3} .ok{color:#080} .fail{color:#b00;font-weight:bold}
img{max-width:100%} pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap;font-size:.85em}
"""


def write_report(
    path: Path,
    summary: Mapping[str, Any],
    fleet: Sequence[FleetJob],
    record: RunRecord,
    transitions: Sequence[Any],
    emails: Sequence[Any],
    stats: Mapping[str, Any],
    policy: Policy,
) -> Path:
    frac = summary["saved_fraction"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>trainguard demo</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>trainguard demo</h1>",
        f"<p>{summary['jobs']} jobs in {len(summary['groups'])} groups replaying recorded "
        f"learning curves, {summary['simulated_minutes']} simulated minutes, mode "
        f"<b>{html.escape(str(summary['mode']))}</b>, evaluator every "
        f"{summary['tick_minutes']} min. Every decision below was made by the deployed "
        "functions and read back from the emulator's audit table.</p>",
        "<h2>Checks</h2><ul>",
    ]
    for c in summary["checks"]:
        cls = "ok" if c["ok"] else "fail"
        parts.append(
            f"<li class='{cls}'>[{'ok' if c['ok'] else 'FAIL'}] {html.escape(c['check'])}: "
            f"{html.escape(c['detail'])}</li>"
        )
    parts.append("</ul><h2>Summary</h2>")
    parts.append(
        _table(
            ["", ""],
            [
                ["jobs", summary["jobs"]],
                ["stopped", ", ".join(f"{k}: {v}" for k, v in summary["stops_by_rule"].items())],
                ["alerts", ", ".join(f"{k}: {v}" for k, v in summary["alerts_by_kind"].items())],
                ["emails", summary["emails"]],
                ["GPU hours if every job ran to its end", summary["gpu_hours_baseline"]],
                ["GPU hours used", summary["gpu_hours_used"]],
                ["saved", "n/a" if frac is None else f"{100 * frac:.1f}%"],
                [
                    "dollars saved",
                    f"${summary['usd_saved']:,.2f} of ${summary['usd_baseline']:,.2f}",
                ],
                [
                    "best job survived",
                    ", ".join(
                        f"{g}: {'yes' if ok else 'NO'}"
                        for g, ok in summary["best_job_survived"].items()
                    ),
                ],
                ["jobs without the opt-in tag stopped", summary["not_opted_in_stopped"]],
            ],
        )
    )
    parts.append("<h2>Stops</h2>")
    parts.append(
        _table(
            ["job", "group", "rule", "minute", "value", "threshold", "references"],
            [
                [
                    s["job"],
                    s["group"],
                    s["rule"],
                    s["step"],
                    s["value"],
                    s["threshold"],
                    s["references"],
                ]
                for s in summary["stopped"]
            ],
        )
    )
    parts.append("<h2>Alerts</h2>")
    parts.append(
        _table(
            ["job", "kind", "host", "reason"],
            [[a["job"], a["kind"], a["host"], a["reason"]] for a in summary["alerts"]],
        )
    )
    parts.append("<h2>Curves</h2>")
    for group in summary["groups"]:
        png = group_plot(group, fleet, summary, stats.get(group), policy)
        parts.append(f"<img alt='{html.escape(group)}' src='data:image/png;base64,{png}'>")
    parts.append("<h2>GPU utilization</h2>")
    png = gpu_plot(record, transitions, policy.gpu_idle.threshold_pct)
    parts.append(f"<img alt='GPU utilization' src='data:image/png;base64,{png}'>")
    parts.append(f"<h2>Emails ({len(emails)})</h2>")
    for e in emails:
        parts.append(
            f"<details><summary>{html.escape(e.subject)}</summary>"
            f"<pre>{html.escape(e.body)}</pre></details>"
        )
    parts.append("<h2>Jobs</h2>")
    parts.append(
        _table(
            ["job", "group", "role", "opted in", "instances", "status", "minutes run", "natural"],
            [
                [
                    j["job"],
                    j["group"],
                    j["role"],
                    "yes" if j["opted_in"] else "no",
                    j["instance"],
                    j["status"],
                    j["minutes_run"],
                    j["minutes_if_not_stopped"],
                ]
                for j in summary["job_details"]
            ],
        )
    )
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
