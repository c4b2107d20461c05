"""The :class:`~trainguard.ports.Outbox` on the state table: every email is written before it
is sent (``OUTBOX``), under a marker of its deduplication key (``MAIL``), and moved to
``OUTBOX#DEAD`` when every retry failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .keys import (
    DEAD_LETTER_PK,
    MAIL_PK,
    MAIL_TTL_S,
    OUTBOX_PK,
    TTL_ATTR,
    applied,
    item_key,
    serialize,
)
from .table import TableAdapter

if TYPE_CHECKING:
    from ...ports import EmailItem


class DynamoDBOutbox(TableAdapter):
    def enqueue(
        self,
        key: str,
        subject: str,
        body: str,
        now: float,
        lease_s: float,
        message: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write one email under its deduplication ``key`` (the run, rule and kind), leased to
        the caller for ``lease_s`` so that it is the one that sends it; False if that email
        was already written (it is never written twice). Two items in one transaction: the
        key's marker (``MAIL``, kept ``MAIL_TTL_DAYS``) and the message (``OUTBOX``, deleted
        once sent)."""
        marker = {"pk": MAIL_PK, "sk": key, "at": now, TTL_ATTR: int(now + MAIL_TTL_S)}
        item = {
            "pk": OUTBOX_PK,
            "sk": key,
            "subject": subject,
            "body": body,
            "at": now,
            "attempts": 0,
            "lease_until": now + lease_s,
            "message": message,
        }
        return applied(
            lambda: self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(marker),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": serialize(item)}},
                ]
            )
        )

    def pending_emails(self, now: float) -> list[EmailItem]:
        """The emails not sent yet whose lease has run out (their sender failed or died)."""
        items = self._query_prefix(OUTBOX_PK, "")
        return [cast("EmailItem", i) for i in items if float(i["lease_until"]) <= now]

    def lease_email(self, key: str, now: float, lease_s: float) -> bool:
        """Take the email for sending, unless someone holds its lease."""
        return applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=item_key(OUTBOX_PK, key),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_exists(pk) AND lease_until <= :now",
                ExpressionAttributeValues=serialize({":until": now + lease_s, ":now": now}),
            )
        )

    def sent(self, key: str, now: float) -> None:
        """The email went out: off the outbox."""
        self._client.delete_item(TableName=self._table, Key=item_key(OUTBOX_PK, key))

    def send_failed(self, key: str, attempts: int, retry_at: float, dead: bool) -> None:
        """A failed send: retried from ``retry_at``, or moved to the dead letters."""
        if dead:
            item = self._get(item_key(OUTBOX_PK, key))
            if item is not None:
                dead_item = {**item, "pk": DEAD_LETTER_PK, "attempts": attempts}
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self._table, "Item": serialize(dead_item)}},
                        {"Delete": {"TableName": self._table, "Key": item_key(OUTBOX_PK, key)}},
                    ]
                )
            return
        self._client.update_item(
            TableName=self._table,
            Key=item_key(OUTBOX_PK, key),
            UpdateExpression="SET attempts = :n, lease_until = :t",
            ExpressionAttributeValues=serialize({":n": attempts, ":t": retry_at}),
        )

    def dead_letters(self) -> list[EmailItem]:
        return [cast("EmailItem", i) for i in self._query_prefix(DEAD_LETTER_PK, "")]
