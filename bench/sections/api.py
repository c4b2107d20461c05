"""Part 2, AWS calls per tick (``bench/api_calls.py``): its result and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, prose, sentence, status, table, usd


class ApiFleet(TypedDict, total=False):
    """One steady tick at N running jobs: calls by service and operation, and their cost."""

    running_jobs: int
    groups: int
    completed_per_group: int
    get_metric_data: dict[str, Any]
    dynamodb: dict[str, Any]
    first_tick: dict[str, Any]
    describe_training_job_calls: int
    list_training_jobs_pages: int
    describe_alarms_pages: int
    describe_alarms_pages_on_aws: int
    steady_tick_s: float
    steady_tick_peak_mib: float
    calls: dict[str, int]
    cost: dict[str, Any]


class ApiResult(TypedDict, total=False):
    fleets: list[ApiFleet]
    completed_sweep: list[ApiFleet]
    prices_assumed: dict[str, Any]
    running_minutes: int
    max_datapoints_per_call: int
    dynamodb_reads_independent_of_completed_jobs: bool
    get_metric_data_calls: dict[str, int]
    get_metric_data_queries: dict[str, int]
    describe_training_job_calls: dict[str, int]
    cloudwatch_usd_per_day: dict[str, float]
    status: str


def ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{op.split('.')[-1]} {n}" for op, n in counts.items())


def _fleet_row(r: ApiFleet) -> list[str]:
    g, d = r["get_metric_data"], r["dynamodb"]
    return [
        f(r["running_jobs"]),
        f(g["queries"]),
        f(g["calls"]),
        f(g["ceil_queries_over_500"]) + (" (=)" if g["equals_ceil_queries_over_500"] else " (≠)"),
        ", ".join(str(q) for q in g["queries_per_call"]),
        f(g["max_datapoints_in_a_call"]),
        f"{f(d['read_calls'])} ({ops(d['reads'])})",
        f"{f(d['items_read'])} ({f(d['kib_read'])} KiB)",
        f"{f(d['write_calls'])} ({f(r['first_tick']['would_stops'])} flagged)",
        f(r["describe_training_job_calls"]),
        f(r["list_training_jobs_pages"]),
        f"{f(r['describe_alarms_pages'])} (AWS: {f(r['describe_alarms_pages_on_aws'])})",
        f"{f(r.get('steady_tick_s'), 2)} s, {f(r.get('steady_tick_peak_mib'))} MiB",
    ]


def _cost_row(r: ApiFleet, days: int) -> list[str]:
    c = r["cost"]
    return [
        f(r["running_jobs"]),
        f(c["get_metric_data_metrics_per_day"]),
        usd(c["get_metric_data_usd_per_day"]),
        usd(c["other_cloudwatch_usd_per_day"]),
        f"{f(c['gpu_idle_alarms'])}: {usd(c['alarms_usd_per_month'])} / month",
        usd(c["total_usd_per_day"]),
        usd(c["total_usd_per_day"] * days),
    ]


def _sweep(a: ApiResult) -> list[str]:
    sweep = a.get("completed_sweep", [])
    if not sweep:
        return []
    rows = [
        [
            f(r["completed_per_group"]),
            f(r["dynamodb"]["read_calls"]),
            f(r["dynamodb"]["items_read"]),
            f(r["dynamodb"]["kib_read"]),
            f(r["get_metric_data"]["calls"]),
        ]
        for r in sweep
    ]
    independent = f(a.get("dynamodb_reads_independent_of_completed_jobs"))
    return [
        "",
        *prose("api", "sweep_heading", running=f(sweep[0]["running_jobs"])),
        "",
        *table(SWEEP_HEADER, rows),
        "",
        *prose("api", "after_sweep", independent=independent),
    ]


def headline(a: ApiResult) -> list[list[str]]:
    gmd = a.get("get_metric_data_calls")
    queries = a.get("get_metric_data_queries") or {}
    rows = [
        [
            "GetMetricData calls per steady tick (queries), by running jobs",
            "pending"
            if gmd is None
            else ", ".join(f"N = {n}: {c} ({queries.get(n)})" for n, c in gmd.items()),
        ]
    ]
    describes = a.get("describe_training_job_calls")
    if describes is not None:
        per_day = a.get("cloudwatch_usd_per_day") or {}
        rows += [
            [
                "DescribeTrainingJob calls per steady tick",
                ", ".join(f"N = {n}: {c}" for n, c in describes.items()),
            ],
            [
                "DynamoDB reads independent of completed jobs",
                f(a.get("dynamodb_reads_independent_of_completed_jobs")),
            ],
            [
                "GetMetricData $/day at 1-minute ticks (assumed list price)",
                ", ".join(f"N = {n}: {usd(v)}" for n, v in per_day.items()),
            ],
        ]
    return rows


def render(a: ApiResult) -> list[str]:
    out = ["## 2. AWS calls per tick", ""]
    line = status(a)
    if line:
        return [*out, line, ""]
    fleets = a.get("fleets", [])
    prices = a.get("prices_assumed", {})
    first = fleets[0] if fleets else {}
    out += prose(
        "api",
        "intro",
        groups=f(first.get("groups")),
        completed=f(first.get("completed_per_group")),
        minutes=f(a.get("running_minutes")),
    )
    out += ["", *table(FLEET_HEADER, [_fleet_row(r) for r in fleets]), ""]
    out += [*prose("api", "operations"), ""]
    names = sorted({op for r in fleets for op in r["calls"]})
    out += table(
        ["operation", *[f"N = {f(r['running_jobs'])}" for r in fleets]],
        [[f"`{op}`", *[f(r["calls"].get(op, 0)) for r in fleets]] for op in names],
    )
    out += _sweep(a)
    out += [""]
    out += prose(
        "api",
        "cost",
        gmd=prices.get("get_metric_data_usd_per_1000_metrics"),
        other=prices.get("other_cloudwatch_api_usd_per_1000_requests"),
        alarm=prices.get("standard_alarm_metric_usd_per_month"),
        days=prices.get("days_per_month"),
        ticks=f(prices.get("ticks_per_day")),
    )
    days = prices.get("days_per_month", 30)
    out += ["", *table(COST_HEADER, [_cost_row(r, days) for r in fleets]), ""]
    big = fleets[-1] if fleets else None
    at_largest = writes = ""
    if big:
        running = f(big["running_jobs"])
        at_largest = sentence(
            "api",
            "cost_at_largest",
            usd=usd(big["cost"]["get_metric_data_usd_per_day"]),
            running=running,
        )
        writes = sentence(
            "api",
            "writes_at_largest",
            writes=f(big["dynamodb"]["write_calls"]),
            running=running,
        )
    out += prose(
        "api",
        "findings",
        at_largest=at_largest,
        writes_at_largest=writes,
        max_datapoints=f(a.get("max_datapoints_per_call")),
    )
    return [*out, ""]


FLEET_HEADER = [
    "N running",
    "GetMetricData queries",
    "GetMetricData calls",
    "ceil(queries/500)",
    "queries per call",
    "max datapoints in a call",
    "DynamoDB read calls",
    "items read",
    "DynamoDB writes (jobs the first tick flagged)",
    "DescribeTrainingJob",
    "ListTrainingJobs pages",
    "DescribeAlarms pages (moto)",
    "tick time, peak traced memory (with moto in-process)",
]
SWEEP_HEADER = [
    "completed jobs per group (CURVE# items)",
    "DynamoDB read calls",
    "items read",
    "KiB read",
    "GetMetricData calls",
]
COST_HEADER = [
    "N running",
    "metrics requested per day",
    "GetMetricData $/day",
    "DescribeAlarms $/day",
    "GPU-idle alarms",
    "total $/day",
    "total $/month",
]
