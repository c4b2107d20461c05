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
    table_ports,
)
from ..config import Environment
from ..constants import METRIC_CONFIG_ERRORS
from ..logic.dependencies import Dependencies
from ..observability import count, logger

_cached: Dependencies | None = None


class LazyControls:
    """The runtime controls' adapter, built on the first read: only the evaluator reads them,
    and Powertools' parameters package (a noticeable import) is no cost of the other
    functions' cold start."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self._table = client, table
        self._adapter: Any = None

    def read(self, fresh: bool = False) -> Mapping[str, str]:
        if self._adapter is None:
            from ..adapters.controls import TableControls

            self._adapter = TableControls(self._client, self._table)
        return self._adapter.read(fresh)  # type: ignore[no-any-return]


def aws_dependencies(environ: Mapping[str, str]) -> Dependencies:
    """The real adapters, configured by ``environ`` (:class:`~trainguard.config.Environment`:
    table, topic, policy ...). A missing or bad value is a :class:`PolicyError` naming the
    variable. Each client is created on its first call; boto3 honours ``AWS_ENDPOINT_URL`` and
    moto's in-process mock, so the local run and the tests build their dependencies through
    here too."""
    env = Environment.from_environ(environ)
    cloudwatch: Any = LazyClient("cloudwatch")  # one client for both CloudWatch ports
    dynamodb: Any = LazyClient("dynamodb")  # one client for the table's ports and controls
    state = table_ports(dynamodb, env.table)  # every port of the one state table
    return Dependencies.over(
        state,
        training_jobs=SageMakerAdapter(LazyClient("sagemaker")),  # type: ignore[arg-type]
        metrics=CloudWatchMetrics(cloudwatch),
        alarms=CloudWatchAlarms(cloudwatch),
        notifier=SnsNotifier(LazyClient("sns"), env.topic, chat=env.chat),  # type: ignore[arg-type]
        policy=env.policy,
        region=env.region,
        alert_function_arn=env.alert_function_arn or None,
        audit_ttl_days=env.audit_ttl_days,
        config_error=env.config_error,
        controls=LazyControls(dynamodb, env.table),
        retry_roles=env.retry_roles,
        shards=(
            SqsShardQueue(LazyClient("sqs"), env.shard_queue_url)  # type: ignore[arg-type]
            if env.shard_queue_url
            else None
        ),
        shard_size=env.shard_size,
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
