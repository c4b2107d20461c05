"""Models shared by the logic, the ports and the adapters: a training job as the table holds
it, a state change (from an event or a DescribeTrainingJob), an alarm's change, a group's
reference statistics, metric queries and the names of the run-time alarms. The events
themselves are parsed at the handlers' edge (:mod:`.handlers.events`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import NamedTuple

from .config import Mode, PolicyError, normalize_tags
from .constants import GPU_IDLE_ALARM_PREFIX, TRAINING_NAMESPACE
from .core.catchup import CatchUpModel
from .core.curves import Direction
from .core.instances import InstanceGroup, job_instances
from .core.median import ReferenceTable
from .core.progress import Progress
from .core.stored import Record
from .core.throughput import ThroughputBaseline
from .core.values import frozen, mutable
from .times import TimestampError, epoch_seconds


class JobStatus(StrEnum):
    """A training job's TrainingJobStatus (SageMaker's words; stored as they are)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    # trainguard's own: a run SageMaker no longer has (deleted, or its name reused)
    UNKNOWN = "Unknown"


# SageMaker's TrainingJobStatus values (what an event may carry)
STATUSES = tuple(s for s in JobStatus if s is not JobStatus.UNKNOWN)
TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


Series = list[tuple[float, float]]  # (epoch seconds of the period's start, value), ascending


class JobNotFoundError(LookupError):
    """SageMaker does not know the job (deleted, or another account/region)."""


class StopRefused(RuntimeError):
    """SageMaker refused StopTrainingJob for a reason that trying again at once will not cure
    (AccessDenied, a ValidationException other than "already stopping/stopped"). The message
    is ``<code>: <SageMaker's message>``."""


class CreateRefused(RuntimeError):
    """SageMaker refused CreateTrainingJob for a reason that asking again will not cure
    (AccessDenied, a ValidationException). The message is ``<code>: <SageMaker's message>``."""


class CheckpointsUnreadable(RuntimeError):
    """A checkpoint prefix that cannot be listed (no such bucket, AccessDenied, a malformed
    URI). The message says which and why."""


@frozen
class JobSummary:
    """One row of ListTrainingJobs."""

    name: str
    arn: str
    status: str
    created_ms: int = 0


@frozen
class JobListing:
    """The InProgress jobs created since a time, newest first (``TrainingJobs.list_since``):
    ``complete`` False when the listing was cut short (its time was up) after reaching back to
    ``reached_ms`` (the CreationTime of the oldest job it read); ``pages`` read."""

    jobs: tuple[JobSummary, ...]
    complete: bool = True
    reached_ms: int = 0
    pages: int = 0

    def covers(self, created_ms: int) -> bool:
        """Whether a job created at ``created_ms`` would be in this listing if it ran."""
        return self.complete or created_ms >= self.reached_ms


@frozen
class MetricQuery:
    """One plain MetricStat query (no metric math: moto cannot evaluate it; not needed)."""

    id: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str = "Average"
    namespace: str = TRAINING_NAMESPACE
    period: int | None = None  # this query's own period; None: the call's


@frozen(order=True)
class ReferenceSet:
    """The completed jobs a running job is compared with: those of its group that measure
    the same objective metric in the same direction. Anyone who may tag a training job can
    put it in a group; a job reporting another metric (or the same name, minimized instead of
    maximized) can never set the threshold of the group's jobs."""

    group: str
    objective: str
    direction: str

    @property
    def key(self) -> str:
        return f"{self.objective}#{self.direction}"


REFERENCE_WINDOW = 200  # the most recent completed jobs of a reference set that set its threshold


class Completed(NamedTuple):
    """A completed job joining its reference set (its curve is stored already)."""

    job: str  # its run id, name@created_ms
    duration_min: float
    throughput_per_instance: float | None = None
    instances: int = 1


@frozen
class GroupStats:
    """A reference set's ``GROUP#<group>`` / ``STATS#<objective>#<direction>`` item: what a
    tick needs about its completed jobs. Built from the most recent ``REFERENCE_WINDOW`` of
    them, so that its size and a completion's work do not grow with the group's history."""

    refs: ReferenceSet
    tables: dict[str, ReferenceTable]  # MedianStoppingRule.table_key -> materialized M(s)
    median_duration_min: float | None
    references: int  # completed jobs in the window
    window: tuple[str, ...] = ()  # their run ids (``name@created_ms``), oldest first
    durations: tuple[float, ...] = ()  # their durations in minutes, in the same order
    completed: int = 0  # completed jobs ever added (the window keeps the latest)
    version: int = 0  # for conditional writes: concurrent completions never lose one
    # per window job: its samples/s per instance (None: it had no throughput metric), and
    # its instance count (the single-instance ones give the scaling efficiency)
    throughput: tuple[float | None, ...] = ()
    instances: tuple[int, ...] = ()
    # the catch-up rule's model of every completed job the set took in (not only the window:
    # it is bounded by its step grid), in the evaluator's steps
    catchup: CatchUpModel | None = None
    # the execution role (RoleArn) its references ran with: a completed job of another role
    # does not join (group poisoning, issue 21); "" before the first one (or written before)
    role: str = ""

    @property
    def group(self) -> str:
        return self.refs.group

    def throughput_baseline(self, *, single: bool = False) -> ThroughputBaseline | None:
        """The window's completed jobs' median throughput per instance (``single``: of the
        single-instance ones); None when none had a throughput metric."""
        figures = [
            f
            for f, n in zip(self.throughput, self.instances, strict=False)
            if f is not None and (not single or n == 1)
        ]
        return ThroughputBaseline.of(figures)

    def table(self, key: str = "all") -> ReferenceTable | None:
        return self.tables.get(key)


@frozen
class GroupPolicy:
    """A group's ``GROUP#<group>`` / ``POLICY`` item (``trainguard calibrate --apply``): policy
    sections over the deployed policy for the group's jobs (a job's tags still win)."""

    group: str
    settings: dict[str, dict[str, object]]  # section -> {field: value}
    applied_by: str = ""
    applied_at: str = ""


# The hosts of a run that get a GPU-idle alarm, its first ones. Each alarm's name is kept on the
# run's item (up to 94 bytes: ``trainguard-gpu-idle-<63-character name>-algo-<n>``), and so is
# an idle host's episode: a job of thousands of hosts overflowed DynamoDB's 400 KB item. At
# most 1,000 keeps both under 200 KB (and a job's alarms under $100 a month).
MAX_ALARMED_HOSTS = 1000


def alarmed_hosts(instance_count: int) -> int:
    """How many of a run's hosts (the first ones) get a GPU-idle alarm."""
    return min(instance_count, MAX_ALARMED_HOSTS)


def gpu_idle_alarm_name(job: str, host_index: int) -> str:
    return f"{GPU_IDLE_ALARM_PREFIX}{job}-algo-{host_index}"


def parse_gpu_idle_alarm_name(name: str) -> tuple[str, str] | None:
    """``trainguard-gpu-idle-<job>-algo-<n>`` -> (job, ``<job>/algo-<n>``), else None."""
    if not name.startswith(GPU_IDLE_ALARM_PREFIX):
        return None
    rest = name[len(GPU_IDLE_ALARM_PREFIX) :]
    job, sep, index = rest.rpartition("-algo-")
    if not sep or not job or not index.isdigit():
        return None
    return job, f"{job}/algo-{index}"


@frozen
class AlarmChange:
    name: str
    state: str
    previous: str
    reason: str
    reason_data: Record
    time: float | None = None  # the payload's / event's ``time`` (epoch s), if readable
    metrics: tuple[Record, ...] = ()  # alarmData.configuration.metrics


class EventError(ValueError):
    """An event that cannot be handled; the message names the problem (the event goes to the
    DLQ, nothing is written)."""


@frozen(order=True)
class RunId:
    """One run of a training job: its name and its CreationTime in epoch milliseconds.
    SageMaker lets a name be used again after DeleteTrainingJob; the new job is another run,
    with its own registration, alarms, decisions and audit."""

    name: str
    created_ms: int

    def __str__(self) -> str:
        return f"{self.name}@{self.created_ms}"


def epoch_ms(seconds: float | None) -> int:
    """A CreationTime (epoch seconds) as the run's key; 0 when unknown."""
    return 0 if seconds is None else round(seconds * 1000)


@mutable
class JobRecord:
    """One run's item: ``JOB#<name>`` / ``RUN#<created_ms>``."""

    name: str
    created_ms: int = 0  # CreationTime, epoch ms: with the name, the run's identity
    arn: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    opted_in: bool = False
    group: str = ""
    objective: str | None = None
    direction: Direction = Direction.MINIMIZE
    mode: Mode = Mode.OBSERVE
    instance_type: str = ""  # "" in a heterogeneous cluster (its groups say)
    instance_count: int = 1  # every host of the cluster, all its groups together
    # a heterogeneous cluster's groups (ResourceConfig.InstanceGroups); empty: homogeneous
    # (instance_type x instance_count), as every item written before groups were read is
    instance_groups: tuple[InstanceGroup, ...] = ()
    max_runtime_s: float | None = None
    start_time: float = 0.0  # epoch seconds
    start_exact: bool = False  # from TrainingStartTime (else CreationTime / event time)
    status: JobStatus = JobStatus.IN_PROGRESS  # stored as its word
    end_time: float | None = None
    failure_reason: str | None = None
    idle_hosts: dict[str, float] = field(default_factory=dict)  # host -> episode opened (epoch s)
    # the ACTION# markers already claimed, mirrored on the job item: a tick that reads the
    # running index skips them without a (rejected) conditional write per flagged job
    actions: frozenset[str] = frozenset()
    alarms: frozenset[str] = frozenset()  # the GPU-idle alarms trainguard created for the run
    # the health episodes open on the run: "hung", "straggler:<host>", "throughput" -> opened
    episodes: dict[str, float] = field(default_factory=dict)
    # the evaluator's read position (its CurveSummary, when it last read, its last datapoint)
    progress: Progress | None = None
    config_error: str | None = None
    role_arn: str = ""  # its execution role (RoleArn): who a group's references must share

    @property
    def run(self) -> RunId:
        return RunId(self.name, self.created_ms)

    @property
    def reference_set(self) -> ReferenceSet:
        return ReferenceSet(self.group, self.objective or "", self.direction)

    @property
    def running(self) -> bool:
        return self.status == JobStatus.IN_PROGRESS

    @property
    def groups(self) -> tuple[InstanceGroup, ...]:
        """The cluster's instance groups (one unnamed group in a homogeneous cluster)."""
        return self.instance_groups or (InstanceGroup("", self.instance_type, self.instance_count),)

    def hosts(self) -> list[str]:
        """``<job>/algo-<n>``, n from 1 to the cluster's instances: SageMaker numbers the
        hosts across all instance groups of a heterogeneous cluster (CloudWatch's ``Host``
        dimension, ``[training-job-name]/algo-[instance-number-in-cluster]``)."""
        return [f"{self.name}/algo-{i}" for i in range(1, self.instance_count + 1)]


@frozen
class StateChange:
    """What the lifecycle needs from one state-change event (or a DescribeTrainingJob)."""

    name: str
    arn: str
    status: JobStatus
    secondary_status: str
    tags: dict[str, str] | None  # None: the event carried none (ask ListTags)
    instance_type: str  # "" in a heterogeneous cluster
    instance_count: int  # all the cluster's instances
    max_runtime_s: float | None
    creation_time: float | None
    start_time: float | None
    end_time: float | None
    failure_reason: str | None
    event_time: float | None
    instance_groups: tuple[InstanceGroup, ...] = ()  # a heterogeneous cluster's groups
    role_arn: str = ""  # RoleArn: the execution role the job runs with

    @property
    def run(self) -> RunId:
        return RunId(self.name, epoch_ms(self.creation_time))

    @property
    def dedup_key(self) -> str:
        return f"{self.status}#{self.secondary_status or '-'}"


def parse_job_description(detail: Record, *, event_time: float | None) -> StateChange:
    """The event's detail, or a DescribeTrainingJob response (same field names)."""
    name = detail.get("TrainingJobName")
    if not isinstance(name, str) or not name.strip():
        raise EventError("detail.TrainingJobName must be a non-empty string")
    status = detail.get("TrainingJobStatus")
    if not isinstance(status, str) or status not in STATUSES:
        raise EventError(
            f"detail.TrainingJobStatus must be one of {', '.join(STATUSES)}, got {status!r}"
        )
    arn = detail.get("TrainingJobArn", "")
    if not isinstance(arn, str):
        raise EventError(f"detail.TrainingJobArn must be a string, got {arn!r}")
    secondary = detail.get("SecondaryStatus", "")
    if not isinstance(secondary, str):
        raise EventError(f"detail.SecondaryStatus must be a string, got {secondary!r}")
    resources = detail.get("ResourceConfig", {})
    if not isinstance(resources, Mapping):
        raise EventError("detail.ResourceConfig must be an object")
    try:
        groups = job_instances(resources, "detail.ResourceConfig")
    except ValueError as exc:
        raise EventError(str(exc)) from None
    heterogeneous = bool(resources.get("InstanceGroups"))
    stopping = detail.get("StoppingCondition", {})
    if not isinstance(stopping, Mapping):
        raise EventError("detail.StoppingCondition must be an object")
    max_runtime = stopping.get("MaxRuntimeInSeconds")
    if max_runtime is not None and (
        isinstance(max_runtime, bool) or not isinstance(max_runtime, (int, float))
    ):
        raise EventError(
            f"detail.StoppingCondition.MaxRuntimeInSeconds must be a number, got {max_runtime!r}"
        )
    tags_raw = detail.get("Tags")
    try:
        tags = normalize_tags(tags_raw) if tags_raw is not None else None
    except PolicyError as exc:
        raise EventError(f"detail.Tags: {exc}") from exc
    if tags is not None and not tags:
        tags = None  # the documented sample carries "Tags": {}; ask ListTags to be sure
    reason = detail.get("FailureReason")
    role = detail.get("RoleArn", "")
    if not isinstance(role, str):
        raise EventError(f"detail.RoleArn must be a string, got {role!r}")
    return StateChange(
        name=name.strip(),
        arn=arn,
        status=JobStatus(status),
        secondary_status=secondary,
        tags=tags,
        instance_type="" if heterogeneous else groups[0].instance_type,
        instance_count=sum(g.count for g in groups),
        instance_groups=groups if heterogeneous else (),
        max_runtime_s=None if max_runtime is None else float(max_runtime),
        creation_time=field_seconds(detail.get("CreationTime"), "detail.CreationTime"),
        start_time=field_seconds(detail.get("TrainingStartTime"), "detail.TrainingStartTime"),
        end_time=field_seconds(detail.get("TrainingEndTime"), "detail.TrainingEndTime"),
        failure_reason=str(reason) if reason else None,
        event_time=event_time,
        role_arn=role,
    )


def field_seconds(value: object, key: str) -> float | None:
    """An event's or a job description's timestamp field in epoch seconds (see
    :func:`~trainguard.times.epoch_seconds`); :class:`EventError` when it is none."""
    try:
        return epoch_seconds(value, key)
    except TimestampError as exc:
        raise EventError(str(exc)) from None
