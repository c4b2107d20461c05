"""The :class:`~trainguard.ports.ActionLedger` on the state table: a claim is an item under its
run (``ACTION``), listed under ``OPEN`` until it is finished and mirrored on the run's
``actions`` set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from ...models import RunId
from .keys import (
    ACTION,
    OPEN_PK,
    applied,
    item_key,
    job_pk,
    open_sk,
    run_key,
    run_sk,
    serialize,
)
from .table import TableAdapter

if TYPE_CHECKING:
    from ...ports import ClaimItem


class DynamoDBActionLedger(TableAdapter):
    def claim_action(self, run: RunId, action: str, now: float, details: Mapping[str, Any]) -> bool:
        """Claim ``ACTION#<rule>#<kind>`` for the run: True for the one caller that wins it.
        In one transaction the claim is written, listed under ``OPEN`` (so that a claim whose
        invocation died is resumed by the next tick) and mirrored on the run's item
        (``JobRecord.actions``, so a tick skips it without a write)."""
        claim = {
            "pk": job_pk(run.name),
            "sk": run_sk(run, ACTION + action),
            "at": now,
            "state": "claimed",
            "attempts": 0,
            "details": dict(details),
        }
        opened = {
            "pk": OPEN_PK,
            "sk": open_sk(run, action),
            "job": run.name,
            "created_ms": run.created_ms,
            "action": action,
            "at": now,
        }
        return applied(
            lambda: self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(claim),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": serialize(opened)}},
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": run_key(run),
                            "UpdateExpression": "ADD actions :a",
                            "ConditionExpression": "attribute_exists(pk)",  # a registered run
                            "ExpressionAttributeValues": {":a": {"SS": [action]}},
                        }
                    },
                ]
            )
        )

    def get_action(self, run: RunId, action: str) -> ClaimItem | None:
        return cast("ClaimItem | None", self._get(run_key(run, ACTION + action)))

    def update_action(self, run: RunId, action: str, **fields: Any) -> None:
        """Record how far an open action got (its state, attempts, outcome, retry time)."""
        names = {f"#{k}": k for k in fields}
        self._client.update_item(
            TableName=self._table,
            Key=run_key(run, ACTION + action),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize({f":{k}": v for k, v in fields.items()}),
        )

    def finish_action(self, run: RunId, action: str, **fields: Any) -> None:
        """The action is done: its final fields, and off the ``OPEN`` list (one transaction)."""
        fields = {"state": "done", **fields}
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": run_key(run, ACTION + action),
                        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                        "ExpressionAttributeNames": {f"#{k}": k for k in fields},
                        "ExpressionAttributeValues": serialize(
                            {f":{k}": v for k, v in fields.items()}
                        ),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": item_key(OPEN_PK, open_sk(run, action)),
                    }
                },
            ]
        )

    def open_actions(self) -> list[tuple[RunId, str]]:
        """Every claimed action not finished yet (its invocation died, or it waits to retry)."""
        return [
            (RunId(str(i["job"]), int(i["created_ms"])), str(i["action"]))
            for i in self._query_prefix(OPEN_PK, "")
        ]
