"""The audit's hash chain (docs/audit.md): each run's audit records, appended under
``AUDIT#<name>`` with a sequence number, each holding the hash of the one before it.

A record's hash is the SHA-256 of the record as stored (every attribute, its keys and its
TTL included, but the hash itself) written as canonical JSON (sorted keys, no spaces), after
the round trip through DynamoDB's types (:func:`~.keys.serialize` then
:func:`~.keys.deserialize`), so that the writer and a later reader hash the same text.

:func:`verify` reads a chain back and names its first broken link:

* ``rewritten``: a record's content no longer matches its own hash (edited in place);
* ``broken link``: a record does not hold the hash of the record before it as stored now
  (that one was rewritten with its hash recomputed, or this link was edited);
* ``missing``: a sequence number is absent between two present records (a record deleted).

A chain whose first present record is not number 0 starts later: its earlier records are
gone, which the table's TTL does to old records (``auditTtlDays``); it is said, not counted
as a break. Records written before the chain existed (``JOB#`` partitions) are not chained.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ...core.values import frozen
from ...models import RunId
from .keys import deserialize, serialize

CHAIN_SEQ = "chain_seq"  # the record's number in its run's chain, 0 first
CHAIN_PREV = "chain_prev"  # the hash of record ``seq - 1`` (GENESIS for record 0)
CHAIN_HASH = "chain_hash"  # this record's own hash
AUDIT_RULE = "audit_rule"  # the rule named in the record's old key (``DECISION#<time>#<rule>``)
CHAIN_ATTRS = (CHAIN_SEQ, CHAIN_PREV, CHAIN_HASH, AUDIT_RULE)
GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    """JSON for what DynamoDB stores besides JSON's own types (binary, sets)."""
    data = getattr(value, "value", value)
    if isinstance(data, (bytes, bytearray)):
        return base64.b64encode(bytes(data)).decode("ascii")
    if isinstance(data, (set, frozenset)):
        return sorted(data, key=repr)
    raise TypeError(f"not hashable as audit content: {type(value).__name__}")


def digest(item: Mapping[str, Any]) -> str:
    """The record's hash: of every attribute but :data:`CHAIN_HASH`, as DynamoDB stores it
    (a top-level null, which a non-finite number is stored as and a reader gets back as None,
    counts as absent on both sides)."""
    stored = deserialize(serialize(item))
    body = {k: v for k, v in stored.items() if k != CHAIN_HASH and v is not None}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link(item: Mapping[str, Any], seq: int, prev: str) -> dict[str, Any]:
    """``item`` as record ``seq`` of its chain, after the record whose hash is ``prev``."""
    linked = {**item, CHAIN_SEQ: seq, CHAIN_PREV: prev}
    linked[CHAIN_HASH] = digest(linked)
    return linked


@frozen
class Break:
    """The first broken link of a chain: the record it is at and what is wrong."""

    seq: int
    kind: str  # rewritten | broken link | missing
    detail: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.kind} ({self.detail})"


@frozen
class ChainCheck:
    """One run's chain as read back: how many records, from which number, and its first
    break (None: intact)."""

    run: RunId
    records: int
    first: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _seq(item: Mapping[str, Any]) -> int:
    try:
        return int(item[CHAIN_SEQ])
    except (KeyError, TypeError, ValueError):
        return -1


def verify(run: RunId, items: Iterable[Mapping[str, Any]]) -> ChainCheck:
    """Check the run's chained records (``items``, any order) and name the first break."""
    records = sorted(items, key=_seq)
    first = _seq(records[0]) if records else 0
    prev_seq, prev_hash = first - 1, GENESIS if first == 0 else None
    for item in records:
        seq = _seq(item)
        if seq < 0 or not item.get(CHAIN_HASH):
            return ChainCheck(run, len(records), first, Break(seq, "rewritten", "no chain fields"))
        if seq != prev_seq + 1:
            detail = f"record {prev_seq + 1} is gone, record {seq} follows {prev_seq}"
            return ChainCheck(run, len(records), first, Break(prev_seq + 1, "missing", detail))
        if digest(item) != item[CHAIN_HASH]:
            detail = "its content does not match its hash"
            return ChainCheck(run, len(records), first, Break(seq, "rewritten", detail))
        if prev_hash is not None and item.get(CHAIN_PREV) != prev_hash:
            detail = (
                f"it does not hold the hash of record {seq - 1} as stored now: record "
                f"{seq - 1} was rewritten, or this link was"
            )
            return ChainCheck(run, len(records), first, Break(seq, "broken link", detail))
        prev_seq, prev_hash = seq, str(item[CHAIN_HASH])
    return ChainCheck(run, len(records), first, None)
