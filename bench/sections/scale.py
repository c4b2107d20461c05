"""Part 8, the sharded tick at scale (``bench/scale.py``): its result (a list of rows) and its
section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, prose, status, table, usd


class ScaleRow(TypedDict, total=False):
    """A steady sharded tick at one fleet size."""

    running_jobs: int
    groups: int
    shards: int
    shard_size: int
    slowest_shard_s: float
    slowest_shard_cpu_s: float
    planner_s: float
    planner_cpu_s: float
    get_metric_data: dict[str, Any]
    dynamodb: dict[str, Any]
    calls: dict[str, int]
    peak_mib: float
    usd_per_job_month: float
    usd_per_job_month_by_service: dict[str, float]
    today_usd_per_job_month: float
    prices: dict[str, Any]


HEADER = [
    "running jobs",
    "groups",
    "shards (size)",
    "slowest shard, s (CPU s)",
    "planner, s (CPU s)",
    "GetMetricData calls (queries)",
    "DynamoDB reads / writes (RRU / WRU)",
    "peak MiB",
    "$ / job-month (GMD + DynamoDB + SQS)",
]


def _row(r: ScaleRow) -> list[str]:
    g, d = r["get_metric_data"], r["dynamodb"]
    by = r["usd_per_job_month_by_service"]
    return [
        f(r["running_jobs"]),
        f(r["groups"]),
        f"{f(r['shards'])} ({f(r['shard_size'])})",
        f"{f(r['slowest_shard_s'])} ({f(r.get('slowest_shard_cpu_s'))})",
        f"{f(r['planner_s'])} ({f(r.get('planner_cpu_s'))})",
        f"{f(g['calls'])} ({f(g['queries'])})",
        f"{f(d['read_calls'])} / {f(d['write_calls'])} ({f(d['rru'])} / {f(d['wru'])})",
        f(r["peak_mib"]),
        f"{usd(r['usd_per_job_month'])} ({usd(by['get_metric_data'])} + "
        f"{usd(by['dynamodb_reads'] + by['dynamodb_writes'])} + {usd(by['sqs'])})",
    ]


def _calls(r: ScaleRow) -> int:
    return sum(r["calls"].values())


def render(rows: list[ScaleRow] | dict[str, Any] | None) -> list[str]:
    out = ["## 8. The sharded tick at scale", ""]
    missing = "\n".join(prose("scale", "not_measured"))
    if isinstance(rows, dict):  # an error or a pending part
        return [*out, status(rows) or missing, ""]
    if not rows:
        return [*out, missing, ""]
    out += table(HEADER, [_row(r) for r in rows])
    first, last = rows[0], rows[-1]
    prices = first.get("prices", {})
    out += [""]
    out += prose(
        "scale",
        "after",
        groups=f(first["groups"]),
        first_calls=f(_calls(first)),
        first_jobs=f(first["running_jobs"]),
        last_calls=f(_calls(last)),
        last_jobs=f(last["running_jobs"]),
        growth=f"{_calls(last) / _calls(first):.1f}",
        ratio=f"{last['running_jobs'] / first['running_jobs']:.0f}",
        today=usd(first.get("today_usd_per_job_month")),
        note=prices.get("note", ""),
        region=prices.get("region", ""),
        gmd=prices.get("get_metric_data_usd_per_1000_metrics"),
        rru=prices.get("dynamodb_on_demand_usd_per_million_rru"),
        wru=prices.get("dynamodb_on_demand_usd_per_million_wru"),
        sqs=prices.get("sqs_standard_usd_per_million_requests"),
    )
    return [*out, ""]


RECONCILE_HEADER = [
    "jobs in the account",
    "before: calls a tick (ListTrainingJobs pages)",
    "regular reconcile: calls (pages)",
    "full reconcile: calls (pages, complete)",
    "calls a tick, averaged",
]


def _reconcile_row(r: dict[str, Any]) -> list[str]:
    before, recent, full = r["before"], r["recent"], r["full"]
    return [
        f(r["account_jobs"]),
        f"{f(before['calls'])} ({f(before['list_training_jobs_pages'])})",
        f"{f(recent['calls'])} ({f(recent['list_training_jobs_pages'])})",
        f"{f(full['calls'])} ({f(full['list_training_jobs_pages'])}, {f(full['complete'])})",
        f(r["per_tick"]["after"], 2),
    ]


def render_reconcile(rows: list[dict[str, Any]] | dict[str, Any] | None) -> list[str]:
    """Part 9, the reconcile at scale (``bench/scale_reconcile.py``, issue 21)."""
    out = ["## 9. The reconcile at scale", ""]
    missing = "\n".join(prose("scale_reconcile", "not_measured"))
    if isinstance(rows, dict):
        return [*out, status(rows) or missing, ""]
    if not rows:
        return [*out, missing, ""]
    out += table(RECONCILE_HEADER, [_reconcile_row(r) for r in rows])
    cadence = rows[0]["per_tick"]
    out += [""]
    out += prose(
        "scale_reconcile",
        "after",
        running=f(rows[0]["running"]),
        history_days=f(rows[0]["history_days"]),
        every=f(cadence["reconcile_every_minutes"]),
        full=f(cadence["reconcile_full_every_minutes"]),
        budget=f(cadence["reconcile_budget_seconds"]),
    )
    return [*out, ""]
