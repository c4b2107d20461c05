"""The fake of :class:`~trainguard.ports.Outbox`: an email is written once per key, ever (its
``MAIL`` marker stays), leased to one sender at a time, then sent or dead-lettered."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .faults import FaultInjector
from .table import FakeTable


class FakeOutbox(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def enqueue(
        self,
        key: str,
        subject: str,
        body: str,
        now: float,
        lease_s: float,
        message: Mapping[str, Any] | None = None,
    ) -> bool:
        self._call("enqueue")
        if not self.table.put_once(("MAIL", key), {"at": now}):
            return False  # written once, ever (sent or not)
        self.table.items[("OUTBOX", key)] = {
            "sk": key,
            "subject": subject,
            "body": body,
            "attempts": 0,
            "lease_until": now + lease_s,
        }
        if message is not None:
            self.table.items[("OUTBOX", key)]["message"] = copy.deepcopy(dict(message))
        return True

    def pending_emails(self, now: float) -> list[dict[str, Any]]:
        self._call("pending_emails")
        return [dict(item) for _, item in self.table.under("OUTBOX") if item["lease_until"] <= now]

    def lease_email(self, key: str, now: float, lease_s: float) -> bool:
        self._call("lease_email")
        item = self.table.items.get(("OUTBOX", key))
        if item is None or item["lease_until"] > now:
            return False
        item["lease_until"] = now + lease_s
        return True

    def sent(self, key: str, now: float) -> None:
        self._call("sent")
        self.table.items.pop(("OUTBOX", key), None)

    def send_failed(self, key: str, attempts: int, retry_at: float, dead: bool) -> None:
        self._call("send_failed")
        item = self.table.items.get(("OUTBOX", key))
        if item is None:
            return
        if dead:
            letter = {**self.table.items.pop(("OUTBOX", key)), "attempts": attempts}
            self.table.items[("OUTBOX#DEAD", key)] = letter
        else:
            item.update(attempts=attempts, lease_until=retry_at)

    def dead_letters(self) -> list[dict[str, Any]]:
        self._call("dead_letters")
        return [dict(item) for _, item in self.table.under("OUTBOX#DEAD")]
