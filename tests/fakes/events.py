"""The fake of :class:`~trainguard.ports.EventMarks`: a marker item per event, put once."""

from __future__ import annotations

from trainguard.models import RunId

from .faults import FaultInjector
from .table import FakeTable


class FakeEventMarks(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def event_seen(self, run: RunId, key: str) -> bool:
        self._call("event_seen")
        return self.table.key(run, f"#EVENT#{key}") in self.table.items

    def mark_event(self, run: RunId, key: str, now: float) -> bool:
        self._call("mark_event")
        return self.table.put_once(self.table.key(run, f"#EVENT#{key}"), {"at": now})
