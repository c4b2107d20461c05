"""The state table's items in memory, shared by the fakes of its ports.

Why one shared dict: the table's ports write across aggregates (a claim is mirrored on the
run's ``actions``, an idle episode on its ``idle_hosts``), so their fakes must see one
another's items, as the DynamoDB adapters do on one table. Items are keyed ``(pk, sk)`` like
the table (a run's items under ``JOB#<name>`` / ``RUN#<created_ms>...``); a run's own item
holds its :class:`JobRecord` (``record``) and whether it is in the running index.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trainguard.models import RunId


class FakeTable:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    @staticmethod
    def key(run: RunId, suffix: str = "") -> tuple[str, str]:
        return (f"JOB#{run.name}", f"RUN#{run.created_ms:013d}{suffix}")

    def job(self, run: RunId) -> dict[str, Any] | None:
        """The run's own item (``record``, ``running``), if it is registered."""
        return self.items.get(self.key(run))

    def update_job(self, run: RunId, **changes: Any) -> None:
        """Change fields of a registered run's record (nothing for an unknown run)."""
        item = self.job(run)
        if item is not None:
            item["record"] = replace(item["record"], **changes)

    def put_once(self, key: tuple[str, str], item: dict[str, Any]) -> bool:
        """Put ``item`` unless its key exists: True if written."""
        if key in self.items:
            return False
        self.items[key] = item
        return True

    def under(self, pk: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The items of partition ``pk`` whose sort key starts with ``prefix``, by sort key."""
        return [
            (sk, item)
            for (p, sk), item in sorted(self.items.items())
            if p == pk and sk.startswith(prefix)
        ]
