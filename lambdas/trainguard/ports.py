"""The ports: what the logic needs from the outside world, as small protocols.

The boto3 adapters (``trainguard.adapters``) implement them for AWS; the tests implement them
in memory (``tests/fakes/``). The logic imports only these, never boto3, so its unit tests
run in milliseconds with no network.

The state table (one DynamoDB table, its key layout in ``adapters/dynamodb/keys.py``) is
seen through eight ports, one per aggregate, cut where the use cases part:

=================  ==================================================  ====================
port               what (its items)                                    who uses it
=================  ==================================================  ====================
``Jobs``           a run's item as the lifecycle keeps it              lifecycle, reconcile,
                   (registered, started, ended, its alarms)            alert, act, report
``RunningJobs``    the running index and what the tick writes on a     the evaluator, the
                   running job's item (progress, health episodes,      digest, ``status``
                   its tags as re-read)
``EventMarks``     once-only markers of the events handled             lifecycle
``ActionLedger``   claimed actions, their state, the open list         act, retry
``Outbox``         emails written before they are sent                 act, alert, retry
``AuditLog``       the decisions, per run and per UTC day              act, retry, report
``IdleEpisodes``   GPU-idle episodes per host (own items)              alert, ledger, digest
``References``     completed curves, group statistics and policies     lifecycle, evaluator
=================  ==================================================  ====================

Why these cuts: each port's methods read or write one kind of item (a job's item is cut in
two by who writes it: the lifecycle writes a run's life, the tick only its progress and
episodes, and the tick never registers or ends a job), so a use case's fake or adapter has
only what it touches, and a port is one to seven methods. Where a write spans aggregates
the port says so (a claim and an idle episode are mirrored on the run's item, in the same
table). Method names are the old ``JobStore``'s, so a call moved from ``deps.store.X`` to
``deps.<port>.X`` and nothing else (see ``Dependencies``).

Every write that must happen once is conditional and says whether it won (True) or found
the work already done (False).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, Protocol, TypedDict

from .core.curves import Point
from .core.progress import Progress
from .core.stored import Record
from .message import Message
from .models import (
    GroupPolicy,
    GroupStats,
    JobListing,
    JobRecord,
    JobSummary,
    MetricQuery,
    ReferenceSet,
    RunId,
    Series,
)

# ---- the items the state table's ports hand to the logic ----------------------------------------
# As the adapters read them off the wire (numbers as int or float: ``keys.deserialize``): the
# keys a reader may find, each optional (an item written by an older version lacks the newer
# ones), and the table's own keys (``pk``, ``sk``) besides.


class ClaimItem(TypedDict, total=False):
    """An ``ACTION#<action>`` item (:meth:`ActionLedger.get_action`), as
    :meth:`~trainguard.logic.ledger.Claim.from_item` reads it."""

    at: float  # when it was claimed (epoch s)
    state: str  # a ClaimState's value
    attempts: int
    tries: int
    details: Record  # the claimer's, written once
    retry_at: float
    outcome: str
    created: str


class EpisodeItem(TypedDict, total=False):
    """An ``EPISODE#<host>`` item (:meth:`IdleEpisodes.episode`)."""

    state: str  # "open" | "closed" (EpisodeState)
    opened_at: float
    closed_at: float


class EmailItem(TypedDict, total=False):
    """An ``OUTBOX`` (or dead-letter) item (:meth:`Outbox.pending_emails`)."""

    sk: str  # its deduplication key
    subject: str
    body: str  # the text ("" when ``message`` holds the value)
    at: float
    attempts: int
    lease_until: float
    message: Record | None  # the message as a value (``Message.to_item``)


class AuditRecord(TypedDict, total=False):
    """An audit record as read back (:meth:`AuditLog.decisions`): the decision, what came of
    it (``Ledger.audit`` writes both), a carry-out's extra fields, and the table's."""

    # the decision (``Decision.to_dict``)
    job: str
    rule: str
    stop: bool
    step: float | None
    value: float | None
    threshold: float | None
    references: int
    reason: str
    alert: bool
    # what came of it
    mode: str
    action: str  # the outcome's text: STOPPED, WOULD STOP (observe), ...
    estimated_dollars_saved: float | None
    # a stop's (``Resumable.to_record``), a revival's (who asked, for which job)
    resumable: bool
    checkpoint: str | None
    by: str | None
    why: str | None
    revival: str | None
    group: str | None
    # the table's: when the claim was made (ISO-8601) and its UTC day, the expiry, the keys
    # (a record written before the audit index has only its key: ``...#DECISION#<at>#<rule>``)
    audit_at: str
    audit_day: str
    ttl: int
    pk: str
    sk: str


# what came of asking SageMaker to stop a job, to create one (:class:`TrainingJobs`)
StopResult = Literal["stopped", "already ending"]
CreateResult = Literal["created", "exists"]


class Jobs(Protocol):
    """Each run of a job name is its own item (:class:`RunId`: name + CreationTime)."""

    def register_job(self, job: JobRecord) -> bool: ...
    def get_job(self, run: RunId) -> JobRecord | None: ...
    def latest_run(self, name: str) -> JobRecord | None: ...
    def update_start_time(self, run: RunId, start_time: float) -> None: ...
    def finalize_job(
        self, run: RunId, status: str, end_time: float | None, failure_reason: str | None
    ) -> bool: ...
    def add_alarms(self, run: RunId, names: Sequence[str]) -> None: ...
    def batch_get_jobs(self, runs: Iterable[RunId]) -> dict[RunId, JobRecord]:
        """The runs' items that exist, by run (the runs of a period's audit)."""
        ...


class RunningJobs(Protocol):
    """The running jobs as the tick reads them (their items carry progress, health episodes,
    open idle hosts and claimed actions) and what the tick writes on them."""

    def running_jobs(self) -> list[JobRecord]: ...
    def running_runs(self) -> list[JobRecord]:
        """The running index as the planner needs it: each run's identity (name, CreationTime),
        status, opt-in, reference set (group, objective, direction) and instances (type,
        count); every other field at its default (no tags, no progress, no alarms). Whoever
        needs more of a run reads its item (``get_jobs``, ``Jobs.get_job``)."""
        ...

    def get_jobs(self, runs: Sequence[RunId]) -> list[JobRecord]:
        """The runs' items that exist (consistent reads, a shard's jobs)."""
        ...

    def save_progress(self, updates: Sequence[tuple[RunId, Progress]]) -> None:
        """Each run's progress, unless its item holds one checked at or after this one's
        ``checked`` (a repeated or late shard never moves a job's progress back)."""
        ...

    def set_episode(self, run: RunId, key: str, opened_at: float | None) -> None:
        """Open (at ``opened_at``) or close (None) a health episode on the run's item."""
        ...

    def retag(self, job: JobRecord, reset_progress: bool) -> bool:
        """Write a running run's tags and what they decide (``opted_in``, ``group``,
        ``objective``, ``direction``, ``mode``, ``config_error``, as ``job`` holds them), and
        forget its progress when ``reset_progress`` (its objective changed); False if the run
        is unknown or ended (nothing written)."""
        ...


class EventMarks(Protocol):
    """Once-only markers: an event handled once, however often it is delivered."""

    def event_seen(self, run: RunId, key: str) -> bool: ...
    def mark_event(self, run: RunId, key: str, now: float) -> bool: ...


class ActionLedger(Protocol):
    """Actions on a run: claimed once (mirrored on the run's ``actions`` and listed as open),
    then finished, or resumed by a later tick."""

    def claim_action(self, run: RunId, action: str, now: float, details: Record) -> bool: ...
    def get_action(self, run: RunId, action: str) -> ClaimItem | None: ...
    def update_action(self, run: RunId, action: str, **fields: object) -> None: ...
    def finish_action(self, run: RunId, action: str, **fields: object) -> None: ...
    def open_actions(self) -> list[tuple[RunId, str]]: ...


class Outbox(Protocol):
    """Emails written to the table before they are sent, each under a deduplication key:
    sent at least once (a failed or interrupted send is retried by a later invocation) and
    written at most once per key."""

    def enqueue(
        self,
        key: str,
        subject: str,
        body: str,
        now: float,
        lease_s: float,
        message: Record | None = None,
    ) -> bool:
        """``message``: the message as a value (``Message.to_item``); ``body`` is then empty."""
        ...

    def pending_emails(self, now: float) -> list[EmailItem]: ...
    def lease_email(self, key: str, now: float, lease_s: float) -> bool: ...
    def sent(self, key: str, now: float) -> None: ...
    def send_failed(self, key: str, attempts: int, retry_at: float, dead: bool) -> None: ...
    def dead_letters(self) -> list[EmailItem]: ...


class AuditLog(Protocol):
    """The decision audit: every record under its run, and in the day's index."""

    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Record, ttl: int
    ) -> None: ...
    def decisions(self, run: RunId) -> list[AuditRecord]: ...
    def decisions_on_day(self, day: str) -> list[tuple[RunId, AuditRecord]]:
        """Every audit record of the UTC day ``YYYY-MM-DD`` with its run, oldest first."""
        ...


class IdleEpisodes(Protocol):
    """GPU-idle episodes, one per host of a run (the open ones mirrored on the run's
    ``idle_hosts``): opened once, closed once, then open again for a new episode."""

    def open_episode(self, run: RunId, host: str, now: float) -> bool: ...
    def close_episode(self, run: RunId, host: str, now: float) -> float | None: ...
    def episode(self, run: RunId, host: str) -> EpisodeItem | None: ...
    def episodes(self, run: RunId) -> dict[str, EpisodeItem]:
        """The run's GPU-idle episodes by host (``state``, ``opened_at``, ``closed_at``)."""
        ...


class References(Protocol):
    """Reference sets (a group's completed jobs of one objective and direction): their
    curves and statistics, and the groups' policies (``trainguard calibrate --apply``)."""

    def put_curve(
        self, refs: ReferenceSet, job: str, curve: Sequence[Point], duration_min: float
    ) -> None: ...
    def get_curves(
        self, refs: ReferenceSet, jobs: Sequence[str]
    ) -> dict[str, tuple[list[Point], float]]: ...
    def put_stats(self, stats: GroupStats, expected_version: int | None) -> bool: ...
    def get_stats(self, refs: ReferenceSet) -> GroupStats | None: ...
    def batch_get_stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]: ...
    def batch_get_group_state(
        self, sets: Iterable[ReferenceSet]
    ) -> tuple[dict[ReferenceSet, GroupStats], dict[str, GroupPolicy]]: ...


class StateTable(Protocol):
    """The state table's ports together, for a reader that walks several aggregates (the
    digest, ``explain``): :class:`~trainguard.logic.dependencies.Dependencies`, the DynamoDB
    adapters' ``TablePorts`` and the tests' fakes all have them."""

    @property
    def jobs(self) -> Jobs: ...
    @property
    def running(self) -> RunningJobs: ...
    @property
    def events(self) -> EventMarks: ...
    @property
    def ledger(self) -> ActionLedger: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def idle_episodes(self) -> IdleEpisodes: ...
    @property
    def references(self) -> References: ...


class ShardQueue(Protocol):
    """Where the planner sends the tick's shards (SQS: one message a shard)."""

    def send(self, messages: Sequence[Record]) -> None:
        """Send every message (JSON-safe), or raise naming what was not sent."""
        ...


class TrainingJobs(Protocol):
    """SageMaker training jobs."""

    def stop(self, job: str) -> StopResult:
        """``"stopped"``, or ``"already ending"`` for a job that is stopping or ended."""
        ...

    def create(self, request: Record) -> CreateResult:
        """CreateTrainingJob with ``request`` (its keyword arguments): ``"created"``, or
        ``"exists"`` when the name is taken already (ResourceInUse: an earlier attempt of the
        same create, or somebody else's job; the caller tells which);
        :class:`~trainguard.models.CreateRefused` for a refusal asking again will not cure."""
        ...

    def list_in_progress(self) -> list[JobSummary]: ...
    def list_since(self, since: float, out_of_time: Callable[[], bool] | None = None) -> JobListing:
        """The InProgress jobs created at or after ``since`` (epoch s), newest first, paging no
        further back than ``since`` (ListTrainingJobs sorted by CreationTime, descending); no
        next page once ``out_of_time()`` says so (then ``complete`` is False)."""
        ...

    def describe(self, job: str) -> Record:
        """DescribeTrainingJob; :class:`~trainguard.models.JobNotFoundError` if unknown."""
        ...

    def tags(self, arn: str) -> dict[str, str]:
        """The job's tags; :class:`~trainguard.models.JobNotFoundError` if unknown."""
        ...


class Checkpoints(Protocol):
    """The S3 prefixes training jobs sync their checkpoints to (``CheckpointConfig.S3Uri``)."""

    def has_objects(self, s3_uri: str) -> bool:
        """Whether anything is stored under the prefix;
        :class:`~trainguard.models.CheckpointsUnreadable` when it cannot be listed."""
        ...


class MetricReader(Protocol):
    """Batched metric reads (GetMetricData)."""

    def get_series(
        self, queries: Sequence[MetricQuery], start: float, end: float, period: int = 60
    ) -> dict[str, Series]:
        """Every query's datapoints in [start, end), by query id (ids must be unique)."""
        ...

    def metric_names(self, dimensions: Sequence[tuple[str, str]]) -> list[str]:
        """The names of the training namespace's metrics that have exactly ``dimensions``
        (ListMetrics: those with a datapoint in the past two weeks), sorted."""
        ...


class Alarms(Protocol):
    """The per-host GPU-idle alarms created at run time."""

    def put_gpu_idle_alarm(
        self,
        job: str,
        host_index: int,
        gpus: int,
        threshold_pct: float,
        window_minutes: float,
        action_arn: str | None,
    ) -> str: ...
    def delete_alarms(self, names: Iterable[str]) -> int: ...
    def alarm_names(self, prefix: str) -> list[str]: ...


class ControlReader(Protocol):
    """The runtime controls (``trainguard pause | resume | mode``), cached by the adapter."""

    def read(self, fresh: bool = False) -> Mapping[str, str]:
        """Control name (``GLOBAL``, ``GROUP#<group>``) -> its JSON value; ``fresh``: past
        the cache (a stop re-reads the controls right before StopTrainingJob)."""
        ...


class Notifier(Protocol):
    """The alert channel (SNS)."""

    def publish(self, subject: str, body: str) -> str: ...
    def send(self, message: Message) -> str:
        """Publish the message, rendered for each channel (email text, chat card)."""
        ...
