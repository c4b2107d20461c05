"""The fake of :class:`~trainguard.ports.ActionLedger`: a claim is won once, only on a
registered run (like the table's transaction), listed under ``OPEN`` until it is finished
and mirrored on the run's ``actions``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from trainguard.models import RunId

from .faults import FaultInjector
from .table import FakeTable


def _open_key(run: RunId, action: str) -> tuple[str, str]:
    return ("OPEN", f"{run.name}#{run.created_ms:013d}#{action}")


class FakeActionLedger(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def claim_action(self, run: RunId, action: str, now: float, details: Mapping[str, Any]) -> bool:
        self._call("claim_action")
        item = self.table.job(run)
        key = self.table.key(run, f"#ACTION#{action}")
        if item is None or key in self.table.items:
            return False  # like the table's transaction: a registered run, claimed once
        claim = {"at": now, "state": "claimed", "attempts": 0, "details": dict(details)}
        self.table.items[key] = claim
        opened = {"job": run.name, "created_ms": run.created_ms, "action": action}
        self.table.items[_open_key(run, action)] = opened
        self.table.update_job(run, actions=item["record"].actions | {action})
        return True

    def get_action(self, run: RunId, action: str) -> dict[str, Any] | None:
        self._call("get_action")
        item = self.table.items.get(self.table.key(run, f"#ACTION#{action}"))
        return copy.deepcopy(item) if item is not None else None

    def update_action(self, run: RunId, action: str, **fields: Any) -> None:
        self._call("update_action")
        self.table.items.setdefault(self.table.key(run, f"#ACTION#{action}"), {}).update(fields)

    def finish_action(self, run: RunId, action: str, **fields: Any) -> None:
        self._call("finish_action")
        claim = self.table.items.setdefault(self.table.key(run, f"#ACTION#{action}"), {})
        claim.update({"state": "done", **fields})
        self.table.items.pop(_open_key(run, action), None)

    def open_actions(self) -> list[tuple[RunId, str]]:
        self._call("open_actions")
        return [
            (RunId(item["job"], item["created_ms"]), item["action"])
            for _, item in self.table.under("OPEN")
        ]
