"""A small account on the moto harness for the operator commands (status, explain, report) and
the digest: the deployed stack's outputs, completed references, and running jobs that the real
handlers stop, report and alert on. Used by tests/integration/test_ops_commands.py and by
``uv run python tests/integration/ops_world.py`` (the output examples of docs/operations.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent):  # runtime_support, fakes (when run as a script)
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from runtime_support import Aws, LambdaContext, state_change  # noqa: E402

from trainguard import constants as c  # noqa: E402
from trainguard.config import Policy  # noqa: E402
from trainguard.handlers import alert, evaluator, lifecycle  # noqa: E402


def ctx() -> LambdaContext:
    """A fresh context per invocation: a module-level one's 900 s budget runs out in a long
    test session (the evaluator then defers every job)."""
    return LambdaContext()


OBJ = "val_loss"
GROUPS = {"digits": "ml.g5.2xlarge", "vision": "ml.p4d.24xlarge"}
REF_CURVES = [
    [1.0 - 0.035 * i for i in range(20)],
    [0.9 - 0.030 * i for i in range(20)],
    [1.1 - 0.040 * i for i in range(20)],
]
BAD_CURVE = [1.3 - 0.01 * i for i in range(12)]  # best 1.19 at step 12: far above the median
GOOD_CURVE = [0.95 - 0.035 * i for i in range(12)]  # on track: below the median


def ops_policy(**kwargs: Any) -> Policy:
    """The deployed policy of this world: the median rule (a stop at the first bad report)."""
    policy = Policy(**kwargs)
    return replace(
        policy,
        median=replace(policy.median, enabled=True),
        catchup=replace(policy.catchup, enabled=False),
    )


def tags(group: str, **extra: str) -> dict[str, str]:
    return {c.TAG_GROUP: group, c.TAG_OBJECTIVE: OBJ, **extra}


def deploy_stand_in(aws: Aws, policy: Policy, *, stack: str = "Trainguard") -> None:
    """What `cdk deploy` leaves that the commands read: the stack's outputs (a CloudFormation
    stack on a stand-in resource) and the evaluator's environment (its policy)."""
    import boto3

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "NotificationsTopicArnEF6E5967": {"Value": aws.topic_arn},
            "StateTableName96842137": {"Value": aws.table},
        },
    }
    boto3.client("cloudformation", region_name=aws.region).create_stack(
        StackName=stack, TemplateBody=json.dumps(template)
    )
    env = {k: v for k, v in aws.environ(policy).items() if k.startswith("TRAINGUARD_")}
    env[c.ENV_STOPS_DISABLED] = "false"
    iam = boto3.client("iam", region_name=aws.region)
    role = iam.create_role(RoleName="evaluator", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda", region_name=aws.region).create_function(
        FunctionName=c.EVALUATOR_FUNCTION_NAME,
        Runtime="python3.13",
        Role=role,
        Handler=c.EVALUATOR_HANDLER,
        Code={"ZipFile": _empty_zip()},
        Environment={"Variables": env},
    )


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "")
    return buffer.getvalue()


def complete_references(aws: Aws, deps: Any, group: str) -> None:
    now = aws.now()
    itype = GROUPS[group]
    for k, values in enumerate(REF_CURVES):
        name = f"{group}-ref-{k}"
        start = now - 3 * 3600 + k * 1800
        arn = aws.create_job(name, tags(group), instance_type=itype, start=start)
        aws.put_curve(name, OBJ, start, values)
        lifecycle.handler(
            state_change(name, "InProgress", arn=arn, start=start, instance_type=itype),
            ctx(),
            deps=deps,
        )
        aws.set_status(name, "Completed")
        end = start + 21 * 60
        lifecycle.handler(
            state_change(name, "Completed", arn=arn, start=start, end=end, instance_type=itype),
            ctx(),
            deps=deps,
        )


def start_job(
    aws: Aws, deps: Any, name: str, group: str, curve: list[float], *, count: int = 1, **extra: str
) -> None:
    start = aws.now() - (len(curve) + 1) * 60
    itype = GROUPS[group]
    job_tags = tags(group, **extra)
    arn = aws.create_job(name, job_tags, instance_type=itype, count=count, start=start)
    aws.put_curve(name, OBJ, start, curve)
    lifecycle.handler(
        state_change(
            name,
            "InProgress",
            arn=arn,
            start=start,
            tags=job_tags,
            instance_type=itype,
            count=count,
        ),
        ctx(),
        deps=deps,
    )


def gpu_idle(aws: Aws, deps: Any, job: str, host_index: int) -> None:
    """The host's GPU-idle alarm goes to ALARM (its last 20 minutes at 2 % per GPU)."""
    base = aws.now() - aws.now() % 60 - 20 * 60
    host = f"{job}/algo-{host_index}"
    aws.put_host_metric(host, c.GPU_METRIC, [base + 60 * i + 5 for i in range(20)], [16.0] * 20)
    payload = aws.alarm_payload(f"trainguard-gpu-idle-{job}-algo-{host_index}", "ALARM")
    del payload["time"]
    alert.handler(payload, ctx(), deps=deps)


def seed(aws: Aws) -> Policy:
    """Two groups, a stop (enforce), a would-be stop (observe), a job on track, an idle host.
    Returns the deployed policy."""
    policy = ops_policy()
    deploy_stand_in(aws, policy)
    deps = aws.deps(policy)
    for group in GROUPS:
        complete_references(aws, deps, group)
    start_job(aws, deps, "digits-mlp-017", "digits", BAD_CURVE, **{c.TAG_MODE: "enforce"})
    start_job(aws, deps, "digits-cnn-003", "digits", GOOD_CURVE)
    start_job(aws, deps, "vision-vit-b16", "vision", BAD_CURVE)  # observe: reported
    start_job(aws, deps, "vision-resnet-50", "vision", GOOD_CURVE, count=2)
    evaluator.handler({}, ctx(), deps=deps)
    gpu_idle(aws, deps, "vision-resnet-50", 2)
    aws.emails()
    return policy


def settle_stops(aws: Aws, policy: Policy) -> list[str]:
    """What SageMaker does next: each job the evaluator stopped ends ``Stopped`` and its event
    reaches the lifecycle function (the job leaves the running index). Returns their names."""
    deps = aws.deps(policy)
    stopped = []
    for name in dict.fromkeys(aws.stopped()):
        described = aws.sagemaker.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] not in ("Stopping", "Stopped"):
            continue  # refused (protected, paused): it runs on
        aws.set_status(name, "Stopped")
        start = described["TrainingStartTime"].timestamp()
        resources = described["ResourceConfig"]
        event = state_change(
            name,
            "Stopped",
            arn=described["TrainingJobArn"],
            start=start,
            end=aws.now(),
            instance_type=resources["InstanceType"],
            count=resources["InstanceCount"],
        )
        lifecycle.handler(event, ctx(), deps=deps)
        stopped.append(name)
    return stopped


def main() -> None:
    """Seed the world and run the commands, as the docs show them (the handlers' own log
    lines and metrics off: only the commands' output)."""
    import contextlib
    import io
    import warnings

    from runtime_support import moto_aws

    from trainguard.handlers import digest
    from trainguard.observability import logger
    from trainguard_local.moto_harness import scheduled_event
    from trainguard_tools.cli import main as trainguard

    logger.setLevel("WARNING")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with contextlib.closing(moto_aws()) as worlds:
        aws = next(worlds)
        with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
            policy = seed(aws)
            settle_stops(aws, policy)
        for argv in (
            ["status"],
            ["explain", "digits-mlp-017"],
            ["report", "--since", "7d"],
            ["report", "--since", "7d", "--format", "csv"],
        ):
            print(f"$ trainguard {' '.join(argv)}")
            trainguard(argv)
            print()
        ops = "arn:aws:iam::123456789012:user/ops"
        pause = {
            "paused": True,
            "mode": None,
            "reason": "incident 42",
            "at": "2026-01-05T10:00:00Z",
            "by": ops,
        }
        aws.dynamodb.put_item(
            TableName=aws.table,
            Item={
                "pk": {"S": c.CONTROL_PK},
                "sk": {"S": c.CONTROL_GLOBAL_SK},
                "value": {"S": json.dumps(pause)},
            },
        )
        print("$ trainguard status   # with a pause in force")
        trainguard(["status"])
        print()
        aws.dynamodb.delete_item(
            TableName=aws.table, Key={"pk": {"S": c.CONTROL_PK}, "sk": {"S": c.CONTROL_GLOBAL_SK}}
        )
        with contextlib.redirect_stdout(io.StringIO()):
            digest.handler(
                scheduled_event(aws.now(), rule=c.DIGEST_RULE_NAME), ctx(), deps=aws.deps(policy)
            )
        (mail,) = aws.emails()
        print(f"Subject: {mail['subject']}\n\n{mail['body']}")


if __name__ == "__main__":
    main()
