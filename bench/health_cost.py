"""Part: what the distributed-training health rules cost (issue 13).

One 4-host job (4 x ml.p4d.24xlarge, 8 GPUs a host) on in-process moto, registered by the
real lifecycle handler (one GPU-idle alarm a host), reporting its objective and its
throughput every minute and every host's GPUUtilization and CPUUtilization every minute for
30 minutes. Then the real evaluator ticks a minute apart; the next 5 (steady) ticks' calls
are counted at the botocore level (the hooks of :mod:`bench.api_calls`), a tick's figures
their mean (instance metrics are read once in 5 minutes). Twice:

* ``today``: the rules before issue 13 (objective rules, runtime guard, GPU-idle alarms; the
  hang, straggler and throughput rules off): the objective query and a CPU liveness query;
* ``every_rule_on``: every rule on (patience too, and the job's ``trainguard:throughput``
  tag): the objective, the throughput, and one GPUUtilization query a host (which also say
  the instances report, so no CPU query).

Dollars per job-month at one-minute ticks: GetMetricData's metrics requested (the price is
per metric, whatever the datapoints) x 1,440 ticks x 30 days, plus the job's GPU-idle alarms
(one metric each, the same in both). Prices are the assumptions of :data:`PRICES`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .api_calls import PRICES, TICKS_PER_DAY, CallLog, _quiet

INSTANCE_TYPE = "ml.p4d.24xlarge"
GPUS = 8
HOSTS = 4
MINUTES = 30
OBJECTIVE = "validation:loss"
THROUGHPUT = "train:samples_per_sec"
TODAY = {
    "hang": {"enabled": False},
    "straggler": {"enabled": False},
    "throughput": {"enabled": False},
}
EVERY_RULE_ON = {"patience": {"enabled": True}}
# steady ticks counted (a minute apart): the instance metrics are read once in 5 minutes while
# the objective reports on its rhythm (issue 15), so a tick's figures are their mean
STEADY_TICKS = 5


def measure(policy: dict[str, Any], label: str) -> dict[str, Any]:
    """The steady tick's GetMetricData figures for one 4-host job under ``policy``."""
    from trainguard.config import Policy
    from trainguard.handlers import evaluator, lifecycle
    from trainguard_local.lambda_context import LambdaContext
    from trainguard_local.moto_harness import MotoHarness, scheduled_event, state_change

    context = LambdaContext(function_name="trainguard-bench-evaluator", aws_request_id="bench")
    now = time.time()
    now -= now % 60
    start = now - MINUTES * 60.0
    tags = {
        "trainguard:group": "ddp",
        "trainguard:objective": OBJECTIVE,
        "trainguard:direction": "minimize",
        "trainguard:throughput": THROUGHPUT,
    }
    name = f"bench-ddp-{label.replace('_', '-')}"
    with MotoHarness.running(table="trainguard-bench-health") as aws:
        deps = aws.deps(Policy.from_mapping(policy))
        arn = aws.create_job(name, tags, instance_type=INSTANCE_TYPE, count=HOSTS, start=start)
        with _quiet():
            lifecycle.handler(
                state_change(
                    name,
                    "InProgress",
                    arn=arn,
                    tags=tags,
                    start=start,
                    instance_type=INSTANCE_TYPE,
                    count=HOSTS,
                    event_time=start,
                ),
                context,
                deps=deps,
            )
        aws.put_datapoints(_datapoints(name, start, range(1, MINUTES + 1)))
        counter = CallLog()
        for client in (aws.dynamodb, aws.cloudwatch, aws.sagemaker, aws.sns):
            counter.attach(client)
        # the ticks run on a simulated clock: the function's clock is that clock (a tick's time
        # is bounded by the function's own clock, handlers.events.bounded_time)
        tick_at = [now + 30]
        deps.clock = lambda: tick_at[0]
        with _quiet():
            evaluator.handler(scheduled_event(tick_at[0]), context, deps=deps)
            counter.active = True
            for k in range(STEADY_TICKS):  # instance metrics come once in 5 minutes
                aws.put_datapoints(_datapoints(name, start, [MINUTES + 1 + k]))
                tick_at[0] = now + 90 + 60 * k
                steady = evaluator.handler(scheduled_event(tick_at[0]), context, deps=deps)
            counter.active = False
    queries = sum(counter.gmd_queries) / STEADY_TICKS  # a steady tick's mean
    metrics_month = queries * TICKS_PER_DAY * PRICES["days_per_month"]
    gmd_usd = metrics_month * PRICES["get_metric_data_usd_per_1000_metrics"] / 1000
    alarms_usd = HOSTS * PRICES["standard_alarm_metric_usd_per_month"]
    return {
        "policy": policy,
        "get_metric_data_calls_per_tick": len(counter.gmd_queries) / STEADY_TICKS,
        "ceil_queries_over_500": math.ceil(queries / 500),
        "queries_per_tick": queries,
        "queries_per_steady_tick": list(counter.gmd_queries),
        "datapoints_per_tick": sum(counter.gmd_datapoints) / STEADY_TICKS,
        "windows_min": [round(w, 1) for w in counter.gmd_windows_min],
        "metrics_per_job_month": metrics_month,
        "get_metric_data_usd_per_job_month": round(gmd_usd, 4),
        "gpu_idle_alarms": HOSTS,
        "alarms_usd_per_job_month": round(alarms_usd, 4),
        "usd_per_job_month": round(gmd_usd + alarms_usd, 4),
        "steady_tick_errors": steady["errors"],
    }


def _datapoints(name: str, start: float, minutes: Any) -> list[dict[str, Any]]:
    """The job's objective and throughput, and each host's GPU and CPU, at these minutes."""
    out: list[dict[str, Any]] = []

    def put(metric: str, dimension: tuple[str, str], ts: float, value: float) -> None:
        out.append(
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Timestamp": datetime.fromtimestamp(ts, UTC),
                "Value": value,
            }
        )

    for m in minutes:
        ts = start + m * 60.0 + 5
        put(OBJECTIVE, ("TrainingJobName", name), ts, 1.0 / (1 + 0.1 * m))
        put(THROUGHPUT, ("TrainingJobName", name), ts, 4 * 1000.0 + 13 * (m % 5))
        for h in range(1, HOSTS + 1):
            host = ("Host", f"{name}/algo-{h}")
            put("GPUUtilization", host, ts, GPUS * (85.0 + 4 * ((m + h) % 3)))
            put("CPUUtilization", host, ts, 50.0)
    return out


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    today = measure(TODAY, "today")
    on = measure(EVERY_RULE_ON, "every_rule_on")
    log(
        f"health cost: a {HOSTS}-host job, {today['queries_per_tick']} -> "
        f"{on['queries_per_tick']} GetMetricData queries a tick, "
        f"{today['datapoints_per_tick']} -> {on['datapoints_per_tick']} datapoints, "
        f"${today['usd_per_job_month']:.2f} -> ${on['usd_per_job_month']:.2f} a job-month"
    )
    from trainguard.core.instances import DEFAULT_CATALOG

    spec = DEFAULT_CATALOG.get(INSTANCE_TYPE)
    assert spec is not None
    job_month = spec.usd_per_hour * HOSTS * 24 * PRICES["days_per_month"]
    return {
        "status": "ok",
        "job": f"{HOSTS} x {INSTANCE_TYPE}, one-minute ticks",
        "job_usd_per_month": round(job_month, 2),
        # what watching it with every rule on costs, as a fraction of running it
        "every_rule_on_fraction_of_job_cost": on["usd_per_job_month"] / job_month,
        "today": today,
        "every_rule_on": on,
        "usd_per_job_month_ratio": round(on["usd_per_job_month"] / today["usd_per_job_month"], 2),
        "prices": PRICES,
    }
