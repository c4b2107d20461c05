"""The fake of :class:`~trainguard.ports.AuditLog`: records under their run, with the fields
of the table's sparse ``audit`` index (``audit_day``, ``audit_at``) that a day is read by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainguard.models import RunId

from .faults import FaultInjector
from .table import FakeTable


class FakeAuditLog(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def put_decision(
        self, run: RunId, iso_time: str, rule: str, record: Mapping[str, Any], ttl: int
    ) -> None:
        self._call("put_decision")
        self.table.items[self.table.key(run, f"#DECISION#{iso_time}#{rule}")] = {
            **record,
            "ttl": ttl,
            "audit_day": iso_time[:10],  # the table's sparse ``audit`` index
            "audit_at": iso_time,
        }

    def decisions(self, run: RunId) -> list[dict[str, Any]]:
        self._call("decisions")
        pk, prefix = self.table.key(run, "#DECISION#")
        return [dict(item) for _, item in self.table.under(pk, prefix)]

    def decisions_on_day(self, day: str) -> list[tuple[RunId, dict[str, Any]]]:
        """The ``audit`` index partition of ``day``, sorted by time as the index sorts it."""
        self._call("decisions_on_day")
        out = []
        for (pk, sk), item in self.table.items.items():
            if "#DECISION#" in sk and item.get("audit_day") == day:
                out.append((RunId(pk.removeprefix("JOB#"), int(sk[4:17])), dict(item)))
        return sorted(out, key=lambda pair: str(pair[1]["audit_at"]))
