"""Part: the sharded tick at scale (issue 15): a steady tick at 1,000, 5,000 and 10,000 running
jobs in 100 groups, on in-process moto.

The fleet is written directly (BatchWriteItem of the job items as ``Jobs.register_job``
writes them, each with a steady read position: its ``Progress`` after 30 minutes of reports),
not by 10,000 lifecycle invocations, so the part runs in minutes. Each group has completed
references (``CURVE#`` items and one ``update_stats``). CloudWatch holds, per job, the
objective's newest report and its host's GPUUtilization (the hang rule's liveness).

Then one steady tick: the real planner (``run_tick`` with the shard queue and the shard size
of the stack) and every shard it sent, judged one after another in this process by the real
``evaluate_shard`` (in AWS they run in parallel: the tick's wall time is the planner's plus
the slowest shard's). Every AWS call of the planner and the shards is counted at the botocore
level (:class:`bench.api_calls.CallLog`). moto answers in this process, so every time here
includes moto's own work: an upper bound of the functions' share.

moto's GetMetricData scans every stored datapoint for every query and period (quadratic in
the fleet); the bench indexes moto's datapoints by metric and dimensions for the duration of a
call (:func:`_indexed_get_metric_data`: the same answers, one query at a time), which is what
CloudWatch does.

Prices (:data:`PRICES`): us-east-1 list prices, assumed, not measured.
"""

from __future__ import annotations

import math
import random
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from .api_calls import CallLog, _quiet, item_size
from .fleet import loss_curve

REGION = "us-east-1"
TABLE = "trainguard-bench-scale"
INSTANCE_TYPE = "ml.g5.xlarge"  # 1 GPU: the hang rule watches it with one query a host
OBJECTIVE = "validation:loss"
GROUPS = 100
FLEETS = (1000, 5000, 10000)
QUICK_FLEETS = (1000,)
REFERENCES_PER_GROUP = 5
REFERENCE_MINUTES = 60
HISTORY_MINUTES = 30  # each running job's reports before the tick, folded into its progress
TICKS_PER_MONTH = 1440 * 30  # one-minute ticks
TODAY_USD_PER_JOB_MONTH = 0.864  # GetMetricData alone before issue 15: 2 metrics a job a tick

PRICES = {
    "region": REGION,
    "get_metric_data_usd_per_1000_metrics": 0.01,
    "dynamodb_on_demand_usd_per_million_rru": 0.125,
    "dynamodb_on_demand_usd_per_million_wru": 0.625,
    "sqs_standard_usd_per_million_requests": 0.40,
    "note": "us-east-1 list prices (DynamoDB on-demand after its November 2024 reduction); "
    "a strongly consistent read of up to 4 KB is 1 RRU (eventually consistent: 0.5), a write "
    "of up to 1 KB 1 WRU; Lambda compute, CloudWatch Logs and alarms are not included",
}


class ListQueue:
    """The shard queue in this process: the messages the planner sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, messages: Any) -> None:
        self.messages += [dict(m) for m in messages]


class Units(CallLog):
    """:class:`CallLog` plus DynamoDB request units, item by item as DynamoDB counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.rru = 0.0
        self.write_bytes: list[int] = []

    def after_call(self, model: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
        super().after_call(model=model, parsed=parsed, **kwargs)
        if not self.active:
            return
        if model.name == "Query":  # the running index: eventually consistent, by page
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self.rru += 0.5 * max(1, math.ceil(size / 4096))
        elif model.name == "BatchGetItem":  # consistent, item by item
            for rows in parsed.get("Responses", {}).values():
                self.rru += sum(max(1, math.ceil(item_size(i) / 4096)) for i in rows)
        elif model.name == "GetItem":
            item = parsed.get("Item")
            self.rru += max(1, math.ceil(item_size(item) / 4096)) if item else 1


@contextmanager
def _indexed_get_metric_data() -> Iterator[None]:
    """moto's GetMetricData, one query at a time over only that metric's datapoints."""
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data

    def key(ns: str, name: str, dims: Any) -> Any:
        return ns, name, frozenset(dims)

    def fast(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: Any,
        end_time: Any,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        index: dict[Any, list[Any]] = defaultdict(list)
        for md in self.get_all_metrics():
            index[key(md.namespace, md.name, ((d.name, d.value) for d in md.dimensions))].append(md)
        out: list[dict[str, Any]] = []
        try:
            for q in queries:
                if "MetricStat" not in q:
                    self.__dict__.pop("get_all_metrics", None)
                    out += original(self, [q], start_time, end_time, scan_by)
                    continue
                m = q["MetricStat"]["Metric"]
                dims = ((d["Name"], d["Value"]) for d in m.get("Dimensions", []))
                found = index.get(key(m["Namespace"], m["MetricName"], dims), [])
                self.get_all_metrics = lambda found=found: found
                out += original(self, [q], start_time, end_time, scan_by)
        finally:
            self.__dict__.pop("get_all_metrics", None)
        return out

    CloudWatchBackend.get_metric_data = fast  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudWatchBackend.get_metric_data = original  # type: ignore[method-assign]


def _tags(group: str) -> dict[str, str]:
    return {
        "trainguard:group": group,
        "trainguard:objective": OBJECTIVE,
        "trainguard:direction": "minimize",
    }


def measure(
    running: int,
    groups: int = GROUPS,
    *,
    shard_size: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the fleet, tick once (planner + every shard), count and time it."""
    from trainguard.adapters.dynamodb.keys import run_sk, serialize
    from trainguard.config import Policy
    from trainguard.constants import DEFAULT_SHARD_SIZE, RUNNING_ATTR, RUNNING_VALUE
    from trainguard.core.progress import advance
    from trainguard.logic.evaluator import evaluate_shard, run_tick
    from trainguard.logic.lifecycle import update_stats
    from trainguard.logic.shards import Shard
    from trainguard.models import JobRecord, JobSummary, ReferenceSet
    from trainguard_local.moto_harness import MotoHarness

    size = shard_size or DEFAULT_SHARD_SIZE
    rng = random.Random(f"trainguard-bench-scale/{running}/{groups}")
    now = math.floor(time.time() / 60) * 60.0
    start = now - HISTORY_MINUTES * 60.0
    built = time.perf_counter()
    queue = ListQueue()
    with MotoHarness.running(table=TABLE) as aws, _indexed_get_metric_data():
        # the default policy: observe mode, nothing is stopped; the tick measured reconciles
        # (by default one tick in 5 does: the measured one is the worst)
        deps = aws.deps(Policy(reconcile_every_minutes=1))
        deps.shards, deps.shard_size = queue, size
        with _quiet():
            for g in range(groups):
                refs = ReferenceSet(f"group-{g:03d}", OBJECTIVE, "minimize")
                done = [
                    (f"{refs.group}-done-{h:03d}@1", float(REFERENCE_MINUTES))
                    for h in range(REFERENCES_PER_GROUP)
                ]
                for job, minutes in done:
                    curve = loss_curve(rng, REFERENCE_MINUTES)
                    deps.references.put_curve(refs, job, curve, minutes)
                update_stats(refs, deps, add=done)
        items: list[dict[str, Any]] = []
        data: list[Any] = []
        policy = Policy()
        tags_by_arn: dict[str, dict[str, str]] = {}  # what ListTags answers (the live tags)
        for i in range(running):
            name = f"scale-job-{i:05d}"
            group = f"group-{i % groups:03d}"
            created = int(start * 1000)
            curve = [v for _, v in loss_curve(rng, HISTORY_MINUTES + 1)]
            points = [(start + (m + 1) * 60.0 + 5, curve[m]) for m in range(HISTORY_MINUTES - 1)]
            progress = advance(
                None,
                points,
                start_time=start,
                unit=policy.step_unit,
                direction="minimize",
                min_delta=policy.patience.min_delta,
                now=now - 60.0,
            )
            arn = f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}"
            record = JobRecord(
                name,
                created,
                arn=arn,
                tags=_tags(group),
                opted_in=True,
                group=group,
                objective=OBJECTIVE,
                direction="minimize",
                instance_type=INSTANCE_TYPE,
                instance_count=1,
                start_time=start,
                status="InProgress",
                mode="observe",
                max_runtime_s=86400.0,
            )
            tags_by_arn[arn] = dict(record.tags)
            item = asdict(record)
            for key in ("actions", "alarms", "progress"):
                item.pop(key)
            item["alarms"] = {"SS": [f"trainguard-gpu-idle-{name}-algo-1"]}  # (as created)
            item.update(pk=f"JOB#{name}", sk=run_sk(record.run), progress=progress.to_dict())
            item[RUNNING_ATTR] = RUNNING_VALUE
            alarms = item.pop("alarms")
            items.append({**serialize(item), "alarms": alarms})
            ts = start + HISTORY_MINUTES * 60.0 + 5  # the report the steady tick reads
            data.append(_datum(OBJECTIVE, "TrainingJobName", name, ts, curve[-1]))
            data.append(_datum("GPUUtilization", "Host", f"{name}/algo-1", ts, 85.0))
        for k in range(0, len(items), 25):
            aws.dynamodb.batch_write_item(
                RequestItems={TABLE: [{"PutRequest": {"Item": it}} for it in items[k : k + 25]]}
            )
        aws.put_datapoints(data)
        _alarms(aws, [f"trainguard-gpu-idle-scale-job-{i:05d}-algo-1" for i in range(running)])
        job_item_bytes = sum(item_size(it) for it in items) / max(1, len(items))
        # SageMaker's listing of the jobs InProgress (the reconcile's): a stand-in returning
        # the fleet (moto's SageMaker needs minutes to hold 10,000 jobs); its pages are counted
        # below as ListTrainingJobs returns them (100 a page)
        listing = [
            JobSummary(f"scale-job-{i:05d}", "", "InProgress", int(start * 1000))
            for i in range(running)
        ]
        deps.training_jobs = _Listing(deps.training_jobs, listing, tags_by_arn)  # type: ignore[assignment]
        setup_s = time.perf_counter() - built

        counter = Units()
        for client in (aws.dynamodb, aws.cloudwatch, aws.sagemaker, aws.sns):
            counter.attach(client)
        with _quiet():
            counter.active = True
            began, cpu = time.perf_counter(), time.process_time()
            planned = run_tick(deps, now=now)
            planner_s, planner_cpu = time.perf_counter() - began, time.process_time() - cpu
            shard_s: list[float] = []
            shard_cpu: list[float] = []
            results = []
            messages = list(queue.messages)
            for message in messages:
                shard = Shard.from_message(message)
                began, cpu = time.perf_counter(), time.process_time()
                results.append(evaluate_shard(deps, shard.runs, shard.now, pinned=shard.pinned))
                shard_s.append(time.perf_counter() - began)
                shard_cpu.append(time.process_time() - cpu)
            counter.active = False
            # peak traced memory of one shard invocation: the first shard again under
            # tracemalloc (a repeated delivery: it reads and judges the same, its progress
            # writes are refused)
            shard_peak = 0
            if messages:
                tracemalloc.start()
                shard = Shard.from_message(messages[0])
                evaluate_shard(deps, shard.runs, shard.now, pinned=shard.pinned)
                shard_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    pages = {"SageMaker.ListTrainingJobs": planned.reconcile_pages}  # the stand-in's
    calls = dict(sorted({**counter.calls, **pages}.items()))
    queries = sum(counter.gmd_queries)
    writes = sum(n for op, n in calls.items() if op.split(".")[1] in _DDB_WRITES)
    wru = writes * math.ceil(job_item_bytes / 1024)
    sqs_requests = math.ceil(len(messages) / 10) + 2 * len(messages)  # send; receive + delete
    per_tick = {
        "get_metric_data": queries * PRICES["get_metric_data_usd_per_1000_metrics"] / 1000,
        "dynamodb_reads": counter.rru * PRICES["dynamodb_on_demand_usd_per_million_rru"] / 1e6,
        "dynamodb_writes": wru * PRICES["dynamodb_on_demand_usd_per_million_wru"] / 1e6,
        "sqs": sqs_requests * PRICES["sqs_standard_usd_per_million_requests"] / 1e6,
    }
    usd_job_month = {k: v * TICKS_PER_MONTH / running for k, v in per_tick.items()}
    evaluated = sum(r.evaluated for r in results) + planned.evaluated
    slowest = max(shard_s, default=0.0)
    out = {
        "running_jobs": running,
        "groups": groups,
        "shard_size": size,
        "shards": len(messages),
        "slowest_shard_s": round(slowest, 2),
        "shard_s": [round(s, 2) for s in shard_s],
        "slowest_shard_cpu_s": round(max(shard_cpu, default=0.0), 2),
        "shard_cpu_s": [round(s, 2) for s in shard_cpu],
        "planner_s": round(planner_s, 2),
        "planner_cpu_s": round(planner_cpu, 2),
        "tick_wall_s_in_parallel": round(planner_s + slowest, 2),
        "calls": calls,
        "get_metric_data": {
            "calls": len(counter.gmd_queries),
            "queries": queries,
            "datapoints": sum(counter.gmd_datapoints),
            "queries_per_job": round(queries / running, 3),
        },
        "dynamodb": {
            "read_calls": sum(n for op, n in calls.items() if op.split(".")[1] in _DDB_READS),
            "items_read": sum(counter.items_read.values()),
            "kib_read": round(sum(counter.bytes_read.values()) / 1024, 1),
            "rru": round(counter.rru, 1),
            "write_calls": writes,
            "wru": wru,
            "job_item_bytes": round(job_item_bytes),
        },
        "sqs_requests": sqs_requests,
        "peak_mib": round(shard_peak / 2**20, 1),  # one shard invocation (the planner untraced)
        "usd_per_job_month": round(sum(usd_job_month.values()), 4),
        "usd_per_job_month_by_service": {k: round(v, 4) for k, v in usd_job_month.items()},
        "evaluated": evaluated,
        "errors": planned.errors + sum(r.errors for r in results),
        "deferred": sum(r.deferred for r in results),
        "setup_s": round(setup_s, 1),
    }
    if log:
        log(
            f"scale: N={running}: {len(messages)} shards of <= {size}, slowest "
            f"{slowest:.1f} s ({max(shard_cpu, default=0):.1f} s CPU; planner "
            f"{planner_s:.1f} s), {queries} GetMetricData queries in "
            f"{len(counter.gmd_queries)} calls, {writes} DynamoDB writes, "
            f"${out['usd_per_job_month']:.3f} a job-month (setup {setup_s:.0f} s)"
        )
    return out


class _Listing:
    """The SageMaker port with its listing and the jobs' tags answered from the fleet (100
    jobs a page; ListTags as the live tags read them, not counted as AWS calls)."""

    def __init__(self, real: Any, listing: list[Any], tags: dict[str, dict[str, str]]) -> None:
        self._real, self._listing, self._tags = real, listing, tags

    def tags(self, arn: str) -> dict[str, str]:
        return dict(self._tags[arn])

    def list_in_progress(self) -> list[Any]:
        return list(self._listing)

    def list_since(self, since: float, out_of_time: Any = None) -> Any:
        from trainguard.models import JobListing

        return JobListing(tuple(self._listing), pages=math.ceil(len(self._listing) / 100))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _alarms(aws: Any, names: list[str]) -> None:
    """The fleet's GPU-idle alarms in moto's CloudWatch, as their items record them (written
    into its backend: 10,000 PutMetricAlarm calls would take minutes), so that the measured
    tick's reconcile finds none missing."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[aws.shim.account_id][REGION]
    for name in names:
        backend.put_metric_alarm(
            name=name,
            namespace="/aws/sagemaker/TrainingJobs",
            metric_name="GPUUtilization",
            comparison_operator="LessThanThreshold",
            evaluation_periods=15,
            period=60,
            threshold=10.0,
            statistic="Average",
            description="",
            dimensions=[{"Name": "Host", "Value": name}],
            alarm_actions=[],
        )


def _datum(metric: str, dim: str, value: str, ts: float, v: float) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": dim, "Value": value}],
        "Timestamp": datetime.fromtimestamp(ts, UTC),
        "Value": v,
    }


_DDB_READS = {"Query", "Scan", "GetItem", "BatchGetItem"}
_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def run(quick: bool = False, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One entry a fleet size (the results' ``scale`` list)."""
    entries = [measure(n, log=log) for n in (QUICK_FLEETS if quick else FLEETS)]
    for e in entries:
        e["prices"] = PRICES
        e["today_usd_per_job_month"] = TODAY_USD_PER_JOB_MONTH
    return entries
