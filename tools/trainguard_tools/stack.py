"""The deployed stack, found through CloudFormation: its table and topic (the stack's
outputs), for the operator commands that act on the real account.

Errors an operator can meet are one clear sentence (:class:`StackError`): no credentials, no
region, the stack not deployed in the region, an output missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from trainguard.adapters.aws import boto_config

STACK_NAME = "Trainguard"  # infra/stack.py


class StackError(RuntimeError):
    """The deployed stack cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class StackOutputs:
    stack: str
    region: str
    table: str
    topic: str


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client with the control plane's retries (``AWS_ENDPOINT_URL`` honoured)."""
    try:
        return boto3.client(service, region_name=region, config=boto_config())  # type: ignore[call-overload]
    except NoRegionError as exc:
        raise StackError("no AWS region: pass --region or set AWS_REGION") from exc


def _output(outputs: list[dict[str, Any]], contains: str, stack: str) -> str:
    found = [o for o in outputs if contains in str(o.get("OutputKey", ""))]
    if len(found) != 1:
        keys = ", ".join(str(o.get("OutputKey")) for o in outputs) or "none"
        raise StackError(
            f"stack {stack} has {len(found)} outputs whose key contains {contains!r} "
            f"(outputs: {keys}): is it a trainguard stack?"
        )
    return str(found[0]["OutputValue"])


def stack_outputs(stack: str = STACK_NAME, region: str | None = None) -> StackOutputs:
    """The stack's table and topic, by CloudFormation DescribeStacks."""
    cloudformation = client("cloudformation", region)
    where = cloudformation.meta.region_name
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError as exc:
        raise StackError(
            "no AWS credentials: configure a profile (aws configure / AWS_PROFILE) or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from exc
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "does not exist" in message:
            raise StackError(
                f"stack {stack} not found in {where}: deploy trainguard there (make deploy), "
                "or pass --stack NAME / --region"
            ) from exc
        raise StackError(f"reading stack {stack} in {where} failed: {message}") from exc
    except BotoCoreError as exc:
        raise StackError(f"reading stack {stack} in {where} failed: {exc}") from exc
    outputs = stacks[0].get("Outputs", [])
    return StackOutputs(
        stack, where, _output(outputs, "TableName", stack), _output(outputs, "TopicArn", stack)
    )
