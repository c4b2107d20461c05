"""In-memory implementations of the ports (``trainguard.ports``) for fast logic tests.

Fakes rather than mocks (Powertools' own advice): each one behaves like the service it
stands for, as far as the logic can tell, so that a test states an outcome ("the job was
stopped once, one email went out") instead of a sequence of calls.
``tests/integration/test_store_contract.py`` runs the same cases against
:class:`InMemoryStore` and the DynamoDB store on moto, which keeps this one honest.

Faults are injected per method: ``fake.fail("stop", ThrottlingError(...))`` makes the next
call of ``stop`` raise it (``times=`` for more than one).
"""

from __future__ import annotations

import copy
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from trainguard.config import Policy
from trainguard.constants import GROUP_POLICY_SK
from trainguard.core.curves import Point
from trainguard.core.progress import Progress
from trainguard.logic.dependencies import Dependencies
from trainguard.message import Message, email_text
from trainguard.models import (
    GroupPolicy,
    GroupStats,
    JobNotFoundError,
    JobRecord,
    JobSummary,
    MetricQuery,
    ReferenceSet,
    RunId,
    epoch_ms,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ALERT_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trainguard-alert"


class FaultInjector:
    """``fail(method, exc, times=1, after=0)``: calls of ``method`` raise ``exc``."""

    def __init__(self) -> None:
        self._faults: dict[str, list[BaseException | None]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    def fail(self, method: str, exc: BaseException, times: int = 1, after: int = 0) -> None:
        """The ``times`` calls of ``method`` after the next ``after`` ones raise ``exc``."""
        self._faults[method].extend([None] * after + [exc] * times)

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        if self._faults[method]:
            fault = self._faults[method].pop(0)
            if fault is not None:
                raise fault


class InMemoryStore(FaultInjector):
    """The state table in memory: items keyed ``(pk, sk)`` like the table (a run's items
    under ``JOB#<name>`` / ``RUN#<created_ms>...``), conditional writes that win once."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    @staticmethod
    def _key(run: RunId, suffix: str = "") -> tuple[str, str]:
        return (f"JOB#{run.name}", f"RUN#{run.created_ms:013d}{suffix}")

    def _job(self, run: RunId) -> dict[str, Any] | None:
        return self.items.get(self._key(run))

    def _update(self, run: RunId, **changes: Any) -> None:
        item = self._job(run)
        if item is not None:
            item["record"] = replace(item["record"], **changes)

    # jobs
    def register_job(self, job: JobRecord) -> bool:
        self._call("register_job")
        if self._job(job.run) is not None:
            return False
        record = replace(
            job, actions=frozenset(), alarms=frozenset(), progress=None, tags=dict(job.tags)
        )
        self.items[self._key(job.run)] = {"record": record, "running": job.running}
        return True

    def get_job(self, run: RunId) -> JobRecord | None:
        self._call("get_job")
        item = self._job(run)
        return copy.deepcopy(item["record"]) if item else None

    def latest_run(self, name: str) -> JobRecord | None:
        self._call("latest_run")
        runs = sorted(
            item["record"].created_ms
            for (pk, sk), item in self.items.items()
            if pk == f"JOB#{name}" and "record" in item
        )
        return self.get_job(RunId(name, runs[-1])) if runs else None

    def update_start_time(self, run: RunId, start_time: float) -> None:
        self._call("update_start_time")
        item = self._job(run)
        if item is not None and not item["record"].start_exact:
            self._update(run, start_time=start_time, start_exact=True)

    def finalize_job(
        self, run: RunId, status: str, end_time: float | None, failure_reason: str | None
    ) -> bool:
        self._call("finalize_job")
        item = self._job(run)
        if item is None:
            return False
        record = item["record"]
        self._update(
            run,
            status=status,
            end_time=end_time if end_time is not None else record.end_time,
            failure_reason=failure_reason or record.failure_reason,
        )
        item["running"] = False
        return True

    def running_jobs(self) -> list[JobRecord]:
        self._call("running_jobs")
        return [
            copy.deepcopy(item["record"])
            for _, item in sorted(self.items.items())
            if "record" in item and item.get("running")
        ]

    def set_episode(self, run: RunId, key: str, opened_at: float | None) -> None:
        self._call("set_episode")
        item = self._job(run)
        if item is None:
            return
        episodes = {k: v for k, v in item["record"].episodes.items() if k != key}
        if opened_at is not None:
            episodes[key] = opened_at
        self._update(run, episodes=episodes)

    def add_alarms(self, run: RunId, names: Sequence[str]) -> None:
        self._call("add_alarms")
        item = self._job(run)
        if item is not None:
            self._update(run, alarms=item["record"].alarms | frozenset(names))

    def save_progress(self, updates: Sequence[tuple[RunId, Progress]]) -> None:
        self._call("save_progress")
        for run, progress in updates:
            item = self._job(run)
            held = item["record"].progress if item is not None else None
            if held is None or held.checked < progress.checked:  # as the table's condition
                self._update(run, progress=progress)

    def get_jobs(self, runs: Sequence[RunId]) -> list[JobRecord]:
        self._call("get_jobs")
        found = (self._job(run) for run in dict.fromkeys(runs))
        return [copy.deepcopy(item["record"]) for item in found if item is not None]

    # once-only markers
    def event_seen(self, run: RunId, key: str) -> bool:
        self._call("event_seen")
        return self._key(run, f"#EVENT#{key}") in self.items

    def mark_event(self, run: RunId, key: str, now: float) -> bool:
        self._call("mark_event")
        return self._put_once(self._key(run, f"#EVENT#{key}"), {"at": now})

    def claim_action(self, run: RunId, action: str, now: float, details: Mapping[str, Any]) -> bool:
        self._call("claim_action")
        item = self._job(run)
        key = self._key(run, f"#ACTION#{action}")
        if item is None or key in self.items:
            return False  # like the table's transaction: a registered run, claimed once
        self.items[key] = {"at": now, "state": "claimed", "attempts": 0, "details": dict(details)}
        self.items[("OPEN", f"{run.name}#{run.created_ms:013d}#{action}")] = {
            "job": run.name, "created_ms": run.created_ms, "action": action,
        }  # fmt: skip
        self._update(run, actions=item["record"].actions | {action})
        return True

    def get_action(self, run: RunId, action: str) -> dict[str, Any] | None:
        self._call("get_action")
        item = self.items.get(self._key(run, f"#ACTION#{action}"))
        return copy.deepcopy(item) if item is not None else None

    def update_action(self, run: RunId, action: str, **fields: Any) -> None:
        self._call("update_action")
        self.items.setdefault(self._key(run, f"#ACTION#{action}"), {}).update(fields)

    def finish_action(self, run: RunId, action: str, **fields: Any) -> None:
        self._call("finish_action")
        self.items.setdefault(self._key(run, f"#ACTION#{action}"), {}).update(
            {"state": "done", **fields}
        )
        self.items.pop(("OPEN", f"{run.name}#{run.created_ms:013d}#{action}"), None)

    def open_actions(self) -> list[tuple[RunId, str]]:
        self._call("open_actions")
        return [
            (RunId(item["job"], item["created_ms"]), item["action"])
            for (pk, _), item in sorted(self.items.items())
            if pk == "OPEN"
        ]

    # the outbox
    def enqueue(self, key: str, subject: str, body: str, now: float, lease_s: float,
                message: Mapping[str, Any] | None = None) -> bool:  # fmt: skip
        self._call("enqueue")
        if not self._put_once(("MAIL", key), {"at": now}):
            return False  # written once, ever (sent or not)
        self.items[("OUTBOX", key)] = {"sk": key, "subject": subject, "body": body,
                                       "attempts": 0, "lease_until": now + lease_s}  # fmt: skip
        if message is not None:
            self.items[("OUTBOX", key)]["message"] = copy.deepcopy(dict(message))
        return True

    def pending_emails(self, now: float) -> list[dict[str, Any]]:
        self._call("pending_emails")
        return [
            dict(item)
            for (pk, _), item in sorted(self.items.items())
            if pk == "OUTBOX" and item["lease_until"] <= now
        ]

    def lease_email(self, key: str, now: float, lease_s: float) -> bool:
        self._call("lease_email")
        item = self.items.get(("OUTBOX", key))
        if item is None or item["lease_until"] > now:
            return False
        item["lease_until"] = now + lease_s
        return True

    def sent(self, key: str, now: float) -> None:
        self._call("sent")
        self.items.pop(("OUTBOX", key), None)

    def send_failed(self, key: str, attempts: int, retry_at: float, dead: bool) -> None:
        self._call("send_failed")
        item = self.items.get(("OUTBOX", key))
        if item is None:
            return
        if dead:
            self.items[("OUTBOX#DEAD", key)] = {**self.items.pop(("OUTBOX", key)),
                                               "attempts": attempts}  # fmt: skip
        else:
            item.update(attempts=attempts, lease_until=retry_at)

    def dead_letters(self) -> list[dict[str, Any]]:
        return [dict(i) for (pk, _), i in sorted(self.items.items()) if pk == "OUTBOX#DEAD"]

    def _put_once(self, key: tuple[str, str], item: dict[str, Any]) -> bool:
        if key in self.items:
            return False
        self.items[key] = item
        return True

    # audit
    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Mapping[str, Any], ttl: int
    ) -> None:
        self._call("put_decision")
        self.items[self._key(run, f"#DECISION#{iso_time}#{rule}")] = {
            **record,
            "ttl": ttl,
            "audit_day": iso_time[:10],  # the table's sparse ``audit`` index
            "audit_at": iso_time,
        }

    def decisions(self, run: RunId) -> list[dict[str, Any]]:
        self._call("decisions")
        pk, prefix = self._key(run, "#DECISION#")
        return [
            dict(item)
            for (p, sk), item in sorted(self.items.items())
            if p == pk and sk.startswith(prefix)
        ]

    def decisions_on_day(self, day: str) -> list[tuple[RunId, dict[str, Any]]]:
        """The ``audit`` index partition of ``day``, sorted by time as the index sorts it."""
        self._call("decisions_on_day")
        out = []
        for (pk, sk), item in self.items.items():
            if "#DECISION#" in sk and item.get("audit_day") == day:
                out.append((RunId(pk.removeprefix("JOB#"), int(sk[4:17])), dict(item)))
        return sorted(out, key=lambda pair: str(pair[1]["audit_at"]))

    def batch_get_jobs(self, runs: Iterable[RunId]) -> dict[RunId, JobRecord]:
        self._call("batch_get_jobs")
        found = {run: self.get_job(run) for run in set(runs)}
        return {run: job for run, job in found.items() if job is not None}

    def episodes(self, run: RunId) -> dict[str, dict[str, Any]]:
        self._call("episodes")
        pk, prefix = self._key(run, "#EPISODE#")
        return {
            sk[len(prefix) :]: dict(item)
            for (p, sk), item in sorted(self.items.items())
            if p == pk and sk.startswith(prefix)
        }

    # alert episodes
    def open_episode(self, run: RunId, host: str, now: float) -> bool:
        self._call("open_episode")
        key = self._key(run, f"#EPISODE#{host}")
        if self.items.get(key, {}).get("state") == "open":
            return False
        self.items[key] = {"state": "open", "opened_at": now}
        item = self._job(run)
        if item is not None:
            self._update(run, idle_hosts={**item["record"].idle_hosts, host: now})
        return True

    def episode(self, run: RunId, host: str) -> dict[str, Any] | None:
        self._call("episode")
        item = self.items.get(self._key(run, f"#EPISODE#{host}"))
        return dict(item) if item is not None else None

    def close_episode(self, run: RunId, host: str, now: float) -> float | None:
        self._call("close_episode")
        episode = self.items.get(self._key(run, f"#EPISODE#{host}"))
        if episode is None or episode.get("state") != "open":
            return None
        episode.update(state="closed", closed_at=now)
        item = self._job(run)
        if item is not None:
            hosts = {h: t for h, t in item["record"].idle_hosts.items() if h != host}
            self._update(run, idle_hosts=hosts)
        return float(episode["opened_at"])

    # reference sets
    def put_curve(
        self, refs: ReferenceSet, job: str, curve: Sequence[Point], duration_min: float
    ) -> None:
        self._call("put_curve")
        self.items[(f"GROUP#{refs.group}", f"CURVE#{refs.key}#{job}")] = {
            "curve": list(curve),
            "duration_min": duration_min,
        }

    def get_curves(
        self, refs: ReferenceSet, jobs: Sequence[str]
    ) -> dict[str, tuple[list[Point], float]]:
        self._call("get_curves")
        out = {}
        for job in jobs:
            item = self.items.get((f"GROUP#{refs.group}", f"CURVE#{refs.key}#{job}"))
            if item is not None:
                out[job] = (list(item["curve"]), float(item["duration_min"]))
        return out

    def put_stats(self, stats: GroupStats, expected_version: int | None) -> bool:
        self._call("put_stats")
        key = (f"GROUP#{stats.refs.group}", f"STATS#{stats.refs.key}")
        current = self.items.get(key)
        if (current is None) != (expected_version is None):
            return False
        if current is not None and current["stats"].version != expected_version:
            return False
        self.items[key] = {"stats": stats}
        return True

    def get_stats(self, refs: ReferenceSet) -> GroupStats | None:
        return self.batch_get_stats([refs]).get(refs)

    def batch_get_stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]:
        self._call("batch_get_stats")
        out = {}
        for refs in sorted(set(sets)):
            item = self.items.get((f"GROUP#{refs.group}", f"STATS#{refs.key}"))
            if item is not None:
                out[refs] = item["stats"]
        return out

    def batch_get_group_state(
        self, sets: Iterable[ReferenceSet]
    ) -> tuple[dict[ReferenceSet, GroupStats], dict[str, GroupPolicy]]:
        self._call("batch_get_group_state")
        wanted = set(sets)
        stats = {}
        for refs in sorted(wanted):
            item = self.items.get((f"GROUP#{refs.group}", f"STATS#{refs.key}"))
            if item is not None:
                stats[refs] = item["stats"]
        policies = {}
        for group in sorted({r.group for r in wanted}):
            item = self.items.get((f"GROUP#{group}", GROUP_POLICY_SK))
            if item is not None:
                policies[group] = GroupPolicy(group, item["settings"], item["applied_by"],
                                              item["applied_at"])  # fmt: skip
        return stats, policies

    def put_group_policy(self, group: str, settings: dict[str, dict[str, Any]],
                         applied_by: str = "arn:aws:iam::123456789012:user/ml-platform",
                         applied_at: str = "2026-01-01T00:00:00.000Z") -> None:  # fmt: skip
        """What ``trainguard calibrate --apply`` writes (for tests)."""
        self.items[(f"GROUP#{group}", GROUP_POLICY_SK)] = {
            "settings": settings, "applied_by": applied_by, "applied_at": applied_at
        }  # fmt: skip

    def group_curves(self, refs: ReferenceSet) -> dict[str, tuple[list[Point], float]]:
        """Every curve stored for the reference set (for tests)."""
        prefix = f"CURVE#{refs.key}#"
        return {
            sk.removeprefix(prefix): (list(item["curve"]), float(item["duration_min"]))
            for (pk, sk), item in sorted(self.items.items())
            if pk == f"GROUP#{refs.group}" and sk.startswith(prefix)
        }

    # for tests
    def run_of(self, name: str) -> RunId:
        """The newest run of ``name`` (tests speak of jobs by name)."""
        latest = self.latest_run(name)
        assert latest is not None, f"no run of {name}"
        return latest.run

    def markers(self, name: str, kind: str) -> list[str]:
        """The newest run's markers of a kind (``"ACTION"``, ``"EVENT"``, ...)."""
        pk, prefix = self._key(self.run_of(name), f"#{kind}#")
        return sorted(
            sk.removeprefix(prefix) for p, sk in self.items if p == pk and sk.startswith(prefix)
        )


@dataclass
class FakeJob:
    name: str
    tags: dict[str, str]
    status: str = "InProgress"
    secondary: str = "Training"
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = 1
    start: float = 0.0
    end: float | None = None
    max_runtime_s: float = 86400.0
    failure_reason: str | None = None
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/training"
    # more of DescribeTrainingJob's answer (a created job keeps its request's fields here)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{self.name}"


def describe_job(fake: FakeJob) -> dict[str, Any]:
    """DescribeTrainingJob's answer for ``fake`` (epoch-second timestamps)."""
    out: dict[str, Any] = {
        "AlgorithmSpecification": {"TrainingImage": "train:latest", "TrainingInputMode": "File"},
        "RoleArn": fake.role_arn,
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        **copy.deepcopy(fake.extra),
        "TrainingJobName": fake.name,
        "TrainingJobArn": fake.arn,
        "TrainingJobStatus": fake.status,
        "SecondaryStatus": fake.secondary,
        "ResourceConfig": {
            "InstanceType": fake.instance_type,
            "InstanceCount": fake.instance_count,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": fake.max_runtime_s},
        "CreationTime": fake.start,
        "TrainingStartTime": fake.start,
    }
    if fake.end is not None:
        out["TrainingEndTime"] = fake.end
    if fake.failure_reason:
        out["FailureReason"] = fake.failure_reason
    return out


class FakeTrainingJobs(FaultInjector):
    """SageMaker's training jobs: ``stop`` moves an InProgress job to Stopped (and is
    idempotent, like the adapter: ``"already ending"`` for an ended job)."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, FakeJob] = {}
        self.stopped: list[str] = []
        self.created: list[dict[str, Any]] = []  # every CreateTrainingJob request that won
        self.clock: Callable[[], float] = lambda: 0.0  # a created job's CreationTime

    def add(self, job: FakeJob) -> FakeJob:
        self.jobs[job.name] = job
        return job

    def stop(self, job: str) -> str:
        self._call("stop")
        fake = self.jobs.get(job)
        if fake is None:
            raise JobNotFoundError(job)
        if fake.status != "InProgress":
            return "already ending"
        fake.status, fake.secondary = "Stopped", "Stopped"
        self.stopped.append(job)
        return "stopped"

    def create(self, request: Mapping[str, Any]) -> str:
        """A new InProgress job from the request (``"exists"`` for a name in use, like
        SageMaker's ResourceInUse)."""
        self._call("create")
        name = str(request["TrainingJobName"])
        if name in self.jobs:
            return "exists"
        self.created.append(copy.deepcopy(dict(request)))
        resources = request.get("ResourceConfig", {})
        extra = {k: copy.deepcopy(v) for k, v in request.items()
                 if k not in ("TrainingJobName", "Tags", "RoleArn")}  # fmt: skip
        self.add(FakeJob(
            name,
            {t["Key"]: t["Value"] for t in request.get("Tags", [])},
            instance_type=resources.get("InstanceType", "ml.g5.xlarge"),
            instance_count=int(resources.get("InstanceCount", 1)),
            start=self.clock(),
            role_arn=str(request["RoleArn"]),
            extra=extra,
        ))  # fmt: skip
        return "created"

    def list_in_progress(self) -> list[JobSummary]:
        self._call("list_in_progress")
        running = [j for j in self.jobs.values() if j.status == "InProgress"]
        return [JobSummary(j.name, j.arn, j.status, epoch_ms(j.start)) for j in running]

    def describe(self, job: str) -> dict[str, Any]:
        self._call("describe")
        fake = self.jobs.get(job)
        if fake is None:
            raise JobNotFoundError(job)
        return describe_job(fake)

    def tags(self, arn: str) -> dict[str, str]:
        self._call("tags")
        for job in self.jobs.values():
            if job.arn == arn:
                return dict(job.tags)
        raise JobNotFoundError(arn)


class FakeMetrics(FaultInjector):
    """CloudWatch metric data: ``put`` datapoints, ``get_series`` aggregates them per period
    (Average, Sum, Minimum, Maximum, SampleCount) into buckets aligned on the period, like
    GetMetricData. Non-finite values are refused, as CloudWatch refuses them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = (
            defaultdict(list)
        )
        self.requests: list[list[MetricQuery]] = []  # one entry per get_series call

    def put(self, metric: str, dimensions: dict[str, str], ts: float, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError("CloudWatch does not store NaN or infinity")
        self.data[(metric, tuple(sorted(dimensions.items())))].append((ts, value))

    def get_series(
        self, queries: Sequence[MetricQuery], start: float, end: float, period: int = 60
    ) -> dict[str, list[tuple[float, float]]]:
        self._call("get_series")
        self.requests.append(list(queries))
        out = {}
        for q in queries:
            p = q.period or period
            buckets: dict[float, list[float]] = defaultdict(list)
            for ts, v in self.data.get((q.metric, tuple(sorted(q.dimensions))), []):
                if start <= ts < end:
                    buckets[math.floor(ts / p) * p].append(v)
            out[q.id] = [(b, _stat(q.stat, vs)) for b, vs in sorted(buckets.items())]
        return out


def _stat(stat: str, values: list[float]) -> float:
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return sum(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    return sum(values) / len(values)


class FakeAlarms(FaultInjector):
    def __init__(self) -> None:
        super().__init__()
        self.alarms: dict[str, dict[str, Any]] = {}

    def put_gpu_idle_alarm(
        self,
        job: str,
        host_index: int,
        gpus: int,
        threshold_pct: float,
        window_minutes: float,
        action_arn: str | None,
    ) -> str:
        self._call("put_gpu_idle_alarm")
        name = f"trainguard-gpu-idle-{job}-algo-{host_index}"
        self.alarms[name] = {
            "host": f"{job}/algo-{host_index}",
            "gpus": gpus,
            "threshold": threshold_pct,
            "window": window_minutes,
            "action": action_arn,
        }
        return name

    def delete_alarms(self, names: Iterable[str]) -> int:
        self._call("delete_alarms")
        batch = list(dict.fromkeys(names))
        for name in batch:
            self.alarms.pop(name, None)
        return len(batch)

    def alarm_names(self, prefix: str) -> list[str]:
        self._call("alarm_names")
        return sorted(n for n in self.alarms if n.startswith(prefix))


@dataclass
class Email:
    subject: str
    body: str


class FakeNotifier(FaultInjector):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Email] = []

    def publish(self, subject: str, body: str) -> str:
        self._call("publish")
        self.sent.append(Email(subject, body))
        return f"msg-{len(self.sent)}"

    def send(self, message: Message) -> str:
        """As SNS: the email is the message's text (a fault on ``publish`` fails it)."""
        return self.publish(message.subject, email_text(message))

    def take(self) -> list[Email]:
        """The emails sent since the last take."""
        out, self.sent = self.sent, []
        return out


class FakeControls(FaultInjector):
    """The runtime controls' items (name -> JSON value), as the table holds them; ``set``
    writes one as ``trainguard pause | resume | mode`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        self._call("read")
        return dict(self.items)

    def set(self, name: str = "GLOBAL", **value: Any) -> None:
        self.items[name] = json.dumps(value)


def median_policy(**kwargs: Any) -> Policy:
    """A policy (``Policy(**kwargs)``) that decides by the median rule instead of the default
    catch-up rule: the stop most trust and fault tests use, since a job worse than the median
    of three references is stopped at its first report, with no streak to build."""
    policy = Policy(**kwargs)
    return replace(
        policy,
        median=replace(policy.median, enabled=True),
        catchup=replace(policy.catchup, enabled=False),
    )


@dataclass
class FakeShardQueue:
    """The shard queue: the messages sent, in order; ``fail`` makes :meth:`send` raise."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("SendMessageBatch failed (injected)")
        self.messages += [json.loads(json.dumps(m)) for m in messages]  # as SQS carries them

    def take(self) -> list[dict[str, Any]]:
        out, self.messages = self.messages, []
        return out


@dataclass
class Fakes:
    """A whole account in memory, and the dependencies over it (deciding by the median rule
    unless a test gives its policy: :func:`median_policy`)."""

    policy: Policy = field(default_factory=median_policy)
    now: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    store: InMemoryStore = field(default_factory=InMemoryStore)
    training_jobs: FakeTrainingJobs = field(default_factory=FakeTrainingJobs)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    alarms: FakeAlarms = field(default_factory=FakeAlarms)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    controls: FakeControls = field(default_factory=FakeControls)

    def __post_init__(self) -> None:
        self.training_jobs.clock = lambda: self.now

    def deps(self, policy: Policy | None = None) -> Dependencies:
        return Dependencies(
            store=self.store,
            outbox=self.store,
            training_jobs=self.training_jobs,
            metrics=self.metrics,
            alarms=self.alarms,
            notifier=self.notifier,
            policy=policy or self.policy,
            region=REGION,
            alert_function_arn=ALERT_ARN,
            clock=lambda: self.now,
            controls=self.controls,
        )

    def advance(self, minutes: float) -> float:
        self.now += minutes * 60.0
        return self.now


def state_change(job: FakeJob, *, tags: bool = True, time: float | None = None) -> dict[str, Any]:
    """The "SageMaker Training Job State Change" event of ``job`` as it is now (epoch-ms
    timestamps as strings, tags as a map), as EventBridge delivers it."""
    detail = describe_job(job)
    for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime"):
        if key in detail:
            detail[key] = str(int(detail[key] * 1000))
    if tags:
        detail["Tags"] = dict(job.tags)
    event: dict[str, Any] = {
        "version": "0",
        "id": f"{job.name}-{job.status}",
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "region": REGION,
        "resources": [job.arn],
        "detail": detail,
    }
    if time is not None:
        event["time"] = iso(time)
    return event


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
