"""The state table's whole layout (docs/runtime-design.md): every key the adapters write, the
sparse indexes, how values are stored, and the one helper for a write that must happen once.

One table, ``pk`` / ``sk`` (strings):

==========================  =============================================  =================
pk                          sk                                             what
==========================  =============================================  =================
``JOB#<name>``              ``RUN#<created_ms, 13 digits>``                a run's item
``JOB#<name>``              ``RUN#<ms>#EVENT#<key>``                       an event handled
``JOB#<name>``              ``RUN#<ms>#ACTION#<rule>#<kind>``              a claimed action
``JOB#<name>``              ``RUN#<ms>#DECISION#<iso time>#<rule>``        an audit record
                                                                           (before the chain)
``AUDIT#<name>``            ``RUN#<ms>#DECISION#<seq, 8 digits>``          an audit record
                                                                           (chained, append-only)
``JOB#<name>``              ``RUN#<ms>#EPISODE#<host>``                    a GPU-idle episode
``OPEN``                    ``<name>#<ms>#<action>``                       an unfinished claim
``OUTBOX``                  ``<deduplication key>``                        an email not sent
``MAIL``                    ``<deduplication key>``                        an email written
``OUTBOX#DEAD``             ``<deduplication key>``                        an email given up
``GROUP#<group>``           ``CURVE#<objective>#<direction>#<run>``        a completed curve
``GROUP#<group>``           ``STATS#<objective>#<direction>``              group statistics
``GROUP#<group>``           ``POLICY`` (and ``POLICY#<time>``)             calibrate --apply
``CONTROL``                 ``GLOBAL`` / ``GROUP#<group>``                 runtime controls
``CONTROL_HISTORY``         ``<iso time>``                                 who changed them
==========================  =============================================  =================

Two sparse indexes: ``running`` (a run's item while it runs: ``RUNNING_ATTR``) and ``audit``
(audit records by UTC day: ``AUDIT_DAY_ATTR`` / ``AUDIT_AT_ATTR``); their names live in
``trainguard.constants``, which the CDK stack reads too. The runs' keys sort by CreationTime,
so one partition holds every run of a name, the newest last. Curves and reference tables are
zlib-compressed JSON (binary); floats are Decimals, non-finite ones are left out. The
controls' and the group policies' items are written by the operator commands (``trainguard
pause``, ``calibrate --apply``) and read by ``adapters/controls.py`` and
:class:`~.references.DynamoDBReferences`.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ...constants import (
    AUDIT_AT_ATTR,
    AUDIT_DAY_ATTR,
    AUDIT_INDEX,
    AUDIT_PK_PREFIX,
    GROUP_POLICY_SK,
    RUNNING_ATTR,
    RUNNING_INDEX,
    RUNNING_VALUE,
    TTL_ATTR,
)
from ...models import ReferenceSet, RunId
from ..aws import error_code

__all__ = [
    "ACTION",
    "AUDIT_AT_ATTR",
    "AUDIT_DAY_ATTR",
    "AUDIT_INDEX",
    "AUDIT_PK_PREFIX",
    "DEAD_LETTER_PK",
    "DECISION",
    "EPISODE",
    "EVENT",
    "GROUP_POLICY_SK",
    "MAIL_PK",
    "MAIL_TTL_S",
    "OPEN_PK",
    "OUTBOX_PK",
    "RUNNING_ATTR",
    "RUNNING_INDEX",
    "RUNNING_VALUE",
    "TTL_ATTR",
    "applied",
    "audit_day",
    "audit_pk",
    "audit_sk",
    "curve_sk",
    "deserialize",
    "group_of",
    "group_pk",
    "item_key",
    "job_pk",
    "open_sk",
    "pack",
    "run_key",
    "run_of",
    "run_sk",
    "serialize",
    "stats_sk",
    "unpack",
]

JOB_PREFIX = "JOB#"
RUN_PREFIX = "RUN#"
GROUP_PREFIX = "GROUP#"
# a run's own items: run_sk(run, EVENT + key) and so on
EVENT = "#EVENT#"  # + the event's deduplication key
ACTION = "#ACTION#"  # + the action (``<rule>#<kind>``, ``retry#<attempt>``)
DECISION = "#DECISION#"  # + ``<iso time>#<rule>``
EPISODE = "#EPISODE#"  # + the host
OPEN_PK = "OPEN"  # claimed actions not finished yet, one item each (deleted when done)
OUTBOX_PK = "OUTBOX"  # emails written, not yet sent
MAIL_PK = "MAIL"  # one marker per email ever written: its deduplication key
MAIL_TTL_S = 90 * 86400.0
DEAD_LETTER_PK = "OUTBOX#DEAD"  # emails that could not be sent after every retry


# ---- keys ----------------------------------------------------------------------------------
def job_pk(job: str) -> str:
    return f"{JOB_PREFIX}{job}"


def run_sk(run: RunId, suffix: str = "") -> str:
    """``RUN#<created_ms, 13 digits>`` and the run's own items below it: one partition holds
    every run of a name, the newest sorting last."""
    return f"{RUN_PREFIX}{run.created_ms:013d}{suffix}"


def run_of(pk: str, sk: str) -> RunId:
    """The run whose partition and sort key these are (its item's or one of its own, an audit
    record under ``AUDIT#`` included)."""
    name = pk.removeprefix(AUDIT_PK_PREFIX) if pk.startswith(AUDIT_PK_PREFIX) else pk
    return RunId(name.removeprefix(JOB_PREFIX), int(sk[len(RUN_PREFIX) : len(RUN_PREFIX) + 13]))


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """The ``Key`` argument of an item's GetItem, UpdateItem or DeleteItem."""
    return serialize({"pk": pk, "sk": sk})


def run_key(run: RunId, suffix: str = "") -> dict[str, Any]:
    """The ``Key`` of the run's item, or of one of its own items (``suffix``: ``EVENT +
    key``, ``ACTION + action``, ...)."""
    return item_key(job_pk(run.name), run_sk(run, suffix))


def open_sk(run: RunId, action: str) -> str:
    return f"{run.name}#{run.created_ms:013d}#{action}"


def audit_pk(job: str) -> str:
    """The partition of a job's chained audit records: its own, so that IAM can tell them from
    the job's other items by the partition key alone (``dynamodb:LeadingKeys``)."""
    return f"{AUDIT_PK_PREFIX}{job}"


def audit_sk(run: RunId, seq: int | None = None) -> str:
    """The ``seq``-th record of the run's audit chain (None: the chain's prefix): appended in
    order, 0 first."""
    return run_sk(run, DECISION if seq is None else f"{DECISION}{seq:08d}")


def audit_day(iso_time: str) -> str:
    """The UTC day of an audit record's ISO-8601 time (the ``audit`` index partition)."""
    return iso_time[:10]


def group_pk(group: str) -> str:
    return f"{GROUP_PREFIX}{group}"


def group_of(pk: str) -> str:
    return pk.removeprefix(GROUP_PREFIX)


def curve_sk(refs: ReferenceSet, job: str) -> str:
    return f"CURVE#{_refs_key(refs)}#{job}"


def stats_sk(refs: ReferenceSet) -> str:
    return f"STATS#{_refs_key(refs)}"


# DynamoDB: "the maximum length of a sort key value is 1,024 bytes" (a partition key's 2,048),
# UTF-8 (Developer Guide, Constraints: partition keys and sort keys). A tag value (the
# objective) may be 256 Unicode characters, 1,024 bytes of four-byte ones: with ``CURVE#``, the
# direction and a run id it overflowed the sort key, and the completion's write failed.
MAX_KEY_TEXT_BYTES = 256
KEY_HASH_CHARS = 16


def key_text(text: str, limit: int = MAX_KEY_TEXT_BYTES) -> str:
    """``text`` as a part of a key: itself when its UTF-8 form is at most ``limit`` bytes
    (every key written so far keeps its key); else its longest prefix of whole characters that
    leaves room for ``~`` and the first :data:`KEY_HASH_CHARS` hex digits of its SHA-256, so two
    long texts with the same prefix keep two keys. The item keeps the text itself (the STATS
    item's ``objective``)."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    digest = hashlib.sha256(raw).hexdigest()[:KEY_HASH_CHARS]
    room = limit - 1 - KEY_HASH_CHARS
    prefix = raw[:room].decode(errors="ignore")  # a cut character is left out whole
    return f"{prefix}~{digest}"


def _refs_key(refs: ReferenceSet) -> str:
    return f"{key_text(refs.objective)}#{refs.direction}"


# ---- values ----------------------------------------------------------------------------
_SER = TypeSerializer()
_DES = TypeDeserializer()


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


# ---- writes that happen once ------------------------------------------------------------
def applied(write: Callable[[], object]) -> bool:
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
