"""``trainguard calibrate --apply`` against the moto harness: the stack's table found through
its outputs, the caller's ARN from STS, the group's POLICY item and its POLICY#<time> history
written in one transaction and valid for the policy schema; a missing stack; and
``--from-cloudwatch`` reading an account's past jobs (the replay's reader)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from trainguard.config import Policy
from trainguard_local.moto_harness import MotoHarness
from trainguard_tools.cli import main
from trainguard_tools.curvefile import dump_curves, load_curves

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "data"
GROUP = "lcdb-14"  # 20 completed learners: a small group of the LCDB development set
# What the deployed stack outputs (infra/capabilities/state.py), on a stand-in resource
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "NotificationsTopicArnEF6E5967": {"Value": {"Ref": "Topic"}},
        "StateTableName96842137": {"Value": "trainguard-test"},
    },
}


@pytest.fixture
def aws() -> Iterator[MotoHarness]:
    with MotoHarness.running(table="trainguard-test") as harness:
        yield harness


@pytest.fixture
def curves(tmp_path: Path) -> Path:
    records, _ = load_curves(DATA / "lcdb_dev_a.jsonl")
    path = tmp_path / "group.jsonl"
    dump_curves([r for r in records if r.group == GROUP], path)
    return path


def deploy_stand_in(aws: MotoHarness) -> None:
    import boto3

    boto3.client("cloudformation", region_name=aws.region).create_stack(
        StackName="Trainguard", TemplateBody=json.dumps(TEMPLATE)
    )


def items(aws: MotoHarness, group: str) -> dict[str, dict[str, Any]]:
    raw = aws.dynamodb.query(
        TableName=aws.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"GROUP#{group}"}, ":p": {"S": "POLICY"}},
    )["Items"]
    d = TypeDeserializer()
    return {i["sk"]["S"]: {k: d.deserialize(v) for k, v in i.items()} for i in raw}


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back as JSON numbers."""
    return json.loads(
        json.dumps(value, default=lambda x: float(x) if isinstance(x, Decimal) else x)
    )


def test_apply_writes_the_group_policy_and_its_history(
    aws: MotoHarness, curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_stand_in(aws)
    out_json = tmp_path / "out.json"
    code = main(["calibrate", str(curves), "--orders", "3", "--apply", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out_json.read_text())
    chosen = report["recommendation"]
    assert report["applied"] == {"table": "trainguard-test", "pk": f"GROUP#{GROUP}", "sk": "POLICY"}
    assert f"as the policy of group {GROUP} (table trainguard-test" in out

    stored = items(aws, GROUP)
    assert set(stored) == {"POLICY", f"POLICY#{stored['POLICY']['applied_at']}"}
    current = stored.pop("POLICY")
    (history,) = stored.values()
    assert {k: v for k, v in current.items() if k != "sk"} == {
        k: v for k, v in history.items() if k != "sk"
    }
    settings = plain(current["settings"])
    assert settings == chosen["settings"]
    policy = Policy.from_mapping(settings)  # what the evaluator will read: valid for the schema
    assert policy.catchup.noise_multiple == chosen["row"]["noise_multiple"]
    assert policy.catchup.consecutive == chosen["row"]["consecutive"]
    assert current["applied_by"] == aws_caller_arn(aws)
    at = datetime.fromisoformat(current["applied_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60
    source = plain(current["source"])
    assert source["command"] == "trainguard calibrate" and source["target"] == {"keep_best": 0.95}
    assert source["row"] == chosen["row"] and source["orders"] == 3
    assert source["completed_jobs"] == 20


def aws_caller_arn(aws: MotoHarness) -> str:
    import boto3

    return boto3.client("sts", region_name=aws.region).get_caller_identity()["Arn"]


def test_apply_again_keeps_the_history_and_an_explicit_table(
    aws: MotoHarness, curves: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["calibrate", str(curves), "--orders", "2", "--apply", "--table", aws.table]
    assert main(argv) == 0
    first = items(aws, GROUP)
    assert main([*argv, "--keep-best", "0.0"]) == 0  # the most aggressive rung
    second = items(aws, GROUP)
    capsys.readouterr()
    history = sorted(sk for sk in second if sk.startswith("POLICY#"))
    assert len(history) == 2 and set(first) - {"POLICY"} <= set(second)
    assert second["POLICY"]["settings"]["catchup"]["noise_multiple"] == Decimal("2")
    assert (
        second["POLICY"]["sk"] == "POLICY"
        and second[history[-1]]["settings"] == (second["POLICY"]["settings"])
    )


def test_the_same_instant_never_overwrites_the_history(
    aws: MotoHarness, curves: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import trainguard_tools.calibrate as calibrate_module

    fixed = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return fixed

    monkeypatch.setattr(calibrate_module, "datetime", Clock)
    argv = ["calibrate", str(curves), "--orders", "1", "--apply", "--table", aws.table]
    assert main(argv) == 0
    code = main([*argv, "--keep-best", "0.0"])
    err = capsys.readouterr().err
    assert code == 2 and "applied at the same instant: nothing written" in err
    stored = items(aws, GROUP)
    # neither item changed: the transaction wrote both or nothing
    assert set(stored) == {"POLICY", "POLICY#2026-02-03T04:05:06.000Z"}
    assert stored["POLICY"]["settings"] == stored["POLICY#2026-02-03T04:05:06.000Z"]["settings"]


def test_a_missing_stack_is_a_clear_error(
    aws: MotoHarness, curves: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["calibrate", str(curves), "--orders", "1", "--apply"])
    err = capsys.readouterr().err
    assert code == 2 and f"stack Trainguard not found in {aws.region}" in err
    assert "--table NAME" in err
    assert items(aws, GROUP) == {}


# ---- --from-cloudwatch ----------------------------------------------------------------------

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=6)
OPTED = {"trainguard:group": "g", "trainguard:objective": "validation:loss"}


def minute(m: float) -> float:
    return (T0 + timedelta(minutes=m)).timestamp()


def test_from_cloudwatch_calibrates_the_account_s_jobs(
    aws: MotoHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # eight completed jobs, one every 4 minutes, 10 minutes long: losses 1/(1+i) + a spread
    for i in range(8):
        name, start = f"job-{i}", 4 * i
        with aws.at(minute(start)):
            aws.create_job(name, OPTED, instance_type="ml.g5.xlarge")
        with aws.at(minute(start + 10)):
            aws.set_status(name, "Completed")
        level = 0.2 + 0.1 * ((5 * i) % 8)
        aws.put_curve(name, "validation:loss", minute(start), [level + 1 / m for m in range(1, 11)])
    out_json = tmp_path / "out.json"
    argv = ["--from-cloudwatch", "--group", "g", "--since", "1", "--orders", "2"]
    code = main(["calibrate", *argv, "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out_json.read_text())
    assert report["completed_jobs"] == 8 and report["status"] in ("ok", "target_not_met")
    assert report["source"].startswith("CloudWatch group g")
    assert len(report["frontier"]) == 12
    assert any(row["stops"] > 0 for row in report["frontier"])
