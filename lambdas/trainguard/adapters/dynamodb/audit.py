"""The :class:`~trainguard.ports.AuditLog` on the state table: each record under its run
(``DECISION``), and in the sparse ``audit`` index under its UTC day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...models import RunId
from .keys import (
    AUDIT_AT_ATTR,
    AUDIT_DAY_ATTR,
    AUDIT_INDEX,
    DECISION,
    TTL_ATTR,
    audit_day,
    job_pk,
    run_of,
    run_sk,
    serialize,
)
from .table import TableAdapter


class DynamoDBAuditLog(TableAdapter):
    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Mapping[str, Any], ttl: int
    ) -> None:
        """One audit record, also in the sparse ``audit`` index under its UTC day (so that a
        week is read as seven Queries, :meth:`decisions_on_day`)."""
        item = dict(record)
        item.update(pk=job_pk(run.name), sk=run_sk(run, f"{DECISION}{iso_time}#{rule}"))
        item[TTL_ATTR] = ttl
        item[AUDIT_DAY_ATTR], item[AUDIT_AT_ATTR] = audit_day(iso_time), iso_time
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def decisions(self, run: RunId) -> list[dict[str, Any]]:
        return self._query_prefix(job_pk(run.name), run_sk(run, DECISION))

    def decisions_on_day(self, day: str) -> list[tuple[RunId, dict[str, Any]]]:
        """Every audit record of one UTC day (``YYYY-MM-DD``), oldest first, with its run: one
        Query of the ``audit`` index partition (paged)."""
        out = []
        for item in self._query_index(AUDIT_INDEX, AUDIT_DAY_ATTR, day):
            run = run_of(str(item.pop("pk")), str(item.pop("sk")))
            out.append((run, item))
        return out
