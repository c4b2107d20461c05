"""Everything the logic needs: the ports and the configuration. The handler layer builds it
from the environment over real AWS clients (``trainguard.handlers.runtime``); tests build it
over in-memory fakes or moto.

The state table is eight ports (``trainguard.ports``), which were one ``store`` before:
``deps.store.X`` is now ``deps.jobs.X`` (register_job, get_job, latest_run,
update_start_time, finalize_job, add_alarms, batch_get_jobs), ``deps.running.X``
(running_jobs, get_jobs, save_progress, set_episode), ``deps.events.X`` (event_seen,
mark_event), ``deps.ledger.X`` (claim_action, get_action, update_action, finish_action,
open_actions), ``deps.outbox.X`` (as before), ``deps.audit.X`` (put_decision, decisions,
decisions_on_day), ``deps.idle_episodes.X`` (open_episode, close_episode, episode,
episodes) or ``deps.references.X`` (put_curve, get_curves, put_stats, get_stats,
batch_get_stats, batch_get_group_state)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING

from ..config import Policy
from ..constants import DEFAULT_AUDIT_TTL_DAYS, DEFAULT_SHARD_SIZE
from ..core.instances import InstanceCatalog
from ..core.values import mutable

if TYPE_CHECKING:
    from typing import Required, TypedDict, Unpack

    from ..ports import (
        ActionLedger,
        Alarms,
        AuditLog,
        Checkpoints,
        ControlReader,
        EventMarks,
        IdleEpisodes,
        Jobs,
        MetricReader,
        Notifier,
        Outbox,
        References,
        RunningJobs,
        ShardQueue,
        StateTable,
        TrainingJobs,
    )

    class Services(TypedDict, total=False):
        """The services besides the state table: :meth:`Dependencies.over`'s keywords (the
        fields of :class:`Dependencies` after ``references``)."""

        training_jobs: Required[TrainingJobs]
        metrics: Required[MetricReader]
        alarms: Required[Alarms]
        notifier: Required[Notifier]
        policy: Required[Policy]
        region: Required[str]
        alert_function_arn: str | None
        audit_ttl_days: int
        clock: Callable[[], float]
        config_error: str | None
        controls: ControlReader | None
        retry_roles: tuple[str, ...]
        shards: ShardQueue | None
        shard_size: int
        checkpoints: Checkpoints | None


@mutable
class Dependencies:
    # the state table (a StateTable)
    jobs: Jobs
    running: RunningJobs
    events: EventMarks
    ledger: ActionLedger
    outbox: Outbox
    audit: AuditLog
    idle_episodes: IdleEpisodes
    references: References
    # the other services
    training_jobs: TrainingJobs
    metrics: MetricReader
    alarms: Alarms
    notifier: Notifier
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
    # the checkpoint prefixes (``trainguard revive`` lists them with the operator's rights;
    # None in the functions: their role may not read the teams' buckets)
    checkpoints: Checkpoints | None = None
    catalog: InstanceCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = self.policy.catalog()

    @classmethod
    def over(cls, state: StateTable, **services: Unpack[Services]) -> Dependencies:
        """The state table's ports (:class:`~trainguard.ports.StateTable`) with the other
        services (``training_jobs``, ``metrics``, ... as keywords)."""
        return cls(
            jobs=state.jobs,
            running=state.running,
            events=state.events,
            ledger=state.ledger,
            outbox=state.outbox,
            audit=state.audit,
            idle_episodes=state.idle_episodes,
            references=state.references,
            **services,
        )
