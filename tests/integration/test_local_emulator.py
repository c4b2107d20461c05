"""The local run's emulator and shims against an in-process moto server (loopback only)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from trainguard_local import (
    AlarmEvaluator,
    Emulator,
    EventRouter,
    Mailbox,
    SageMakerShim,
    SimClock,
    Wiring,
)
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROLE = "arn:aws:iam::123456789012:role/fixture"
JOB_PATTERN = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    emulator.reset()
    yield emulator


@pytest.fixture
def clock() -> SimClock:
    return SimClock.ending_now(timedelta(hours=2))


@pytest.fixture
def shim(clock: SimClock) -> Iterator[SageMakerShim]:
    with SageMakerShim(clock=clock.now, stop_delay=timedelta(minutes=2)) as installed:
        yield installed


@pytest.fixture
def handlers() -> Any:
    sys.path.insert(0, str(FIXTURES))
    try:
        from tg_local_fixture import handlers as module
    finally:
        sys.path.remove(str(FIXTURES))
    module.CALLS.clear()
    return module


def create_job(emu: Emulator, name: str, count: int = 1) -> None:
    emu.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={
            "InstanceType": "ml.p4d.24xlarge",
            "InstanceCount": count,
            "VolumeSizeInGB": 50,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 7200},
        Tags=[{"Key": "trainguard:group", "Value": "g1"}],
    )


def deploy_function(emu: Emulator, name: str, handler: str, env: dict[str, str]) -> str:
    iam = emu.client("iam")
    with contextlib.suppress(ClientError):  # one role for every function of a test
        iam.create_role(RoleName="fixture", AssumeRolePolicyDocument="{}")
    return emu.client("lambda").create_function(  # type: ignore[no-any-return]
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # an empty zip: the code runs in-process
        Environment={"Variables": env},
        MemorySize=512,
        Timeout=60,
    )["FunctionArn"]


def deploy_rule(emu: Emulator, name: str, target_arn: str, **rule: Any) -> None:
    events = emu.client("events")
    events.put_rule(Name=name, **rule)
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": target_arn}])


# --- SageMaker shim -------------------------------------------------------------------------------
def test_created_job_is_in_progress_with_start_time_from_the_clock(
    emu: Emulator, shim: SageMakerShim, clock: SimClock
) -> None:
    create_job(emu, "job-a")
    sm = emu.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName="job-a")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("InProgress", "Training")
    assert job["TrainingStartTime"] == clock.now() and "TrainingEndTime" not in job
    listed = sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == ["job-a"]
    assert sm.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"] == [
        {"Key": "trainguard:group", "Value": "g1"}
    ]


def test_stop_training_job_goes_stopping_then_stopped_and_a_second_stop_is_refused(
    emu: Emulator, shim: SageMakerShim, clock: SimClock
) -> None:
    create_job(emu, "job-a")
    sm = emu.client("sagemaker")
    sm.stop_training_job(TrainingJobName="job-a")
    assert shim.status("job-a") == ("Stopping", "Stopping")
    with pytest.raises(ClientError) as refused:
        sm.stop_training_job(TrainingJobName="job-a")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "in status Stopping" in refused.value.response["Error"]["Message"]
    assert shim.settle(clock.now() + timedelta(minutes=1)) == []
    assert shim.settle(clock.advance(timedelta(minutes=2))) == ["job-a"]
    job = sm.describe_training_job(TrainingJobName="job-a")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert job["TrainingEndTime"] == clock.now()
    with pytest.raises(ClientError) as again:
        sm.stop_training_job(TrainingJobName="job-a")
    assert again.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        sm.stop_training_job(TrainingJobName="nope")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFound"


def test_every_status_change_emits_a_state_change_event(
    emu: Emulator, shim: SageMakerShim, clock: SimClock
) -> None:
    create_job(emu, "job-a", count=2)
    create_job(emu, "job-b")
    create_job(emu, "job-c")
    clock.advance(timedelta(minutes=30))
    shim.complete("job-a")
    shim.fail("job-b", "AlgorithmError: CUDA out of memory")
    shim.stop("job-c", secondary="MaxRuntimeExceeded")
    events = shim.take_events()
    assert [(e["detail"]["TrainingJobName"], e["detail"]["TrainingJobStatus"]) for e in events] == [
        ("job-a", "InProgress"),
        ("job-b", "InProgress"),
        ("job-c", "InProgress"),
        ("job-a", "Completed"),
        ("job-b", "Failed"),
        ("job-c", "Stopped"),
    ]
    assert shim.take_events() == []
    done = events[3]
    assert done["detail-type"] == "SageMaker Training Job State Change"
    assert done["source"] == "aws.sagemaker" and done["account"] == "123456789012"
    assert done["resources"] == [done["detail"]["TrainingJobArn"]]
    detail = done["detail"]
    assert detail["ResourceConfig"]["InstanceCount"] == 2
    assert detail["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert detail["Tags"] == {"trainguard:group": "g1"}
    start_ms = int((clock.now() - timedelta(minutes=30)).timestamp() * 1000)
    assert detail["TrainingStartTime"] == start_ms
    assert detail["TrainingEndTime"] - detail["TrainingStartTime"] == 30 * 60 * 1000
    assert events[4]["detail"]["FailureReason"] == "AlgorithmError: CUDA out of memory"
    assert events[5]["detail"]["SecondaryStatus"] == "MaxRuntimeExceeded"
    described = emu.client("sagemaker").describe_training_job(TrainingJobName="job-b")
    assert described["FailureReason"] == "AlgorithmError: CUDA out of memory"


def test_uninstalled_shim_leaves_moto_as_it_was(emu: Emulator, clock: SimClock) -> None:
    with SageMakerShim(clock=clock.now):
        pass
    create_job(emu, "job-a")
    sm = emu.client("sagemaker")
    assert sm.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "Completed"


# --- wiring + router ------------------------------------------------------------------------------
def test_state_changes_reach_the_deployed_function_which_stops_the_job(
    emu: Emulator, shim: SageMakerShim, handlers: Any
) -> None:
    arn = deploy_function(
        emu, "jobs-fn", "tg_local_fixture.handlers.on_job_state", {"STOP_ON_START": "true"}
    )
    deploy_rule(emu, "jobs", arn, EventPattern=json.dumps(JOB_PATTERN))
    deploy_rule(emu, "tick", arn, ScheduleExpression="rate(1 minute)")
    wiring = Wiring.read(emu.endpoint_url)
    assert {r.name for r in wiring.rules} == {"jobs", "tick"}
    assert wiring.function("jobs-fn").environment == {"STOP_ON_START": "true"}
    router = EventRouter(
        wiring, endpoint_url=emu.endpoint_url, code_roots=[FIXTURES], sources=[shim]
    )
    shim.stop_delay = timedelta(0)
    create_job(emu, "job-a")
    done = router.pump()
    assert [i.result for i in done] == [
        {"job": "job-a", "status": "InProgress"},
        {"job": "job-a", "status": "Stopping"},
        {"job": "job-a", "status": "Stopped"},
    ]
    assert done[0].aws_calls == {
        "SageMaker.DescribeTrainingJob": 1,
        "SageMaker.StopTrainingJob": 1,
    }
    assert done[0].logs == ["job-a: InProgress"] and router.failures == []


def test_alarm_lambda_action_runs_on_state_changes(
    emu: Emulator, clock: SimClock, handlers: Any
) -> None:
    arn = deploy_function(emu, "alert-fn", "tg_local_fixture.handlers.echo", {"FIXTURE_MODE": "x"})
    cloudwatch = emu.client("cloudwatch")
    host = [{"Name": "Host", "Value": "job-a/algo-1"}]
    cloudwatch.put_metric_alarm(
        AlarmName="trainguard-gpu-idle-job-a-algo-1",
        ComparisonOperator="LessThanThreshold",
        Threshold=10.0,
        EvaluationPeriods=3,
        DatapointsToAlarm=3,
        TreatMissingData="missing",
        AlarmActions=[arn],
        OKActions=[arn],
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "/aws/sagemaker/TrainingJobs",
                        "MetricName": "GPUUtilization",
                        "Dimensions": host,
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": False,
            },
            {"Id": "e1", "Expression": "m1 / 8", "ReturnData": True},
        ],
    )
    # The same metric in another namespace must not leak in (moto's GetMetricData would mix it).
    router = EventRouter(
        Wiring.read(emu.endpoint_url), endpoint_url=emu.endpoint_url, code_roots=[FIXTURES]
    )
    evaluator = AlarmEvaluator(emu.endpoint_url, router)

    def publish(util_sum: float, namespace: str = "/aws/sagemaker/TrainingJobs") -> None:
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "GPUUtilization",
                    "Dimensions": host,
                    "Timestamp": clock.now(),
                    "Value": util_sum,
                }
            ],
        )

    states = []
    for minute, util in enumerate([600, 40, 40, 40, 40, 700, 700]):  # summed over 8 GPUs
        publish(util)
        publish(800, namespace="Other")
        clock.advance(timedelta(minutes=1))
        states.append([(t.previous, t.state) for t in evaluator.evaluate(clock.now())])
        del minute
    assert states == [
        [("INSUFFICIENT_DATA", "OK")],  # 75 %: healthy
        [],
        [],
        [("OK", "ALARM")],  # 3 x 5 % < 10 %
        [],
        [("ALARM", "OK")],
        [],
    ]
    payloads = [c["event"] for c in handlers.CALLS]
    assert [p["alarmData"]["state"]["value"] for p in payloads] == ["OK", "ALARM", "OK"]
    alarm = payloads[1]
    assert alarm["source"] == "aws.cloudwatch" and alarm["accountId"] == "123456789012"
    assert alarm["alarmArn"].endswith(":alarm:trainguard-gpu-idle-job-a-algo-1")
    assert alarm["alarmData"]["previousState"]["value"] == "OK"
    assert "3 out of the last 3 datapoints" in alarm["alarmData"]["state"]["reason"]
    metric = alarm["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    assert metric["dimensions"] == {"Host": "job-a/algo-1"}
    stored = cloudwatch.describe_alarms(AlarmNamePrefix="trainguard-")["MetricAlarms"][0]
    assert stored["StateValue"] == "OK"
    assert [t.invocations[0].trigger for t in evaluator.transitions] == [
        "alarm:trainguard-gpu-idle-job-a-algo-1"
    ] * 3


# --- mailbox --------------------------------------------------------------------------------------
def test_mailbox_returns_published_emails_in_order(emu: Emulator) -> None:
    sns = emu.client("sns")
    topic = sns.create_topic(Name="trainguard-alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="before attach")
    mailbox = Mailbox.attach(emu.endpoint_url, topic)
    for i in range(12):
        sns.publish(TopicArn=topic, Subject=f"subject {i}", Message=f"body {i}")
    emails = mailbox.emails()
    assert [e.subject for e in emails] == [f"subject {i}" for i in range(12)]
    assert emails[3].body == "body 3"
    sns.publish(TopicArn=topic, Subject="late", Message="x")
    assert [e.subject for e in mailbox.new_emails()] == ["late"]
    assert len(mailbox.emails()) == 13


# --- trainguard local invoke ----------------------------------------------------------------------
def test_local_invoke_runs_a_deployed_function_from_a_cdk_out_asset(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asset = tmp_path / "cdk.out" / "asset.0123abcd"
    (asset / "tg_cli_fixture").mkdir(parents=True)
    (asset / "tg_cli_fixture" / "__init__.py").write_text("")
    (asset / "tg_cli_fixture" / "handler.py").write_text(
        "import boto3, os\n"
        "def handler(event, context):\n"
        "    print('listing for', event['who'])\n"
        "    sm = boto3.client('sagemaker')\n"
        "    sm.list_training_jobs(); sm.list_training_jobs()\n"
        "    return {'who': event['who'], 'mode': os.environ['MODE']}\n"
    )
    (tmp_path / "cdk.out" / "trainguard.assets.json").write_text(
        json.dumps(
            {"files": {"0123abcd": {"source": {"path": "asset.0123abcd", "packaging": "zip"}}}}
        )
    )
    deploy_function(emu, "trainguard-cli-fn", "tg_cli_fixture.handler.handler", {"MODE": "cli"})
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"who": "me"}))
    argv = ["local", "invoke", "cli-fn", "--event", str(event), "--endpoint", emu.endpoint_url]
    assert main([*argv, "--cdk-out", str(tmp_path / "cdk.out"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == {"who": "me", "mode": "cli"}
    assert out["logs"] == ["listing for me"]
    assert out["aws_calls"] == {"SageMaker.ListTrainingJobs": 2}
    assert main([*argv, "--cdk-out", str(tmp_path / "cdk.out")]) == 0
    text = capsys.readouterr().out
    assert "AWS calls (2):" in text and "SageMaker.ListTrainingJobs  2" in text
    assert (
        main(["local", "invoke", "missing", "--event", str(event), "--endpoint", emu.endpoint_url])
        == 2
    )


def test_local_invoke_registers_the_job_of_awss_sample_event(emu: Emulator) -> None:
    from trainguard_local.invoke import EventClock, register_event_job

    sample = json.loads((EXAMPLES / "aws-sample-training-job-state-change.json").read_text())
    clock = EventClock()
    sm = emu.client("sagemaker")
    with SageMakerShim(clock=clock) as shim:
        notes = register_event_job(sm, shim, clock, sample)
        assert register_event_job(sm, shim, clock, sample) == []  # exists: left alone
    detail = sample["detail"]
    arn_name = detail["TrainingJobArn"].rpartition("/")[2]
    assert notes == [
        f"registered training job {name} in the emulator (Completed), from the event"
        for name in (arn_name, detail["TrainingJobName"])
    ]
    job = sm.describe_training_job(TrainingJobName=arn_name)
    assert (job["TrainingJobStatus"], job["ResourceConfig"]["InstanceCount"]) == ("Completed", 3)
    assert job["TrainingEndTime"].timestamp() == int(detail["TrainingEndTime"]) / 1000
    assert sm.list_tags(ResourceArn=detail["TrainingJobArn"])["Tags"] == []  # Tags: {}
    assert register_event_job(sm, None, clock, {"detail-type": "Scheduled Event"}) == []
