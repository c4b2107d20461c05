"""The call counting behind ``make bench`` part 2, on the real evaluator over in-process moto:
a steady tick batches GetMetricData (<= 500 queries a call, ceil(queries/500) calls), reads
DynamoDB a fixed number of times whatever the number of completed jobs, describes no job and
re-reads at most its share of the jobs' tags.
Counts only: no timing here."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

# bench/ is a top-level folder outside the wheel; import it as ``python -m bench.run`` does.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.api_calls import MAX_QUERIES_PER_CALL, measure_tick
from trainguard.logic.observe import WINDOW_MIN
from trainguard.logic.retag import TAG_READS_PER_TICK

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("running", "publish"),
    [(10, True), (600, False)],  # 600 without datapoints: same calls, moto answers fast
)
def test_steady_tick_batches_metric_reads_and_describes_no_job(running: int, publish: bool) -> None:
    result = measure_tick(running, completed_per_group=3, groups=2, publish_metrics=publish)
    gmd = result["get_metric_data"]
    # two queries per job: the objective curve and the instance liveness metric
    assert gmd["queries"] == 2 * running
    assert max(gmd["queries_per_call"]) <= MAX_QUERIES_PER_CALL
    # one batch, one time window for all queries: exactly ceil(queries/500) calls
    assert gmd["calls"] == math.ceil(gmd["queries"] / MAX_QUERIES_PER_CALL)
    assert result["describe_training_job_calls"] == 0
    # live tags (issue 20): each job's tags once a period, on its own phase, so a tick reads
    # its share of them (a share that depends on the clock), never more than the cap
    assert result["list_tags_calls"] <= min(TAG_READS_PER_TICK, running)
    assert result["list_training_jobs_pages"] == math.ceil(running / 100)
    assert result["steady_tick"]["jobs"] == running
    assert result["steady_tick"]["errors"] == 0
    # the tick reads the running index (without the jobs' progress: what planning needs), the
    # open actions and the outbox (both empty when nothing failed: one query each), the
    # runtime controls (one query; the stack caches them 30 s, under the one-minute tick, so a
    # tick reads them once), the judged jobs' items (one consistent BatchGetItem a hundred, as
    # a shard reads its own) and one BatchGetItem of the groups' STATS and their POLICY items
    # (trainguard calibrate --apply: none here)
    batches = math.ceil(running / 100) + 1
    assert result["dynamodb"]["reads"] == {"DynamoDB.BatchGetItem": batches, "DynamoDB.Query": 4}
    assert result["dynamodb"]["batch_get_keys"] == running + 2 + 2
    # the jobs the first tick reported (observe mode) are not claimed again; the only writes
    # are the progress of the jobs that reported a new value (one UpdateItem each)
    assert result["dynamodb"]["writes"] == ({"DynamoDB.UpdateItem": running} if publish else {})
    # and the steady tick reads only the recent window, never a job's whole history
    assert set(gmd["windows_min"]) == {WINDOW_MIN}


def test_dynamodb_reads_do_not_grow_with_completed_jobs() -> None:
    few = measure_tick(20, completed_per_group=3, groups=2)
    many = measure_tick(20, completed_per_group=60, groups=2)
    assert few["dynamodb"]["reads"] == many["dynamodb"]["reads"]
    # the running index (the runs), the judged jobs' items, the groups' STATS
    assert few["dynamodb"]["items_read"] == many["dynamodb"]["items_read"] == 20 + 20 + 2
    assert few["get_metric_data"]["calls"] == many["get_metric_data"]["calls"]


def test_the_health_rules_ride_in_the_same_call_one_gpu_query_a_host() -> None:
    from bench.health_cost import HOSTS, run

    result = run(log=lambda _: None)
    today, on = result["today"], result["every_rule_on"]
    assert today["get_metric_data_calls_per_tick"] == on["get_metric_data_calls_per_tick"] == 1
    # today: the objective every tick and the CPU liveness query once in 5 ticks; every rule
    # on: the objective and the throughput every tick, one GPU query a host once in 5 ticks
    # (the CPU query goes: the GPU samples say they report)
    assert today["queries_per_tick"] == (5 + 1) / 5
    assert on["queries_per_tick"] == (2 * 5 + HOSTS) / 5
    assert on["usd_per_job_month"] > today["usd_per_job_month"]
    assert today["steady_tick_errors"] == on["steady_tick_errors"] == 0
