"""``trainguard status | explain | report`` and the weekly digest on moto: the stack found by
its outputs, the audit written by the real handlers (a stop in enforce, a would-be stop in
observe, a GPU-idle alert), the evaluator's thresholds, the runtime controls item; a missing
stack and missing credentials are one line and exit code 2."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_world import ctx, seed
from runtime_support import Aws, moto_aws

from trainguard import constants as c
from trainguard.handlers import digest
from trainguard_local.moto_harness import scheduled_event
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> Iterator[Aws]:
    worlds = moto_aws()
    aws = next(worlds)
    seed(aws)
    yield aws
    worlds.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_shows_jobs_thresholds_modes_alerts_and_controls(
    world: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["status", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["controls"]["global"]["paused"] is False and doc["controls"]["groups"] == {}
    assert doc["deploy_time"] == {"mode": "observe", "stops_disabled": "false"}
    jobs = {j["job"]: j for j in doc["jobs"]}
    # the stopped job's Stopped event has not come: it is still in the running index
    assert sorted(jobs) == [
        "digits-cnn-003",
        "digits-mlp-017",
        "vision-resnet-50",
        "vision-vit-b16",
    ]
    bad = jobs["digits-mlp-017"]
    # the evaluator's own numbers (the audit record of its stop says the same)
    assert bad["thresholds"] == {"median": pytest.approx(0.8075)} and bad["references"] == 3
    assert (bad["latest"], bad["best"], bad["step"]) == (
        pytest.approx(1.19),
        pytest.approx(1.19),
        12,
    )
    assert (bad["mode"], bad["mode_source"]) == ("enforce", "tag")
    assert (jobs["digits-cnn-003"]["mode"], jobs["digits-cnn-003"]["mode_source"]) == (
        "observe",
        "deploy-time",
    )
    assert jobs["vision-resnet-50"]["alerts"][0].startswith("gpu idle vision-resnet-50/algo-2")
    code, text, _ = run(["status"], capsys)
    assert code == 0 and "Group digits (2 running)" in text and "median 0.8075" in text
    assert "Controls: none set (deploy-time defaults)" in text


def test_status_reads_the_runtime_controls_item(
    world: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    value = {
        "paused": True,
        "mode": "enforce",
        "reason": "incident 42",
        "by": "arn:aws:iam::1:user/ops",
        "at": "2026-01-05T10:00:00Z",
    }
    key = {"pk": {"S": c.CONTROL_PK}, "sk": {"S": c.CONTROL_GLOBAL_SK}}
    world.dynamodb.put_item(TableName=world.table, Item={**key, "value": {"S": json.dumps(value)}})
    try:
        code, out, _ = run(["status", "--format", "json"], capsys)
        doc = json.loads(out)
        assert (
            code == 0
            and doc["controls"]["global"]["paused"] is True
            and doc["controls"]["global"]["by"].endswith("user/ops")
        )
        jobs = {j["job"]: j for j in doc["jobs"]}
        # the global mode applies where no tag says otherwise; paused: reports only
        assert jobs["digits-cnn-003"]["mode"] == "enforce (paused: reports only)"
        assert jobs["digits-cnn-003"]["mode_source"] == "global control"
        assert jobs["digits-mlp-017"]["mode_source"] == "tag"
        _, text, _ = run(["status"], capsys)
        assert "Controls: global: PAUSED: every stop is a report; mode enforce" in text
        assert "(incident 42)" in text
        bad = {**key, "value": {"S": "{not json"}}
        world.dynamodb.put_item(TableName=world.table, Item=bad)
        _, text, _ = run(["status"], capsys)
        assert "Controls: UNREADABLE (control GLOBAL: not valid JSON" in text
    finally:
        world.dynamodb.delete_item(TableName=world.table, Key=key)


def test_explain_gives_the_trail_the_curve_and_the_references(
    world: Aws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png = tmp_path / "curve.png"
    code, out, _ = run(["explain", "digits-mlp-017", "--png", str(png)], capsys)
    assert code == 0
    assert "Audit trail (1 record(s)):" in out
    assert "median: STOPPED [enforce] step 12, value 1.19 vs threshold 0.8075 over 3" in out
    assert "* job  m median" in out  # the terminal plot
    assert "at step 12: value 1.19; thresholds: median 0.8075" in out
    assert "median at step 12: 0.8075 over 3 reference(s), set by digits-ref-" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(["explain", "vision-resnet-50"], capsys)
    assert code == 0 and "gpu_idle: ALERT [observe]" in out
    code, _, err = run(["explain", "nobody"], capsys)
    assert code == 2 and err.strip() == (
        "trainguard: no job named nobody in the state table (not seen by trainguard)"
    )


def test_report_counts_the_weeks_stops_would_stops_and_alerts(
    world: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["report", "--since", "7d", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    total, digits, vision = doc["total"], doc["groups"]["digits"], doc["groups"]["vision"]
    assert (total["stops"], total["would_stops"], total["alerts"]) == (1, 1, 1)
    assert (digits["stops"], vision["would_stops"], vision["alerts"]) == (1, 1, 1)
    # ml.g5.2xlarge $1.515/h x (21 - 13) min; the observe job is 1 x ml.p4d.24xlarge
    assert digits["dollars_saved"] == pytest.approx(1.515 * 8 / 60, abs=0.01)
    assert digits["gpu_hours_saved"] == pytest.approx(8 / 60, abs=0.01)
    assert vision["would_gpu_hours_saved"] == pytest.approx(8 * 8 / 60, abs=0.02)
    code, out, _ = run(["report", "--format", "csv"], capsys)
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(out))}
    assert sorted(rows) == ["TOTAL", "digits", "vision"] and rows["TOTAL"]["stops"] == "1"
    code, out, _ = run(["report", "--since", "1h"], capsys)
    assert code == 0 and "TOTAL      3      1" in out
    code, _, err = run(["report", "--since", "week"], capsys)
    assert code == 2 and "--since must be a number and a unit d, h or m" in err


def test_the_digest_sends_one_message_with_the_weeks_numbers(world: Aws) -> None:
    world.emails()
    from ops_world import ops_policy

    result = digest.handler(
        scheduled_event(world.now(), rule=c.DIGEST_RULE_NAME), ctx(), deps=world.deps(ops_policy())
    )
    assert (result["stops"], result["would_stops"], result["alerts"]) == (1, 1, 1)
    (mail,) = world.emails()
    assert mail["subject"].startswith(
        "[trainguard] weekly digest: 1 stops, 1 would-be stops, 1 alerts, $0.20 saved"
    )
    body = mail["body"]
    assert "Stops:            1 (0.1 GPU hours, $0.20 saved)" in body
    assert "would have saved 1.1 GPU hours, $5.02" in body
    assert "vision-resnet-50 (vision) vision-resnet-50/algo-2: 15 min idle" in body  # the window
    assert "Longest-running jobs (still running):\n  digits-" in body


def test_a_missing_stack_is_one_line_and_exit_2(
    world: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["status"], ["explain", "j"], ["report"]):
        code, out, err = run([*argv, "--stack", "Nope"], capsys)
        assert code == 2 and out == ""
        assert err == (
            "trainguard: stack Nope not found in us-east-1: deploy trainguard there (make "
            "deploy), or pass --stack NAME / --region REGION\n"
        )


def test_missing_credentials_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = run(["report", "--region", "us-east-1"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("trainguard: no AWS credentials found:") and err.count("\n") == 1
