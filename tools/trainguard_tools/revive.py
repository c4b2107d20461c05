"""``trainguard revive JOB --reason WHY``: continue a job trainguard stopped, from its
checkpoints, as a new job ``<job>-revived-<k>``.

The command **requests** the revival and the control plane **carries it out**, as a capacity
retry is claimed by the lifecycle and created by the tick: the command checks everything
that could refuse it with the operator's own rights (the run trainguard stopped, its
``CheckpointConfig``, that its checkpoint prefix is readable and not empty, which the
functions' role may not read, the deployment's roles, a pause, the name) and says a refusal
in one line; then it claims ``revive#<k>`` on the stopped run in the state table, with who and
why. The evaluator's next tick re-checks and creates the job with the role it was deployed
with (PassRole for exactly ``retryRoleArns``), audits and announces it. So there is one path
that creates jobs, one set of IAM permissions for it, and a killed command or tick leaves a
claim that the next tick finishes: never a second job (:mod:`trainguard.logic.revive`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from trainguard.adapters.cloudwatch import CloudWatchAlarms, CloudWatchMetrics
from trainguard.adapters.notifier import SnsNotifier
from trainguard.adapters.s3 import S3Checkpoints
from trainguard.adapters.sagemaker import SageMakerAdapter
from trainguard.config import RetryConfigError, parse_role_arns
from trainguard.constants import ENV_RETRY_ROLE_ARNS, EVALUATOR_FUNCTION_NAME
from trainguard.logic import revive
from trainguard.logic.dependencies import Dependencies

from .stack import Deployed, add_stack_arguments, caller_arn, connect, deployed_policy, run


def deployed_roles(deployed: Deployed) -> tuple[str, ...]:
    """The roles the evaluator may pass (its ``TRAINGUARD_RETRY_ROLE_ARNS``); none when the
    function cannot be read or the value is unusable (the functions then pass none either)."""
    from botocore.exceptions import ClientError

    try:
        cfg = deployed.client("lambda").get_function_configuration(
            FunctionName=EVALUATOR_FUNCTION_NAME
        )
    except ClientError:
        return ()
    value = cfg.get("Environment", {}).get("Variables", {}).get(ENV_RETRY_ROLE_ARNS, "")
    try:
        return parse_role_arns(value)
    except RetryConfigError:
        return ()


def dependencies(deployed: Deployed) -> Dependencies:
    """The ports over the operator's own clients (the same adapters as the functions')."""
    cloudwatch = deployed.client("cloudwatch")
    policy, _ = deployed_policy(deployed)
    return Dependencies.over(
        deployed.state_table(),
        training_jobs=SageMakerAdapter(deployed.client("sagemaker")),
        metrics=CloudWatchMetrics(cloudwatch),
        alarms=CloudWatchAlarms(cloudwatch),
        notifier=SnsNotifier(deployed.client("sns"), deployed.topic_arn),
        policy=policy,
        region=deployed.region,
        retry_roles=deployed_roles(deployed),
        checkpoints=S3Checkpoints(deployed.client("s3")),
    )


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        deployed = connect(args.stack, args.region)
        deps = dependencies(deployed)
        who = args.by or caller_arn(deployed.client("sts"))
        answer = revive.request(
            deps,
            args.job,
            by=who,
            reason=args.reason,
            now=time.time(),
            controls=deployed.controls(),
        )
        print(answer.line if answer.ok else f"trainguard: {answer.line}", file=sys.stdout)
        return 0 if answer.ok else 1

    return run(command)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "revive",
        help="continue a job trainguard stopped, from its checkpoints (a new job)",
        description="Create a job trainguard stopped again, from its own description with "
        "the same CheckpointConfig (its script resumes from the checkpoints SageMaker "
        "restores), named JOB-revived-K and protected from the rule that stopped it. The "
        "evaluator's next tick creates it; audited (who, when, why) and announced. Refused "
        "in one line for a job trainguard did not stop, without checkpoints, with an empty "
        "or unreadable checkpoint prefix, a role the deployment may not pass "
        "(retryRoleArns), a paused group or a name taken.",
    )
    parser.add_argument("job", help="the stopped training job's name")
    parser.add_argument("--reason", required=True, help="why (audited, announced)")
    parser.add_argument("--by", help="who (default: the caller's IAM ARN)")
    add_stack_arguments(parser)
    parser.set_defaults(func=_run)
