"""The handler layer's dependencies: real adapters over lazily created boto3 clients,
configured by the function's environment, built once per cold start (and a way to drop them:
the local run invokes the handlers in-process with different environments)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..adapters import (
    CloudWatchAlarms,
    CloudWatchMetrics,
    LazyClient,
    SageMakerAdapter,
    SnsNotifier,
    SqsShardQueue,
    Store,
)
from ..constants import (
    DEFAULT_AUDIT_TTL_DAYS,
    DEFAULT_SHARD_SIZE,
    ENV_ALERT_FUNCTION_ARN,
    ENV_AUDIT_TTL_DAYS,
    ENV_CHAT,
    ENV_RETRY_ROLE_ARNS,
    ENV_SHARD_QUEUE_URL,
    ENV_SHARD_SIZE,
    ENV_TABLE_NAME,
    ENV_TOPIC_ARN,
    METRIC_CONFIG_ERRORS,
)
from ..logic.dependencies import Dependencies
from ..logic.retry import RetryConfigError, parse_role_arns
from ..observability import count, logger
from ..policy import Policy, PolicyError

_cached: Dependencies | None = None


class LazyControls:
    """The runtime controls' adapter, built on the first read: only the evaluator reads them,
    and Powertools' parameters package (20-30 ms of import) is no cost of the other
    functions' cold start."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self._table = client, table
        self._adapter: Any = None

    def read(self) -> Mapping[str, str]:
        if self._adapter is None:
            from ..adapters.controls import TableControls

            self._adapter = TableControls(self._client, self._table)
        return self._adapter.read()  # type: ignore[no-any-return]


def aws_dependencies(environ: Mapping[str, str]) -> Dependencies:
    """The real adapters, configured by ``environ`` (table, topic, policy). A missing or bad
    value is a :class:`PolicyError` naming the variable. Each client is created on its first
    call; boto3 honours ``AWS_ENDPOINT_URL`` and moto's in-process mock, so the local run and
    the tests build their dependencies through here too."""
    table = environ.get(ENV_TABLE_NAME, "").strip()
    topic = environ.get(ENV_TOPIC_ARN, "").strip()
    for key, value in ((ENV_TABLE_NAME, table), (ENV_TOPIC_ARN, topic)):
        if not value:
            raise PolicyError(f"{key} is not set")
    ttl_raw = environ.get(ENV_AUDIT_TTL_DAYS, "").strip() or str(DEFAULT_AUDIT_TTL_DAYS)
    if not ttl_raw.isdigit() or int(ttl_raw) < 1:
        raise PolicyError(f"{ENV_AUDIT_TTL_DAYS} must be a whole number >= 1, got {ttl_raw!r}")
    shard_raw = environ.get(ENV_SHARD_SIZE, "").strip() or str(DEFAULT_SHARD_SIZE)
    if not shard_raw.isdigit() or int(shard_raw) < 1:
        raise PolicyError(f"{ENV_SHARD_SIZE} must be a whole number >= 1, got {shard_raw!r}")
    queue_url = environ.get(ENV_SHARD_QUEUE_URL, "").strip()
    policy, config_error = Policy.from_env_failing_safe(environ)
    try:
        retry_roles = parse_role_arns(environ.get(ENV_RETRY_ROLE_ARNS, ""))
    except RetryConfigError as exc:  # retries off, the rest goes on; said at each invocation
        retry_roles, config_error = (), config_error or f"{ENV_RETRY_ROLE_ARNS}: {exc}"
    region = (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1").strip()
    cloudwatch: Any = LazyClient("cloudwatch")  # one client for both CloudWatch ports
    dynamodb: Any = LazyClient("dynamodb")  # one client for the table's two ports
    store = Store(dynamodb, table)
    return Dependencies(
        store=store,
        outbox=store,  # the outbox is items of the same table
        training_jobs=SageMakerAdapter(LazyClient("sagemaker")),  # type: ignore[arg-type]
        metrics=CloudWatchMetrics(cloudwatch),
        alarms=CloudWatchAlarms(cloudwatch),
        notifier=SnsNotifier(
            LazyClient("sns"),  # type: ignore[arg-type]
            topic,
            chat=environ.get(ENV_CHAT, ""),
        ),
        policy=policy,
        region=region,
        alert_function_arn=environ.get(ENV_ALERT_FUNCTION_ARN, "").strip() or None,
        audit_ttl_days=int(ttl_raw),
        config_error=config_error,
        controls=LazyControls(dynamodb, table),
        retry_roles=retry_roles,
        shards=SqsShardQueue(LazyClient("sqs"), queue_url) if queue_url else None,  # type: ignore[arg-type]
        shard_size=int(shard_raw),
    )


def get_dependencies(deps: Dependencies | None = None) -> Dependencies:
    """``deps`` when given (tests), else the cached ones (built on first use). An unusable
    runtime setting is said at every invocation (an error log line and the alarmed
    ``ConfigErrors`` metric) while the function goes on with stops disabled."""
    global _cached
    if deps is None:
        if _cached is None:
            _cached = aws_dependencies(os.environ)
        deps = _cached
    if deps.config_error is not None:
        logger.error("unusable runtime setting", extra={"error": deps.config_error})
        count(METRIC_CONFIG_ERRORS)
    return deps


def reset_dependencies() -> None:
    global _cached
    _cached = None
