"""``trainguard replay --from-cloudwatch`` against the moto harness (trainguard_local).

Each job is created and ended on the harness's clock pinned at its start and end (the SageMaker
shim stamps them), and the objective's history is written with ``PutMetricData`` (recent
timestamps: CloudWatch takes data up to two weeks old). moto's GetMetricData does not filter by
namespace when dimensions are given, so no decoy series with the same name and dimensions is
written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trainguard_local.moto_harness import MotoHarness
from trainguard_tools.cli import main
from trainguard_tools.replay.cloudwatch import read_cloudwatch_records

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=3)
OPTED = {"trainguard:group": "g", "trainguard:objective": "validation:loss"}


def minute(m: int) -> float:
    return (T0 + timedelta(minutes=m)).timestamp()


def past_job(
    aws: MotoHarness, name: str, tags: dict[str, str], start: int, end: int, status: str
) -> None:
    """A job that ran from minute ``start`` to ``end`` after T0 on 2 x ml.g5.xlarge."""
    with aws.at(minute(start)):
        aws.create_job(
            name,
            tags,
            instance_type="ml.g5.xlarge",
            count=2,
            max_runtime_s=3600,
            hyperparameters={"lr": "0.1"},
        )
    with aws.at(minute(end)):
        aws.set_status(name, status)


def put_curve(aws: MotoHarness, name: str, start: int, values: list[float]) -> None:
    """Value i at minute start + i + 1 (+5 s): the curve's step i + 1."""
    aws.put_curve(name, "validation:loss", minute(start), values)


@pytest.fixture
def account() -> Iterator[tuple[Any, Any]]:
    with MotoHarness.running() as aws:
        # a: minutes 1..5 at 1.0, ends at 5; b: minutes 1..10 at 2.0, ends at 10
        past_job(aws, "job-a", OPTED, 0, 5, "Completed")
        past_job(aws, "job-b", OPTED, 0, 10, "Completed")
        # c failed after two minutes, started at minute 2
        past_job(aws, "job-c", OPTED, 2, 4, "Failed")
        past_job(aws, "job-other-group", {**OPTED, "trainguard:group": "h"}, 0, 3, "Completed")
        past_job(aws, "job-untagged", {}, 0, 3, "Completed")
        past_job(aws, "job-no-objective", {"trainguard:group": "g"}, 0, 3, "Completed")
        put_curve(aws, "job-a", 0, [1.0] * 5)
        put_curve(aws, "job-b", 0, [2.0] * 10)
        put_curve(aws, "job-c", 2, [1.5, 1.4])
        put_curve(aws, "job-other-group", 0, [0.1] * 3)
        yield aws.sagemaker, aws.cloudwatch


def test_reads_the_groups_jobs_as_minute_curves(account: tuple[Any, Any]) -> None:
    sm, cw = account
    calls: list[int] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: calls.append(len(params["MetricDataQueries"])),
    )
    records, notes = read_cloudwatch_records(
        "g", since_days=1, sagemaker=sm, cloudwatch=cw, page_size=2, max_queries=2
    )
    by_name = {r.job: r for r in records}
    assert set(by_name) == {"job-a", "job-b", "job-c"}  # paged through all six jobs
    assert calls == [2, 1]  # three queries, at most two per call
    assert any(n.startswith("job-no-objective: skipped, no trainguard:objective") for n in notes)
    a = by_name["job-a"]
    assert a.curve == tuple((float(m), 1.0) for m in range(1, 6))
    assert (a.start_minute, a.minutes_per_step, a.end_minute, a.end) == (0.0, 1.0, 5.0, 5.0)
    assert (a.instance_type, a.instance_count, a.status) == ("ml.g5.xlarge", 2, "Completed")
    assert a.hyperparameters == {"lr": "0.1"} and a.tags["trainguard:group"] == "g"
    c = by_name["job-c"]
    assert (c.status, c.start_minute, c.curve) == ("Failed", 2.0, ((1.0, 1.5), (2.0, 1.4)))


def test_since_excludes_older_jobs(account: tuple[Any, Any]) -> None:
    sm, cw = account
    later = datetime.now(UTC) + timedelta(days=2)  # "since" = tomorrow: after every creation
    records, notes = read_cloudwatch_records(
        "g", since_days=1, sagemaker=sm, cloudwatch=cw, now=later
    )
    assert records == [] and notes == []


def test_cli_replays_the_account(account: tuple[Any, Any], tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"median": {"enabled": True, "min_completed": 1}, "catchup": {"enabled": False}})
    )
    out = tmp_path / "out.json"
    argv = ["--from-cloudwatch", "--group", "g", "--since", "1", "--policy", str(policy)]
    code = main(["replay", *argv, "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    g = report["groups"]["g"]
    # a completes at minute 5; b has reported minutes 1..5 by then: 2.0 > M(5) = 1.0
    (event,) = [e for e in g["stop_events"] if e["job"] == "job-b"]
    assert (event["rule"], event["minute"], event["step"], event["threshold"]) == (
        "median",
        5.0,
        5,
        1.0,
    )
    # b ran 10 minutes on 2 x 1 GPU; stopped at 5: 10 GPU-minutes saved of 10 + 20 + 4
    assert g["gpu_hours_saved"] == pytest.approx(10 / 60, abs=1e-6)
    assert g["gpu_hours_without"] == pytest.approx(34 / 60, abs=1e-6)
    assert report["source"].startswith("CloudWatch group g")
