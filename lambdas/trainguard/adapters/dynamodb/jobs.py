"""The job items: :class:`DynamoDBJobs` (a run's life, as the lifecycle writes it) and
:class:`DynamoDBRunningJobs` (the running index, and the tick's writes on a running job)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from ...config import Mode
from ...core.curves import Direction
from ...core.instances import InstanceGroup
from ...core.progress import Progress
from ...models import JobRecord, JobStatus, RunId
from ...observability import logger
from .keys import (
    RUN_PREFIX,
    RUNNING_ATTR,
    RUNNING_INDEX,
    RUNNING_VALUE,
    deserialize,
    job_pk,
    run_key,
    run_of,
    run_sk,
    serialize,
)
from .table import TableAdapter

SAVE_THREADS = 16  # concurrent UpdateItems when a tick saves progress (clients are thread-safe)

_JOB_FIELDS = set(JobRecord.__dataclass_fields__)
# what the planner, the reconcile and the live tags read of a running job (``running_runs``):
# its identity, its reference set, its status, instances and tags (compared with what ListTags
# says); not its progress, episodes, idle hosts, alarms and actions, the bulk of its item
PLANNED_ATTRIBUTES = (
    "pk",
    "sk",
    "name",
    "created_ms",
    "arn",
    "status",
    "tags",
    "opted_in",
    "group",
    "objective",
    "direction",
    "mode",
    "config_error",
    "instance_type",
    "instance_count",
    "instance_groups",
)


class DynamoDBJobs(TableAdapter):
    """The :class:`~trainguard.ports.Jobs` on the state table."""

    def register_job(self, job: JobRecord) -> bool:
        """Write a new job item; False if the job is already known (nothing written)."""
        item = asdict(job)
        item.pop("actions")  # added by claim_action (DynamoDB has no empty sets)
        item.pop("alarms")  # added by add_alarms
        item.pop("progress")  # written by the evaluator (save_progress)
        if not job.instance_groups:  # a homogeneous cluster's item keeps its shape
            item.pop("instance_groups")
        item.update(pk=job_pk(job.name), sk=run_sk(job.run))
        if job.running:
            item[RUNNING_ATTR] = RUNNING_VALUE
        return self._put_once(item)

    def get_job(self, run: RunId) -> JobRecord | None:
        item = self._get(run_key(run))
        return job_from_item(item) if item else None

    def latest_run(self, name: str) -> JobRecord | None:
        """The newest run of a job name (one Query: the runs' keys sort by CreationTime)."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=serialize({":pk": job_pk(name), ":p": RUN_PREFIX}),
            ScanIndexForward=False,
            Limit=1,
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return None
        return self.get_job(run_of(job_pk(name), str(deserialize(items[0])["sk"])))

    def update_start_time(self, run: RunId, start_time: float) -> None:
        """Replace a provisional start time (CreationTime) by TrainingStartTime, once."""
        self._update_run(
            run,
            "SET start_time = :t, start_exact = :true",
            ConditionExpression="attribute_exists(pk) AND start_exact = :false",
            ExpressionAttributeValues=serialize({":t": start_time, ":true": True, ":false": False}),
        )

    def finalize_job(
        self, run: RunId, status: str, end_time: float | None, failure_reason: str | None
    ) -> bool:
        """Mark the job ended and take it out of the running index; False if unknown."""
        values: dict[str, Any] = {":s": status}
        sets = ["#st = :s"]
        if end_time is not None:
            sets.append("end_time = :e")
            values[":e"] = end_time
        if failure_reason:
            sets.append("failure_reason = :r")
            values[":r"] = failure_reason
        return self._update_run(
            run,
            f"SET {', '.join(sets)} REMOVE {RUNNING_ATTR}",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=serialize(values),
        )

    def add_alarms(self, run: RunId, names: Sequence[str]) -> None:
        """Record the GPU-idle alarms created for the run (a set on its item)."""
        self._update_run(
            run,
            "ADD alarms :a",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":a": {"SS": list(names)}},
        )

    def batch_get_jobs(self, runs: Iterable[RunId]) -> dict[RunId, JobRecord]:
        """The runs' items (BatchGetItem, 100 keys a call); unknown runs are left out."""
        keys = [dict(pk=job_pk(r.name), sk=run_sk(r)) for r in sorted(set(runs))]
        jobs = (job_from_item(item) for item in self._batch_get(keys, "job items"))
        return {job.run: job for job in jobs}


class DynamoDBRunningJobs(TableAdapter):
    """The :class:`~trainguard.ports.RunningJobs` on the state table."""

    def running_jobs(self) -> list[JobRecord]:
        """Every job in the sparse ``running`` index."""
        items = self._query_index(RUNNING_INDEX, RUNNING_ATTR, RUNNING_VALUE)
        return [job_from_item(i) for i in items]

    def running_runs(self) -> list[JobRecord]:
        """Every job in the sparse ``running`` index, only what planning reads of it
        (:data:`PLANNED_ATTRIBUTES`, a ``ProjectionExpression``: the index is read as before,
        a fraction is returned and parsed)."""
        items = self._query_index(
            RUNNING_INDEX, RUNNING_ATTR, RUNNING_VALUE, projection=PLANNED_ATTRIBUTES
        )
        return [job_from_item(i) for i in items]

    def get_jobs(self, runs: Sequence[RunId]) -> list[JobRecord]:
        """The runs' items that exist (BatchGetItem, 100 keys a call, consistent reads;
        unprocessed keys retried with back-off)."""
        keys = [{"pk": job_pk(r.name), "sk": run_sk(r)} for r in dict.fromkeys(runs)]
        return [job_from_item(item) for item in self._batch_get(keys, "shard jobs")]

    def save_progress(self, updates: Sequence[tuple[RunId, Progress]]) -> None:
        """Each job's :class:`Progress` on its item. One small UpdateItem per job, a few at a
        time: a tick writes only the jobs whose objective moved (or whose read position is
        getting old). A job that ended meanwhile is skipped, and so is a job whose item holds a
        progress checked at or after this one (a shard delivered twice, or late: the write is
        conditional on the tick time, so it is idempotent and never moves a job back).

        Why not BatchWriteItem: it only puts whole items, and the job's item is shared (the
        lifecycle, the alert function and the claims update other attributes of it
        concurrently); a put of the whole item would undo their writes. UpdateItems in
        parallel (``SAVE_THREADS``) are as fast and touch only ``progress``."""

        def save(update: tuple[RunId, Progress]) -> None:
            run, progress = update
            self._update_run(
                run,
                "SET progress = :p",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(progress) OR progress.checked < :c)",
                ExpressionAttributeValues=serialize(
                    {":p": progress.to_dict(), ":c": progress.checked}
                ),
            )

        if not updates:
            return
        with ThreadPoolExecutor(max_workers=min(SAVE_THREADS, len(updates))) as pool:
            list(pool.map(save, updates))

    def set_episode(self, run: RunId, key: str, opened_at: float | None) -> None:
        """Open (at ``opened_at``) or close (None) a health episode on the run's item."""
        if not self._set_in_map(run, "episodes", key, opened_at) and opened_at is not None:
            # a run registered before runs had the map (or no such run: nothing is created)
            self._update_run(
                run,
                "SET episodes = :m",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(episodes)",
                ExpressionAttributeValues=serialize({":m": {key: opened_at}}),
            )

    def retag(self, job: JobRecord, reset_progress: bool) -> bool:
        """One UpdateItem of the run's tags and what they decide, while it runs (the running
        index's attribute is there); the other attributes (claims, episodes, alarms) are not
        touched. ``reset_progress``: its objective changed, the progress read is another
        metric's."""
        values: dict[str, Any] = {
            ":t": dict(job.tags),
            ":o": job.opted_in,
            ":g": job.group,
            ":d": job.direction,
            ":m": job.mode,
            ":r": RUNNING_VALUE,
        }
        sets = ["tags = :t", "opted_in = :o", "#g = :g", "direction = :d", "#m = :m"]
        removes = ["progress"] if reset_progress else []
        for name, value in (("objective", job.objective), ("config_error", job.config_error)):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        expression = "SET " + ", ".join(sets) + (f" REMOVE {', '.join(removes)}" if removes else "")
        return self._update_run(
            job.run,
            expression,
            ConditionExpression=f"attribute_exists(pk) AND {RUNNING_ATTR} = :r",
            ExpressionAttributeNames={"#g": "group", "#m": "mode"},
            ExpressionAttributeValues=serialize(values),
        )


def job_from_item(item: Mapping[str, Any]) -> JobRecord:
    """The :class:`JobRecord` of a run's item (deserialized)."""
    fields = {k: v for k, v in item.items() if k in _JOB_FIELDS}
    fields["created_ms"] = int(fields.get("created_ms") or 0)
    if "mode" in fields:  # stored as its word
        fields["mode"] = Mode(str(fields["mode"]))
    if "status" in fields:  # stored as its word
        fields["status"] = JobStatus(str(fields["status"]))
    if "direction" in fields:  # stored as its word
        fields["direction"] = Direction(str(fields["direction"]))
    for key in ("start_time", "max_runtime_s", "end_time"):
        if fields.get(key) is not None:
            fields[key] = float(fields[key])
    fields["tags"] = {str(k): str(v) for k, v in (fields.get("tags") or {}).items()}
    fields["idle_hosts"] = {str(k): float(v) for k, v in (fields.get("idle_hosts") or {}).items()}
    fields["episodes"] = {str(k): float(v) for k, v in (fields.get("episodes") or {}).items()}
    fields["actions"] = frozenset(str(a) for a in fields.get("actions") or ())
    fields["alarms"] = frozenset(str(a) for a in fields.get("alarms") or ())
    fields["progress"] = _progress(fields.get("progress"), str(item.get("name", "")))
    fields["instance_groups"] = tuple(
        InstanceGroup.from_dict(g) for g in fields.get("instance_groups") or ()
    )
    return JobRecord(**fields)


def _progress(raw: Any, job: str) -> Progress | None:
    if not raw:
        return None
    try:
        return Progress.from_dict(raw)
    except (KeyError, TypeError, ValueError):
        logger.warning(
            "unreadable progress on the job item: read from the start", extra={"job": job}
        )
        return None
