"""DynamoDB: the :class:`~trainguard.ports.JobStore` on one table (docs/runtime-design.md) for
jobs, events seen, action markers, the decision audit, alert episodes, completed curves and the
groups' reference statistics.

Every write that must happen once is conditional (:func:`_applied`), so duplicated events and
concurrent ticks are no-ops. Curves and reference tables are stored as zlib-compressed JSON
(binary).
"""

from __future__ import annotations

import json
import math
import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..constants import (
    AUDIT_AT_ATTR,
    AUDIT_DAY_ATTR,
    AUDIT_INDEX,
    GROUP_POLICY_SK,
    RUNNING_ATTR,
    RUNNING_INDEX,
    RUNNING_VALUE,
    TTL_ATTR,
)
from ..core.catchup import CatchUpModel
from ..core.curves import Point
from ..core.median import ReferenceTable
from ..core.progress import Progress
from ..models import GroupPolicy, GroupStats, JobRecord, ReferenceSet, RunId
from ..observability import logger
from .aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SER = TypeSerializer()
_DES = TypeDeserializer()
BATCH_GET_LIMIT = 100  # keys per BatchGetItem
BATCH_ATTEMPTS = 8  # BatchGetItem rounds for unprocessed keys before giving up
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0
SAVE_THREADS = 16  # concurrent UpdateItems when a tick saves progress (clients are thread-safe)


class StoreError(RuntimeError):
    """The table could not do what was asked (e.g. keys left unprocessed after the retries)."""


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def unpack(raw: Any) -> Any:
    data = getattr(raw, "value", raw)
    return json.loads(zlib.decompress(bytes(data)).decode("utf-8"))


def _to_ddb_value(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_ddb_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_ddb_value(v) for v in value]
    return value


def _from_ddb_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb_value(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(_to_ddb_value(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_ddb_value(_DES.deserialize(v)) for k, v in item.items()}


def job_pk(job: str) -> str:
    return f"JOB#{job}"


def run_sk(run: RunId, suffix: str = "") -> str:
    """``RUN#<created_ms, 13 digits>`` and the run's own items below it: one partition holds
    every run of a name, the newest sorting last."""
    return f"RUN#{run.created_ms:013d}{suffix}"


def audit_day(iso_time: str) -> str:
    """The UTC day of an audit record's ISO-8601 time (the ``audit`` index partition)."""
    return iso_time[:10]


def group_pk(group: str) -> str:
    return f"GROUP#{group}"


OPEN_PK = "OPEN"  # claimed actions not finished yet, one item each (deleted when done)
OUTBOX_PK = "OUTBOX"  # emails written, not yet sent
MAIL_PK = "MAIL"  # one marker per email ever written: its deduplication key
MAIL_TTL_S = 90 * 86400.0
DEAD_LETTER_PK = "OUTBOX#DEAD"  # emails that could not be sent after every retry


def open_sk(run: RunId, action: str) -> str:
    return f"{run.name}#{run.created_ms:013d}#{action}"


def _applied(write: Callable[[], object]) -> bool:
    """Run a conditional write: True if it applied, False if its condition did not hold (the
    work was already done, or the item is gone). Any other error propagates. A transaction
    whose only cancellation reason is a failed condition counts as not applied."""
    try:
        write()
    except ClientError as exc:
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            return False
        if code == "TransactionCanceledException":
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            if reasons <= {"ConditionalCheckFailed", "None", None}:
                return False
        raise
    return True


_JOB_FIELDS = set(JobRecord.__dataclass_fields__)


class Store:
    """The :class:`~trainguard.ports.JobStore` on DynamoDB."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._sleep = sleep

    def _key(self, run: RunId, suffix: str = "") -> dict[str, Any]:
        return serialize({"pk": job_pk(run.name), "sk": run_sk(run, suffix)})

    def _update_meta(self, run: RunId, expression: str, **kwargs: Any) -> bool:
        """A conditional UpdateItem of the run's item; False if the condition did not hold."""
        return _applied(
            lambda: self._client.update_item(
                TableName=self._table, Key=self._key(run), UpdateExpression=expression, **kwargs
            )
        )

    def _put_once(self, item: Mapping[str, Any]) -> bool:
        """Put ``item`` unless its key exists: True if written."""
        return _applied(
            lambda: self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    # ---- jobs ------------------------------------------------------------------------------
    def register_job(self, job: JobRecord) -> bool:
        """Write a new job item; False if the job is already known (nothing written)."""
        item = asdict(job)
        item.pop("actions")  # added by claim_action (DynamoDB has no empty sets)
        item.pop("alarms")  # added by add_alarms
        item.pop("progress")  # written by the evaluator (save_progress)
        item.update(pk=job_pk(job.name), sk=run_sk(job.run))
        if job.running:
            item[RUNNING_ATTR] = RUNNING_VALUE
        return self._put_once(item)

    def get_job(self, run: RunId) -> JobRecord | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(run), ConsistentRead=True
        )
        item = response.get("Item")
        return _job_from_item(deserialize(item)) if item else None

    def latest_run(self, name: str) -> JobRecord | None:
        """The newest run of a job name (one Query: the runs' keys sort by CreationTime)."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=serialize({":pk": job_pk(name), ":p": "RUN#"}),
            ScanIndexForward=False,
            Limit=1,
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return None
        created_ms = int(str(deserialize(items[0])["sk"])[4:17])
        return self.get_job(RunId(name, created_ms))

    def update_start_time(self, run: RunId, start_time: float) -> None:
        """Replace a provisional start time (CreationTime) by TrainingStartTime, once."""
        self._update_meta(
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
        return self._update_meta(
            run,
            f"SET {', '.join(sets)} REMOVE {RUNNING_ATTR}",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=serialize(values),
        )

    def set_episode(self, run: RunId, key: str, opened_at: float | None) -> None:
        """Open (at ``opened_at``) or close (None) a health episode on the run's item."""
        if opened_at is None:
            self._update_meta(
                run,
                "REMOVE episodes.#k",
                ConditionExpression="attribute_exists(episodes)",
                ExpressionAttributeNames={"#k": key},
            )
        elif not self._update_meta(
            run,
            "SET episodes.#k = :t",
            ConditionExpression="attribute_exists(episodes)",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues=serialize({":t": opened_at}),
        ):  # a run registered before runs had the map
            self._update_meta(
                run,
                "SET episodes = :m",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(episodes)",
                ExpressionAttributeValues=serialize({":m": {key: opened_at}}),
            )

    def add_alarms(self, run: RunId, names: Sequence[str]) -> None:
        """Record the GPU-idle alarms created for the run (a set on its item)."""
        self._update_meta(
            run,
            "ADD alarms :a",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":a": {"SS": list(names)}},
        )

    def running_jobs(self) -> list[JobRecord]:
        """Every job in the sparse ``running`` index."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=RUNNING_INDEX,
            KeyConditionExpression=f"{RUNNING_ATTR} = :r",
            ExpressionAttributeValues=serialize({":r": RUNNING_VALUE}),
        )
        return [_job_from_item(deserialize(i)) for page in pages for i in page.get("Items", [])]

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
            self._update_meta(
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

    def get_jobs(self, runs: Sequence[RunId]) -> list[JobRecord]:
        """The runs' items that exist (BatchGetItem, 100 keys a call, consistent reads;
        unprocessed keys retried with back-off)."""
        keys = [{"pk": job_pk(r.name), "sk": run_sk(r)} for r in dict.fromkeys(runs)]
        return [_job_from_item(item) for item in self._batch_get(keys, "shard jobs")]

    # ---- once-only markers -------------------------------------------------------------
    def event_seen(self, run: RunId, key: str) -> bool:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(run, f"#EVENT#{key}"), ConsistentRead=True
        )
        return "Item" in response

    def mark_event(self, run: RunId, key: str, now: float) -> bool:
        return self._put_once(
            {"pk": job_pk(run.name), "sk": run_sk(run, f"#EVENT#{key}"), "at": now}
        )

    # ---- actions: claimed once, finished or resumed -------------------------------------
    def claim_action(self, run: RunId, action: str, now: float, details: Mapping[str, Any]) -> bool:
        """Claim ``ACTION#<rule>#<kind>`` for the run: True for the one caller that wins it.
        In one transaction the claim is written, listed under ``OPEN`` (so that a claim whose
        invocation died is resumed by the next tick) and mirrored on the run's item
        (``JobRecord.actions``, so a tick skips it without a write)."""
        claim = {
            "pk": job_pk(run.name),
            "sk": run_sk(run, f"#ACTION#{action}"),
            "at": now,
            "state": "claimed",
            "attempts": 0,
            "details": dict(details),
        }
        opened = {"pk": OPEN_PK, "sk": open_sk(run, action), "job": run.name,
                  "created_ms": run.created_ms, "action": action, "at": now}  # fmt: skip
        return _applied(
            lambda: self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(claim),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": serialize(opened)}},
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(run),
                            "UpdateExpression": "ADD actions :a",
                            "ConditionExpression": "attribute_exists(pk)",  # a registered run
                            "ExpressionAttributeValues": {":a": {"SS": [action]}},
                        }
                    },
                ]
            )
        )

    def get_action(self, run: RunId, action: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(run, f"#ACTION#{action}"), ConsistentRead=True
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def update_action(self, run: RunId, action: str, **fields: Any) -> None:
        """Record how far an open action got (its state, attempts, outcome, retry time)."""
        names = {f"#{k}": k for k in fields}
        self._client.update_item(
            TableName=self._table,
            Key=self._key(run, f"#ACTION#{action}"),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize({f":{k}": v for k, v in fields.items()}),
        )

    def finish_action(self, run: RunId, action: str, **fields: Any) -> None:
        """The action is done: its final fields, and off the ``OPEN`` list (one transaction)."""
        fields = {"state": "done", **fields}
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(run, f"#ACTION#{action}"),
                        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                        "ExpressionAttributeNames": {f"#{k}": k for k in fields},
                        "ExpressionAttributeValues": serialize(
                            {f":{k}": v for k, v in fields.items()}
                        ),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": serialize({"pk": OPEN_PK, "sk": open_sk(run, action)}),
                    }
                },
            ]
        )

    def open_actions(self) -> list[tuple[RunId, str]]:
        """Every claimed action not finished yet (its invocation died, or it waits to retry)."""
        return [
            (RunId(str(i["job"]), int(i["created_ms"])), str(i["action"]))
            for i in self._query_prefix(OPEN_PK, "")
        ]

    # ---- the outbox: every email is written before it is sent -----------------------------
    def enqueue(
        self,
        key: str,
        subject: str,
        body: str,
        now: float,
        lease_s: float,
        message: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write one email under its deduplication ``key`` (the run, rule and kind), leased to
        the caller for ``lease_s`` so that it is the one that sends it; False if that email
        was already written (it is never written twice). Two items in one transaction: the
        key's marker (``MAIL``, kept ``MAIL_TTL_DAYS``) and the message (``OUTBOX``, deleted
        once sent)."""
        marker = {"pk": MAIL_PK, "sk": key, "at": now, TTL_ATTR: int(now + MAIL_TTL_S)}
        item = {"pk": OUTBOX_PK, "sk": key, "subject": subject, "body": body, "at": now,
                "attempts": 0, "lease_until": now + lease_s, "message": message}  # fmt: skip
        return _applied(
            lambda: self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(marker),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": serialize(item)}},
                ]
            )
        )

    def pending_emails(self, now: float) -> list[dict[str, Any]]:
        """The emails not sent yet whose lease has run out (their sender failed or died)."""
        return [i for i in self._query_prefix(OUTBOX_PK, "") if float(i["lease_until"]) <= now]

    def lease_email(self, key: str, now: float, lease_s: float) -> bool:
        """Take the email for sending, unless someone holds its lease."""
        return _applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=serialize({"pk": OUTBOX_PK, "sk": key}),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_exists(pk) AND lease_until <= :now",
                ExpressionAttributeValues=serialize({":until": now + lease_s, ":now": now}),
            )
        )

    def sent(self, key: str, now: float) -> None:
        """The email went out: off the outbox."""
        self._client.delete_item(TableName=self._table, Key=serialize({"pk": OUTBOX_PK, "sk": key}))

    def send_failed(self, key: str, attempts: int, retry_at: float, dead: bool) -> None:
        """A failed send: retried from ``retry_at``, or moved to the dead letters."""
        if dead:
            item = self._client.get_item(
                TableName=self._table,
                Key=serialize({"pk": OUTBOX_PK, "sk": key}),
                ConsistentRead=True,
            ).get("Item")
            if item is not None:
                dead_item = {**deserialize(item), "pk": DEAD_LETTER_PK, "attempts": attempts}
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self._table, "Item": serialize(dead_item)}},
                        {
                            "Delete": {
                                "TableName": self._table,
                                "Key": serialize({"pk": OUTBOX_PK, "sk": key}),
                            }
                        },
                    ]
                )
            return
        self._client.update_item(
            TableName=self._table,
            Key=serialize({"pk": OUTBOX_PK, "sk": key}),
            UpdateExpression="SET attempts = :n, lease_until = :t",
            ExpressionAttributeValues=serialize({":n": attempts, ":t": retry_at}),
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        return self._query_prefix(DEAD_LETTER_PK, "")

    # ---- audit -----------------------------------------------------------------------------
    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Mapping[str, Any], ttl: int
    ) -> None:
        """One audit record, also in the sparse ``audit`` index under its UTC day (so that a
        week is read as seven Queries, :meth:`decisions_on_day`)."""
        item = dict(record)
        item.update(pk=job_pk(run.name), sk=run_sk(run, f"#DECISION#{iso_time}#{rule}"))
        item[TTL_ATTR] = ttl
        item[AUDIT_DAY_ATTR], item[AUDIT_AT_ATTR] = audit_day(iso_time), iso_time
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def decisions(self, run: RunId) -> list[dict[str, Any]]:
        return self._query_prefix(job_pk(run.name), run_sk(run, "#DECISION#"))

    def decisions_on_day(self, day: str) -> list[tuple[RunId, dict[str, Any]]]:
        """Every audit record of one UTC day (``YYYY-MM-DD``), oldest first, with its run: one
        Query of the ``audit`` index partition (paged)."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=AUDIT_INDEX,
            KeyConditionExpression=f"{AUDIT_DAY_ATTR} = :d",
            ExpressionAttributeValues=serialize({":d": day}),
        )
        out = []
        for page in pages:
            for raw in page.get("Items", []):
                item = deserialize(raw)
                run = RunId(str(item.pop("pk")).removeprefix("JOB#"),
                            int(str(item.pop("sk"))[4:17]))  # fmt: skip
                out.append((run, item))
        return out

    def batch_get_jobs(self, runs: Iterable[RunId]) -> dict[RunId, JobRecord]:
        """The runs' items (BatchGetItem, 100 keys a call); unknown runs are left out."""
        keys = [dict(pk=job_pk(r.name), sk=run_sk(r)) for r in sorted(set(runs))]
        jobs = (_job_from_item(item) for item in self._batch_get(keys, "job items"))
        return {job.run: job for job in jobs}

    def episodes(self, run: RunId) -> dict[str, dict[str, Any]]:
        """The run's GPU-idle episodes by host (state, opened_at, closed_at): one Query."""
        prefix = run_sk(run, "#EPISODE#")
        return {
            str(item["sk"])[len(prefix) :]: item
            for item in self._query_prefix(job_pk(run.name), prefix)
        }

    # ---- alert episodes ----------------------------------------------------------------
    def open_episode(self, run: RunId, host: str, now: float) -> bool:
        """Open ``EPISODE#<host>`` unless already open; True for the transition (one email)."""
        opened = _applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=self._key(run, f"#EPISODE#{host}"),
                UpdateExpression="SET #st = :open, opened_at = :t REMOVE closed_at",
                ConditionExpression="attribute_not_exists(pk) OR #st <> :open",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=serialize({":open": "open", ":t": now}),
            )
        )
        if opened:
            self._set_idle_host(run, host, now)
        return opened

    def episode(self, run: RunId, host: str) -> dict[str, Any] | None:
        """The host's episode item (state, opened_at, closed_at), if there is one."""
        response = self._client.get_item(
            TableName=self._table, Key=self._key(run, f"#EPISODE#{host}"), ConsistentRead=True
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def close_episode(self, run: RunId, host: str, now: float) -> float | None:
        """Close an open episode; its opening time for the transition, None if none was open."""
        old: dict[str, Any] = {}

        def close() -> None:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(run, f"#EPISODE#{host}"),
                UpdateExpression="SET #st = :closed, closed_at = :t",
                ConditionExpression="#st = :open",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=serialize(
                    {":open": "open", ":closed": "closed", ":t": now}
                ),
                ReturnValues="ALL_OLD",
            )
            old.update(deserialize(response.get("Attributes", {})))

        if not _applied(close):
            return None
        self._set_idle_host(run, host, None)
        return float(old.get("opened_at", now))

    def _set_idle_host(self, run: RunId, host: str, opened_at: float | None) -> None:
        """Mirror open episodes on the run's item (the tick reads it from the running index)."""
        if opened_at is None:
            self._update_meta(
                run,
                "REMOVE idle_hosts.#h",
                ConditionExpression="attribute_exists(idle_hosts)",
                ExpressionAttributeNames={"#h": host},
            )
        else:
            self._update_meta(
                run,
                "SET idle_hosts.#h = :t",
                ConditionExpression="attribute_exists(idle_hosts)",
                ExpressionAttributeNames={"#h": host},
                ExpressionAttributeValues=serialize({":t": opened_at}),
            )

    # ---- reference sets: completed curves and statistics --------------------------------
    def put_curve(
        self, refs: ReferenceSet, job: str, curve: Sequence[Point], duration_min: float
    ) -> None:
        """A completed job's curve (at most ``MAX_CURVE_POINTS`` points: see
        :func:`~trainguard.core.series.downsample`) under its reference set."""
        self._client.put_item(
            TableName=self._table,
            Item=serialize(
                {
                    "pk": group_pk(refs.group),
                    "sk": f"CURVE#{refs.key}#{job}",
                    "job": job,
                    "points": len(curve),
                    "duration_min": duration_min,
                    "curve_z": pack([[s, v] for s, v in curve]),
                }
            ),
        )

    def get_curves(
        self, refs: ReferenceSet, jobs: Sequence[str]
    ) -> dict[str, tuple[list[Point], float]]:
        """The curves of ``jobs`` in the reference set: job -> (curve, duration in minutes)."""
        keys = [{"pk": group_pk(refs.group), "sk": f"CURVE#{refs.key}#{j}"} for j in jobs]
        out = {}
        for item in self._batch_get(keys, "completed curves"):
            curve = [(float(s), float(v)) for s, v in unpack(item["curve_z"])]
            out[str(item["job"])] = (curve, float(item.get("duration_min", 0.0)))
        return out

    def put_stats(self, stats: GroupStats, expected_version: int | None) -> bool:
        """Write the reference set's statistics if nobody wrote them since version
        ``expected_version`` was read (None: they did not exist); False otherwise (the
        caller reads them again and retries)."""
        kwargs: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version is not None:
            kwargs = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": serialize({":v": expected_version}),
            }
        item = serialize(
            {
                "pk": group_pk(stats.refs.group),
                "sk": f"STATS#{stats.refs.key}",
                "group": stats.refs.group,
                "objective": stats.refs.objective,
                "direction": stats.refs.direction,
                "references": stats.references,
                "completed": stats.completed,
                "version": stats.version,
                "median_duration_min": stats.median_duration_min,
                "tables": sorted(stats.tables),
                "window_z": pack(
                    {
                        "jobs": list(stats.window),
                        "durations": list(stats.durations),
                        "throughput": list(stats.throughput),
                        "instances": list(stats.instances),
                    }
                ),
                "tables_z": pack({k: t.to_dict() for k, t in sorted(stats.tables.items())}),
                **({"catchup_z": pack(stats.catchup.to_dict())} if stats.catchup else {}),
            }
        )
        return _applied(lambda: self._client.put_item(TableName=self._table, Item=item, **kwargs))

    def get_stats(self, refs: ReferenceSet) -> GroupStats | None:
        return self.batch_get_stats([refs]).get(refs)

    def batch_get_stats(self, sets: Iterable[ReferenceSet]) -> dict[ReferenceSet, GroupStats]:
        """The reference sets' STATS items (BatchGetItem, 100 keys a call)."""
        wanted = sorted(set(sets))
        keys = [{"pk": group_pk(r.group), "sk": f"STATS#{r.key}"} for r in wanted]
        out = {}
        for item in self._batch_get(keys, "group statistics"):
            stats = _stats_from_item(item)
            out[stats.refs] = stats
        return out

    def batch_get_group_state(
        self, sets: Iterable[ReferenceSet]
    ) -> tuple[dict[ReferenceSet, GroupStats], dict[str, GroupPolicy]]:
        """The reference sets' STATS items and their groups' POLICY items (written by
        ``trainguard calibrate --apply``), in one BatchGetItem (100 keys a call)."""
        wanted = sorted(set(sets))
        groups = sorted({r.group for r in wanted})
        keys = [{"pk": group_pk(r.group), "sk": f"STATS#{r.key}"} for r in wanted]
        keys += [{"pk": group_pk(g), "sk": GROUP_POLICY_SK} for g in groups]
        stats: dict[ReferenceSet, GroupStats] = {}
        policies: dict[str, GroupPolicy] = {}
        for item in self._batch_get(keys, "group statistics and policies"):
            if item.get("sk") == GROUP_POLICY_SK:
                group = str(item["pk"]).removeprefix("GROUP#")
                settings = item.get("settings") or {}
                policies[group] = GroupPolicy(
                    group,
                    {str(s): dict(v) for s, v in settings.items()},
                    str(item.get("applied_by", "")),
                    str(item.get("applied_at", "")),
                )
            else:
                s = _stats_from_item(item)
                stats[s.refs] = s
        return stats, policies

    def _batch_get(self, keys: Sequence[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
        """BatchGetItem of ``keys`` in calls of 100. Unprocessed keys (the table throttled
        part of a batch) are asked again with exponential back-off and full jitter; keys
        still unprocessed after ``BATCH_ATTEMPTS`` rounds raise :class:`StoreError` rather
        than being dropped (a tick without a group's statistics would silently judge nothing
        in it)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(keys), BATCH_GET_LIMIT):
            chunk = [serialize(k) for k in keys[i : i + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
                response = self._client.batch_get_item(RequestItems=request)
                out.extend(
                    deserialize(raw) for raw in response.get("Responses", {}).get(self._table, [])
                )
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                left = len(request.get(self._table, {}).get("Keys", []))
                raise StoreError(
                    f"BatchGetItem left {left} {what} unprocessed after {BATCH_ATTEMPTS} attempts"
                )
        return out

    # ---- helpers -----------------------------------------------------------------------
    def _query_prefix(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of partition ``pk`` whose sort key starts with ``prefix`` (all: "")."""
        condition, values = "pk = :pk", {":pk": pk}
        if prefix:
            condition, values = f"{condition} AND begins_with(sk, :p)", {**values, ":p": prefix}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=serialize(values),
        )
        return [deserialize(i) for page in pages for i in page.get("Items", [])]


def _job_from_item(item: Mapping[str, Any]) -> JobRecord:
    fields = {k: v for k, v in item.items() if k in _JOB_FIELDS}
    fields["created_ms"] = int(fields.get("created_ms") or 0)
    for key in ("start_time", "max_runtime_s", "end_time"):
        if fields.get(key) is not None:
            fields[key] = float(fields[key])
    fields["tags"] = {str(k): str(v) for k, v in (fields.get("tags") or {}).items()}
    fields["idle_hosts"] = {str(k): float(v) for k, v in (fields.get("idle_hosts") or {}).items()}
    fields["episodes"] = {str(k): float(v) for k, v in (fields.get("episodes") or {}).items()}
    fields["actions"] = frozenset(str(a) for a in fields.get("actions") or ())
    fields["alarms"] = frozenset(str(a) for a in fields.get("alarms") or ())
    fields["progress"] = _progress(fields.get("progress"), str(item.get("name", "")))
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


def _stats_from_item(item: Mapping[str, Any]) -> GroupStats:
    tables = {k: ReferenceTable.from_dict(t) for k, t in unpack(item["tables_z"]).items()}
    window = unpack(item["window_z"]) if "window_z" in item else {}
    duration = item.get("median_duration_min")
    return GroupStats(
        refs=ReferenceSet(str(item["group"]), str(item["objective"]), str(item["direction"])),
        tables=tables,
        median_duration_min=None if duration is None else float(duration),
        references=int(item.get("references", 0)),
        window=tuple(str(j) for j in window.get("jobs", ())),
        durations=tuple(float(d) for d in window.get("durations", ())),
        completed=int(item.get("completed", 0)),
        version=int(item.get("version", 0)),
        throughput=tuple(None if t is None else float(t) for t in window.get("throughput", ())),
        instances=tuple(int(n) for n in window.get("instances", ())),
        catchup=CatchUpModel.from_dict(unpack(item["catchup_z"])) if "catchup_z" in item else None,
    )
