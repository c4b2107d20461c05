"""The :class:`~trainguard.ports.AuditLog` on the state table: append-only and hash-chained
(docs/audit.md).

Each record is appended to its run's chain under ``AUDIT#<name>`` (:func:`~.keys.audit_pk`),
as record ``seq`` holding the hash of record ``seq - 1`` (:mod:`.chain`), with a PutItem under
``attribute_not_exists``: two writers racing for the same number cannot overwrite each other
(the loser reads the chain again and appends after the winner). The functions' roles may not
update or delete an ``AUDIT#`` item (``dynamodb:LeadingKeys``, infra), so a record is changed
only by a put over it, which :func:`~.chain.verify` detects. Every record is also in the
sparse ``audit`` index under its UTC day.

What a record says is read as before: per claim (its time and rule) the last record written
(a claim's ``COULD NOT STOP`` then its ``STOPPED``: the stop; the old table overwrote the
first), and the same record said again (a carry-out resumed after it wrote it) is not
appended twice. Records written before the chain (``JOB#`` partitions, keyed by time and
rule) are read as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from ...models import RunId
from .chain import AUDIT_RULE, CHAIN_ATTRS, CHAIN_HASH, CHAIN_SEQ, GENESIS, ChainCheck, link, verify
from .keys import (
    AUDIT_AT_ATTR,
    AUDIT_DAY_ATTR,
    AUDIT_INDEX,
    AUDIT_PK_PREFIX,
    DECISION,
    TTL_ATTR,
    audit_day,
    audit_pk,
    audit_sk,
    deserialize,
    job_pk,
    run_of,
    serialize,
)
from .table import StoreError, TableAdapter

if TYPE_CHECKING:
    from ...ports import AuditRecord

APPEND_ATTEMPTS = 8  # writers racing for a run's next record: each lost race reads again


def _claim_of(item: Mapping[str, Any]) -> tuple[str, str]:
    """The claim a record speaks for: its time and rule (a legacy record: from its key)."""
    if AUDIT_RULE in item:
        return str(item.get(AUDIT_AT_ATTR, "")), str(item[AUDIT_RULE])
    rest = str(item.get("sk", "")).split(DECISION, 1)[-1]
    at, _, rule = rest.partition("#")
    return at, rule


def _public(item: Mapping[str, Any], *, keys: bool) -> dict[str, Any]:
    """The record as the readers know it: without its chain fields (``keys``: with its own)."""
    hidden = CHAIN_ATTRS if keys else ("pk", "sk", *CHAIN_ATTRS)
    return {k: v for k, v in item.items() if k not in hidden}


def last_words(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per run and claim, the last record written (chained: the highest number; a legacy
    record is the only one of its key), in the order first seen."""
    out: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for item in items:
        run = run_of(str(item["pk"]), str(item["sk"]))
        key = (run.name, run.created_ms, *_claim_of(item))
        kept = out.get(key)
        if kept is None or int(item.get(CHAIN_SEQ, -1)) > int(kept.get(CHAIN_SEQ, -1)):
            out[key] = dict(item)
    return list(out.values())


def said_in_order(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Audit items read raw (a Scan: chained and legacy), per claim its last, oldest first
    (then by rule and partition), with their keys and without their chain fields."""
    records = last_words(items)
    records.sort(key=lambda i: (*_claim_of(i), str(i["pk"])))
    return [_public(item, keys=True) for item in records]


class DynamoDBAuditLog(TableAdapter):
    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Mapping[str, Any], ttl: int
    ) -> None:
        """Append one record to the run's chain (see the module docstring); the same record
        said again (same time, rule and action) is not appended twice."""
        item = dict(record)
        item[TTL_ATTR] = ttl
        item[AUDIT_DAY_ATTR], item[AUDIT_AT_ATTR] = audit_day(iso_time), iso_time
        item[AUDIT_RULE] = rule
        for _ in range(APPEND_ATTEMPTS):
            chain = self.chain(run)
            if any(_said(old, item) for old in chain):
                return
            last = chain[-1] if chain else None
            seq = 0 if last is None else int(last[CHAIN_SEQ]) + 1
            prev = GENESIS if last is None else str(last[CHAIN_HASH])
            keyed = {**item, "pk": audit_pk(run.name), "sk": audit_sk(run, seq)}
            if self._put_once(link(keyed, seq, prev)):
                return
        raise StoreError(f"audit record of {run} not appended: {APPEND_ATTEMPTS} lost races")

    def decisions(self, run: RunId) -> list[AuditRecord]:
        """The run's records (per claim its last), oldest first."""
        legacy = self._query_prefix(job_pk(run.name), audit_sk(run))
        records = last_words([*legacy, *self.chain(run)])
        records.sort(key=_claim_of)
        return [cast("AuditRecord", _public(item, keys=True)) for item in records]

    def decisions_on_day(self, day: str) -> list[tuple[RunId, AuditRecord]]:
        """Every audit record of one UTC day (``YYYY-MM-DD``), oldest first, with its run (per
        claim its last): one Query of the ``audit`` index partition (paged)."""
        items = self._query_index(AUDIT_INDEX, AUDIT_DAY_ATTR, day)
        return [
            (run_of(str(i["pk"]), str(i["sk"])), cast("AuditRecord", _public(i, keys=False)))
            for i in last_words(items)
        ]

    # ---- the chain itself (``trainguard audit verify``) --------------------------------------
    def chain(self, run: RunId) -> list[dict[str, Any]]:
        """The run's chained records as stored (keys and chain fields), in order: one
        strongly consistent Query (paged)."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=serialize({":pk": audit_pk(run.name), ":p": audit_sk(run)}),
            ConsistentRead=True,
        )
        items = [deserialize(i) for page in pages for i in page.get("Items", [])]
        return sorted(items, key=lambda i: int(i.get(CHAIN_SEQ, -1)))

    def verify(self, job: str | None = None) -> list[ChainCheck]:
        """Every run's chain checked (:func:`~.chain.verify`): one job's (a Query of its
        partition) or the whole table's (a Scan of the ``AUDIT#`` items, paged)."""
        if job is not None:
            items = self._query_prefix(audit_pk(job), "")
        else:
            pages = self._client.get_paginator("scan").paginate(
                TableName=self._table,
                FilterExpression="begins_with(pk, :p)",
                ExpressionAttributeValues=serialize({":p": AUDIT_PK_PREFIX}),
                ConsistentRead=True,
            )
            items = [deserialize(i) for page in pages for i in page.get("Items", [])]
        runs: dict[RunId, list[dict[str, Any]]] = {}
        for item in items:
            runs.setdefault(run_of(str(item["pk"]), str(item["sk"])), []).append(item)
        return [verify(run, chain) for run, chain in sorted(runs.items(), key=lambda r: str(r[0]))]


def _said(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``new`` says again what ``old`` said: the same claim (time and rule) and action."""
    return _claim_of(old) == _claim_of(new) and old.get("action") == new.get("action")
