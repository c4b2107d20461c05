"""The deployed stack as the operator commands see it (``status``, ``explain``, ``report``):
its outputs (table, topic) from CloudFormation DescribeStacks, the deployed policy from the
evaluator's environment, the runtime controls from the state table.

Every failure an operator can meet here (no such stack, no credentials, an output missing)
is an :class:`OpsError` with a one-line message; :func:`run` prints it and exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainguard.adapters.aws import boto_config, error_code, error_message
from trainguard.adapters.dynamodb import TablePorts, table_ports
from trainguard.config import Controls, Policy, parse_controls
from trainguard.constants import ENV_POLICY, ENV_STOPS_DISABLED, EVALUATOR_FUNCTION_NAME

STACK_NAME = "Trainguard"  # infra/stack.py's STACK_NAME (infra needs aws-cdk; this does not)
EXIT_OPS_ERROR = 2


class OpsError(RuntimeError):
    """What stops an operator command, said in one line (exit code 2)."""


@dataclass
class Deployed:
    """What the commands work on: the stack's table and topic, and clients in its region."""

    stack: str
    region: str
    outputs: dict[str, str]
    table: str
    topic_arn: str
    session: Any = field(repr=False)

    def client(self, service: str) -> Any:
        return self.session.client(service, config=boto_config())

    def state_table(self) -> TablePorts:
        """The state table's ports (jobs, audit, references, ...)."""
        return table_ports(self.client("dynamodb"), self.table)

    def controls(self) -> Controls:
        return read_controls(self.client("dynamodb"), self.table)


OutputsReader = Callable[[Any, str], dict[str, str]]


def stack_outputs(session: Any, stack: str) -> dict[str, str]:
    """The stack's outputs (OutputKey -> OutputValue) by DescribeStacks."""
    from botocore.exceptions import ClientError

    cloudformation = session.client("cloudformation", config=boto_config())
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in error_message(exc):
            raise OpsError(
                f"stack {stack} not found in {cloudformation.meta.region_name}: deploy "
                "trainguard there (make deploy), or pass --stack NAME / --region REGION"
            ) from exc
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def output(outputs: Mapping[str, str], needle: str, stack: str) -> str:
    """The one output whose key contains ``needle`` (CDK appends a hash to the keys)."""
    found = [v for k, v in outputs.items() if needle in k]
    if len(found) != 1:
        keys = ", ".join(sorted(outputs)) or "none"
        raise OpsError(f"stack {stack} has {len(found)} outputs named *{needle}* (outputs: {keys})")
    return found[0]


def connect(
    stack: str = STACK_NAME,
    region: str | None = None,
    *,
    session: Any = None,
    read_outputs: OutputsReader = stack_outputs,
) -> Deployed:
    """The deployed stack (its outputs ``StateTableName…`` and ``NotificationsTopicArn…``)."""
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=region)
    outputs = read_outputs(session, stack)
    return Deployed(
        stack=stack,
        region=str(session.region_name or ""),
        outputs=outputs,
        table=output(outputs, "TableName", stack),
        topic_arn=output(outputs, "TopicArn", stack),
        session=session,
    )


def deployed_policy(deployed: Deployed) -> tuple[Policy, str | None]:
    """The evaluator's policy (``TRAINGUARD_POLICY`` and ``TRAINGUARD_STOPS_DISABLED``, by
    GetFunctionConfiguration) and the switch's raw value; the schema's defaults and None when
    the function cannot be read (the commands still work, with the defaults said). An unset
    switch is ``"false"``, as the functions read it."""
    from botocore.exceptions import ClientError

    try:
        cfg = deployed.client("lambda").get_function_configuration(
            FunctionName=EVALUATOR_FUNCTION_NAME
        )
    except ClientError:
        return Policy(), None
    env = dict(cfg.get("Environment", {}).get("Variables", {}))
    policy, _ = Policy.from_env_failing_safe(env if ENV_POLICY in env else {})
    return policy, env.get(ENV_STOPS_DISABLED) or "false"


def read_controls(client: Any, table: str) -> Controls:
    """The runtime controls in force, read as the functions read them (the same adapter and
    parser); unreadable ones are said in ``error`` (the functions then hold every stop)."""
    from trainguard.adapters.controls import TableControls

    try:
        return parse_controls(TableControls(client, table).read())
    except Exception as exc:
        return Controls.unreadable(str(exc))


def caller_arn(sts: Any) -> str:
    """Who is acting, for the audit of what an operator command writes: the caller's ARN."""
    return str(sts.get_caller_identity()["Arn"])


def setup_problem(exc: BaseException) -> str | None:
    """One line with the fix for what is wrong with this machine's AWS set-up (no credentials,
    no region, an unreachable endpoint, a missing profile or an expired login), or None when
    ``exc`` is something else. Every operator command says these the same way (exit 2)."""
    from botocore import exceptions as e

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if isinstance(exc, e.NoCredentialsError):
        return (
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or "
            "environment variables) and try again"
            + ("" if not endpoint else "; for `trainguard local up`, paste its export lines")
        )
    if isinstance(exc, e.PartialCredentialsError):
        return f"incomplete AWS credentials ({exc}): set both the key id and the secret key"
    if isinstance(exc, e.NoRegionError):
        return (
            "no AWS region: export AWS_DEFAULT_REGION=us-east-1 (your region), set one in your "
            "profile (aws configure), or pass --region where the command has it"
        )
    if isinstance(exc, e.ProfileNotFound):
        return f"{exc}: check AWS_PROFILE (aws configure list-profiles)"
    if isinstance(exc, (e.SSOError, e.TokenRetrievalError, e.UnauthorizedSSOTokenError)):
        return f"your AWS login has expired or is missing ({exc}): run aws sso login"
    if isinstance(exc, e.EndpointConnectionError):
        url = exc.kwargs.get("endpoint_url", "")
        if endpoint:
            return (
                f"cannot reach {url}: AWS_ENDPOINT_URL={endpoint} is set; start "
                "`trainguard local up` there, or unset AWS_ENDPOINT_URL to reach AWS"
            )
        return f"cannot reach {url}: check the network and the region"
    return None


def run(command: Callable[[], int]) -> int:
    """Run an operator command: an :class:`OpsError`, the machine's AWS set-up
    (:func:`setup_problem`) or a refused call print one line on stderr and give exit code 2."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return command()
    except OpsError as exc:
        message = str(exc)
    except ClientError as exc:
        message = f"AWS refused the call: {error_code(exc)}: {error_message(exc)}"
    except BotoCoreError as exc:
        message = setup_problem(exc) or f"AWS call failed: {exc}"
    print(f"trainguard: {message}", file=sys.stderr)
    return EXIT_OPS_ERROR


def add_stack_arguments(parser: Any) -> None:
    parser.add_argument("--stack", default=STACK_NAME, help=f"the stack (default {STACK_NAME})")
    parser.add_argument("--region", help="AWS region (default: the CLI's)")
