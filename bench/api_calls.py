"""Part 2: AWS calls per evaluator tick against moto, counted at the botocore level.

The real runtime on the tests' moto harness (``trainguard_local.moto_harness``: in-process
``mock_aws`` with the table and its sparse ``running`` index, the topic, the SageMaker shim;
the dependencies built by ``aws_dependencies``, as the functions build them). A fleet is built
the way production builds it:

* completed references: each group's ``CURVE#`` items (``References.put_curve``, what the lifecycle
  writes on ``Completed``) and one ``lifecycle.update_stats`` per group (the lifecycle rebuilds
  after every completion; once at the end gives the same ``STATS`` item);
* running jobs: created in moto's SageMaker (InProgress, by the harness's shim), registered by
  ``lifecycle.handler`` from an InProgress state-change event (job item + one GPU-idle alarm
  per host), objective metric published every minute since the start and the host's
  CPUUtilization for the last minutes.

Then ``evaluator.handler`` ticks twice: the first tick does the one-time work (observe-mode
reports of the jobs the median rule flags: claim, audit record, email); the second, *steady*
tick is counted. Every client's event system (the harness's clients are the functions') gets a
``before-call`` hook (one count per API call as the code makes it, before retries; moto answers
at ``before-send``) and an ``after-call`` hook (items and bytes read, datapoints returned).

Prices are assumptions (us-east-1 list prices, see ``PRICES``), not measurements.
"""

from __future__ import annotations

import math
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import StringIO
from typing import Any

from .fleet import loss_curve

REGION = "us-east-1"
TABLE = "trainguard-bench"
INSTANCE_TYPE = "ml.g5.xlarge"  # 1 GPU: one GPU-idle alarm per host
MAX_QUERIES_PER_CALL = 500  # GetMetricData
MAX_DATAPOINTS_PER_CALL = 100_800  # GetMetricData: more than this and CloudWatch pages
TICKS_PER_DAY = 1440  # the default schedule, rate(1 minute)

# Assumed prices (us-east-1 list prices; not measured, check the pricing page for your region)
PRICES = {
    "get_metric_data_usd_per_1000_metrics": 0.01,
    "other_cloudwatch_api_usd_per_1000_requests": 0.01,
    "standard_alarm_metric_usd_per_month": 0.10,
    "days_per_month": 30,
}

FLEETS = (10, 100, 1000)
QUICK_FLEETS = (10, 100)
GROUPS = 4
COMPLETED_PER_GROUP = 20  # for the fleet-size sweep
COMPLETED_SWEEP = (10, 1000)  # completed jobs per group, at a fixed fleet size
QUICK_COMPLETED_SWEEP = (10, 100)
COMPLETED_SWEEP_FLEET = 100
# Every running job started this many minutes before the ticks. Call and query counts do not
# depend on it (moto never pages GetMetricData); moto's GetMetricData scans every datapoint in
# the window for every query and period, so a longer history costs the bench minutes at N = 1,000.
RUNNING_MINUTES = 8
OBJECTIVE = "validation:loss"
REFERENCE_MINUTES = 120  # completed curves: one value per minute


@dataclass
class CallLog:
    """Per ``Service.Operation``: calls, and what the reads returned."""

    calls: Counter[str] = field(default_factory=Counter)
    items_read: Counter[str] = field(default_factory=Counter)
    bytes_read: Counter[str] = field(default_factory=Counter)
    keys_requested: int = 0  # BatchGetItem
    gmd_queries: list[int] = field(default_factory=list)  # per GetMetricData call
    gmd_datapoints: list[int] = field(default_factory=list)  # per GetMetricData call
    gmd_windows_min: list[float] = field(default_factory=list)
    active: bool = False

    def before_call(self, model: Any, **_: Any) -> None:
        if self.active:
            self.calls[f"{model.service_model.service_id}.{model.name}".replace(" ", "")] += 1

    def parameters(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """The API parameters as the code passed them (``before-call`` sees the wire form)."""
        if not self.active:
            return
        if model.name == "GetMetricData":
            self.gmd_queries.append(len(params.get("MetricDataQueries", [])))
            start, end = params.get("StartTime"), params.get("EndTime")
            if isinstance(start, datetime) and isinstance(end, datetime):
                self.gmd_windows_min.append((end - start).total_seconds() / 60.0)
        elif model.name == "BatchGetItem":
            self.keys_requested += sum(
                len(r.get("Keys", [])) for r in params.get("RequestItems", {}).values()
            )

    def after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        op = f"{model.service_model.service_id}.{model.name}".replace(" ", "")
        if model.name == "GetMetricData":
            self.gmd_datapoints.append(
                sum(len(r.get("Values", [])) for r in parsed.get("MetricDataResults", []))
            )
            return
        if model.name in ("Query", "Scan"):
            items = parsed.get("Items", [])
        elif model.name == "GetItem":
            items = [parsed["Item"]] if parsed.get("Item") else []
        elif model.name == "BatchGetItem":
            items = [i for rows in parsed.get("Responses", {}).values() for i in rows]
        else:
            return
        self.items_read[op] += len(items)
        self.bytes_read[op] += sum(item_size(i) for i in items)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self.before_call)
        client.meta.events.register("before-parameter-build", self.parameters)
        client.meta.events.register("after-call", self.after_call)


def item_size(value: Any, name: str = "") -> int:
    """An item's size as DynamoDB counts it, approximately: names + values (+ overheads)."""
    size = len(name.encode())
    if not isinstance(value, dict) or len(value) != 1:
        return size + sum(item_size(v, k) for k, v in value.items())
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return size + len(raw.encode())
    if kind == "N":
        return size + (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return size + len(raw)
    if kind in ("BOOL", "NULL"):
        return size + 1
    if kind == "M":
        return size + 3 + sum(item_size(v, k) for k, v in raw.items())
    if kind == "L":
        return size + 3 + sum(item_size(v) for v in raw)
    if kind in ("SS", "NS", "BS"):
        return size + sum(len(str(v)) for v in raw)
    return size + sum(item_size(v, k) for k, v in value.items())  # a map of attributes


@contextmanager
def _quiet() -> Iterator[None]:
    """The handlers print EMF metrics and JSON logs: keep the bench's own log readable."""
    from trainguard.observability import logger

    level = logger.log_level
    logger.setLevel("WARNING")
    try:
        with redirect_stdout(StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _tags(group: str) -> dict[str, str]:
    return {
        "trainguard:group": group,
        "trainguard:objective": OBJECTIVE,
        "trainguard:direction": "minimize",
    }


def measure_tick(
    running: int,
    completed_per_group: int,
    groups: int = GROUPS,
    seed: int = 7,
    log: Callable[[str], None] | None = None,
    *,
    minutes: int = RUNNING_MINUTES,
    publish_metrics: bool = True,
) -> dict[str, Any]:
    """Build the fleet on moto, tick twice, count the second (steady) tick's calls.

    ``publish_metrics=False`` leaves CloudWatch empty (the rules then decide nothing): the
    calls are the same, moto answers far faster (for tests at large N)."""
    from trainguard.config import Policy
    from trainguard.handlers import evaluator, lifecycle
    from trainguard.logic.lifecycle import update_stats
    from trainguard.models import ReferenceSet
    from trainguard_local.lambda_context import LambdaContext
    from trainguard_local.moto_harness import (
        MotoHarness,
        curve_datapoints,
        scheduled_event,
        state_change,
    )

    rng = random.Random(f"trainguard-bench-api/{seed}/{running}/{completed_per_group}/{groups}")
    names = [f"bench-job-{i:05d}" for i in range(running)]
    group_of = {n: f"group-{i % groups}" for i, n in enumerate(names)}
    now = time.time()
    start = now - minutes * 60.0
    built = time.perf_counter()
    context = LambdaContext(function_name="trainguard-bench-evaluator", aws_request_id="bench")
    with MotoHarness.running(table=TABLE) as aws:
        # the default policy, observe mode: nothing is stopped; the reconcile in every tick
        # (by default every 5th: the measured tick is its worst)
        deps = aws.deps(Policy(reconcile_every_minutes=1))
        clients = {
            "dynamodb": aws.dynamodb,
            "cloudwatch": aws.cloudwatch,
            "sagemaker": aws.sagemaker,
            "sns": aws.sns,
        }
        # completed references, as the lifecycle leaves them
        for g in range(groups):
            group = f"group-{g}"
            refs = ReferenceSet(group, OBJECTIVE, "minimize")
            done = [
                (f"{group}-done-{h:05d}@1", REFERENCE_MINUTES) for h in range(completed_per_group)
            ]
            for job, minutes_ in done:
                deps.references.put_curve(refs, job, loss_curve(rng, REFERENCE_MINUTES), minutes_)
            with _quiet():
                update_stats(refs, deps, add=done)
        # running jobs: SageMaker knows them (InProgress: the harness's shim), the lifecycle
        # registered them (and their alarms) from the state change AWS sends
        with _quiet():
            for name in names:
                tags = _tags(group_of[name])
                arn = aws.create_job(name, tags, instance_type=INSTANCE_TYPE)
                change = state_change(
                    name,
                    "InProgress",
                    arn=arn,
                    tags=tags,
                    start=start,
                    instance_type=INSTANCE_TYPE,
                    event_time=start,
                )
                lifecycle.handler(change, context, deps=deps)
        # metrics: the objective every minute since the start, the host's CPU lately
        base = start - start % 60
        data: list[Any] = []
        for name in names if publish_metrics else ():
            curve = loss_curve(rng, minutes)
            data += curve_datapoints(name, OBJECTIVE, start, [v for _, v in curve])
            data += [
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "Host", "Value": f"{name}/algo-1"}],
                    "Timestamp": datetime.fromtimestamp(now - 60, UTC),
                    "Value": 80.0,
                }
            ]
        aws.put_datapoints(data)
        setup_s = time.perf_counter() - built

        counter = CallLog()
        for client in clients.values():
            counter.attach(client)
        with _quiet():
            first = evaluator.handler(scheduled_event(now), context, deps=deps)
            # a minute later every job has reported one more value: what a steady tick reads
            fresh = [
                {
                    "MetricName": OBJECTIVE,
                    "Dimensions": [{"Name": "TrainingJobName", "Value": name}],
                    "Timestamp": datetime.fromtimestamp(base + (minutes + 1) * 60 + 5, UTC),
                    "Value": rng.uniform(0.1, 1.0),
                }
                for name in (names if publish_metrics else ())
            ]
            aws.put_datapoints(fresh)
            counter.active = True
            started = time.perf_counter()
            steady = evaluator.handler(scheduled_event(now + 60), context, deps=deps)
            tick_s = time.perf_counter() - started
            counter.active = False
            # the same steady tick again under tracemalloc (which slows it: timed above)
            tracemalloc.start()
            evaluator.handler(scheduled_event(now + 60), context, deps=deps)
            peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    out = summarize(counter, running, completed_per_group, groups)
    out["first_tick"] = {k: first[k] for k in ("jobs", "decisions", "would_stops", "alerts")}
    out["steady_tick"] = {
        k: steady[k] for k in ("jobs", "evaluated", "decisions", "would_stops", "errors")
    }
    # for sizing the evaluator: moto answers in this process, so both include moto's own work
    # (upper bounds for the function's share)
    out["steady_tick_s"] = round(tick_s, 2)
    out["steady_tick_peak_mib"] = round(peak_bytes / 2**20, 1)
    out["setup_s"] = round(setup_s, 1)
    out["running_minutes"] = minutes
    out["metrics_published"] = publish_metrics
    if log:
        log(
            f"api calls: N={running}, H={completed_per_group}/group: "
            f"{out['get_metric_data']['calls']} GetMetricData calls for "
            f"{out['get_metric_data']['queries']} queries; DynamoDB "
            f"{out['dynamodb']['read_calls']} read calls, {out['dynamodb']['items_read']} items; "
            f"DescribeTrainingJob {out['calls'].get('SageMaker.DescribeTrainingJob', 0)} "
            f"(setup {setup_s:.0f} s)"
        )
    return out


def summarize(
    counter: CallLog, running: int, completed_per_group: int, groups: int
) -> dict[str, Any]:
    """The steady tick's counts, the checks, and the assumed CloudWatch cost."""
    calls = dict(sorted(counter.calls.items()))
    queries = sum(counter.gmd_queries)
    reads = {op: n for op, n in calls.items() if op.split(".")[1] in _DDB_READS}
    writes = {op: n for op, n in calls.items() if op.split(".")[1] in _DDB_WRITES}
    per_day = PRICES["get_metric_data_usd_per_1000_metrics"] * queries / 1000 * TICKS_PER_DAY
    other_cw = sum(
        n
        for op, n in calls.items()
        if op.startswith("CloudWatch.") and op != "CloudWatch.GetMetricData"
    )
    observed_pages = calls.get("CloudWatch.DescribeAlarms", 0)
    other_cw += max(observed_pages, math.ceil(running / 100)) - observed_pages
    other_per_day = PRICES["other_cloudwatch_api_usd_per_1000_requests"] * other_cw / 1000
    other_per_day *= TICKS_PER_DAY
    alarms = running  # one host per job, one metric (m1) in the alarm's expression m1 / gpus
    alarm_month = alarms * PRICES["standard_alarm_metric_usd_per_month"]
    return {
        "running_jobs": running,
        "groups": groups,
        "completed_per_group": completed_per_group,
        "calls": calls,
        "get_metric_data": {
            "calls": len(counter.gmd_queries),
            "queries": queries,
            "queries_per_call": counter.gmd_queries,
            "ceil_queries_over_500": math.ceil(queries / MAX_QUERIES_PER_CALL),
            "equals_ceil_queries_over_500": len(counter.gmd_queries)
            == math.ceil(queries / MAX_QUERIES_PER_CALL),
            "max_queries_in_a_call": max(counter.gmd_queries, default=0),
            "datapoints_per_call": counter.gmd_datapoints,
            "max_datapoints_in_a_call": max(counter.gmd_datapoints, default=0),
            "windows_min": [round(w, 1) for w in counter.gmd_windows_min],
        },
        "dynamodb": {
            "read_calls": sum(reads.values()),
            "reads": reads,
            "items_read": sum(counter.items_read.values()),
            "items_by_operation": dict(sorted(counter.items_read.items())),
            "kib_read": round(sum(counter.bytes_read.values()) / 1024, 1),
            "batch_get_keys": counter.keys_requested,
            "write_calls": sum(writes.values()),
            "writes": writes,
        },
        "describe_training_job_calls": calls.get("SageMaker.DescribeTrainingJob", 0),
        "list_tags_calls": calls.get("SageMaker.ListTags", 0),
        "list_training_jobs_pages": calls.get("SageMaker.ListTrainingJobs", 0),
        "describe_alarms_pages": calls.get("CloudWatch.DescribeAlarms", 0),
        # moto ignores MaxRecords; CloudWatch returns at most 100 alarms a page
        "describe_alarms_pages_on_aws": max(1, math.ceil(running / 100)),
        "cost": {
            "get_metric_data_metrics_per_day": queries * TICKS_PER_DAY,
            "get_metric_data_usd_per_day": per_day,
            "other_cloudwatch_requests_per_day": other_cw * TICKS_PER_DAY,
            "other_cloudwatch_usd_per_day": other_per_day,
            "gpu_idle_alarms": alarms,
            "alarms_usd_per_month": alarm_month,
            "alarms_usd_per_day": alarm_month / PRICES["days_per_month"],
            "total_usd_per_day": per_day + other_per_day + alarm_month / PRICES["days_per_month"],
        },
    }


_DDB_READS = {"Query", "Scan", "GetItem", "BatchGetItem"}
_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    fleets = QUICK_FLEETS if quick else FLEETS
    sweep_h = QUICK_COMPLETED_SWEEP if quick else COMPLETED_SWEEP
    by_fleet = [measure_tick(n, COMPLETED_PER_GROUP, log=log) for n in fleets]
    by_completed = [measure_tick(COMPLETED_SWEEP_FLEET, h, log=log) for h in sweep_h]
    ddb_signature = {
        (r["dynamodb"]["read_calls"], r["dynamodb"]["items_read"]) for r in by_completed
    }
    return {
        "status": "ok",
        "get_metric_data_calls": {
            str(r["running_jobs"]): r["get_metric_data"]["calls"] for r in by_fleet
        },
        "get_metric_data_queries": {
            str(r["running_jobs"]): r["get_metric_data"]["queries"] for r in by_fleet
        },
        "calls_equal_ceil_queries_over_500": all(
            r["get_metric_data"]["equals_ceil_queries_over_500"] for r in by_fleet
        ),
        "describe_training_job_calls": {
            str(r["running_jobs"]): r["describe_training_job_calls"] for r in by_fleet
        },
        "dynamodb_read_calls": {
            str(r["running_jobs"]): r["dynamodb"]["read_calls"] for r in by_fleet
        },
        "dynamodb_reads_independent_of_completed_jobs": len(ddb_signature) == 1,
        "cloudwatch_usd_per_day": {
            str(r["running_jobs"]): r["cost"]["get_metric_data_usd_per_day"] for r in by_fleet
        },
        "alarms_usd_per_month": {
            str(r["running_jobs"]): r["cost"]["alarms_usd_per_month"] for r in by_fleet
        },
        "prices_assumed": dict(PRICES, ticks_per_day=TICKS_PER_DAY, region=REGION),
        "fleets": by_fleet,
        "completed_sweep": by_completed,
        "running_minutes": RUNNING_MINUTES,
        "reference_minutes": REFERENCE_MINUTES,
        "max_datapoints_per_call": MAX_DATAPOINTS_PER_CALL,
    }
