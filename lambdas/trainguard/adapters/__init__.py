"""One small class per AWS service, each taking its boto3 client (tests pass moto-backed or
stubbed clients; the handlers build real ones once per cold start)."""

from .aws import boto_config, make_client
from .cloudwatch import CloudWatchAdapter, MetricQuery
from .notifier import Notifier
from .sagemaker import SageMakerAdapter
from .store import GroupStats, Store

__all__ = [
    "CloudWatchAdapter",
    "GroupStats",
    "MetricQuery",
    "Notifier",
    "SageMakerAdapter",
    "Store",
    "boto_config",
    "make_client",
]
