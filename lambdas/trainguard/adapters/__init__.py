"""The boto3 adapters: one small class per port, each taking its boto3 client (the handler
layer builds real, lazily created clients; tests pass moto-backed or stubbed ones). The state
table's adapters (one per port, on one table) are the package ``.dynamodb``. The
runtime controls' adapter (``.controls``) is imported where it is used: it loads Powertools'
parameters package."""

from .aws import LazyClient, boto_config, make_client
from .cloudwatch import CloudWatchAlarms, CloudWatchMetrics
from .dynamodb import TablePorts, table_ports
from .notifier import SnsNotifier
from .sagemaker import SageMakerAdapter
from .shards import SqsShardQueue

__all__ = [
    "CloudWatchAlarms",
    "CloudWatchMetrics",
    "LazyClient",
    "SageMakerAdapter",
    "SnsNotifier",
    "SqsShardQueue",
    "TablePorts",
    "boto_config",
    "make_client",
    "table_ports",
]
