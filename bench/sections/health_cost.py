"""Part 7, what the distributed-training health rules cost (``bench/health_cost.py``): its
result and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, prose, status, table, usd


class HealthCost(TypedDict):
    """A steady tick's calls and their cost, one set of rules."""

    get_metric_data_calls_per_tick: float
    queries_per_tick: float
    datapoints_per_tick: float
    get_metric_data_usd_per_job_month: float
    alarms_usd_per_job_month: float
    usd_per_job_month: float


class HealthCostResult(TypedDict, total=False):
    status: str
    job: str
    today: HealthCost
    every_rule_on: HealthCost
    usd_per_job_month_ratio: float
    every_rule_on_fraction_of_job_cost: float
    job_usd_per_month: float


HEADER = [
    "rules",
    "GetMetricData calls",
    "queries",
    "datapoints",
    "$ / job-month (GMD)",
    "$ / job-month (alarms)",
    "$ / job-month",
]


def _row(label: str, c: HealthCost) -> list[str]:
    return [
        label,
        f(c["get_metric_data_calls_per_tick"]),
        f(c["queries_per_tick"]),
        f(c["datapoints_per_tick"]),
        usd(c["get_metric_data_usd_per_job_month"]),
        usd(c["alarms_usd_per_job_month"]),
        usd(c["usd_per_job_month"]),
    ]


def render(h: HealthCostResult | dict[str, Any] | None) -> list[str]:
    out = ["## 7. What the distributed-training health rules cost", ""]
    if not h or h.get("status") != "ok":
        missing = "\n".join(prose("health_cost", "not_measured"))
        return [*out, status(h or {}) or missing, ""]
    out += table(
        HEADER,
        [
            _row("today (hang, straggler, throughput off)", h["today"]),
            _row("every rule on", h["every_rule_on"]),
        ],
    )
    out += [""]
    out += prose(
        "health_cost",
        "after",
        job=h["job"],
        ratio=h["usd_per_job_month_ratio"],
        fraction=f"{100 * h['every_rule_on_fraction_of_job_cost']:.4f}",
        job_usd=usd(h["job_usd_per_month"]),
    )
    return [*out, ""]
