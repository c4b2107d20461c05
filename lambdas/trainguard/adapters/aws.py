"""boto3 clients with the control plane's retry policy, created on first use."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MAX_ATTEMPTS = 4
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 15


def boto_config() -> Config:
    """Adaptive retries: throttling (GetMetricData 50 TPS, PutMetricAlarm 3 TPS, the
    SageMaker control plane) is retried with back-off and client-side rate limiting. Few
    attempts and short timeouts bound each call (a few seconds, not a minute): a tick keeps
    to its time budget, and what failed is done again by the next one."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )


def make_client(service: str) -> Any:
    """A client for ``service``; boto3 itself honours ``AWS_ENDPOINT_URL`` (the local run)."""
    return boto3.client(service, config=boto_config())  # type: ignore[call-overload]


class LazyClient:
    """Stands in for the boto3 client of ``service`` and creates it on first use. boto3 itself
    is imported with the handler (Lambda's init phase); building a client loads its service
    model (tens of milliseconds), and a function that never calls a service (the alert
    function never calls SageMaker) never pays for it."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = make_client(self._service)
        return getattr(self._client, name)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
