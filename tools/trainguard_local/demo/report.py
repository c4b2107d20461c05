"""``report.html``: one self-contained page (PNGs embedded as base64, no script), in the order a
reader asks: what trainguard decided (jobs, stops and why, alerts, GPU hours and dollars saved,
each group's best job kept), the stops and alerts one by one, the per-group curves (what each
job published, what a stopped job would have done, where it was stopped, the running-median
threshold when the median rule is on), GPU utilization per host with what was alerted, the
emails, the jobs, and last the demo's own checklist.

Every chart's ``<img>`` carries its geometry as JSON in ``data-chart``: the image's size, the
axes' limits and pixel box, and each mark (stop, alert) in data and pixel coordinates, so a test
can check in a browser that every stop is drawn inside its axes (tests/browser).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on a server or in CI

import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from trainguard.config import Policy
from trainguard_tools.replay.plots import draw_threshold_and_scale

from .fleet import FleetJob, best_jobs
from .run import RunRecord

STOP_MARKERS = {"catch-up": "X", "diverged": "P", "median": "D", "patience": "s"}
OFF_SCALE = {"top": "^", "bottom": "v"}  # a stop beyond the axis, drawn on its edge


@dataclass
class Chart:
    """One rendered chart: the PNG (base64) and its machine-checkable geometry."""

    png: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # the caption under it

    def html(self, alt: str) -> str:
        geometry = html.escape(json.dumps(self.data, separators=(",", ":")), quote=True)
        caption = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<figure><img alt='{html.escape(alt, quote=True)}' data-chart=\"{geometry}\" "
            f"src='data:image/png;base64,{self.png}'>"
            + (f"<figcaption><ul>{caption}</ul></figcaption>" if caption else "")
            + "</figure>"
        )


def _render(
    fig: Any, ax: Any, marks: list[dict[str, Any]], **about: Any
) -> tuple[str, dict[str, Any]]:
    """The figure as a base64 PNG and its geometry: the image size in pixels, the axes' data
    limits and pixel box (origin top left, as in the image), each mark's pixel position."""
    fig.tight_layout()
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    box = ax.get_window_extent()

    def px(x: float, y: float) -> list[float]:
        dx, dy = ax.transData.transform((x, y))
        return [round(float(dx), 1), round(height - float(dy), 1)]

    data = {
        **about,
        "image": [width, height],
        "xlim": [float(v) for v in ax.get_xlim()],
        "ylim": [float(v) for v in ax.get_ylim()],
        "axes_px": [
            round(box.x0, 1),
            round(height - box.y1, 1),
            round(box.x1, 1),
            round(height - box.y0, 1),
        ],
        "marks": [{**m, "px": px(m["x"], m["y"])} for m in marks],
    }
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii"), data


def _short(job: str, group: str) -> str:
    """A job's name without its group's prefix (``wine-mlp-023`` -> ``023``), for labels."""
    prefix = f"{group}-"
    return job[len(prefix) :] if job.startswith(prefix) and len(job) > len(prefix) else job


def group_plot(
    group: str,
    fleet: Sequence[FleetJob],
    summary: Mapping[str, Any],
    stats: Any,
    policy: Policy,
) -> Chart:
    """Curves in minutes since each job's start (the runtime's steps).

    The y-axis is scaled on the curves that ran to the end and the threshold, then widened to
    every stop; a value far beyond that scale (a diverging loss, a recorded curve that explodes)
    is not drawn (its line breaks there, said under the chart), a stop far beyond it is drawn
    on the axis edge with its value; a diverged job's projection is not drawn (said too)."""
    stops = {s["job"]: s for s in summary["stopped"] if s["group"] == group}
    best = best_jobs(fleet).get(group)
    jobs = sorted((j for j in fleet if j.tagged and j.group == group), key=lambda j: j.name)
    curves: dict[str, list[tuple[float, float]]] = {}
    for job in jobs:
        pts = [
            (float(job.epoch_minute(e) - job.start_minute), v)
            for e, v in job.curve
            if math.isfinite(v)
        ]
        if pts:
            curves[job.name] = pts
    # where each stop is drawn: on its curve at the stop's minute (the audit's value otherwise)
    at: dict[str, tuple[float, float]] = {}
    for name, stop in stops.items():
        if stop["step"] is None:
            continue
        kept = [(x, y) for x, y in curves.get(name, []) if x <= stop["step"]]
        y = kept[-1][1] if kept else stop["value"]
        if y is not None and math.isfinite(y):
            at[name] = (float(stop["step"]), float(y))
    ran = [y for name, pts in curves.items() if name not in stops for _, y in pts]
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=90)
    table = (
        stats.table(float(policy.median.grace))
        if stats is not None and policy.median.enabled
        else None
    )
    scale = draw_threshold_and_scale(
        ax,
        table,
        policy.median.min_completed,
        f"running-median threshold M(s) ({table.jobs if table else 0} references, end of run)",
        ran,
        stops=[y for _, y in at.values()],
    )
    notes: list[str] = []
    labels = {"stopped", "ran"}
    for job in jobs:
        pts = curves.get(job.name, [])
        if not pts:
            continue
        drawn = [(x, scale.drawable(y)) for x, y in pts]
        stop = stops.get(job.name)
        if job.name in at and stop is not None:
            cut = at[job.name][0]
            kept = [(x, y) for x, y in drawn if x <= cut]
            if stop["rule"] == "diverged":  # only up to the stop: after it, it explodes
                drawn = kept
                notes.append(
                    f"{job.name}: diverged; what it would have done after minute {cut:g} is "
                    f"not drawn (its loss goes on to {max(y for _, y in pts):.3g})."
                )
            else:
                ax.plot(*zip(*drawn, strict=True), color="tab:red", alpha=0.22, lw=0.8, ls="--")
            ax.plot(
                *zip(*kept, strict=True),
                color="tab:red",
                lw=1.1,
                label="stopped (dashed: what it would have done)" if "stopped" in labels else None,
            )
            labels.discard("stopped")
        else:
            is_best = job.name == best
            ax.plot(
                *zip(*drawn, strict=True),
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
        hidden = [y for (_, y), (_, d) in zip(pts, drawn, strict=False) if math.isnan(d)]
        if hidden:
            notes.append(
                f"{job.name}: {len(hidden)} value(s) far off the scale not drawn "
                f"(from {min(hidden):.3g} to {max(hidden):.3g}); its line breaks there."
            )
    marks = []
    edge_labels = 0  # off-scale labels, stacked so that neighbours do not overprint
    for name, (x, y) in sorted(at.items(), key=lambda kv: kv[1]):
        rule = stops[name]["rule"]
        shown, edge = scale.clamp(y)
        marker = OFF_SCALE[edge] if edge else STOP_MARKERS.get(rule, "o")
        ax.plot([x], [shown], marker=marker, color="black", ms=8, mew=1.6, ls="none", clip_on=False)
        if edge:  # inside the axes, under (over) the edge it is beyond
            edge_labels += 1
            dy = -10 * (1 + (edge_labels - 1) % 3) if edge == "top" else 6
            text = f"{_short(name, group)}: {y:.3g}"
        else:
            dy, text = 4, _short(name, group)
        ax.annotate(text, (x, shown), textcoords="offset points", xytext=(5, dy), fontsize=7)
        marks.append(
            {
                "kind": "stop",
                "job": name,
                "rule": rule,
                "x": x,
                "y": shown,
                "value": y,
                "off_scale": edge,
            }
        )
    for rule in sorted({stops[n]["rule"] for n in at}):
        ax.plot(
            [],
            [],
            marker=STOP_MARKERS.get(rule, "o"),
            color="black",
            ls="none",
            label=f"stopped by {rule} (label: the job)",
        )
    if any(m["off_scale"] for m in marks):
        ax.plot(
            [], [], marker="^", color="black", ls="none", label="stop beyond the axis (its value)"
        )
    ax.set_title(f"{group}: objective per job (minutes since its start)")
    ax.set_xlabel("minutes since the training start")
    ax.set_ylabel("validation loss (minimize)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    png, data = _render(fig, ax, marks, chart="curves", group=group, stops=len(stops))
    return Chart(png, data, notes)


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


# GPU utilization per GPU, in bands a reader tells apart at a glance
GPU_BANDS = (0.0, 10.0, 35.0, 60.0, 75.0, 90.0, 97.0, 100.01)
GPU_COLORS = ("#5e3c99", "#e66101", "#fdb863", "#d1e5f0", "#92c5de", "#4393c3", "#053061")
GPU_BAND_NAMES = (
    "idle < 10 %",
    "10-35 %",
    "35-60 %",
    "60-75 %",
    "75-90 %",
    "90-97 %",
    "pinned >= 97 %",
)
ALERT_MARKERS = {"straggler": (">", "tab:red"), "hung": ("*", "gold"), "throughput": ("v", "lime")}


def gpu_plot(
    record: RunRecord,
    transitions: Sequence[Any],
    threshold: float,
    fleet: Sequence[FleetJob] = (),
    alerts: Sequence[Mapping[str, Any]] = (),
) -> Chart:
    """One row a host, one column a simulated minute, coloured by its GPU utilization band
    (idle, a straggler's ~45 %, busy, pinned); outlined: the host's GPU-idle alarm in ALARM;
    hatched: a hung job's hosts from its hang (GPUs pinned, no progress); marks: the
    straggler, hang and throughput alerts at the minute they were raised."""
    from matplotlib.colors import BoundaryNorm

    start = {j.name: j.start_minute for j in fleet}
    order = sorted(
        record.gpu,
        key=lambda h: (start.get(h.split("/")[0], 0), h.split("/")[0], int(h.rsplit("-", 1)[1])),
    )
    last = {host: float(samples[-1].minute) for host, samples in record.gpu.items() if samples}
    spans = alert_spans(transitions, record.clock_start, record.minutes, last)
    width = max(record.minutes, max((int(v) for v in last.values()), default=0) + 1)
    grid = [[math.nan] * width for _ in order]
    for row, host in enumerate(order):
        for s in record.gpu[host]:
            if 0 <= s.minute < width:
                grid[row][s.minute] = min(s.per_gpu, 100.0)
    rows = {host: i for i, host in enumerate(order)}
    fig, ax = plt.subplots(figsize=(11, max(4.5, 0.13 * len(order) + 1.8)), dpi=90)
    cmap = ListedColormap(GPU_COLORS).with_extremes(bad="white")
    image = ax.imshow(
        grid,
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        norm=BoundaryNorm(GPU_BANDS, cmap.N),
        extent=(-0.5, width - 0.5, len(order) - 0.5, -0.5),
    )
    bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, ticks=GPU_BANDS[:-1])
    bar.set_label("GPU utilization per GPU (%)")
    marks: list[dict[str, Any]] = []
    for host, host_spans in sorted(spans.items()):
        if host not in rows:
            continue
        for a, b in host_spans:
            ax.add_patch(
                Rectangle(
                    (a - 0.5, rows[host] - 0.5), b - a, 1.0, fill=False, edgecolor="red", lw=1.6
                )
            )
            marks.append({"kind": "gpu_idle alarm", "host": host, "x": a, "y": rows[host]})
    for job in fleet:
        if job.hang_minute is None:
            continue
        begin = job.start_minute + job.hang_minute
        hosts = [rows[h] for h in job.hosts() if h in rows]
        if hosts:
            ax.add_patch(
                Rectangle(
                    (begin - 0.5, min(hosts) - 0.5),
                    job.end_minute - begin,
                    len(hosts),
                    fill=False,
                    hatch="///",
                    edgecolor="black",
                    lw=1.0,
                )
            )
    for alert in alerts:
        marker = ALERT_MARKERS.get(alert["kind"])
        if marker is None or alert.get("minute") is None or alert["job"] not in start:
            continue
        job_rows = [rows[h] for h in (alert.get("host"),) if h in rows] or [
            rows[h] for h in rows if h.split("/")[0] == alert["job"]
        ]
        if not job_rows:
            continue
        x, y = start[alert["job"]] + float(alert["minute"]), float(min(job_rows))
        ax.plot([x], [y], marker=marker[0], color=marker[1], mec="black", ms=11, ls="none")
        marks.append(
            {
                "kind": f"{alert['kind']} alert",
                "host": alert.get("host") or alert["job"],
                "x": x,
                "y": y,
            }
        )
    special = set(spans) | {
        h for j in fleet if j.hang_minute is not None or j.straggler_hosts for h in j.hosts()
    }
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order, fontsize=6)
    for tick, host in zip(ax.get_yticklabels(), order, strict=True):
        if host in special:
            tick.set_fontweight("bold")
    ax.set_xlabel("simulated minute of the run")
    ax.set_title(
        f"GPU utilization per host and minute (white: not running); "
        f"the GPU-idle alarm fires below {threshold:g} %"
    )
    handles = [
        Patch(facecolor="none", edgecolor="red", lw=1.6, label="GPU-idle alarm in ALARM"),
        Patch(
            facecolor="none", edgecolor="black", hatch="///", label="hung: GPUs pinned, no progress"
        ),
        *(
            Line2D([], [], marker=m, color=c, mec="black", ls="none", ms=9, label=f"{k} alert")
            for k, (m, c) in ALERT_MARKERS.items()
        ),
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.06 * 6.5 / fig.get_figheight()),
        ncol=5,
        fontsize=8,
        frameon=False,
    )
    png, data = _render(fig, ax, marks, chart="gpu", hosts=len(order))
    return Chart(
        png,
        data,
        [
            f"Bands: {', '.join(GPU_BAND_NAMES)}; host names in bold: a "
            "host alerted on, or a job with a hang or a straggler."
        ],
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header if h)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table{f' class={css}' if css else ''}>{f'<tr>{head}</tr>' if head else ''}{body}</table>"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1240px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;font-size:.9em;text-align:left;vertical-align:top}
th{background:#f3f3f3} .ok{color:#080} .fail{color:#b00;font-weight:bold}
table.decided td:first-child{font-weight:bold;white-space:nowrap}
table.why td:first-child{white-space:nowrap} table.why td:last-child{min-width:30em}
img{max-width:100%} figure{margin:0 0 1.5em} figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap;font-size:.85em}
"""


def decided(summary: Mapping[str, Any]) -> list[list[Any]]:
    """The opening table: what trainguard decided, one row a question."""
    frac = summary["saved_fraction"]
    checks = summary["checks"]
    failed = [c["check"] for c in checks if not c["ok"]]
    return [
        [
            "jobs",
            f"{summary['jobs']} in {len(summary['groups'])} groups "
            f"({summary['jobs'] - summary.get('not_opted_in', 0)} watched)",
        ],
        [
            "stopped",
            f"{len(summary['stopped'])}: {_counts(summary['stops_by_rule'])} "
            "(each with its reason under Stops)",
        ],
        ["alerts", f"{len(summary['alerts'])}: {_counts(summary['alerts_by_kind'])}"],
        [
            "GPU hours saved",
            f"{summary['gpu_hours_saved']:.2f} of {summary['gpu_hours_baseline']:.2f} "
            f"({'n/a' if frac is None else f'{100 * frac:.1f}%'}); "
            f"{summary['gpu_hours_used']:.2f} used",
        ],
        ["dollars saved", f"${summary['usd_saved']:,.2f} of ${summary['usd_baseline']:,.2f}"],
        [
            "best job kept",
            "; ".join(
                f"{g}: {summary['best_job'].get(g, '?')} {'kept' if ok else 'STOPPED'}"
                for g, ok in summary["best_job_survived"].items()
            ),
        ],
        ["jobs without the opt-in tag stopped", summary["not_opted_in_stopped"]],
        ["emails", summary["emails"]],
        [
            "the demo's checks",
            f"{len(checks) - len(failed)} of {len(checks)} passed"
            + (f"; FAILED: {'; '.join(failed)}" if failed else "")
            + " (list at the end)",
        ],
    ]


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
    summary = {**summary, "not_opted_in": sum(1 for j in fleet if not j.tagged)}
    verdict = "ok" if summary["ok"] else "fail"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>trainguard demo: what it decided</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>trainguard demo: what it decided</h1>",
        f"<p>{summary['jobs']} jobs in {len(summary['groups'])} groups replaying recorded "
        f"learning curves, {summary['simulated_minutes']} simulated minutes, mode "
        f"<b>{html.escape(str(summary['mode']))}</b>, evaluator every "
        f"{summary['tick_minutes']} min. Every decision below was made by the deployed "
        "functions and read back from the emulator's audit table. "
        f"<span class='{verdict}'>The demo's checks "
        f"{'passed' if summary['ok'] else 'FAILED'}</span> (listed at the end).</p>",
        "<h2>Summary</h2>",
        _table(["", ""], decided(summary), "decided"),
        "<h2>Stops</h2>",
        _table(
            [
                "job",
                "group",
                "rule",
                "minute of the job",
                "value",
                "threshold",
                "references",
                "why",
            ],
            [
                [
                    s["job"],
                    s["group"],
                    s["rule"],
                    s["step"],
                    s["value"],
                    s["threshold"],
                    s["references"],
                    s.get("reason"),
                ]
                for s in summary["stopped"]
            ],
            "why",
        ),
        "<h2>Alerts</h2>",
        _table(
            ["job", "kind", "host", "minute of the job", "why"],
            [
                [a["job"], a["kind"], a["host"], a.get("minute"), a["reason"]]
                for a in summary["alerts"]
            ],
            "why",
        ),
        "<h2>Curves</h2>",
        "<p>Each group's jobs, in minutes since each job's start: blue ran to the end, green the "
        "group's best job, red a stopped job up to its stop (dashed: what it would have done), "
        "black marks the stops by rule.</p>",
    ]
    for group in summary["groups"]:
        parts.append(group_plot(group, fleet, summary, stats.get(group), policy).html(group))
    parts.append("<h2>GPU utilization</h2>")
    chart = gpu_plot(record, transitions, policy.gpu_idle.threshold_pct, fleet, summary["alerts"])
    parts.append(chart.html("GPU utilization"))
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
    parts.append("<h2>Checks</h2><ul>")
    for c in summary["checks"]:
        cls = "ok" if c["ok"] else "fail"
        parts.append(
            f"<li class='{cls}'>[{'ok' if c['ok'] else 'FAIL'}] {html.escape(c['check'])}: "
            f"{html.escape(c['detail'])}</li>"
        )
    parts.append("</ul></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
