"""boto3 clients with the control plane's retry policy."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MAX_ATTEMPTS = 10


def boto_config() -> Config:
    """Adaptive retries: throttling (GetMetricData 50 TPS, PutMetricAlarm 3 TPS, the
    SageMaker control plane) is retried with back-off and client-side rate limiting."""
    return Config(retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS})


def make_client(service: str) -> Any:
    """A client for ``service``; boto3 itself honours ``AWS_ENDPOINT_URL`` (the local run)."""
    return boto3.client(service, config=boto_config())  # type: ignore[call-overload]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
