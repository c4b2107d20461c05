"""Part: the reconcile's calls at scale (issue 21): 1,000, 10,000 and 100,000 training jobs in
the account, 3 of them running, on in-process moto (the harness's SageMaker shim orders the
listing as SageMaker does: ``SortBy=CreationTime``, ``SortOrder=Descending``).

The account's history is written into moto's SageMaker backend directly (copies of one job
created through the API, each with its own name and CreationTime, ended), not by 100,000
CreateTrainingJob calls; it spans the :data:`HISTORY_DAYS` days before the running jobs, evenly.
The 3 running jobs are created through the API and registered by the lifecycle.

Counted at the botocore level (:class:`bench.api_calls.CallLog`), for each account size:

* ``before``: what every tick's reconcile listed before issue 21 (``StatusEquals=InProgress``,
  every page: SageMaker applies the status after paging, as moto does; and its alarms);
* ``recent``: a regular reconcile (the first tick of every ``reconcileEveryMinutes``): newest
  first, back to the oldest running job and at least an hour;
* ``full``: the reconcile of every ``reconcileFullEveryMinutes``: back to SageMaker's longest
  job age (58 days), within ``reconcileBudgetSeconds`` (moto's pages are slower than
  SageMaker's: a cut listing here says so with ``complete`` false);
* ``per_tick``: the average calls a one-minute tick spends on the reconcile at the default
  cadence (a regular one every 5 minutes, a full one every 60).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .api_calls import CallLog, _quiet

TABLE = "trainguard-bench-reconcile"
ACCOUNT_JOBS = (1_000, 10_000, 100_000)
QUICK_ACCOUNT_JOBS = (1_000,)
RUNNING = 3
HISTORY_DAYS = 90  # the ended jobs' CreationTimes, evenly over this many days before now
TAGS = {
    "trainguard:group": "g",
    "trainguard:objective": "validation:loss",
    "trainguard:direction": "minimize",
}


def measure(account_jobs: int, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    from trainguard.adapters.sagemaker import SageMakerAdapter
    from trainguard.config import Policy
    from trainguard.constants import GPU_IDLE_ALARM_PREFIX
    from trainguard.handlers import lifecycle
    from trainguard.logic.reconcile import reconcile
    from trainguard_local.lambda_context import LambdaContext
    from trainguard_local.moto_harness import MotoHarness, state_change

    policy = Policy()
    context = LambdaContext(function_name="trainguard-bench-lifecycle", aws_request_id="bench")
    with MotoHarness.running(table=TABLE) as aws:
        deps = aws.deps(policy)
        now = aws.now()
        built = time.perf_counter()
        with _quiet():
            aws.create_job("template", {}, status="Completed", start=now - HISTORY_DAYS * 86400)
            _history(aws, account_jobs - RUNNING, now)
            for i in range(RUNNING):
                name = f"running-{i}"
                start = now - 600.0 * (i + 1)
                arn = aws.create_job(name, TAGS, start=start)
                change = state_change(name, "InProgress", arn=arn, tags=TAGS, start=start)
                lifecycle.handler(change, context, deps=deps)
        setup_s = time.perf_counter() - built
        running = deps.running.running_jobs()
        assert len(running) == RUNNING, running
        counter = CallLog()
        for client in (aws.sagemaker, aws.cloudwatch, aws.dynamodb):
            counter.attach(client)
        out: dict[str, Any] = {"account_jobs": account_jobs, "running": RUNNING}
        with _quiet():
            counter.active = True
            began = time.perf_counter()
            before = SageMakerAdapter(aws.sagemaker).list_in_progress()
            deps.alarms.alarm_names(GPU_IDLE_ALARM_PREFIX)  # its orphan pass, every tick too
            out["before"] = _figures(counter, began, listed=len(before))
            for kind, full in (("recent", False), ("full", True)):
                counter.calls.clear()
                began = time.perf_counter()
                result = reconcile(deps, running, now, full=full)
                out[kind] = {
                    **_figures(counter, began, listed=None),
                    "complete": result.complete,
                    "registered": len(result.registered),
                    "finalized": len(result.finalized),
                    "errors": result.errors,
                }
            counter.active = False
    ticks = policy.reconcile_full_every_minutes // policy.tick_minutes
    regular = policy.reconcile_full_every_minutes // policy.reconcile_every_minutes - 1
    out["per_tick"] = {
        "before": out["before"]["calls"],
        "after": round((regular * out["recent"]["calls"] + out["full"]["calls"]) / ticks, 2),
        "reconcile_every_minutes": policy.reconcile_every_minutes,
        "reconcile_full_every_minutes": policy.reconcile_full_every_minutes,
        "reconcile_budget_seconds": policy.reconcile_budget_seconds,
    }
    out["history_days"] = HISTORY_DAYS
    out["setup_s"] = round(setup_s, 1)
    if log:
        log(
            f"scale_reconcile: {account_jobs:,} jobs in the account, {RUNNING} running: "
            f"{out['before']['list_training_jobs_pages']} ListTrainingJobs pages a tick before; "
            f"now {out['recent']['list_training_jobs_pages']} a regular reconcile, "
            f"{out['full']['list_training_jobs_pages']} a full one "
            f"({'complete' if out['full']['complete'] else 'cut by its budget'}), "
            f"{out['per_tick']['after']} calls a tick on average (setup {setup_s:.0f} s)"
        )
    return out


def _history(aws: Any, count: int, now: float) -> None:
    """``count`` ended jobs in moto's backend, created evenly over the ``HISTORY_DAYS`` days
    before the running ones (copies of ``template``)."""
    backend = aws.shim._backend()
    template = backend.training_jobs.pop("template")
    first = datetime.fromtimestamp(now - HISTORY_DAYS * 86400, UTC).replace(tzinfo=None)
    step = timedelta(seconds=(HISTORY_DAYS * 86400 - 3600) / max(1, count))
    for i in range(count):
        job = copy.copy(template)
        job.training_job_name = name = f"history-{i:06d}"
        job.arn = template.arn.replace("template", name)
        created = first + step * i
        job.creation_time = job.last_modified_time = created.replace(
            microsecond=created.microsecond // 1000 * 1000
        )
        backend.training_jobs[name] = job


def _figures(counter: CallLog, began: float, *, listed: int | None) -> dict[str, Any]:
    calls = dict(sorted(counter.calls.items()))
    out: dict[str, Any] = {
        "calls": sum(calls.values()),
        "by_operation": calls,
        "list_training_jobs_pages": calls.get("SageMaker.ListTrainingJobs", 0),
        "wall_s": round(time.perf_counter() - began, 2),
    }
    if listed is not None:
        out["listed"] = listed
    return out


def run(quick: bool = False, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One entry an account size (the results' ``scale_reconcile`` list)."""
    return [measure(n, log=log) for n in (QUICK_ACCOUNT_JOBS if quick else ACCOUNT_JOBS)]


if __name__ == "__main__":
    import json
    import sys

    sizes = [int(a) for a in sys.argv[1:]] or list(ACCOUNT_JOBS)
    print(json.dumps([measure(n, log=print) for n in sizes], indent=1))
