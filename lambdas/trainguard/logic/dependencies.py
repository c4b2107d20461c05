"""Everything the logic needs, built once per cold start by the handlers (or by a test)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..adapters.aws import make_client
from ..adapters.cloudwatch import CloudWatchAdapter
from ..adapters.notifier import Notifier
from ..adapters.sagemaker import SageMakerAdapter
from ..adapters.store import Store
from ..constants import (
    DEFAULT_AUDIT_TTL_DAYS,
    ENV_ALERT_FUNCTION_ARN,
    ENV_AUDIT_TTL_DAYS,
    ENV_TABLE_NAME,
    ENV_TOPIC_ARN,
)
from ..core.instances import InstanceCatalog
from ..policy import Policy, PolicyError


@dataclass
class Dependencies:
    store: Store
    sagemaker: SageMakerAdapter
    cloudwatch: CloudWatchAdapter
    notifier: Notifier
    policy: Policy
    region: str
    alert_function_arn: str | None = None
    audit_ttl_days: int = DEFAULT_AUDIT_TTL_DAYS
    clock: Callable[[], float] = time.time
    catalog: InstanceCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = self.policy.catalog()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Dependencies:
        """Real clients from the function's environment; a missing or bad value is a clear
        error naming the variable."""
        table = environ.get(ENV_TABLE_NAME, "").strip()
        topic = environ.get(ENV_TOPIC_ARN, "").strip()
        for key, value in ((ENV_TABLE_NAME, table), (ENV_TOPIC_ARN, topic)):
            if not value:
                raise PolicyError(f"{key} is not set")
        ttl_raw = environ.get(ENV_AUDIT_TTL_DAYS, "").strip() or str(DEFAULT_AUDIT_TTL_DAYS)
        if not ttl_raw.isdigit() or int(ttl_raw) < 1:
            raise PolicyError(f"{ENV_AUDIT_TTL_DAYS} must be a whole number >= 1, got {ttl_raw!r}")
        policy = Policy.from_env(environ)
        region = (
            environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        ).strip()
        return cls(
            store=Store(make_client("dynamodb"), table),
            sagemaker=SageMakerAdapter(make_client("sagemaker")),
            cloudwatch=CloudWatchAdapter(make_client("cloudwatch")),
            notifier=Notifier(make_client("sns"), topic),
            policy=policy,
            region=region,
            alert_function_arn=environ.get(ENV_ALERT_FUNCTION_ARN, "").strip() or None,
            audit_ttl_days=int(ttl_raw),
        )
