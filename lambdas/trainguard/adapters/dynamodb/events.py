"""The :class:`~trainguard.ports.EventMarks` on the state table: one item per event handled,
under its run (``EVENT``), put once."""

from __future__ import annotations

from ...models import RunId
from .keys import EVENT, job_pk, run_key, run_sk
from .table import TableAdapter


class DynamoDBEventMarks(TableAdapter):
    def event_seen(self, run: RunId, key: str) -> bool:
        return self._get(run_key(run, EVENT + key)) is not None

    def mark_event(self, run: RunId, key: str, now: float) -> bool:
        return self._put_once({"pk": job_pk(run.name), "sk": run_sk(run, EVENT + key), "at": now})
