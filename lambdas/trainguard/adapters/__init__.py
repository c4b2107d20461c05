"""The boto3 adapters: one small class per port, each taking its boto3 client (the handler
layer builds real, lazily created clients; tests pass moto-backed or stubbed ones)."""

from .aws import LazyClient, boto_config, make_client
from .cloudwatch import CloudWatchAlarms, CloudWatchMetrics
from .controls import TableControls
from .notifier import SnsNotifier
from .sagemaker import SageMakerAdapter
from .store import Store

__all__ = [
    "CloudWatchAlarms",
    "CloudWatchMetrics",
    "LazyClient",
    "SageMakerAdapter",
    "SnsNotifier",
    "Store",
    "TableControls",
    "boto_config",
    "make_client",
]
