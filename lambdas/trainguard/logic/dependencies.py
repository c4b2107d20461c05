"""Everything the logic needs: the ports and the configuration. The handler layer builds it
from the environment over real AWS clients (``trainguard.handlers.runtime``); tests build it
over in-memory fakes or moto."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Policy
from ..constants import DEFAULT_AUDIT_TTL_DAYS, DEFAULT_SHARD_SIZE
from ..core.instances import InstanceCatalog
from ..ports import (
    Alarms,
    ControlReader,
    JobStore,
    MetricReader,
    Notifier,
    Outbox,
    ShardQueue,
    TrainingJobs,
)


@dataclass
class Dependencies:
    store: JobStore
    training_jobs: TrainingJobs
    metrics: MetricReader
    alarms: Alarms
    notifier: Notifier
    outbox: Outbox
    policy: Policy
    region: str
    alert_function_arn: str | None = None
    audit_ttl_days: int = DEFAULT_AUDIT_TTL_DAYS
    clock: Callable[[], float] = time.time
    config_error: str | None = None  # an unusable runtime setting: stops are disabled
    controls: ControlReader | None = None  # the runtime controls (None: none, e.g. replay)
    # the roles a capacity retry may pass (TRAINGUARD_RETRY_ROLE_ARNS); empty = retries off
    retry_roles: tuple[str, ...] = ()
    shards: ShardQueue | None = None  # the sharded tick's queue (None: every tick is inline)
    shard_size: int = DEFAULT_SHARD_SIZE  # jobs a shard; at most this many: no fan-out
    catalog: InstanceCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = self.policy.catalog()
