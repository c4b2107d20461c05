"""The runtime controls' items in the state table, read through Powertools' parameters
utility (:class:`BaseProvider`: its cache, ``max_age`` and ``force_fetch``) with the table's
own low-level client, so no boto3 resource is loaded at cold start.

One Query of the ``CONTROL`` partition returns every control (GLOBAL and GROUP#<g>). The cache
age is Powertools' ``POWERTOOLS_PARAMETERS_MAX_AGE`` (the stack sets it to
``CONTROLS_MAX_AGE_S``; the local run to 0, since its clock runs faster than the wall's).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters.base import BaseProvider

from ..constants import CONTROL_HISTORY_PK, CONTROL_PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ControlRaceError(Exception):
    """The control item changed between its read and the write (another change won)."""


class TableControls(BaseProvider):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        super().__init__(client=client)  # type: ignore[no-untyped-call]
        self._ddb = client
        self._table = table

    # ---- the port ---------------------------------------------------------------------------
    def read(self, fresh: bool = False) -> dict[str, str]:
        """Sort key -> JSON value of every control item (cached; ``fresh``: read now, and
        cached again)."""
        values = self.get_multiple(CONTROL_PK, force_fetch=fresh)
        assert isinstance(values, dict)
        return {str(k): str(v) for k, v in values.items()}

    def write(
        self, name: str, value: str, history: dict[str, str], *, previous: str | None
    ) -> None:
        """Set one control and keep its history entry (``trainguard pause | resume | mode``),
        if the control's value is still ``previous`` (None: there is no such control yet), the
        value the change was computed from; else :class:`ControlRaceError`, nothing written."""
        # ordered and unique: two changes within one second are both kept, in their order
        entry = f"{history['at']}#{time.time_ns():020d}#{name}"
        control_item = {"pk": {"S": CONTROL_PK}, "sk": {"S": name}, "value": {"S": value}}
        put: Any = {"TableName": self._table, "Item": control_item}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(sk)"
        else:
            put["ConditionExpression"] = "#value = :previous"
            put["ExpressionAttributeNames"] = {"#value": "value"}
            put["ExpressionAttributeValues"] = {":previous": {"S": previous}}
        history_item = {
            "pk": {"S": CONTROL_HISTORY_PK},
            "sk": {"S": entry},
            **{k: {"S": v} for k, v in history.items()},
        }
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": put},
                    {"Put": {"TableName": self._table, "Item": history_item}},
                ]
            )
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise ControlRaceError(f"control {name} changed since it was read") from exc
            raise
        finally:
            self.clear_cache()  # type: ignore[no-untyped-call]

    def history(self, limit: int = 20) -> list[dict[str, str]]:
        """The latest control changes, newest first."""
        response = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": CONTROL_HISTORY_PK}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [{k: v["S"] for k, v in item.items() if "S" in v} for item in response["Items"]]

    # ---- Powertools' provider ---------------------------------------------------------------
    def _get(self, name: str, **sdk_options: Any) -> str:
        item = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": CONTROL_PK}, "sk": {"S": name}}
        ).get("Item")
        return "" if item is None else item["value"]["S"]

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        paginator = self._ddb.get_paginator("query")
        out: dict[str, str] = {}
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": path}},
            ConsistentRead=True,
        ):
            for item in page["Items"]:
                value = item.get("value", {})
                if "S" not in value:
                    raise ValueError(f"control {item['sk']['S']}: value is not a string")
                out[item["sk"]["S"]] = value["S"]
        return out
